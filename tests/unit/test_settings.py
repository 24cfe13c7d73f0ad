"""Settings sets and the calibrated settings: resolve, input scaling, return normalisation."""

import math

import pytest
import torch

from jepa_bench.config import DEFAULT_SETTINGS, SETTINGS, TrainConfig, resolve
from jepa_bench.rl.inputs import STD_FLOOR, InputScaling, frame_statistics


def test_the_default_set_is_v2_and_v1_is_the_field_defaults():
    assert DEFAULT_SETTINGS == "v2" and SETTINGS["v1"] == {}
    assert resolve("j1g1r0", settings="v1") == TrainConfig()
    v2 = resolve("j1g1r0")
    assert (v2.obs_norm, v2.patch_init, v2.norm_reward, v2.update_epochs, v2.num_minibatches) \
        == ("standard", "default", True, 8, 8)


def test_paper_configurations_differ_only_in_their_switches():
    cfgs = [resolve(n).to_dict() for n in ("j0g1r0", "j1g1r0", "j1g0r0", "j1g0r1")]
    differing = {k for c in cfgs for k in c if c[k] != cfgs[0][k]}
    assert differing == {"jepa", "rl_grad", "var_reg"}


def test_a_set_leaves_state_and_a2c_their_own_settings():
    assert resolve("state") == resolve("state", settings="v1")
    a2c = resolve("a2c_shared")
    assert (a2c.update_epochs, a2c.num_minibatches, a2c.norm_reward) == (1, 1, True)
    assert resolve("state_pixel_ppo").update_epochs == 8


def test_an_algorithms_part_of_a_set_reaches_that_algorithm_only(monkeypatch):
    monkeypatch.setitem(SETTINGS, "test-a2c", dict(SETTINGS["v2"], a2c=dict(num_steps=5, lr=2e-3)))
    a2c = resolve("a2c_shared", settings="test-a2c")
    # the part wins over the configuration's own A2C defaults (16 steps, 7e-4), the user over both
    assert (a2c.num_steps, a2c.lr, a2c.update_epochs, a2c.obs_norm) == (5, 2e-3, 1, "standard")
    assert resolve("a2c_shared", {"lr": 1e-4}, settings="test-a2c").lr == 1e-4
    assert resolve("a2c_shared", settings="v2").num_steps == 16
    for ppo in ("j1g1r0", "ppo_shared", "cnn_pixel_ppo"):
        assert resolve(ppo, settings="test-a2c") == resolve(ppo, settings="v2")
    assert resolve("state", settings="test-a2c") == resolve("state", settings="v1")


def test_v2_a2c_is_v2_with_the_a2c_calibrations_winner():
    """The set is written by hand from the pipeline's choice; this keeps the two the same."""
    from pathlib import Path

    from jepa_bench.config import parse_overrides
    from jepa_bench.metrics import read_json
    winner = read_json(Path(__file__).resolve().parents[2] / "results" / "a2c-calibration"
                       / "confirm-winner.json")
    assert SETTINGS["v2-a2c"] == dict(SETTINGS["v2"], a2c=parse_overrides(winner["set"]))
    for name in ("j0g1r0", "j1g1r0", "j1g0r0", "j1g0r1", "ppo_shared_nograd", "cnn_pixel_ppo"):
        assert resolve(name, settings="v2-a2c") == resolve(name, settings="v2")
    a2c = resolve("a2c_shared_nograd", settings="v2-a2c")
    assert (a2c.num_steps, a2c.lr, a2c.norm_adv, a2c.gae_lambda, a2c.update_epochs) == \
        (5, 7e-4, False, 1.0, 1)


def test_unknown_set_is_one_line():
    with pytest.raises(ValueError, match="unknown settings set 'v9'; valid sets: v1, v2"):
        resolve("j1g1r0", settings="v9")


def test_input_scaling_by_hand():
    mean = torch.full((2, 3), 0.5)
    std = torch.tensor([[1.0, 0.5, 0.25]] * 2)
    obs = torch.full((1, 1, 2, 3), 255, dtype=torch.uint8)
    out = InputScaling((mean, std))(obs)
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([0.5, 1.0, 2.0]))
    torch.testing.assert_close(InputScaling()(obs), torch.ones(1, 1, 2, 3))
    noise = torch.randint(0, 256, (2, 3, 24, 96), dtype=torch.uint8)
    assert torch.equal(InputScaling()(noise), noise.float() / 255.0)  # v1's CNN, bit for bit


def test_frame_statistics_are_fixed_and_floored():
    mean, std = frame_statistics(24, 96)
    again = frame_statistics.__wrapped__(24, 96)
    torch.testing.assert_close(mean, again[0])
    assert mean.shape == std.shape == (24, 96)
    assert float(std.min()) == pytest.approx(STD_FLOOR)   # the background never changes
    assert float(mean.max()) == pytest.approx(1.0)        # white background
    assert float(mean.min()) < 0.8                         # the cart and pole darken the middle


def test_patch_init_default_is_torchs_and_cnn_ln_tanh_bounds_the_embedding():
    from jepa_bench.rl.agent import build_encoder
    torch.manual_seed(0)
    trunc = build_encoder(resolve("j1g1r0", settings="v1")).patch_embed.weight.detach()
    torch.manual_seed(0)
    default = build_encoder(resolve("j1g1r0")).patch_embed.weight.detach()
    bound = 1 / math.sqrt(default.shape[1])  # kaiming-uniform(a=sqrt 5) of nn.Linear
    # uniform(-bound, bound): std bound / sqrt(3) = 0.048 for 144 inputs
    assert float(default.abs().max()) <= bound
    assert float(default.std()) == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert float(trunc.std()) < 0.03
    cnn = build_encoder(resolve("cnn_pixel_ppo"))
    out = cnn(torch.randint(0, 256, (4, 3, 24, 96), dtype=torch.uint8))
    assert out.shape == (4, 64) and float(out.detach().abs().max()) < 1.0


def test_settings_table_refuses_a_claims_file_that_is_not_there(tmp_path, capsys):
    """Each set the command compares has been run (the workflow's rule has every claims.json as
    an input): a path that is not there is one line naming it, exit 2, and nothing is written."""
    import json

    from jepa_bench.cli import main
    claim = {"id": 1, "statement": "baseline learns", "verdict": "reproduced",
             "checks": [{"detail": "final return 120 vs 33"}]}
    (tmp_path / "v2.json").write_text(json.dumps({"claims": [claim]}))
    out = tmp_path / "settings.md"
    gone, also = tmp_path / "nope.json", tmp_path / "v9" / "claims.json"
    for given, named in ([f"v1={gone}"], str(gone)), \
            ([f"v1={gone}", f"v2={tmp_path / 'v2.json'}", f"v9={also}"], f"{gone}, {also}"):
        assert main(["settings-table", "--claims", *given, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"jepa-bench settings-table: error: cannot read {named}: no such file; "
                       "run the stage that writes it or give the right path"]
        assert not out.exists()
    out.write_text("an earlier table\n")  # nothing already written is lost
    assert main(["settings-table", "--claims", f"v1={gone}", "--out", str(out)]) == 2
    assert out.read_text() == "an earlier table\n"
    assert main(["settings-table", "--claims", f"v2={tmp_path / 'v2.json'}", "--out",
                 str(out)]) == 0
    assert "| 1 | baseline learns | **reproduced** (final return 120 vs 33) |" in out.read_text()
