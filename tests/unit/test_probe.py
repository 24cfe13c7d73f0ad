"""The supervised probe: R² formula, labelled frames, and its bad input."""

import pytest
import torch

from jepa_bench.config import resolve
from jepa_bench.rl.probe import STATE_NAMES, collect_frames, probe, r_squared


def test_r_squared_hand_values():
    target = torch.tensor([[1.0, 0.0], [2.0, 1.0], [3.0, 2.0]])
    pred = torch.tensor([[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])  # exact; the column's mean
    torch.testing.assert_close(r_squared(pred, target), torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(r_squared(target.flip(0), target), torch.tensor([-3.0, -3.0]))


def test_collected_frames_are_labelled_with_their_states():
    cfg = resolve("j0g1r0", {"num_envs": 4}, settings="v1")
    obs, state = collect_frames(cfg, samples=30, seed=0)
    assert obs.shape == (30, 3, cfg.height, cfg.width) and obs.dtype == torch.uint8
    assert state.shape == (30, 4) and state.dtype == torch.float32
    assert bool((state[:4, 0].abs() <= 0.05).all())  # reset states: |x| <= 0.05
    again, _ = collect_frames(cfg, samples=30, seed=0)
    assert torch.equal(obs, again)


def test_probe_reports_r2_per_component_and_is_seeded():
    kwargs = dict(samples=640, steps=3, batch=64, seed=1)
    one, two = probe("cnn_pixel_ppo", **kwargs), probe("cnn_pixel_ppo", **kwargs)
    assert list(one["r2"]) == list(STATE_NAMES) and one == two



def test_the_probe_learns_what_the_frames_show():
    """A probe that mislabels frames, reads the wrong frame or does not train stays at or below
    R² 0; the CNN reads the cart's position and the pole's angle within 80 small steps (v1's
    input: an untrained head on v2's standardised input can correlate with x by chance)."""
    kwargs = dict(samples=1280, batch=64, seed=1, settings="v1")
    untrained = probe("cnn_pixel_ppo", steps=0, **kwargs)["r2"]
    trained = probe("cnn_pixel_ppo", steps=80, **kwargs)["r2"]
    assert untrained["x"] < 0.0 and untrained["theta"] < 0.1
    assert trained["x"] > 0.6 and trained["theta"] > 0.3


@pytest.mark.parametrize("config, kwargs, match", [
    ("state", {}, "config='state' has obs_type='state'"),
    ("j0g1r0", {"test_fraction": 1.0}, "test_fraction=1.0 must lie in"),
    ("j0g1r0", {"samples": 100, "batch": 256}, "samples=100 leaves fewer than batch=256"),
])
def test_bad_input_is_one_line(config, kwargs, match):
    with pytest.raises(ValueError, match=match):
        probe(config, **kwargs)


def test_probe_report_must_be_markdown(tmp_path):
    from jepa_bench.studies.probe_report import write_probe_report

    with pytest.raises(ValueError, match="must end in '.md'"):
        write_probe_report({}, tmp_path / "probe.csv")
    assert not list(tmp_path.iterdir())


# --- the frozen probe (docs/trained-encoders.md) -------------------------------------------------

def test_heads_by_hand_informative_and_uninformative_features():
    from jepa_bench.rl.probe import _mlp_r2, _ridge_r2

    gen = torch.Generator().manual_seed(0)
    y = torch.randn(600, 4, generator=gen)
    mix = torch.randn(4, 16, generator=gen)
    x = y @ mix + 1e-3 * torch.randn(600, 16, generator=gen)  # y is a linear read of x
    noise = torch.randn(600, 16, generator=gen)                # nothing to read
    good = _ridge_r2(x[:500], y[:500], x[500:], y[500:])
    bad = _ridge_r2(noise[:500], y[:500], noise[500:], y[500:])
    assert bool((good > 0.99).all()) and bool((bad < 0.1).all())
    assert bool((_mlp_r2(x[:500], y[:500], x[500:], y[500:]) > 0.9).all())


def test_policies_and_the_mixture():
    from jepa_bench.rl.inputs import random_policy_frames
    from jepa_bench.rl.probe import mixture_frames

    with pytest.raises(ValueError, match="policy='greedy' is not one of: random, angle, angle_eps"):
        random_policy_frames(2, 8, 0, policy="greedy")
    # the angle policy balances for a while: far fewer episode ends than the random policy
    ends = {}
    for policy in ("random", "angle"):
        _, state = random_policy_frames(1, 300, 0, policy=policy)
        # an episode end resets the state: the only large jump between consecutive states
        ends[policy] = int(((state[1:] - state[:-1]).abs().sum(1) > 0.5).sum())
    assert ends["angle"] < ends["random"]
    train_obs, train_state, test_obs, test_state = mixture_frames(24, 96, samples=300, seed=7)
    assert train_obs.shape == (240, 3, 24, 96) and test_obs.shape == (60, 3, 24, 96)
    assert train_state.shape == (240, 4) and test_state.shape == (60, 4)


@pytest.mark.slow
def test_frozen_probe_reads_a_runs_snapshots(tmp_path, one_thread):
    from jepa_bench.cli import main
    from jepa_bench.metrics import read_json

    run = tmp_path / "run"
    assert main(["train", "--config", "j1g1r0", "--seed", "0", "--total-steps", "32", "--out",
                 str(run), "--set", "num_envs=2", "--set", "num_steps=16", "--set", "depth=1",
                 "--threads", "1", "--device", "cpu", "--quiet"]) == 0
    assert main(["probe-frozen", str(run), "--samples", "600", "--json",
                 str(tmp_path / "p.json")]) == 0
    res = read_json(tmp_path / "p.json")
    assert res["config_name"] == "j1g1r0" and res["seed"] == 0
    assert [s["env_step"] for s in res["snapshots"]] == [0, 32]
    for snap in res["snapshots"]:
        assert set(snap["r2"]) == {"linear", "mlp"}
        assert all(v <= 1.0 for head in snap["r2"].values() for v in head.values())
    (run / "encoder" / "step32.pt").write_bytes(b"not a snapshot")
    assert main(["probe-frozen", str(run), "--samples", "600"]) == 2


def test_the_frozen_probe_refuses_too_few_samples_before_rendering():
    from jepa_bench.rl.probe import MIN_PER_POLICY, mixture_frames
    with pytest.raises(ValueError, match=r"samples=5 is too few for the frozen probe: at least "
                                         rf"{3 * MIN_PER_POLICY} \({MIN_PER_POLICY} frame"):
        mixture_frames(24, 96, samples=5)
