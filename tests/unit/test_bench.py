"""bench.py's counts and lever table, and the opt-in precision field (TrainConfig.precision)."""

import json

import pytest
import torch

from jepa_bench.rl import agent as agent_mod
from jepa_bench.tools import bench
from jepa_bench.rl.agent import JepaAgent, encode, minibatch_loss, resolve_precision
from jepa_bench.config import TrainConfig, resolve
from jepa_bench.rl.run import train
from jepa_bench.rl.trainer import Trainer

TINY = dict(num_envs=2, num_steps=16, update_epochs=2, num_minibatches=2, total_steps=32)


# every test here on one torch thread (tests/conftest.py's fixture)
pytestmark = pytest.mark.usefixtures("one_thread")


def test_precision_default_is_fp32_everywhere():
    assert TrainConfig().precision == "fp32"
    assert resolve("j1g1r0").precision == "fp32"  # not part of any settings set
    assert resolve_precision("fp32") == "fp32"
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp16")


def test_bf16_falls_back_to_fp32_where_unsupported(monkeypatch, tmp_path):
    monkeypatch.setattr(agent_mod, "cpu_bf16_supported", lambda: False)
    assert resolve_precision("bf16", "cpu") == "fp32"
    cfg = resolve("j1g1r0", dict(TINY, precision="bf16"))
    assert JepaAgent(cfg).precision == "fp32"
    info = train(cfg, seed=0, out_dir=tmp_path / "run", device="cpu", progress=False)
    assert info["precision"] == "fp32"
    assert json.loads((tmp_path / "run" / "run.json").read_text())["precision"] == "fp32"


def test_default_run_records_fp32(tmp_path):
    info = train(resolve("j1g1r0", TINY), seed=0, out_dir=tmp_path / "run", device="cpu",
                 progress=False)
    assert info["precision"] == "fp32" and info["config"]["precision"] == "fp32"


def test_fp32_encode_is_the_plain_call():
    agent = JepaAgent(resolve("j1g1r0"))
    obs = torch.randint(0, 256, (4, 3, 24, 96), dtype=torch.uint8)
    assert torch.equal(encode(agent, agent.encoder, obs), agent.encoder(obs))


@pytest.mark.skipif(resolve_precision("bf16", "cpu") != "bf16", reason="no native bf16 here")
def test_bf16_update_is_deterministic_close_and_float32_outside():
    torch.manual_seed(0)
    cfg = resolve("j1g1r0", TINY)
    trainer = Trainer(cfg, 0, torch.device("cpu"))
    mb = bench.sample_minibatch(trainer, trainer.collect())
    loss32, _ = minibatch_loss(trainer.agent, mb)
    trainer.agent.precision = "bf16"
    outs = []
    for _ in range(2):
        trainer.agent.zero_grad(set_to_none=True)
        loss, stats = minibatch_loss(trainer.agent, mb)
        loss.backward()
        outs.append((loss.detach(), [p.grad.clone() for p in trainer.agent.encoder.parameters()]))
    assert loss.dtype == torch.float32 and stats["jepa_loss"].dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in trainer.agent.parameters())
    assert torch.equal(outs[0][0], outs[1][0])  # same machine, same inputs: same bits
    assert all(torch.equal(a, b) for a, b in zip(outs[0][1], outs[1][1]))
    assert abs(float(outs[0][0]) - float(loss32.detach())) < 0.05 * abs(float(loss32.detach())) + 1e-3


