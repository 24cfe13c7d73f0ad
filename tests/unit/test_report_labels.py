"""The labels of Snakemake's HTML report (jepa_bench.tools.report_labels): verdicts as the
reports wrote them, and the runs behind a summary with each one's git revision."""

from __future__ import annotations

import json
from pathlib import Path

from jepa_bench.layout import RunPaths
from jepa_bench.tools.report_labels import (_seed_ranges, claims_labels, precision_labels,
                                            recovery_labels, runs_labels)

REPO = Path(__file__).resolve().parents[2]


def _summary(tmp_path: Path, runs_root, used) -> Path:
    path = tmp_path / "summary" / "summary.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"runs_root": runs_root, "runs_used": [
        {"configuration": c, "seed": s} for c, s in used]}))
    return path


def test_runs_labels_name_each_git_revision_with_its_runs(tmp_path, run_folder):
    revs = {("j1g1r0", 0): "a" * 40, ("j1g1r0", 1): "a" * 40, ("j1g1r0", 2): "a" * 40,
            ("j1g1r0", 4): "b" * 40, ("j1g0r1", 0): "b" * 40, ("j1g0r1", 1): "b" * 40}
    for (config, seed), rev in revs.items():
        run_folder(RunPaths.of(tmp_path / "runs", config, seed), config_name=config, seed=seed,
                   metric_steps=[128], git_rev=rev, settings="v2",
                   git_dirty=(config, seed) == ("j1g0r1", 1))
    labels = runs_labels(_summary(tmp_path, str(tmp_path / "runs"), revs))
    assert labels == {"runs": "6, all complete", "settings set": "v2",
                      "git revisions": "aaaaaaa: j1g1r0 0-2; bbbbbbb: j1g1r0 4, j1g0r1 0; "
                                       "bbbbbbb (uncommitted changes): j1g0r1 1"}


def test_runs_labels_follow_one_runs_root_per_configuration_and_say_what_is_not_complete(
        tmp_path, run_folder):
    roots = {"j0g1r0": tmp_path / "centre", "j1g1r0": tmp_path / "point"}
    for config, root in roots.items():
        run_folder(RunPaths.of(root, config, 3), config_name=config, seed=3, metric_steps=[128],
                   git_rev="c" * 40, settings="v2",
                   status="running" if config == "j1g1r0" else "complete")
    labels = runs_labels(_summary(tmp_path, {c: str(r) for c, r in roots.items()},
                                  [("j0g1r0", 3), ("j1g1r0", 3)]))
    assert labels["runs"] == "2: 1 complete, 1 running"
    assert labels["git revisions"] == "ccccccc: j0g1r0 3, j1g1r0 3"


def test_seed_ranges():
    assert _seed_ranges([4, 0, 1, 2]) == "0-2, 4"
    assert _seed_ranges([7]) == "7"


def test_verdict_labels_of_the_committed_reports():
    claims = json.loads((REPO / "results/v2/claims.json").read_text())["claims"]
    assert claims_labels(REPO / "results/v2/claims.json") == {
        f"claim {c['id']}": c["verdict"] for c in claims}
    recovery = recovery_labels(REPO / "results/v2/recovery/recovery.json")
    assert set(recovery) == {f"{a} ({q})" for a in ("PPO", "A2C") for q in "abc"}
    assert precision_labels(REPO / "results/precision/precision.json") == {
        "configuration": "j1g1r1", "verdict": "agree within seed noise"}


def test_the_committed_v2_runs_are_all_complete_under_v2():
    labels = runs_labels(REPO / "results/v2/summary/summary.json")
    assert labels["runs"] == "20, all complete" and labels["settings set"] == "v2"
    assert labels["git revisions"].count(":") >= 1
