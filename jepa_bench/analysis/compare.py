"""Compare two run folders: are they the same run, apart from how fast the machine was?

A run is reproducible when config + seed + machine give the same numbers. This checks it for two
finished run folders (say, a committed one and a rerun from a clean clone): metrics.csv and
episodes.csv must agree cell for cell as written, except the timing columns (wall_time, sps) and
the gradient diagnostic's columns;
run.json must agree on what was run (configuration, seed, steps, updates, status).

Owns only that comparison; file names come from jepa_bench.layout, column names from
jepa_bench.metrics. Must not import torch.
"""

from __future__ import annotations

import csv
from pathlib import Path

from jepa_bench.config import config_differences
from jepa_bench.layout import RunPaths
from jepa_bench.metrics import (DIAGNOSTIC_COLUMNS, TIMING_COLUMNS, check_metrics_rows,
                                read_json)

RUN_KEYS = ("config_name", "seed", "env_steps", "updates", "status")
"""run.json fields that say what was run, besides its config; wall time, git revision and
versions may differ."""


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise ValueError(f"{path} is empty; a run's CSV starts with its header")
    return rows[0], rows[1:]


def _check_folder(folder: Path) -> tuple[RunPaths, dict]:
    """A finished run folder's paths and run.json, its metrics.csv checked whole."""
    paths = RunPaths(folder)
    for path in paths.results():
        if not path.is_file():
            raise ValueError(f"{folder} is not a finished run folder: {path.name} is missing")
    info = read_json(paths.run_json)
    check_metrics_rows(paths.metrics, info)
    return paths, info


IGNORED_COLUMNS = TIMING_COLUMNS + DIAGNOSTIC_COLUMNS
"""Left out of the comparison: the machine's speed, and the gradient diagnostic (read-only, so
a run with it and one without are the same run)."""


def compare_csv(a: Path, b: Path, ignore=IGNORED_COLUMNS, limit: int = 5) -> list[str]:
    """Differences between two CSV files as written, column by column, `ignore` left out (a
    column in `ignore` may be in one file only)."""
    head_a, rows_a = _read_rows(a)
    head_b, rows_b = _read_rows(b)
    kept_a = [name for name in head_a if name not in ignore]
    kept_b = [name for name in head_b if name not in ignore]
    if kept_a != kept_b:
        return [f"{a.name}: columns differ: {kept_a} vs {kept_b}"]
    diffs = []
    if len(rows_a) != len(rows_b):
        diffs.append(f"{a.name}: {len(rows_a)} rows vs {len(rows_b)}")
    pairs = [(head_a.index(name), head_b.index(name)) for name in kept_a]
    for line, (ra, rb) in enumerate(zip(rows_a, rows_b), start=2):
        for i, j in pairs:
            if ra[i] != rb[j]:
                diffs.append(f"{a.name} line {line}, {head_a[i]}: {ra[i]} vs {rb[j]}")
                break
        if len(diffs) >= limit:
            diffs.append(f"{a.name}: (further differences not listed)")
            break
    return diffs


def compare_runs(a: Path, b: Path) -> list[str]:
    """All differences between run folders a and b that are not about timing; [] = same run."""
    (pa, run_a), (pb, run_b) = _check_folder(a), _check_folder(b)
    diffs = [f"run.json {key}: {run_a.get(key)!r} vs {run_b.get(key)!r}"
             for key in RUN_KEYS if run_a.get(key) != run_b.get(key)]
    # a config field one run predates counts as its default (config_differences)
    cfg_a, cfg_b = run_a.get("config") or {}, run_b.get("config") or {}
    diffs += [f"run.json config.{k}: {cfg_a.get(k)!r} vs {cfg_b.get(k)!r}"
              for k in config_differences(cfg_a, cfg_b)]
    diffs += compare_csv(pa.metrics, pb.metrics)
    diffs += compare_csv(pa.episodes, pb.episodes)
    return diffs


def describe(a: Path, b: Path) -> tuple[bool, str]:
    """(same, report) for the command line."""
    diffs = compare_runs(a, b)
    if diffs:
        return False, f"{a} and {b} differ:\n" + "\n".join(f"  {d}" for d in diffs)
    paths = RunPaths(a)
    rows = len(_read_rows(paths.metrics)[1])
    episodes = len(_read_rows(paths.episodes)[1])
    return True, (f"{a} and {b} are the same run: {rows} metrics rows and {episodes} episodes "
                  f"agree cell for cell apart from {', '.join(TIMING_COLUMNS)} and the "
                  "gradient diagnostic")
