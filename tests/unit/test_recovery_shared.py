"""A collapse that happens (docs/yu-chen-protocol.md, part 2; jepa_bench.studies.recovery.shared)
on hand-made run folders and probe results whose answers are worked out by hand: collapse by the
relative line, by the absolute line or not at all (capped), recovery by ρ with the absolute line
beside it, regained components, the verdicts (a), (b), (c), and the command line's bad input."""

import json
import math

import numpy as np
import pytest

from jepa_bench.analysis.verdicts import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from jepa_bench.cli import build_parser, main
from jepa_bench.layout import collapse_paths, switch_paths
from jepa_bench.metrics import STATE_NAMES
from jepa_bench.studies.recovery import (PROTOCOL, RecoverySettings, collapse_outcome,
                                         evaluate_shared, summarise_recovery, switch_wildcards,
                                         write_shared_report)
from jepa_bench.studies.recovery.shared import check_settings_sets, probe_switch_table

BATCH = 1000  # env steps per logged update
CAP = 6_000  # stage-1 step cap
BUDGET = 5_000  # stage-2 steps
S = RecoverySettings(CAP, BUDGET, collapse_threshold=1e-7, recovery_threshold=1e-5,
                     collapse_rel=1e-4, recovery_rel=1e-2)
CONFIGS = {"ppo": ("ppo_shared", "ppo_shared_nograd"), "a2c": ("a2c_shared", "a2c_shared_nograd")}
SETS = {"ppo": "v2", "a2c": "v2"}

# stage 1 (embed_var per update; the first is the reference of ρ):
# by ρ only: 1e-2 -> 5e-7 is ρ = 5e-5 < 1e-4 while embed_var stays above 1e-7 (update 3)
BY_RHO = [1e-2, 1e-4, 5e-7]
# by the absolute line only: 1e-4 -> 5e-8 is ρ = 5e-4, not below 1e-4 (update 4)
BY_ABS = [1e-4, 1e-6, 2e-7, 5e-8]
# capped: ρ never below 1e-3, embed_var never below 1e-5: six updates to the cap
CAPPED = [1e-2] + [1e-5] * 5
# stage 2, in units of the reference 1e-2 (BY_RHO, CAPPED): ρ > 1e-2 needs embed_var > 1e-4
NEVER = [5e-7] * 5
RHO_AT_3 = [5e-7, 3e-5, 2e-4, 2e-4, 2e-4]  # absolute line at update 2, ρ line at update 3
ABS_ONLY = [5e-7, 5e-5, 5e-5, 5e-5, 5e-5]  # ρ 5e-3 at most: recovered by the absolute line only


