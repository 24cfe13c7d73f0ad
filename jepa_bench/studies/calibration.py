"""The calibration of docs/calibration.md as tables: what each stage measured, against its targets.

Owns the calibration's criteria (the probe targets, the screen score, the confirmation target,
the screen's winner rule) and the reports under results/calibration/ and results/a2c-calibration/.
It reads what the probe and the training runs wrote. For docs/calibration.md (PPO) the decisions
were applied by people from these tables; for docs/yu-chen-protocol.md (A2C) a confirmation stage
names its source (`from: screen`) and the preregistered rule (`screen_winner`: best mean score,
ties to one decimal broken by the stage's `tie_break` keys, smallest value first) picks the cell,
so no one chooses after seeing the results. It must not read any run of a paper configuration.

    jepa-bench calibration-report --root results/calibration --spec JSON --out calibration.md
    jepa-bench calibration-winner --root results/a2c-calibration --spec JSON --stage confirm
    (JSON: the workflow's `calibration` config; workflow/rules/calibration.smk passes it)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from jepa_bench.config import PAPER_CONFIGS, get_config, parse_overrides
from jepa_bench.layout import RunPaths, calibration_paths, calibration_winner_json, probe_json
from jepa_bench.metrics import (atomic_write_text, markdown_table, read_json, read_table,
                                write_table)
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
SCORE_DECIMALS = 1
"""The winner rule: cell scores equal to this many decimals are a tie (docs/yu-chen-protocol.md)."""
CONFIRM_EPISODES = 10
"""Stage C: final return = mean of each run's last this-many episodes (the claims' definition)."""
CONFIRM_FLOOR = 41.5
"""Stage C: the CI of the mean final return must lie entirely above this (sign-of-angle policy)."""

TRAINING_STAGES = ("screen", "confirm")
"""The calibration stages made of training runs (stage B and stage C)."""

FORBIDDEN = PAPER_CONFIGS
"""The paper's configurations: their returns are never calibration input."""


def source_stage(spec: dict, stage: str) -> str:
    """The stage whose cells a stage trains: itself, or the one its `from` names (a confirmation
    of that stage's winner)."""
    source = spec[stage].get("from", stage)
    if source == stage:
        return stage
    if source not in spec or "from" in spec[source] or "cells" not in spec[source]:
        raise ValueError(f"calibration stage {stage!r} has from={source!r}; it must name another "
                         f"training stage with cells of its own (stages: {', '.join(spec)})")
    return source


def stage_overrides(spec: dict, stage: str, cell: str) -> list[str]:
    """The --set items of one run of a training stage: the base and cell of its source stage."""
    source = spec[source_stage(spec, stage)]
    return list(source.get("base", [])) + list(source["cells"][cell])


def stage_cells(spec: dict, stage: str, winners: dict[str, str] | None = None) -> list[str]:
    """The cells a training stage trains: its own, or, for a `from` stage, the winner of its
    source (from `winners`, stage -> cell; none while the winner is not known yet)."""
    if "from" not in spec[stage]:
        return list(spec[stage]["cells"])
    winner = (winners or {}).get(stage)
    return [winner] if winner else []


def calibration_targets(spec: dict, root: str, winners: dict[str, str] | None = None) -> list[str]:
    """Every probe JSON and run.json that the workflow's `calibration` config asks for, as paths
    under `root` (the rules' outputs); a `from` stage's runs only once `winners` names its cell."""
    out = []
    probe = spec.get("probe")
    if probe:
        for cell, cell_spec in probe["cells"].items():
            out += [str(probe_json(root, cell, s)) for s in cell_spec.get("seeds", probe["seeds"])]
    for stage in TRAINING_STAGES:
        if stage in spec:
            out += [str(calibration_paths(root, stage, cell, s).run_json)
                    for cell in stage_cells(spec, stage, winners) for s in spec[stage]["seeds"]]
    return out


def report_inputs(spec: dict, root: str, winner_cell) -> list[str]:
    """What the report reads: every run of `calibration_targets` and each confirmation's winner
    file; `winner_cell(stage)` names the cell a `from` stage trains (in the workflow, read from the
    checkpoint calibration_winner's output, which is why it is a function)."""
    confirming = [s for s in TRAINING_STAGES if s in spec and "from" in spec[s]]
    winners = {stage: winner_cell(stage) for stage in confirming}
    return (calibration_targets(spec, root, winners)
            + [str(calibration_winner_json(root, s)) for s in confirming])


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
    return read_table(paths.episodes)["return"].astype(float).tolist()


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


