import pytest

from jepa_bench.config import (CONFIGS, GRID_CONFIGS, PAPER_CONFIGS, TrainConfig,
                               config_differences, get_config, notation, parse_overrides, resolve)


def test_grid_names_map_to_switches():
    assert len(GRID_CONFIGS) == 8 and set(PAPER_CONFIGS) <= set(GRID_CONFIGS)
    cfg = resolve("j1g0r1")
    assert (cfg.jepa, cfg.rl_grad, cfg.var_reg) == (True, False, True)
    cfg = resolve("j0g1r0")
    assert (cfg.jepa, cfg.rl_grad, cfg.var_reg) == (False, True, False)


def test_pixel_configs_share_every_hyperparameter_but_the_switches():
    switches = {"jepa", "rl_grad", "var_reg"}
    dicts = [{k: v for k, v in resolve(n).to_dict().items() if k not in switches}
             for n in GRID_CONFIGS]
    assert all(d == dicts[0] for d in dicts)


def test_notation_uses_hats_for_switches_that_are_off():
    assert notation(True, True, False) == "J, \u2207, R\u0302"
    assert CONFIGS["j0g1r0"].notation == "J\u0302, \u2207, R\u0302"
    assert CONFIGS["j1g0r1"].notation == "J, \u2207\u0302, R"


def test_every_configuration_has_its_own_notation():
    # figure legends and reports name configurations by notation: no two may share one
    notations = [c.notation for c in CONFIGS.values()]
    assert len(set(notations)) == len(notations)
    assert CONFIGS["a2c_shared_sg"].notation == "A2C: J, ∇, R̂ (shared target, stop-grad)"
    assert CONFIGS["a2c_shared_nograd"].notation == "A2C: J, ∇̂, R̂ (shared target)"


def test_state_config_is_ppo_on_the_state():
    cfg = resolve("state")
    assert cfg.obs_type == "state" and not cfg.jepa and cfg.rl_grad


def test_state_pixel_ppo_control_differs_from_the_pixel_runs_only_in_the_encoder():
    """The control keeps every PPO setting of the pixel configurations; only the input and the
    encoder (an MLP on the state, so no JEPA loss) differ."""
    control, pixel = resolve("state_pixel_ppo").to_dict(), resolve("j0g1r0").to_dict()
    differ = sorted(k for k in control if control[k] != pixel[k])
    assert differ == ["obs_type"]
    assert not control["jepa"] and control["rl_grad"] and not control["var_reg"]


def test_cnn_control_differs_from_j0g1r0_only_in_the_encoder():
    control, pixel = resolve("cnn_pixel_ppo").to_dict(), resolve("j0g1r0").to_dict()
    assert sorted(k for k in control if control[k] != pixel[k]) == ["encoder"]
    assert control["encoder"] == "cnn" and TrainConfig().encoder == "vit"


def test_config_differences_count_a_missing_field_as_its_default():
    new = TrainConfig().to_dict()
    old = {k: v for k, v in new.items() if k != "encoder"}  # a run.json from before the field
    assert config_differences(old, new) == []
    assert config_differences(old, {**new, "encoder": "cnn"}) == ["encoder"]
    assert config_differences({**old, "lr": 1.0}, new) == ["lr"]
    assert config_differences(new, {**new, "unknown": 1}) == ["unknown"]


def test_derived_sizes():
    cfg = TrainConfig()
    assert cfg.batch_size == cfg.num_envs * cfg.num_steps
    assert cfg.minibatch_size * cfg.num_minibatches == cfg.batch_size
    assert cfg.num_updates * cfg.batch_size >= cfg.total_steps


def test_overrides_are_typed_after_the_fields():
    out = parse_overrides(["lr=1e-3", "depth=3", "anneal_lr=false", "renderer=gym"])
    assert out == {"lr": 1e-3, "depth": 3, "anneal_lr": False, "renderer": "gym"}


@pytest.mark.parametrize("items, match", [
    (["nope=1"], "unknown --set key 'nope'; valid keys: "),
    (["depth=two"], r"^--set depth='two': expected an integer \(digits only, e\.g\. 40\)$"),
    (["num_envs=4_0"], r"^--set num_envs='4_0': expected an integer"),
    (["lr=1_0e-4"], r"^--set lr='1_0e-4': expected a number \(e\.g\. 3e-4\)$"),
    (["anneal_lr=maybe"], "expected true or false"),
    (["depth"], "expected key=value"),
    # --total-steps (the workflow: config total_steps) always sets it: a --set item was ignored
    (["total_steps=1000"], r"^--set total_steps is not allowed: use --total-steps \(the "
                           r"workflow: config total_steps\)$"),
])
def test_bad_overrides_raise_one_line(items, match):
    with pytest.raises(ValueError, match=match) as info:
        parse_overrides(items)
    assert "\n" not in str(info.value)


def test_settable_keys_leave_out_the_switches_and_the_options_fields():
    from jepa_bench.config import SWITCH_KEYS, settable_keys
    keys = settable_keys()
    assert "total_steps" not in keys and not set(SWITCH_KEYS) & set(keys)
    assert {"lr", "renderer", "checkpoint_every"} <= set(keys)


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_envs=0), "num_envs=0 must be a positive integer"),
    (dict(total_steps=-5), "total_steps=-5 must be a positive integer"),
    (dict(gamma=1.5), r"gamma=1.5 must lie in \[0, 1\]"),
    (dict(renderer="opengl"), "renderer='opengl' is not one of: 'fast', 'gym'"),
    (dict(num_minibatches=7), "num_minibatches=7 must divide"),
    (dict(lr=float("nan")), "lr=nan must be a finite number"),
    (dict(encoder="mlp"), "encoder='mlp' is not one of: 'vit', 'cnn'"),
    (dict(encoder="cnn", height=12, width=48, patch=12), "must be >= 16 for encoder='cnn'"),
    (dict(adam_eps=0.0), "adam_eps=0.0 must be a finite number > 0"),
    (dict(mlp_ratio=0.0), "mlp_ratio=0.0 must be a finite number > 0"),
    (dict(mlp_ratio=0.01), "mlp_ratio=0.01 leaves the transformer's MLP no unit at dim=64"),
])
def test_invalid_fields_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_unknown_config_lists_valid_names():
    with pytest.raises(ValueError, match="unknown config 'j2g1r0'; valid names: j0g0r0, .*state"):
        get_config("j2g1r0")
