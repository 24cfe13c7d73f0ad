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