def screen_winner(runs: pd.DataFrame, cells: dict, seeds: list[int], tie_break: list[str],
                  last: int = SCREEN_EPISODES) -> dict:
    """The preregistered rule: the cell with the best mean over `seeds` of its runs' mean return
    over the last `last` episodes; scores equal to SCORE_DECIMALS decimals tie, and a tie goes to
    the cell whose `tie_break` values (its --set items, in order) are smallest. Every cell must
    have every seed: a rule applied to part of the grid is not the preregistered one."""
    column = f"mean_last_{last}"
    have = set(zip(runs["cell"], runs["seed"])) if not runs.empty else set()
    missing = [f"{c}/seed{s}" for c in cells for s in seeds if (c, s) not in have]
    if missing:
        raise ValueError(f"the winner needs every run of the stage; missing: {', '.join(missing)}")
    scores = runs.groupby("cell")[column].mean()

    def tie_values(cell):
        values = parse_overrides(cells[cell])
        absent = [k for k in tie_break if k not in values]
        if absent:
            raise ValueError(f"tie_break key(s) {absent} are not set by cell {cell!r} "
                             f"({' '.join(cells[cell]) or 'no --set items'})")
        return [values[k] for k in tie_break]

    ranked = sorted(cells, key=lambda c: (-round(float(scores[c]), SCORE_DECIMALS), tie_values(c)))
    best = ranked[0]
    return {"cell": best, "set": list(cells[best]), "score": float(scores[best]),
            "scores": {c: float(scores[c]) for c in ranked}, "seeds": list(seeds),
            "rule": f"best mean over seeds of the mean return of the last {last} episodes; scores "
                    f"equal to {SCORE_DECIMALS} decimal(s) tie, broken by the smallest "
                    f"{', then '.join(tie_break) or '(no tie-break)'}"}


def write_winner(root: Path, spec: dict, stage: str, out: Path | None = None) -> Path:
    """Apply the winner rule for `stage` (a stage with `from`) to its source stage's runs under
    `root` and write the result as JSON (default: layout's calibration_winner_json)."""
    if stage not in spec or "from" not in spec[stage]:
        with_from = [s for s in TRAINING_STAGES if s in spec and "from" in spec[s]]
        raise ValueError(f"stage {stage!r} confirms no other stage's winner; stages with `from`: "
                         f"{', '.join(with_from) or 'none'}")
    source = source_stage(spec, stage)
    src = spec[source]
    runs = training_table(Path(root), source, src["cells"], src["seeds"], SCREEN_EPISODES)
    winner = screen_winner(runs, src["cells"], src["seeds"], spec[stage].get("tie_break", []))
    winner["from"] = source
    out = Path(out) if out else calibration_winner_json(root, stage)
    atomic_write_text(out, json.dumps(winner, indent=2) + "\n")
    return out


def _algo_label(configuration: str) -> str:
    return get_config(configuration).overrides.get("algo", "ppo").upper()


def write_calibration_report(root: Path, stages: dict, out: Path) -> list[Path]:
    """Tables of every stage present in `stages` (the workflow's `calibration` config) under
    `root`, as CSV beside a markdown report at `out`; a `from` stage's winner file is read and
    stated with its rule."""
    root, out = Path(root), Path(out)
    protocol = stages.get("protocol", "docs/calibration.md")
    preset = stages.get("preset", "workflow/config/calibration.yaml")
    parts = [f"# Calibration measurements ({protocol})\n",
             f"Written by `snakemake -c2 --configfile {preset}`. The "
             f"decisions are recorded in {protocol}.\n"]
    written = []
    if "probe" in stages:
        probe = calibration_probe_table(root, stages["probe"]["cells"], stages["probe"]["seeds"])
        write_table(probe, root / "probe.csv")
        written.append(root / "probe.csv")
        parts += ["## Stage A: supervised probe\n",
                  f"Targets (ViT): R²(θ) ≥ {PROBE_R2_THETA}, R²(θ̇) ≥ {PROBE_R2_THETA_DOT}, "
                  f"embedding variance at init in [{PROBE_INIT_VAR[0]:g}, {PROBE_INIT_VAR[1]:g}]; "
                  "R² are means over the seeds listed.\n", markdown_table(probe)]
    for stage, last in (("screen", SCREEN_EPISODES), ("confirm", CONFIRM_EPISODES)):
        if stage not in stages:
            continue
        spec = stages[stage]
        title = ("Stage B: {} screen" if stage == "screen" else "Stage C: confirmation").format(
            _algo_label(spec["config"]))
        winners = {}
        if "from" in spec:
            path = calibration_winner_json(root, stage)
            winner = read_json(path) if path.is_file() else None
            if winner:
                winners[stage] = winner["cell"]
                parts += [f"## Winner of stage {winner['from']}, by the preregistered rule\n",
                          f"**{winner['cell']}** ({' '.join(winner['set'])}): score "
                          f"{winner['score']:.2f}. Rule: {winner['rule']}.\n",
                          markdown_table(pd.DataFrame(
                              {"cell": list(winner["scores"]),
                               "score": list(winner["scores"].values())}))]
        cells = {c: [] for c in stage_cells(stages, stage, winners)}
        runs = training_table(root, stage, cells, spec["seeds"], last)
        write_table(runs, root / f"{stage}.csv")
        written.append(root / f"{stage}.csv")
        source_base = stages[source_stage(stages, stage)].get("base")
        base = " with " + " ".join(source_base) if source_base else ""
        parts += [f"## {title} ({spec['config']}, {spec['total_steps']} env steps, "
                  f"settings {spec['settings']}{base})\n", markdown_table(runs)]
        if not runs.empty:
            per = per_cell(runs, f"mean_last_{last}")
            if stage == "confirm":
                per["ci_above_floor"] = per["ci_low"] > CONFIRM_FLOOR
                parts.append(f"Target: the 95 % CI of the mean final return entirely above "
                             f"{CONFIRM_FLOOR}.\n")
            parts.append(markdown_table(per))
    atomic_write_text(out, "\n".join(parts))
    return written + [out]
