"""The gradient diagnostic (grad_enc_* of each Eq. 3 term, part norms), the per-part clip and
the encoder snapshots: what they measure, that they change nothing, and the files they write."""

import csv

import pytest
import torch

from jepa_bench.rl.agent import (GRAD_TERMS, JepaAgent, Minibatch, clip_groups,
                              encoder_gradient_terms, minibatch_loss, part_gradient_norms)
from jepa_bench.analysis.compare import compare_runs
from jepa_bench.config import resolve
from jepa_bench.layout import RunPaths
from jepa_bench.metrics import DIAGNOSTIC_COLUMNS
from jepa_bench.rl.run import train

SMALL = {"num_envs": 2, "num_steps": 8, "num_minibatches": 2, "update_epochs": 1, "depth": 1}


def _minibatch(cfg, n=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    obs = torch.randint(0, 256, (n, 3, cfg.height, cfg.width), dtype=torch.uint8, generator=gen)
    return Minibatch(obs=obs, next_obs=obs.roll(1, 0), actions=torch.randint(0, 2, (n,), generator=gen),
                     logprobs=torch.full((n,), -0.69), advantages=torch.randn(n, generator=gen),
                     returns=torch.randn(n, generator=gen))


def _encoder_grad_norm(agent, term):
    agent.zero_grad(set_to_none=True)
    term.backward(retain_graph=True)
    grads = [p.grad.flatten() for p in agent.encoder.parameters() if p.grad is not None]
    return float(torch.cat(grads).norm()) if grads else 0.0


@pytest.mark.parametrize("name", ["j1g1r1", "j1g0r0", "j0g1r0"])
def test_each_term_is_measured_where_it_reaches_the_encoder(name):
    torch.manual_seed(0)
    cfg = resolve(name, SMALL)
    agent = JepaAgent(cfg)
    loss, stats = minibatch_loss(agent, _minibatch(cfg))
    diag = encoder_gradient_terms(agent, stats)
    assert set(diag) == {f"grad_enc_{t}" for t in GRAD_TERMS}
    # hand values: backward of each weighted term alone, as it enters Eq. 3
    by_hand = {
        "actor": cfg.actor_coef * stats["actor_loss"], "critic": cfg.critic_coef * stats["critic_loss"],
        "entropy": -cfg.ent_coef * stats["entropy"], "jepa": cfg.jepa_coef * stats["jepa_loss"],
    }
    for term, value in by_hand.items():
        expected = _encoder_grad_norm(agent, value) if value.requires_grad else 0.0
        assert diag[f"grad_enc_{term}"] == pytest.approx(expected, rel=1e-5, abs=1e-12)
    if not cfg.rl_grad:
        assert diag["grad_enc_actor"] == diag["grad_enc_critic"] == diag["grad_enc_entropy"] == 0.0
    else:
        assert diag["grad_enc_critic"] > 0
    assert (diag["grad_enc_jepa"] > 0) == cfg.jepa
    assert (diag["grad_enc_reg"] > 0) == cfg.var_reg


def test_the_diagnostic_leaves_the_gradients_alone():
    cfg = resolve("j1g1r0", SMALL)
    grads = []
    for measure in (False, True):
        torch.manual_seed(0)
        agent = JepaAgent(cfg)
        loss, stats = minibatch_loss(agent, _minibatch(cfg))
        if measure:
            encoder_gradient_terms(agent, stats)
            assert all(p.grad is None for p in agent.parameters())
        loss.backward()
        grads.append([p.grad.clone() for p in agent.trainable_parameters()])
        norms = part_gradient_norms(agent)
        assert set(norms) == {"grad_norm_encoder", "grad_norm_predictor", "grad_norm_heads"}
        assert norms["grad_norm_encoder"] == pytest.approx(
            float(torch.cat([p.grad.flatten() for p in agent.encoder.parameters()]).norm()), rel=1e-5)
    assert all(torch.equal(a, b) for a, b in zip(*grads))


def test_clip_groups_global_and_parts():
    for name, n_groups in (("j1g1r0", 2), ("j0g1r0", 3)):
        agent = JepaAgent(resolve(name, SMALL))
        assert len(clip_groups(agent)) == 1
        assert clip_groups(agent)[0] == agent.trainable_parameters()
        agent = JepaAgent(resolve(name, {**SMALL, "clip_groups": "parts"}))
        groups = clip_groups(agent)
        assert len(groups) == n_groups
        ids = [id(p) for g in groups for p in g]
        assert sorted(ids) == sorted(id(p) for p in agent.trainable_parameters())
        heads = {id(p) for p in agent.heads.parameters()}
        assert {id(p) for p in groups[-1]} == heads
    with pytest.raises(ValueError, match=r"clip_groups='both' is not one of: 'global', 'parts'"):
        resolve("j1g1r0", {"clip_groups": "both"})


@pytest.mark.slow
def test_a_run_with_the_diagnostic_is_the_same_run(tmp_path, one_thread, monkeypatch):
    monkeypatch.setattr("jepa_bench.rl.run.ENCODER_SNAPSHOT_STEPS", (20,))  # crossed at step 32
    cfg = resolve("j1g1r0", {**SMALL, "total_steps": 48, "checkpoint_every": 2})
    on, off = tmp_path / "on", tmp_path / "off"
    train(cfg, 0, on, progress=False, threads=1, grad_diagnostic=True)
    train(cfg, 0, off, progress=False, threads=1)
    assert compare_runs(on, off) == []
    with open(on / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and all(float(r["grad_enc_jepa"]) > 0 for r in rows)
    assert set(DIAGNOSTIC_COLUMNS) <= set(rows[0])
    with open(off / "metrics.csv", newline="") as fh:
        assert not set(DIAGNOSTIC_COLUMNS) & set(next(csv.reader(fh)))
    # the encoder at step 0, at the first update past each point, and at the last update
    snaps = RunPaths(on).encoder_snapshots()
    assert [p.name for p in snaps] == ["step0.pt", "step32.pt", "step48.pt"]
    snap = torch.load(snaps[-1], weights_only=False)
    assert snap["env_step"] == 48 and snap["seed"] == 0
    JepaAgent(cfg).encoder.load_state_dict(snap["encoder"])
    first = torch.load(snaps[0], weights_only=False)["encoder"]
    assert any(not torch.equal(first[k], snap["encoder"][k]) for k in first)


@pytest.mark.parametrize("name, groups", [("j1g1r0", "global"), ("j1g1r0", "parts"),
                                          ("j0g1r0", "parts")])
def test_heads_clip_factor_is_the_clip_the_step_applies_to_the_heads(name, groups):
    """studies.sensitivity.heads_clip_factor, from the part norms the diagnostic logs, is the
    factor by which minibatch_step's clip scaled the heads' gradient before Adam's step."""
    import pandas as pd

    from jepa_bench.rl.trainer import make_optimizer, minibatch_step
    from jepa_bench.studies.sensitivity import heads_clip_factor

    torch.manual_seed(0)
    cfg = resolve(name, {**SMALL, "clip_groups": groups, "max_grad_norm": 0.01})
    agent = JepaAgent(cfg)
    optimizer = make_optimizer(agent)
    clipped = []
    optimizer.step = lambda: clipped.append(float(torch.cat(
        [p.grad.flatten() for p in agent.heads.parameters()]).norm()))
    _, diag = minibatch_step(agent, optimizer, _minibatch(cfg), diagnose=True)
    factor = float(heads_clip_factor(pd.DataFrame([diag]), groups, cfg.max_grad_norm).iloc[0])
    assert factor < 1.0  # the clip is active at 0.01
    assert clipped[0] / diag["grad_norm_heads"] == pytest.approx(factor, rel=1e-4)