def test_attention_runs_in_float32_under_bf16():
    q = torch.randn(2, 4, 5, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = torch.nn.functional.scaled_dot_product_attention(q, q, q)
        with agent_mod._Fp32Attention():
            kept = torch.nn.functional.scaled_dot_product_attention(q, q, q)
    assert plain.dtype == torch.bfloat16 and kept.dtype == torch.float32


def test_update_flops_are_minibatch_flops_times_steps():
    trainer = bench.make_trainer(resolve("j1g1r0", TINY))
    buf = trainer.collect()
    cfg = trainer.cfg
    per_step = bench.minibatch_step_flops(trainer, bench.sample_minibatch(trainer, buf))
    assert per_step > 0
    assert bench.count_flops(lambda: trainer.learn(buf)) == \
        per_step * cfg.update_epochs * cfg.num_minibatches


def test_lever_table_and_profile_run_on_a_tiny_config():
    trainer = bench.make_trainer(resolve("j1g1r0", TINY))
    table = bench.lever_table(trainer, rounds=2, steps=1, compile_loss=False)
    names = {r["lever"] for r in table["rows"]}
    assert {"heads_2", "heads_1", "attention_bmm_softmax", "y_encoder_forward_share"} <= names
    assert all(r["min"] <= r["median"] <= r["max"] and r["n"] == 2 for r in table["rows"])
    assert "| lever |" in bench.format_levers(table)
    # the lever copies never touch the trainer's own agent
    fresh = bench.make_trainer(resolve("j1g1r0", TINY))
    fresh.collect()
    assert all(torch.equal(a, b) for a, b in zip(trainer.agent.parameters(),
                                                  fresh.agent.parameters()))


def test_pairing_table_compares_the_machines_throughput_per_layout(monkeypatch):
    # fake training processes: each writes the metrics.csv a run would, at a speed per layout
    speeds = {1: 100.0, 2: 150.0}  # env steps/s of a one- and a two-thread process

    class Done:
        returncode = 0

        def communicate(self):
            return "", ""

    def fake(config, steps, threads, out, seed):
        out.mkdir(parents=True)
        (out / "metrics.csv").write_text(
            f"update,env_step,wall_time\n1,{steps // 2},1.0\n2,{steps},{steps / speeds[threads]}\n")
        return Done()

    monkeypatch.setattr(bench, "_train_process", fake)
    table = bench.pairing_table("j1g1r0", steps=3000, rounds=2)
    rows = {r["layout"]: r for r in table["rows"]}
    assert rows["pair_1thread"]["machine_sps"]["median"] == pytest.approx(200.0)
    assert rows["pair_1thread"]["process_sps"]["median"] == pytest.approx(100.0)
    assert rows["single_2threads"]["machine_sps"]["median"] == pytest.approx(150.0)
    assert table["pair_over_two_threads"]["median"] == pytest.approx(200 / 150)
    assert "1.33 (1.33 – 1.33)" in bench.format_pairing(table)


def test_the_benchmark_steps_with_the_trainers_own_minibatch_step():
    """bench.Stepper is the trainer's step, not a copy: one update of one minibatch by
    Trainer.learn and one Stepper call on the same minibatch leave the same weights."""
    import copy

    from jepa_bench.rl import trainer as trainer_mod
    from jepa_bench.rl.agent import Minibatch

    assert bench.minibatch_step is trainer_mod.minibatch_step
    cfg = resolve("j1g1r0", dict(TINY, update_epochs=1, num_minibatches=1))
    trainer = Trainer(cfg, 0, torch.device("cpu"))
    buf = trainer.collect()
    agent, state = copy.deepcopy(trainer.agent), copy.deepcopy(trainer.optimizer.state_dict())
    rng = torch.get_rng_state()
    trainer.learn(buf)
    torch.set_rng_state(rng)
    perm = torch.randperm(cfg.batch_size)  # the permutation learn drew
    mb = Minibatch(**{k: v[perm] for k, v in trainer.batch(buf).items()})
    bench.Stepper(agent, cfg, optimizer_state=state)(mb)
    mine, theirs = agent.state_dict(), trainer.agent.state_dict()
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs)


def test_bmm_attention_is_sdpa_with_other_kernels():
    from jepa_bench.rl.vit import bmm_attention

    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 4, n, 16) for n in (1, 49, 49))
    torch.testing.assert_close(bmm_attention(q, k, v),
                               torch.nn.functional.scaled_dot_product_attention(q, k, v))
