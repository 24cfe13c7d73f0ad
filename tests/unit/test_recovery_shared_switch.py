"""The switch of docs/yu-chen-protocol.md part 2 on real (tiny) runs: stage 1 stops at the
relative collapse line (here forced at the first update by a line above 1), and the step-0
encoder snapshot of a run started with --init-from is the collapsed encoder, so that the frozen
probe "at the switch" (jepa_bench.studies.recovery.shared) probes the encoder that collapsed."""

import torch

from jepa_bench.config import resolve
from jepa_bench.layout import collapse_paths, switch_paths
from jepa_bench.rl.run import train
from jepa_bench.studies.recovery import RecoverySettings, collapse_outcome

SMALL = {"num_envs": 2, "num_steps": 8, "num_minibatches": 2, "update_epochs": 1, "depth": 1}


def _encoder(path):
    return torch.load(path, map_location="cpu", weights_only=False)["encoder"]


def test_the_switch_starts_from_the_collapsed_encoder(tmp_path, one_thread):
    # a line of 10 is crossed by ρ = 1 at the first update: stage 1 stops there, as complete
    stage1 = collapse_paths(tmp_path, "ppo", 0)
    stops = {"stop_rel_var": 10.0, "stop_embed_var": 1e-7}
    cfg = resolve("ppo_shared_nograd", {**SMALL, "total_steps": 64, **stops}, settings="v2")
    info = train(cfg, 0, stage1.root, config_name="ppo_shared_nograd", progress=False, threads=1,
                 settings="v2")
    assert info["status"] == "complete" and info["updates"] == 1 and info["env_steps"] == 16
    settings = RecoverySettings(64, 32, collapse_rel=10.0, recovery_rel=100.0)
    outcome = collapse_outcome(tmp_path, "ppo", [0], settings, "v2")
    assert outcome["collapsed"] == [0] and outcome["runs"][0]["steps_to_collapse_rel"] == 16

    collapsed = stage1.encoder_snapshots()
    assert [p.name for p in collapsed] == ["step0.pt", "step16.pt"]
    switch = switch_paths(tmp_path, "ppo", "grad_on", 0)
    on = resolve("ppo_shared", {**SMALL, "total_steps": 32}, settings="v2")
    train(on, 0, switch.root, config_name="ppo_shared", progress=False, threads=1,
          settings="v2", init_from=stage1.checkpoint)
    snaps = switch.encoder_snapshots()
    assert [p.name for p in snaps] == ["step0.pt", "step32.pt"]
    at_switch, last_of_stage1 = _encoder(snaps[0]), _encoder(collapsed[-1])
    assert at_switch.keys() == last_of_stage1.keys()
    assert all(torch.equal(at_switch[k], last_of_stage1[k]) for k in at_switch)
    # ... and not the fresh encoder a run of this seed would start from
    fresh = _encoder(collapsed[0])
    assert any(not torch.equal(at_switch[k], fresh[k]) for k in at_switch)
    # the end is a later encoder: the ∇-on arm has moved it
    assert any(not torch.equal(at_switch[k], _encoder(snaps[-1])[k]) for k in at_switch)
