"""The recovery experiment's summary and verdicts on synthetic run folders whose answers are
known in advance: which seeds collapsed, at which step each arm recovered, what the verdicts are."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from jepa_bench.layout import collapse_paths, switch_paths
from jepa_bench.studies.recovery import (
    RecoverySettings,
    evaluate_recovery,
    first_crossing,
    median_time_to_event,
    summarise_recovery,
    write_recovery_report,
)
from jepa_bench.analysis.verdicts import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED

BATCH = 1000  # env steps per logged update
CAP = 8_000  # stage-1 step cap
BUDGET = 10_000  # stage-2 steps
SETTINGS = RecoverySettings(collapse_steps=CAP, recovery_steps=BUDGET)
CONFIGS = {"ppo": ("j1g1r0", "j1g0r0"), "a2c": ("a2c_shared", "a2c_shared_nograd")}
LOW, HIGH = 5e-8, 1e-3  # a collapsed and a healthy embedding variance
NEVER = None


def collapse_curve(collapse_at):
    """Stage 1: falls from 1e-3 to below 1e-7 at update collapse_at (and stops there), or stays
    at 1e-6 up to the cap (NEVER)."""
    if collapse_at is NEVER:
        return np.full(CAP // BATCH, 1e-6)
    return np.append(np.geomspace(1e-3, 2e-7, collapse_at - 1), LOW)


def recovery_curve(recover_at):
    """Stage 2: collapsed until update recover_at, healthy from then on (NEVER: stays collapsed)."""
    ev = np.full(BUDGET // BATCH, LOW)
    if recover_at is not NEVER:
        ev[recover_at - 1:] = HIGH
    return ev


@pytest.fixture
def build(run_folder):
    """build(root, plan, missing=()): plan is algo -> seed -> (collapse update, grad_on recovery
    update, grad_off recovery update); `missing` names (algo, arm, seed) runs left out."""
    def write(paths, *, name, seed, rl_grad, embed_var, stop=0.0, init_from=None,
              status="complete", returns=20.0):
        steps = BATCH * np.arange(1, len(embed_var) + 1)
        return run_folder(paths, config_name=name, seed=seed, metric_steps=steps,
                          episode_steps=np.arange(100, steps[-1] + 1, 100),
                          episode_returns=returns, status=status, embed_var=embed_var,
                          config={"rl_grad": rl_grad, "stop_embed_var": stop, "jepa": True},
                          init_from=init_from)

    def make(root, plan, *, missing=()):
        for algo, seeds in plan.items():
            on_cfg, off_cfg = CONFIGS[algo]
            for seed, (collapse_at, on_at, off_at) in seeds.items():
                col = write(collapse_paths(root, algo, seed), name=off_cfg, seed=seed,
                            rl_grad=False, embed_var=collapse_curve(collapse_at),
                            stop=SETTINGS.collapse_threshold)
                col.checkpoint.parent.mkdir()
                col.checkpoint.write_bytes(b"weights")
                for arm, cfg, at in (("grad_on", on_cfg, on_at), ("grad_off", off_cfg, off_at)):
                    if (algo, arm, seed) not in missing:
                        write(switch_paths(root, algo, arm, seed), name=cfg, seed=seed,
                              rl_grad=arm == "grad_on", embed_var=recovery_curve(at),
                              init_from=str(col.checkpoint),
                              returns=60.0 if arm == "grad_on" else 20.0)
        return root
    return make


# seed -> (collapse at update, ∇ on recovers at update, ∇ off recovers at update)
STORY = {
    0: (3, 2, NEVER),
    1: (4, 3, NEVER),
    2: (5, 5, NEVER),
    3: (4, NEVER, NEVER),
    4: (NEVER, 1, NEVER),  # hits the cap without collapsing: must be left out
}


def verdicts(res):
    return {(c["id"], c["algo"]): c["verdict"] for c in res["claims"]}


def test_first_crossing_and_median_time_to_event():
    assert first_crossing([1e-3, 1e-8, 1e-9, 1e-3], 1e-7, below=True) == 1
    assert first_crossing([1e-8, np.nan, 2e-5, 1e-3], 1e-5, below=False) == 2
    assert first_crossing([1e-8] * 4, 1e-5, below=False) is None
    assert median_time_to_event([2000, 3000, 5000, math.inf]) == 3000  # half of 4 = 2 seeds
    assert median_time_to_event([2000, 3000, math.inf, math.inf, math.inf]) == math.inf
    assert median_time_to_event([4000, 1000, 2000]) == 2000
    assert math.isnan(median_time_to_event([]))


def test_summary_knows_which_seeds_collapsed_and_when_each_arm_recovered(tmp_path, build):
    s = summarise_recovery(build(tmp_path, {"ppo": STORY}), ["ppo"], range(5), SETTINGS)
    col = s.collapse.set_index("seed")
    assert col["collapsed"].tolist() == [True, True, True, True, False]
    assert col.loc[0, "steps_to_collapse"] == 3000 and col.loc[3, "updates_to_collapse"] == 4
    assert pd.isna(col.loc[4, "steps_to_collapse"])
    assert "did not collapse within 8,000 steps" in col.loc[4, "note"]

    runs = s.runs.set_index(["arm", "seed"])
    assert runs.loc[("grad_on", 0), "steps_to_recovery"] == 2000
    assert runs.loc[("grad_on", 2), "steps_to_recovery"] == 5000
    assert not runs.loc[("grad_on", 3), "recovered"]
    assert runs.loc[("grad_on", 0), "switch_embed_var"] == LOW
    assert not runs.loc[("grad_off", slice(None)), "recovered"].any()
    # the never-collapsed seed is left out, even though its ∇-on run "recovered" at once
    assert runs.loc[("grad_on", 4), "recovered"] and not runs.loc[("grad_on", 4), "included"]
    assert runs.loc[("grad_on", 4), "exclusion"] == "did not collapse in stage 1"
    assert "first rollout" in runs.loc[("grad_on", 4), "note"]
    assert runs["included"].sum() == 8

    st = s.stats.set_index(["arm", "metric"])
    assert st.loc[("grad_on", "recovered"), ["n", "count", "mean"]].tolist() == [4, 3, 0.75]
    lo, hi = st.loc[("grad_on", "recovered"), ["ci_low", "ci_high"]]
    assert 0.15 < lo < 0.25 and 0.99 < hi <= 1.0  # exact CI of 3 of 4
    assert st.loc[("grad_on", "steps_to_recovery"), "median"] == 3000  # recovered seeds only
    assert st.loc[("grad_on", "final_return"), "mean"] == 60.0
    assert set(s.curves["seed"]) == {0, 1, 2, 3, 4} and s.curves["env_step"].max() == BUDGET


def test_gradient_recovers_and_grad_off_never_does(tmp_path, build):
    res = evaluate_recovery(summarise_recovery(build(tmp_path, {"ppo": STORY}), ["ppo"],
                                               range(5), SETTINGS))
    assert verdicts(res) == {("a", "ppo"): REPRODUCED, ("b", "ppo"): REPRODUCED,
                             ("c", "ppo"): NOT_REPRODUCED}
    ppo = res["algorithms"]["ppo"]
    assert ppo["collapse"]["seeds_not_collapsed"] == [4] and ppo["included_seeds"] == [0, 1, 2, 3]
    assert ppo["grad_on"]["median_steps_to_recovery"] == 3000
    assert ppo["grad_off"]["median_steps_to_recovery"] == math.inf
    assert ppo["sign_test"] == {"only_grad_on": 3, "only_grad_off": 0, "p_one_sided": 0.125}


def test_grad_off_recovering_once_reproduces_kenneweg_and_a2c_is_judged_apart(tmp_path, build):
    ppo = dict(STORY) | {3: (4, NEVER, 6)}  # ∇ off recovers on its own in seed 3
    a2c = {s: (2, NEVER, NEVER) for s in range(5)}  # the gradient never helps
    res = evaluate_recovery(summarise_recovery(build(tmp_path, {"ppo": ppo, "a2c": a2c}),
                                               ["ppo", "a2c"], range(5), SETTINGS))
    assert verdicts(res) == {
        ("a", "ppo"): REPRODUCED, ("b", "ppo"): REPRODUCED, ("c", "ppo"): REPRODUCED,
        ("a", "a2c"): NOT_REPRODUCED, ("b", "a2c"): NOT_REPRODUCED, ("c", "a2c"): NOT_REPRODUCED,
    }
    b_ppo = next(c for c in res["claims"] if c["id"] == "b" and c["algo"] == "ppo")
    assert b_ppo["checks"][1]["numbers"]["median_grad_off"] == math.inf  # 1 of 4 is not half


def test_grad_off_as_often_as_grad_on_is_not_a_pull(tmp_path, build):
    plan = {s: (3, 2, 4) for s in range(4)}  # both arms recover everywhere, ∇ on earlier
    res = evaluate_recovery(summarise_recovery(build(tmp_path, {"ppo": plan}), ["ppo"],
                                               range(4), SETTINGS))
    a = next(c for c in res["claims"] if c["id"] == "a")
    assert [ch["result"] for ch in a["checks"]] == [True, False] and a["verdict"] == NOT_REPRODUCED
    assert verdicts(res)[("b", "ppo")] == REPRODUCED  # 2000 < 4000 steps


def test_too_few_collapsed_seeds_decide_nothing_but_an_observed_recovery(tmp_path, build):
    plan = {0: (3, 2, NEVER), 1: (3, 2, 5), 2: (NEVER, 2, NEVER), 3: (NEVER, 2, NEVER)}
    res = evaluate_recovery(summarise_recovery(build(tmp_path, {"ppo": plan}), ["ppo"],
                                               range(4), SETTINGS))
    assert verdicts(res) == {("a", "ppo"): INCONCLUSIVE, ("b", "ppo"): INCONCLUSIVE,
                             ("c", "ppo"): REPRODUCED}
    plan[1] = (3, 2, NEVER)
    res = evaluate_recovery(summarise_recovery(build(tmp_path / "again", {"ppo": plan}), ["ppo"],
                                               range(4), SETTINGS))
    assert verdicts(res)[("c", "ppo")] == INCONCLUSIVE


def test_missing_or_unfinished_runs_are_left_out_with_a_reason(tmp_path, build):
    root = build(tmp_path, {"ppo": STORY}, missing={("ppo", "grad_off", 1)})
    run = switch_paths(root, "ppo", "grad_on", 2).run_json
    info = json.loads(run.read_text())
    run.write_text(json.dumps(info | {"status": "running"}))
    s = summarise_recovery(root, ["ppo"], range(6), SETTINGS)  # seed 5 was never run
    runs = s.runs.set_index(["arm", "seed"])
    assert runs.loc[("grad_on", 1), "exclusion"] == "grad_off run missing"
    assert runs.loc[("grad_off", 2), "exclusion"] == "grad_on run running"
    assert runs.loc[("grad_on", 5), "exclusion"] == "stage-1 run missing"
    assert sorted(runs[runs["included"]].index.get_level_values("seed").unique()) == [0, 3]
    res = evaluate_recovery(s)
    assert res["algorithms"]["ppo"]["included_seeds"] == [0, 3]
    assert verdicts(res)[("a", "ppo")] == INCONCLUSIVE


def test_wrongly_wired_runs_are_refused(tmp_path, build):
    root = build(tmp_path, {"ppo": {0: (3, 2, NEVER)}})
    run = switch_paths(root, "ppo", "grad_on", 0).run_json
    good = json.loads(run.read_text())
    for change, message in (({"config": {"rl_grad": False}}, "needs rl_grad=True"),
                            ({"init_from": None}, "not started from a checkpoint"),
                            ({"init_from": str(run)}, "not from")):
        run.write_text(json.dumps(good | change))
        with pytest.raises(ValueError, match=message):
            summarise_recovery(root, ["ppo"], [0], SETTINGS)
    run.write_text(json.dumps(good | {"config": good["config"] | {"total_steps": 2 * BUDGET}}))
    with pytest.raises(ValueError, match="total_steps=20000, but the recovery budget is 10000"):
        summarise_recovery(root, ["ppo"], [0], SETTINGS)
    run.write_text(json.dumps(good))
    with pytest.raises(ValueError, match="stop_embed_var=1e-07, but the collapse threshold"):
        summarise_recovery(root, ["ppo"], [0], RecoverySettings(CAP, BUDGET, 1e-6, 1e-5))


@pytest.mark.parametrize("kwargs, message", [
    (dict(collapse_steps=0, recovery_steps=10), "positive integer"),
    (dict(collapse_steps=10, recovery_steps=10, collapse_threshold=0.0), "> 0"),
    (dict(collapse_steps=10, recovery_steps=10, collapse_threshold=1e-5, recovery_threshold=1e-7),
     "must lie above"),
])
def test_settings_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RecoverySettings(**kwargs)


def test_report_figure_and_tables_are_written(tmp_path, build):
    root = build(tmp_path / "recovery", {"ppo": STORY, "a2c": {s: (2, 3, NEVER) for s in range(3)}})
    paths = write_recovery_report(root, ["ppo", "a2c"], range(5), SETTINGS, tmp_path / "summary",
                                  tmp_path / "figures", tmp_path / "recovery.md")
    names = [p.name for p in paths]
    assert names == ["collapse.csv", "runs.csv", "curves.csv", "stats.csv", "recovery.png",
                     "recovery.pdf", "recovery.md", "recovery.json"]
    for p in paths:
        assert p.stat().st_size > 0
    assert (tmp_path / "figures" / "recovery.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.rglob("*.tmp"))
    text = (tmp_path / "recovery.md").read_text()
    data = json.loads((tmp_path / "recovery.json").read_text())
    assert text.startswith("# Recovery from collapse")
    assert "below 1e-7" in text and "above 1e-5" in text and "100 times the collapse line" in text
    assert "seed 4 left out: did not collapse in stage 1" in text
    assert "did not collapse within 8,000 steps" in text
    assert "| PPO | 0 | ∇ on | yes | 5.0e-8 | 2,000 | 1.0e-3 | 60.0 |  |" in text
    assert "| PPO | 4 | ∇ on | no | 1.0e-3 | 1,000 |" in text
    assert "| A2C | - | 3 | n/a | - | n/a | no run folder" in text
    assert data["thresholds"]["collapse_threshold"] == 1e-7
    assert data["thresholds"]["recovery_threshold"] == 1e-5
    # inf (never reached) is written as null, so the JSON stays standard
    assert data["algorithms"]["ppo"]["grad_off"]["median_steps_to_recovery"] is None
    assert [(c["id"], c["algo"]) for c in data["claims"]] == [
        ("a", "ppo"), ("b", "ppo"), ("c", "ppo"), ("a", "a2c"), ("b", "a2c"), ("c", "a2c")]
    assert text.count("Verdict: **") == 6
    with pytest.raises(ValueError, match="must end in '.md'"):
        write_recovery_report(root, ["ppo"], [0], SETTINGS, tmp_path / "s", tmp_path / "f",
                              tmp_path / "recovery.txt")
