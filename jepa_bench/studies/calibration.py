"""The calibration of docs/calibration.md as tables: what each stage measured, against its targets.

Owns the calibration's criteria (the probe targets, the screen score, the confirmation target) and
the report under results/calibration/. It reads what the probe and the training runs wrote and
never decides a setting itself: the protocol's decision rules are applied by people, in
docs/calibration.md, from these tables. It must not read any run of a paper configuration.

    jepa-bench calibration-report --root results/calibration --spec JSON --out calibration.md
    (JSON: the workflow's `calibration` config; workflow/rules/calibration.smk passes it)
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from jepa_bench.config import PAPER_CONFIGS
from jepa_bench.layout import RunPaths, calibration_paths, probe_json
from jepa_bench.metrics import atomic_write_text, markdown_table, read_json, write_table
from jepa_bench.studies.probe_report import PROBE_TARGETS, summarise_probes
from jepa_bench.analysis.stats import describe_sample

# --- the preregistered criteria (docs/calibration.md) ------------------------------------------
PROBE_R2_THETA = PROBE_TARGETS["theta"]
"""Stage A: mean held-out R²(θ) at least this (0.90)."""
PROBE_R2_THETA_DOT = PROBE_TARGETS["theta_dot"]
"""Stage A: mean held-out R²(θ̇) at least this (0.73, the CNN control's v1 value)."""
PROBE_INIT_VAR = (1e-3, 1.0)
"""Stage A: batch variance of s_x at initialisation inside this closed range."""
SCREEN_EPISODES = 50
"""Stage B: a screen run's score is the mean return of its last this-many episodes."""
CONFIRM_EPISODES = 10
"""Stage C: final return = mean of each run's last this-many episodes (the claims' definition)."""
CONFIRM_FLOOR = 41.5
"""Stage C: the CI of the mean final return must lie entirely above this (sign-of-angle policy)."""

TRAINING_STAGES = ("screen", "confirm")
"""The calibration stages made of training runs (stage B and stage C)."""

FORBIDDEN = PAPER_CONFIGS
"""The paper's configurations: their returns are never calibration input."""


def calibration_targets(spec: dict, root: str) -> list[str]:
    """Every probe JSON and run.json that the workflow's `calibration` config asks for, as paths
    under `root` (the rules' outputs)."""
    out = []
    probe = spec.get("probe")
    if probe:
        for cell, cell_spec in probe["cells"].items():
            out += [str(probe_json(root, cell, s)) for s in cell_spec.get("seeds", probe["seeds"])]
    for stage in TRAINING_STAGES:
        if stage in spec:
            out += [str(calibration_paths(root, stage, cell, s).run_json)
                    for cell in spec[stage]["cells"] for s in spec[stage]["seeds"]]
    return out


def calibration_probe_table(root: Path, cells: dict, seeds: list[int]) -> pd.DataFrame:
    """One row per probe cell: R² per component and init variance, means over the seeds found,
    and whether each stage-A target is met (targets apply to ViT cells; CNN cells are shown)."""
    rows = []
    for cell, spec in cells.items():
        cell_seeds = spec.get("seeds", seeds)
        found = [read_json(p) for s in cell_seeds if (p := probe_json(root, cell, s)).is_file()]
        if not found:
            continue
        row = {"cell": cell, "encoder": found[0]["encoder"], "set": " ".join(
            f"{k}={v}" for k, v in sorted(found[0]["overrides"].items())) or "(v1)",
               **summarise_probes(found)}
        row["meets_theta"] = row["r2_theta"] >= PROBE_R2_THETA
        row["meets_theta_dot"] = row["r2_theta_dot"] >= PROBE_R2_THETA_DOT
        row["meets_init_var"] = (PROBE_INIT_VAR[0] <= row["init_embed_var_min"]
                                 and row["init_embed_var_max"] <= PROBE_INIT_VAR[1])
        row["meets_all"] = row["meets_theta"] and row["meets_theta_dot"] and row["meets_init_var"]
        rows.append(row)
    return pd.DataFrame(rows)


def _episode_returns(paths: RunPaths) -> list[float]:
    run = paths.root
    info = read_json(paths.run_json)
    if info.get("config_name") in FORBIDDEN:
        raise ValueError(f"{run} is a run of paper configuration {info['config_name']!r}: "
                         "calibration never reads those")
    if info.get("status") != "complete":
        raise ValueError(f"{run}/run.json has status {info.get('status')!r}; calibration reads "
                         "complete runs only")
    return pd.read_csv(paths.episodes)["return"].astype(float).tolist()


def training_table(root: Path, stage: str, cells: dict, seeds: list[int], last: int) -> pd.DataFrame:
    """One row per (cell, seed) of a training stage: mean return of the last `last` episodes."""
    rows = []
    for cell in cells:
        for seed in seeds:
            run = calibration_paths(root, stage, cell, seed)
            if not run.run_json.is_file():
                continue
            returns = _episode_returns(run)
            tail = returns[-last:]
            rows.append({"cell": cell, "seed": seed, "episodes": len(returns),
                         f"mean_last_{last}": sum(tail) / len(tail) if tail else math.nan})
    return pd.DataFrame(rows)


def per_cell(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean over seeds and the 95 % bootstrap CI of the mean, per cell (the aggregate's CI)."""
    rows = []
    for cell, group in table.groupby("cell", sort=False):
        d = describe_sample(group[column])
        rows.append({"cell": cell, "n": d["n"], "mean": d["mean"], "ci_low": d["ci_low"],
                     "ci_high": d["ci_high"]})
    return pd.DataFrame(rows)


def write_calibration_report(root: Path, stages: dict, out: Path) -> list[Path]:
    """Tables of every stage present in `stages` (the workflow's `calibration` config) under
    `root`, as CSV beside a markdown report at `out`."""
    root, out = Path(root), Path(out)
    parts = ["# Calibration measurements (docs/calibration.md)\n",
             "Written by `snakemake -c2 --configfile workflow/config/calibration.yaml`. The "
             "decisions are recorded in docs/calibration.md.\n"]
    written = []
    if "probe" in stages:
        probe = calibration_probe_table(root, stages["probe"]["cells"], stages["probe"]["seeds"])
        write_table(probe, root / "probe.csv")
        written.append(root / "probe.csv")
        parts += ["## Stage A: supervised probe\n",
                  f"Targets (ViT): R²(θ) ≥ {PROBE_R2_THETA}, R²(θ̇) ≥ {PROBE_R2_THETA_DOT}, "
                  f"embedding variance at init in [{PROBE_INIT_VAR[0]:g}, {PROBE_INIT_VAR[1]:g}]; "
                  "R² are means over the seeds listed.\n", markdown_table(probe)]
    for stage, last, title in (("screen", SCREEN_EPISODES, "Stage B: PPO screen"),
                               ("confirm", CONFIRM_EPISODES, "Stage C: confirmation")):
        if stage not in stages:
            continue
        spec = stages[stage]
        runs = training_table(root, stage, spec["cells"], spec["seeds"], last)
        write_table(runs, root / f"{stage}.csv")
        written.append(root / f"{stage}.csv")
        base = " with " + " ".join(spec["base"]) if spec.get("base") else ""
        parts += [f"## {title} ({spec['config']}, {spec['total_steps']} env steps, "
                  f"settings {spec['settings']}{base})\n", markdown_table(runs)]
        if not runs.empty:
            cells = per_cell(runs, f"mean_last_{last}")
            if stage == "confirm":
                cells["ci_above_floor"] = cells["ci_low"] > CONFIRM_FLOOR
                parts.append(f"Target: the 95 % CI of the mean final return entirely above "
                             f"{CONFIRM_FLOOR}.\n")
            parts.append(markdown_table(cells))
    atomic_write_text(out, "\n".join(parts))
    return written + [out]