def rho_at(k):
    """Stage 2 for the BY_RHO reference, the ρ line first crossed at update k (1-based)."""
    return [5e-7] * (k - 1) + [2e-4] * (BUDGET // BATCH - k + 1)


@pytest.fixture
def build(run_folder):
    """build(root, plan, missing=()): plan is algo -> seed -> (stage-1 curve, ∇-on curve,
    ∇-off curve); no stage-2 runs for a seed whose curves are None (as the checkpoint leaves
    them out); `missing` names (algo, arm, seed) runs left out."""
    def write(paths, *, name, seed, rl_grad, embed_var, stop=(), init_from=None, steps=BUDGET):
        at = BATCH * np.arange(1, len(embed_var) + 1)
        return run_folder(paths, config_name=name, seed=seed, metric_steps=at,
                          episode_steps=np.arange(100, at[-1] + 1, 100),
                          episode_returns=40.0 if rl_grad else 20.0, embed_var=embed_var,
                          config={"rl_grad": rl_grad, "jepa": True, "total_steps": steps,
                                  **dict(stop)},
                          init_from=init_from, settings="v2")

    def make(root, plan, *, missing=()):
        for algo, seeds in plan.items():
            on_cfg, off_cfg = CONFIGS[algo]
            for seed, (stage1, on, off) in seeds.items():
                col = write(collapse_paths(root, algo, seed), name=off_cfg, seed=seed,
                            rl_grad=False, embed_var=stage1, steps=CAP,
                            stop={"stop_rel_var": 1e-4, "stop_embed_var": 1e-7})
                col.checkpoint.parent.mkdir()
                col.checkpoint.write_bytes(b"weights")
                for arm, cfg, curve in (("grad_on", on_cfg, on), ("grad_off", off_cfg, off)):
                    if curve is not None and (algo, arm, seed) not in missing:
                        write(switch_paths(root, algo, arm, seed), name=cfg, seed=seed,
                              rl_grad=arm == "grad_on", embed_var=curve,
                              init_from=str(col.checkpoint))
        return root
    return make


def probe_result(root, algo, arm, seed, switch, end, end_step=BUDGET):
    """A `probe-frozen --json` result with MLP-head R² `switch` at step 0 and `end` at the
    last step (and one snapshot between), the linear head 0.1 lower."""
    def snap(step, mlp):
        r2 = dict(zip(STATE_NAMES, mlp))
        return {"env_step": step, "r2": {"mlp": r2, "linear": {c: v - 0.1 for c, v in r2.items()}}}
    return {"run": str(switch_paths(root, algo, arm, seed).root), "config_name": "x", "seed": seed,
            "snapshots": [snap(end_step, end), snap(0, switch), snap(end_step // 2, switch)]}


def verdicts(res):
    return {(c["id"], c["algo"]): c["verdict"] for c in res["claims"]}


def test_collapse_by_the_relative_line_by_the_absolute_line_or_capped(tmp_path, build):
    root = build(tmp_path, {"ppo": {0: (BY_RHO, None, None), 1: (BY_ABS, None, None),
                                    2: (CAPPED, None, None)}})
    col = summarise_recovery(root, ["ppo"], [0, 1, 2], S, SETS).collapse.set_index("seed")
    assert col["collapsed"].tolist() == [True, True, False]
    assert col["collapsed_rel"].tolist() == [True, False, False]
    assert col["collapsed_abs"].tolist() == [False, True, False]
    assert col.loc[0, "steps_to_collapse"] == col.loc[0, "steps_to_collapse_rel"] == 3000
    assert col.loc[1, "steps_to_collapse"] == col.loc[1, "steps_to_collapse_abs"] == 4000
    assert col.loc[0, "rho_min"] == pytest.approx(5e-5) and col.loc[1, "rho_min"] == pytest.approx(5e-4)
    assert col.loc[2, "rho_min"] == pytest.approx(1e-3)
    assert "did not collapse within 6,000 steps" in col.loc[2, "note"]
    assert "smallest ρ 1.0e-3, relative line 1e-4" in col.loc[2, "note"]

    out = collapse_outcome(root, "ppo", [0, 1, 2], S, "v2")
    assert (out["collapsed"], out["not_collapsed"]) == ([0, 1], [2])
    assert [r["collapsed_rel"] for r in out["runs"]] == [True, False, False]
    path = tmp_path / "ppo.json"
    path.write_text(json.dumps(out))  # the checkpoint's file: both arms of the collapsed seeds
    assert switch_wildcards(path) == [{"algo": "ppo", "arm": arm, "seed": s}
                                      for s in (0, 1) for arm in ("grad_on", "grad_off")]


def test_the_outcome_waits_for_every_stage_one_run_and_its_settings_set(tmp_path, build):
    root = build(tmp_path, {"ppo": {0: (BY_RHO, None, None)}})
    with pytest.raises(ValueError, match="stage-1 run of ppo seed 1 is missing"):
        collapse_outcome(root, "ppo", [0, 1], S, "v2")
    with pytest.raises(ValueError, match="settings set 'v2', but this experiment's is 'v1'"):
        collapse_outcome(root, "ppo", [0], S, "v1")
    with pytest.raises(ValueError, match="stop_rel_var=0.0001, but the relative collapse line "
                                         "is 0.001"):
        collapse_outcome(root, "ppo", [0], RecoverySettings(CAP, BUDGET, collapse_rel=1e-3,
                                                            recovery_rel=1e-2), "v2")


def test_recovery_by_rho_with_the_absolute_line_beside_it(tmp_path, build):
    root = build(tmp_path, {"ppo": {0: (BY_RHO, RHO_AT_3, ABS_ONLY)}})
    runs = summarise_recovery(root, ["ppo"], [0], S, SETS).runs.set_index("arm")
    on, off = runs.loc["grad_on"], runs.loc["grad_off"]
    assert on["recovered"] and on["steps_to_recovery"] == 3000 and on["updates_to_recovery"] == 3
    assert on["recovered_abs"] and on["steps_to_recovery_abs"] == 2000
    assert not off["recovered"] and off["recovered_abs"] and off["steps_to_recovery_abs"] == 2000
    assert on["switch_rho"] == pytest.approx(5e-5) and on["rho_final"] == pytest.approx(2e-2)
    assert off["rho_max"] == pytest.approx(5e-3) and not off["recovered_at_end"]
    assert on["recovered_at_end"]


# seed -> (stage 1, ∇ on, ∇ off): four collapsed seeds, one capped
STORY = {0: (BY_RHO, rho_at(1), NEVER), 1: (BY_RHO, rho_at(2), rho_at(4)),
         2: (BY_RHO, rho_at(3), NEVER), 3: (BY_RHO, NEVER, NEVER), 4: (CAPPED, None, None)}


def test_verdicts_when_the_gradient_pulls_more_seeds_out(tmp_path, build):
    res = evaluate_shared(*_summary_and_probe(build(tmp_path, {"ppo": STORY}), ["ppo"], 5))
    # (a) 3 of 4 >= 3; (b) 3 > 1; (c) 1 >= 1
    assert verdicts(res) == {("a", "ppo"): REPRODUCED, ("b", "ppo"): REPRODUCED,
                             ("c", "ppo"): REPRODUCED}
    ppo = res["algorithms"]["ppo"]
    assert ppo["included_seeds"] == [0, 1, 2, 3]
    assert ppo["collapse"]["seeds_collapsed_rel"] == [0, 1, 2, 3]
    assert ppo["collapse"]["seeds_not_collapsed"] == [4]
    assert ppo["grad_on"]["steps_to_recovery"] == [1000, 2000, 3000, math.inf]
    assert ppo["grad_on"]["median_steps_to_recovery"] == 2000  # half of 4 = 2 seeds by 2000
    # only ∇ on recovered in seeds 0 and 2: p = 1/4
    assert ppo["sign_test"] == {"only_grad_on": 2, "only_grad_off": 0, "p_one_sided": 0.25}


@pytest.mark.parametrize("off_at, verdict_b", [(2, REPRODUCED), (1, NOT_REPRODUCED)])
def test_when_both_recover_everywhere_the_median_decides(tmp_path, build, off_at, verdict_b):
    # ∇ on at updates 1, 1, 2 (median 1000); ∇ off at 2, 2, 2 or 1, 1, 1 (median 2000 or 1000)
    plan = {s: (BY_RHO, rho_at(a), rho_at(off_at)) for s, a in enumerate((1, 1, 2))}
    res = evaluate_shared(*_summary_and_probe(build(tmp_path, {"a2c": plan}), ["a2c"], 3))
    assert verdicts(res) == {("a", "a2c"): REPRODUCED, ("b", "a2c"): verdict_b,
                             ("c", "a2c"): REPRODUCED}


def test_verdicts_when_the_gradient_does_not_help(tmp_path, build):
    # ∇ on recovers in 2 of 4, ∇ off in 2 of 4: (a) 2 < 3, (b) 2 is not more than 2
    plan = {0: (BY_RHO, rho_at(2), NEVER), 1: (BY_RHO, rho_at(2), NEVER),
            2: (BY_RHO, NEVER, rho_at(3)), 3: (BY_ABS, NEVER, [1e-7, 1e-6, 2e-6, 2e-6, 2e-6])}
    res = evaluate_shared(*_summary_and_probe(build(tmp_path, {"ppo": plan}), ["ppo"], 4))
    assert verdicts(res) == {("a", "ppo"): NOT_REPRODUCED, ("b", "ppo"): NOT_REPRODUCED,
                             ("c", "ppo"): REPRODUCED}
    # seed 3's reference is 1e-4: 2e-6 is ρ = 2e-2 (recovered) but below the absolute line
    runs = res["algorithms"]["ppo"]["grad_off"]
    assert runs["recovered"] == [False, False, True, True] and runs["count_abs"] == 1
    plan = {s: (BY_RHO, NEVER, NEVER) for s in range(3)}
    res = evaluate_shared(*_summary_and_probe(build(tmp_path / "none", {"ppo": plan}), ["ppo"], 3))
    assert set(verdicts(res).values()) == {NOT_REPRODUCED}


def test_fewer_than_three_collapsed_seeds_decide_nothing(tmp_path, build):
    plan = {0: (BY_RHO, rho_at(1), rho_at(2)), 1: (BY_RHO, rho_at(1), NEVER),
            2: (CAPPED, None, None), 3: (BY_RHO, rho_at(1), NEVER)}
    root = build(tmp_path, {"ppo": plan}, missing={("ppo", "grad_off", 3)})
    res = evaluate_shared(*_summary_and_probe(root, ["ppo"], 4))
    # two included seeds: even the observed ∇-off recovery settles nothing
    assert set(verdicts(res).values()) == {INCONCLUSIVE}
    assert res["algorithms"]["ppo"]["included_seeds"] == [0, 1]
    c = next(c for c in res["claims"] if c["id"] == "c")
    assert "only 2 included seeds (< 3)" in c["checks"][0]["detail"]


def _summary_and_probe(root, algos, n, probes=()):
    summary = summarise_recovery(root, algos, range(n), S, {a: "v2" for a in algos})
    return summary, probe_switch_table(summary, list(probes))


def test_regained_components_from_the_probe_at_the_switch_and_at_the_end(tmp_path, build):
    root = build(tmp_path, {"ppo": STORY})
    # x 0.2 -> 0.7 regained; ẋ was readable (0.6); θ 0.49 -> 0.5 regained (the level counts);
    # θ̇ 0.1 -> 0.3 not regained
    switch, end = (0.2, 0.6, 0.49, 0.1), (0.7, 0.4, 0.5, 0.3)
    probes = [probe_result(root, "ppo", arm, s, switch, end if arm == "grad_on" else switch)
              for s in (0, 1, 2) for arm in ("grad_on", "grad_off")]
    summary, table = _summary_and_probe(root, ["ppo"], 5, probes)
    on0 = table[(table["arm"] == "grad_on") & (table["seed"] == 0)].set_index("component")
    assert on0["regained"].tolist() == [True, False, True, False]
    assert on0.loc["x", "mlp_switch"] == 0.2 and on0.loc["x", "linear_end"] == pytest.approx(0.6)
    assert on0["end_step"].tolist() == [BUDGET] * 4
    no_probe = table[table["seed"] == 3]
    assert no_probe["regained"].isna().all() and no_probe["mlp_end"].isna().all()
    res = evaluate_shared(summary, table)
    probe = res["algorithms"]["ppo"]["probe"]
    assert probe["grad_on"]["x"] == {"regained": 3, "n": 3, "seeds": [0, 1, 2],
                                     "mlp_switch_mean": pytest.approx(0.2),
                                     "mlp_end_mean": pytest.approx(0.7)}
    assert probe["grad_off"]["theta"]["regained"] == 0
    # beside each verdict, the arms it is about; the verdicts are the same without the probe
    a, c = (next(x for x in res["claims"] if x["id"] == i) for i in "ac")
    assert list(a["probe"]) == ["grad_on"] and list(c["probe"]) == ["grad_off"]
    assert verdicts(res) == verdicts(evaluate_shared(*_summary_and_probe(root, ["ppo"], 5)))


def test_a_probe_of_another_run_or_an_unfinished_one_is_refused(tmp_path, build):
    root = build(tmp_path, {"ppo": {0: (BY_RHO, rho_at(1), NEVER)}})
    summary = summarise_recovery(root, ["ppo"], [0], S, SETS)
    bad = probe_result(tmp_path / "elsewhere", "ppo", "grad_on", 0, (0,) * 4, (0,) * 4)
    with pytest.raises(ValueError, match="not a complete stage-2 run"):
        probe_switch_table(summary, [bad])
    short = probe_result(root, "ppo", "grad_on", 0, (0,) * 4, (0,) * 4, end_step=2000)
    with pytest.raises(ValueError, match="from step 0 to 2000, but the run went from 0 to 5000"):
        probe_switch_table(summary, [short])


def test_settings_are_checked():
    with pytest.raises(ValueError, match="recovery_rel=0.0001 must lie above collapse_rel=0.0001"):
        RecoverySettings(10, 10, collapse_rel=1e-4, recovery_rel=1e-4)
    with pytest.raises(ValueError, match="collapse_rel=-1 must be a finite number >= 0"):
        RecoverySettings(10, 10, collapse_rel=-1)
    with pytest.raises(ValueError, match="settings set 'v9' of a2c is not one of: v1, v2"):
        check_settings_sets(["a2c"], {"a2c": "v9"})
    with pytest.raises(ValueError, match=r"given for \['ppo'\] but the algorithms are \['ppo', "
                                         r"'a2c'\]"):
        check_settings_sets(["ppo", "a2c"], {"ppo": "v2"})


def test_report_figure_and_tables_are_written(tmp_path, build):
    root = build(tmp_path / "stages", {"ppo": STORY, "a2c": {0: (BY_ABS, None, None)}})
    probes = []
    for s in (0, 1):
        path = tmp_path / f"probe{s}.json"
        path.write_text(json.dumps(probe_result(root, "ppo", "grad_on", s, (0.2, 0.6, 0.49, 0.1),
                                                (0.7, 0.4, 0.5, 0.3))))
        probes.append(path)
    paths = write_shared_report(root, ["ppo", "a2c"], range(5), S, SETS, probes,
                                tmp_path / "tables", tmp_path / "figures", tmp_path / "recovery.md")
    assert [p.name for p in paths] == ["collapse.csv", "runs.csv", "curves.csv", "stats.csv",
                                       "probe.csv", "recovery_shared.png", "recovery_shared.pdf",
                                       "recovery.md", "recovery.json"]
    assert all(p.stat().st_size > 0 for p in paths) and not list(tmp_path.rglob("*.tmp"))
    text = (tmp_path / "recovery.md").read_text()
    data = json.loads((tmp_path / "recovery.json").read_text())
    assert text.startswith("# A collapse that happens")
    assert "below 1e-4 or embed_var below 1e-7" in text and "above 1e-2 (= 100 times" in text
    assert "PPO: 4 of 5 seeds collapsed (4 by the ρ line, 0 by the absolute line" in text
    assert ("| A2C | a2c_shared_nograd (A2C: J, ∇̂, R̂ (shared target)) | 0 | yes | - | 4,000 | "
            "5.0e-4 | 5.0e-8 |  |") in text
    assert "- seed 0 left out: grad_on run missing, grad_off run missing." in text
    assert "| PPO | 1 | ∇ on | yes | 5.0e-5 | 2,000 | 2,000 | 2.0e-2 | 2.0e-4 | 40.0 |  |" in text
    assert "| PPO | 0 | ∇ off | yes | 5.0e-5 | never | never | 5.0e-5 | 5.0e-7 | 20.0 |  |" in text
    assert "| PPO | 0 | ∇ on | θ | 0.49 | 0.50 | 0.39 | 0.40 | **yes** |" in text
    assert "| PPO | 3 | ∇ off | x | - | - | - | - | no probe |" in text
    assert "∇ on: x 2 of 2 (MLP R² 0.20 -> 0.70), ẋ 0 of 2" in text
    assert [(c["id"], c["algo"], c["verdict"]) for c in data["claims"]] == [
        ("a", "ppo", REPRODUCED), ("b", "ppo", REPRODUCED), ("c", "ppo", REPRODUCED),
        ("a", "a2c", INCONCLUSIVE), ("b", "a2c", INCONCLUSIVE), ("c", "a2c", INCONCLUSIVE)]
    assert data["thresholds"]["recovery_rel"] == 1e-2 and data["runs"]["settings_sets"] == SETS
    assert (tmp_path / "figures" / "recovery_shared.png").read_bytes()[:4] == b"\x89PNG"


# --- the command line: thin, and bad input is one line with exit status 2 ---------------------

def _args(tmp_path, root, *extra):
    return ["recovery-shared", "--root", str(root), "--algos", "ppo", "--seeds", "0",
            "--collapse-steps", str(CAP), "--recovery-steps", str(BUDGET),
            "--summary", str(tmp_path / "t"), "--figures", str(tmp_path / "f"),
            "--out", str(tmp_path / "recovery.md"), *extra]


@pytest.mark.parametrize("extra, message", [
    (["--settings-sets", "ppo=v9"], "settings set 'v9' of ppo is not one of: v1, v2"),
    (["--settings-sets", "ppo"], "--settings-sets 'ppo': expected ALGO=SET"),
    (["--settings-sets", "ppo=v2", "--recovery-rel", "1e-5"],
     "recovery_rel=1e-05 must lie above collapse_rel=0.0001"),
    (["--settings-sets", "ppo=v2", "--collapse-rel", "nan"], "collapse_rel=nan must be a finite"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, build, capsys, extra, message):
    root = build(tmp_path / "stages", {"ppo": {0: (BY_RHO, rho_at(1), NEVER)}})
    assert main(_args(tmp_path, root, *extra)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("jepa-bench recovery-shared: error: ")
    assert message in err[0]
    assert not (tmp_path / "recovery.md").exists()


def test_the_checkpoint_command_writes_the_outcome_or_refuses(tmp_path, build, capsys):
    root = build(tmp_path / "stages", {"ppo": {0: (BY_RHO, None, None), 1: (CAPPED, None, None)}})
    common = ["--root", str(root), "--algos", "ppo", "--settings-sets", "ppo=v2",
              "--collapse-steps", str(CAP), "--recovery-steps", str(BUDGET)]
    out = tmp_path / "collapse" / "ppo.json"
    assert main(["recovery-shared-collapse", *common, "--seeds", "0", "1", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["collapsed"] == [0]
    capsys.readouterr()
    assert main(["recovery-shared-collapse", *common, "--seeds", "0", "2",
                 "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "stage-1 run of ppo seed 2 is missing" in err[0]
    assert main(["recovery-shared-collapse", *common, "--algos", "ppo", "a2c", "--seeds", "0",
                 "--out", str(tmp_path / "x.json")]) == 2
    assert "--algos ppo a2c: give one algorithm" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse: not an algorithm
        main(["recovery-shared-collapse", *common[:2], "--algos", "sac", *common[4:],
              "--seeds", "0", "--out", str(out)])
    assert exc.value.code == 2
    assert "invalid choice: 'sac'" in capsys.readouterr().err


def test_the_command_line_defaults_are_the_protocols_numbers(tmp_path):
    sub = build_parser()._subparsers._group_actions[0].choices["recovery-shared"]
    args = sub.parse_args(["--root", str(tmp_path), "--algos", "ppo", "--seeds", "0", "--settings-sets",
                           "ppo=v2", "--summary", "s", "--figures", "f", "--out", "o.md",
                           "--collapse-steps", "300000", "--recovery-steps", "50000"])
    made = RecoverySettings(args.collapse_steps, args.recovery_steps, args.collapse_threshold,
                            args.recovery_threshold, args.collapse_rel, args.recovery_rel)
    assert made == PROTOCOL
