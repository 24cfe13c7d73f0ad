"""Summary tables from hand-written run folders whose right answers are known."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from jepa_bench.analysis.aggregate import (
    CURVE_METRICS,
    RUN_METRICS,
    SUMMARY_FILES,
    make_grid,
    random_policy_returns,
    summarise,
)
from jepa_bench.config import get_config
from jepa_bench.layout import RunPaths
from jepa_bench.analysis.plots import notation_mathtext


@pytest.fixture
def write_run(run_folder):
    """write_run(root, name, seed, ep_steps, ep_returns, total=, every=, embed_var=, status=):
    a run folder with one metrics row every `every` steps up to `total` and the given episodes."""
    def write(root, name, seed, ep_steps, ep_returns, *, total=1000, every=100, embed_var=0.1,
              status="complete"):
        steps = np.arange(every, total + 1, every)
        return run_folder(RunPaths.of(root, name, seed), config_name=name, seed=seed,
                          metric_steps=steps, episode_steps=ep_steps, episode_returns=ep_returns,
                          status=status, env_steps=total, embed_var=embed_var, embed_rank=3.0,
                          jepa_loss=1.0 / steps).root
    return write


def test_notation_has_one_owner_the_config():
    assert get_config("j1g0r1").notation == "J, \u2207\u0302, R"
    assert get_config("j0g1r0").notation == "J\u0302, \u2207, R\u0302"
    assert notation_mathtext("j1g0r0") == r"$J,\ \hat{\nabla},\ \hat{R}$"
    assert notation_mathtext("state") == get_config("state").notation
    with pytest.raises(ValueError, match="j2g0r0"):
        get_config("j2g0r0")


def test_grid_is_every_fiftieth_of_the_budget_and_ends_on_it():
    g = make_grid(100_000)
    assert g[0] == 2000 and g[-1] == 100_000 and len(g) == 50 and np.all(np.diff(g) == 2000)
    g = make_grid(512)
    assert g[0] == 11 and g[-1] == 512 and np.all(np.diff(g) > 0)
    with pytest.raises(ValueError):
        make_grid(0)


def test_random_baseline_is_measured_and_seeded():
    a = random_policy_returns(50, seed=3)
    assert list(a.columns) == ["episode", "reset_seed", "return", "length"] and len(a) == 50
    assert (a["return"] == a["length"]).all()  # +1 reward a step
    assert 12 < a["return"].mean() < 35  # a random CartPole policy lasts ~22 steps
    pd.testing.assert_frame_equal(a, random_policy_returns(50, seed=3))


@pytest.fixture
def summary(tmp_path, write_run):
    runs = tmp_path / "runs"
    # rising run: an episode every 10 steps, return 10 + k; episodes past the budget must not count
    steps = np.arange(10, 1001, 10)
    write_run(runs, "j1g1r0", 0, np.append(steps, 1010), np.append(10.0 + np.arange(100), 1e6))
    # two episodes, hand-computable AUC; embed_var collapses to 1e-9 at step 500
    write_run(runs, "j1g1r0", 1, [200, 600], [10.0, 30.0],
              embed_var=np.where(np.arange(100, 1001, 100) >= 500, 1e-9, 0.2))
    write_run(runs, "j1g1r0", 2, [100, 300], [40.0, 40.0])
    for seed in (0, 1, 2):  # every seed the same: no bootstrap CI
        write_run(runs, "j1g0r0", seed, [500], [9.0])
    return summarise(runs, ["j1g1r0", "j1g0r0"], [0, 1, 2], 1000, tmp_path / "summary",
                     baseline_episodes=40)


def test_summarise_writes_every_table(summary):
    assert set(summary) == set(SUMMARY_FILES)
    for key, path in summary.items():
        assert path.name == SUMMARY_FILES[key] and path.stat().st_size > 0
    assert not list(summary["curves"].parent.glob("*.tmp"))


def test_per_run_numbers(summary):
    runs = pd.read_csv(summary["runs"]).set_index(["configuration", "seed"])
    r0, r1 = runs.loc[("j1g1r0", 0)], runs.loc[("j1g1r0", 1)]
    assert r0["episodes"] == 100  # the one finished after 1000 steps is left out
    assert r0["final_return"] == pytest.approx(np.mean(10.0 + np.arange(90, 100)))
    assert r0["final_return_n"] == 10
    # running mean is 10 on [200, 600) and 20 on [600, 1000]: (10*400 + 20*400) / 800
    assert r1["auc_return"] == pytest.approx(15.0)
    assert r1["final_return"] == pytest.approx(20.0) and r1["final_return_n"] == 2
    # returns climb 1 per 10 steps, so the running mean climbs 100 per 1000 steps
    assert r0["late_slope"] == pytest.approx(100.0)
    assert r1["embed_var_min"] == pytest.approx(1e-9) and r1["embed_var_max"] == pytest.approx(0.2)
    assert bool(r1["collapsed"]) and not bool(r0["collapsed"])
    assert r1["embed_var_final"] == pytest.approx(1e-9)
    assert r0["jepa_loss_final"] == pytest.approx(1e-3)
    assert len(runs) == 6


def test_curves_are_step_held_on_the_grid(summary):
    curves = pd.read_csv(summary["curves"])
    expected = ["configuration", "notation", "seed", "env_step", "episodes", "return_running",
                *CURVE_METRICS]
    assert list(curves.columns) == expected
    assert curves.groupby(["configuration", "seed"]).size().eq(50).all()
    c1 = curves[(curves["configuration"] == "j1g1r0") & (curves["seed"] == 1)].set_index("env_step")
    assert math.isnan(c1.loc[100, "return_running"])  # nothing finished yet
    assert c1.loc[200, "return_running"] == 10.0 and c1.loc[580, "return_running"] == 10.0
    assert c1.loc[600, "return_running"] == 20.0 and c1.loc[1000, "episodes"] == 2
    assert c1.loc[480, "embed_var"] == pytest.approx(0.2)  # last log at 400
    assert c1.loc[500, "embed_var"] == pytest.approx(1e-9)
    assert math.isnan(c1.loc[80, "embed_var"])  # before the first log
    assert (curves["notation"][curves["configuration"] == "j1g0r0"] == "J, \u2207\u0302, R\u0302").all()


def test_stats_over_seeds(summary):
    stats = pd.read_csv(summary["stats"])
    assert list(stats.columns) == ["configuration", "notation", "metric", "n", "mean", "std",
                                   "median", "iqm", "min", "max", "ci_low", "ci_high", "ci_note"]
    fr = stats[(stats["configuration"] == "j1g1r0") & (stats["metric"] == "final_return")].iloc[0]
    finals = [np.mean(10.0 + np.arange(90, 100)), 20.0, 40.0]
    assert fr["n"] == 3 and fr["mean"] == pytest.approx(np.mean(finals))
    assert fr["ci_low"] <= fr["mean"] <= fr["ci_high"]
    assert set(stats["metric"][stats["configuration"] == "j1g1r0"]) == set(RUN_METRICS)
    same = stats[(stats["configuration"] == "j1g0r0") & (stats["metric"] == "final_return")].iloc[0]
    assert same["n"] == 3 and same["ci_low"] == same["ci_high"] == same["mean"]
    assert "equal" in same["ci_note"]
    rnd = stats[stats["configuration"] == "random"].iloc[0]
    baseline = pd.read_csv(summary["random_baseline"])
    assert rnd["metric"] == "episode_return" and rnd["n"] == len(baseline) == 40
    assert rnd["mean"] == pytest.approx(baseline["return"].mean())


def test_meta_lists_settings_and_the_runs_used(summary):
    meta = json.loads(summary["meta"].read_text())
    assert meta["total_steps"] == 1000 and meta["grid_step"] == 20
    assert meta["collapse_threshold"] == 1e-7 and meta["reward_threshold"] == 475.0
    assert len(meta["runs_used"]) == 6 and "runs_skipped" not in meta


def test_a_run_the_aggregate_cannot_find_or_use_is_an_error_naming_it(tmp_path, write_run):
    runs = tmp_path / "runs"
    write_run(runs, "j1g1r0", 0, [100], [20.0])
    missing = RunPaths.of(runs, "j1g1r0", 1).run_json
    with pytest.raises(ValueError, match="not found") as err:
        summarise(runs, ["j1g1r0"], [0, 1], 1000, tmp_path / "s", baseline_episodes=5)
    assert str(missing) in str(err.value)
    write_run(runs, "j1g1r0", 1, [100], [20.0], status="running")
    with pytest.raises(ValueError, match="status 'running', not 'complete'") as err:
        summarise(runs, ["j1g1r0"], [0, 1], 1000, tmp_path / "s", baseline_episodes=5)
    assert str(missing) in str(err.value)
    assert not (tmp_path / "s").exists()


def test_bad_input_is_rejected(tmp_path, write_run):
    with pytest.raises(ValueError, match="bogus"):
        summarise(tmp_path, ["bogus"], [0], 1000, tmp_path / "s", baseline_episodes=5)
    run = write_run(tmp_path, "j0g1r0", 0, [10], [5.0])
    (run / "run.json").write_text(json.dumps({"config_name": "j1g1r0", "seed": 0,
                                              "status": "complete"}))
    with pytest.raises(ValueError, match="config_name"):
        summarise(tmp_path, ["j0g1r0"], [0], 1000, tmp_path / "s", baseline_episodes=5)


def _with_config(run, name, **overrides):
    """Give a hand-made run folder the run.json config `jepa-bench train` would have written."""
    from jepa_bench.config import resolve

    info = json.loads((run / "run.json").read_text())
    info["config"] = resolve(name, overrides).to_dict()
    (run / "run.json").write_text(json.dumps(info))


def test_summarise_accepts_runs_made_with_the_asked_settings(tmp_path, write_run):
    run = write_run(tmp_path / "runs", "j1g1r0", 0, [100], [20.0])
    _with_config(run, "j1g1r0", total_steps=1000, lr=1e-3)
    paths = summarise(tmp_path / "runs", ["j1g1r0"], [0], 1000, tmp_path / "out",
                      baseline_episodes=2, overrides={"lr": 1e-3})
    assert paths["runs"].is_file()


@pytest.mark.parametrize("made_with, asked, named", [
    ({"total_steps": 1000, "lr": 1e-3}, {}, "lr=0.001 (asked: 0.00025)"),
    ({"total_steps": 500}, {}, "total_steps=500 (asked: 1000)"),
    ({"total_steps": 1000}, {"renderer": "gym"}, "renderer='fast' (asked: 'gym')"),
])
def test_summarise_rejects_a_run_made_with_other_settings(tmp_path, write_run, made_with, asked,
                                                          named):
    run = write_run(tmp_path / "runs", "j1g1r0", 0, [100], [20.0])
    _with_config(run, "j1g1r0", **made_with)
    with pytest.raises(ValueError) as err:
        summarise(tmp_path / "runs", ["j1g1r0"], [0], 1000, tmp_path / "out",
                  baseline_episodes=2, overrides=asked)
    message = str(err.value)
    assert named in message and str(run / "run.json") in message and "\n" not in message
    assert not (tmp_path / "out").exists()


def test_cli_aggregate_checks_runs_against_its_settings(tmp_path, capsys, write_run):
    """`jepa-bench aggregate` takes the train rule's --renderer and --set and stops, exit 2 and
    one line, on a run made with other settings; with the same settings it writes the tables."""
    from jepa_bench.cli import main

    run = write_run(tmp_path / "runs", "j1g1r0", 0, [100], [20.0])
    _with_config(run, "j1g1r0", total_steps=1000, num_envs=16)
    args = ["aggregate", "--runs-root", str(tmp_path / "runs"), "--configs", "j1g1r0",
            "--seeds", "0", "--total-steps", "1000", "--renderer", "fast"]
    assert main(args + ["--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "num_envs=16 (asked: 8)" in err
    assert not (tmp_path / "bad").exists()
    assert main(args + ["--set", "num_envs=16", "--out", str(tmp_path / "good")]) == 0
    assert (tmp_path / "good" / "runs.csv").is_file()


def test_summarise_reads_each_configuration_from_its_own_runs_root(tmp_path, write_run):
    """A map of runs roots (a study reusing another experiment's runs): each configuration is
    read from its folder; summary.json records the map, or the one folder when all agree."""
    import json

    from jepa_bench.analysis.aggregate import summarise

    write_run(tmp_path / "a", "j1g1r0", 0, [500, 1000], [20.0, 30.0])
    write_run(tmp_path / "b", "j0g1r0", 0, [500, 1000], [20.0, 30.0])
    out = summarise({"j1g1r0": tmp_path / "a", "j0g1r0": tmp_path / "b"}, ["j1g1r0", "j0g1r0"],
                    [0], 1000, tmp_path / "s1", baseline_episodes=10)
    meta = json.loads(out["meta"].read_text())
    assert meta["runs_root"] == {"j1g1r0": str(tmp_path / "a"), "j0g1r0": str(tmp_path / "b")}
    write_run(tmp_path / "a", "j0g1r0", 0, [500, 1000], [20.0, 30.0])
    out = summarise({"j1g1r0": tmp_path / "a", "j0g1r0": tmp_path / "a"}, ["j1g1r0", "j0g1r0"],
                    [0], 1000, tmp_path / "s2", baseline_episodes=10)
    assert json.loads(out["meta"].read_text())["runs_root"] == str(tmp_path / "a")
    with pytest.raises(ValueError, match=r"runs_root names no folder for \['j0g1r0'\]"):
        summarise({"j1g1r0": tmp_path / "a"}, ["j1g1r0", "j0g1r0"], [0], 1000, tmp_path / "s3")
