"""The labels of Snakemake's HTML report: what a result's row in `snakemake --report` says.

    labels=lambda wildcards, output: claims_labels(output.json)   # in a rule's report(...)
    claims_labels("results/v2/claims.json")   # {"claim 1": "reproduced", ..., "claim 5": ...}
    runs_labels("results/v2/summary/summary.json")
    # {"runs": "20, all complete", "settings set": "v2", "git revisions": "a7e7885: j0g1r0 0; ..."}

Snakemake calls these when it builds a report, never when it runs a job, so they may read the
finished reports and run folders; a rule's jobs and their rerun triggers do not see them. Owns
only the wording of the labels: verdicts come from the reports as written
(jepa_bench.analysis.claims, jepa_bench.studies.recovery with its shared-target protocol,
jepa_bench.studies.precision), run folders from jepa_bench.layout. Reads files, writes none.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from pathlib import Path

from jepa_bench.layout import RunPaths
from jepa_bench.metrics import read_json

__all__ = ["claims_labels", "precision_labels", "recovery_labels", "recovery_shared_labels",
           "runs_labels"]

REVISION_DIGITS = 7
"""A git revision as `git log --oneline` shows it."""


def claims_labels(claims_json: str | os.PathLike) -> dict[str, str]:
    """One label per claim of a claims report: "claim 1" -> its verdict."""
    return {f"claim {c['id']}": c["verdict"] for c in read_json(Path(claims_json))["claims"]}


def recovery_labels(recovery_json: str | os.PathLike) -> dict[str, str]:
    """One label per question and algorithm of the recovery report: "A2C (a)" -> its verdict."""
    claims = read_json(Path(recovery_json))["claims"]
    return {f"{c['algo'].upper()} ({c['id']})": c["verdict"] for c in claims}


def recovery_shared_labels(recovery_json: str | os.PathLike) -> dict[str, str]:
    """The recovery labels, and per algorithm how many seeds collapsed and by which line:
    "PPO collapsed" -> "4 of 5 (ρ line 4, absolute line 0)"."""
    result = read_json(Path(recovery_json))
    seeds = len(result["runs"]["seeds"])
    collapsed = {f"{algo.upper()} collapsed": f"{len(c['seeds_collapsed'])} of {seeds} (ρ line "
                 f"{len(c['seeds_collapsed_rel'])}, absolute line {len(c['seeds_collapsed_abs'])})"
                 for algo, c in ((a, v["collapse"]) for a, v in result["algorithms"].items())}
    return {**collapsed, **recovery_labels(recovery_json)}


def precision_labels(precision_json: str | os.PathLike) -> dict[str, str]:
    """The bf16 check's verdict and the configuration it was made on."""
    result = read_json(Path(precision_json))
    return {"configuration": result["configuration"], "verdict": result["verdict"]}


def _seed_ranges(seeds: list[int]) -> str:
    """[0, 1, 2, 4] -> "0-2, 4"."""
    seeds, parts = sorted(seeds), []
    start = prev = seeds[0]
    for s in [*seeds[1:], None]:
        if s is not None and s == prev + 1:
            prev = s
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if s is not None:
            start = prev = s
    return ", ".join(parts)


def _runs_roots(summary: dict, configurations: list[str]) -> dict[str, Path]:
    """Each configuration's runs root as summary.json records it: one folder for all, or one
    per configuration."""
    root = summary["runs_root"]
    if isinstance(root, dict):
        return {c: Path(root[c]) for c in configurations}
    return {c: Path(root) for c in configurations}


def runs_labels(summary_json: str | os.PathLike) -> dict[str, str]:
    """The runs behind a summary, read from their run.json files: how many and their status,
    the settings set, and each git revision with the runs trained at it (marked when a run's
    code had uncommitted changes, run.json's git_dirty)."""
    summary = read_json(Path(summary_json))
    used = [(r["configuration"], int(r["seed"])) for r in summary["runs_used"]]
    roots = _runs_roots(summary, list(dict.fromkeys(c for c, _ in used)))
    at_revision: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    status, settings = Counter(), Counter()
    for config, seed in used:
        run = read_json(RunPaths.of(roots[config], config, seed).run_json)
        rev = str(run.get("git_rev"))[:REVISION_DIGITS] + (" (uncommitted changes)"
                                                         if run.get("git_dirty") else "")
        at_revision[rev][config].append(seed)
        status[run.get("status")] += 1
        settings[str(run.get("settings"))] += 1
    states = ", ".join(f"{n} {s}" for s, n in status.items())
    revisions = "; ".join(
        f"{rev}: " + ", ".join(f"{c} {_seed_ranges(seeds)}" for c, seeds in configs.items())
        for rev, configs in at_revision.items())
    return {"runs": f"{len(used)}, all complete" if set(status) == {"complete"} else
            f"{len(used)}: {states}",
            "settings set": ", ".join(settings), "git revisions": revisions}
