"""The recovery experiment's run folders, tables and verdicts (figure and report: report.py).

The experiment (workflow/rules/recovery.smk, preset workflow/config/recovery.yaml) has two
training stages per algorithm and seed, and this module is its third:

1. collapse: the ∇-off configuration (PPO: j1g0r0, A2C: a2c_shared_nograd) is trained with
   ``stop_embed_var`` = the collapse threshold, so it ends at the first update whose rollout
   embeddings have a mean batch-wise variance below it, or at the step cap. A run that reaches
   the cap has NOT collapsed: its seed is reported as such and left out of the statistics.
2. the switch: from that run's ``checkpoints/last.pt`` (all network weights; a fresh optimiser,
   learning-rate schedule and environment, same seed in both arms) the ∇-on configuration
   (j1g1r0 / a2c_shared) and the ∇-off one are trained for ``recovery_steps`` more steps.
3. here: which seeds collapsed, which arms recovered and how fast, and the verdicts.

Run folders read (written by ``jepa-bench train``; built by jepa_bench.layout's
``collapse_paths`` and ``switch_paths``)::

    {root}/collapse/{algo}/seed{seed}/       stage 1
    {root}/{algo}/grad_on/seed{seed}/        stage 2, RL gradients into the encoder
    {root}/{algo}/grad_off/seed{seed}/       stage 2, RL gradients stopped

Definitions, fixed before any run was looked at:

- *collapsed*: some logged embed_var of the stage-1 run is below the collapse threshold (1e-7,
  Kenneweg et al.'s indicator), or, when the settings give a relative line ``collapse_rel``
  (docs/yu-chen-protocol.md: 1e-4), some ρ = embed_var / embed_var of the run's update 1 is
  below it: either criterion counts, and both are reported (``collapsed_abs``,
  ``collapsed_rel``). *steps to collapse*: env_step of the first update that crosses either.
- *embed_var at the switch*: the first logged embed_var of a stage-2 run, i.e. the variance of
  the loaded encoder's embeddings over its first rollout, before any update.
- *recovered*: some logged embed_var of a stage-2 run exceeds the recovery threshold (1e-5 by
  default, 100 times the collapse line, so that noise around 1e-7 does not count); when the
  settings give a relative line ``recovery_rel`` (docs/yu-chen-protocol.md: 1e-2), some ρ
  (relative to stage 1's update-1 embed_var) exceeds it instead, and the absolute line is
  reported beside it (``recovered_abs``). *steps to recovery*: env_step (counted from the
  switch) of the first such update; its resolution is one rollout. *recovered at end*: the
  last logged value is still above the line.
- *included*: the seed collapsed and both of its stage-2 runs are complete. Only included seeds
  enter the statistics and verdicts; every other seed is listed with the reason.
- *median steps to recovery*: the step by which half of the included seeds had recovered
  (the smallest t with #{recovered by t} >= n/2); "not reached" (inf) when fewer than half
  recovered within the budget. Seeds that never recovered are thereby counted, not dropped.
- *final return*: mean return of the last 10 episodes finished within the stage-2 budget.

Tables (``RecoverySummary``; written by report.write_recovery_report)::

    {summary}/collapse.csv   one row per (algo, seed): the stage-1 run
    {summary}/runs.csv       one row per (algo, arm, seed): the stage-2 run
    {summary}/curves.csv     one row per (algo, arm, seed, grid step after the switch), with
                             rho = embed_var / stage 1's update-1 embed_var
    {summary}/stats.csv      one row per (algo, arm, metric), over the included seeds

Owns: the recovery settings, reading and checking the two stages' run folders, the tables, the
numbers of each arm (``arm_numbers``) and the verdicts of claims (a), (b), (c) of
docs/recovery.md (those of docs/yu-chen-protocol.md are jepa_bench.studies.recovery.shared's). Statistics come from jepa_bench.analysis.stats and verdict words and
checks from jepa_bench.analysis.verdicts. Writes nothing and draws nothing.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from jepa_bench.analysis.aggregate import make_grid, read_run, run_curve
from jepa_bench.config import get_config
from jepa_bench.layout import check_seeds, collapse_paths, switch_paths
from jepa_bench.metrics import read_json
from jepa_bench.analysis.stats import (CI_LEVEL, CI_METHOD, CI_RESAMPLES, CI_SEED, EXACT, RETURN_WINDOW,
                              describe_sample, final_return, median_time_to_event, proportion,
                              sign_test)
from jepa_bench.analysis.verdicts import make_check, make_claim, sci, yes_no

__all__ = [
    "ALGO_LABELS",
    "RECOVERY_ARMS",
    "ARM_LABELS",
    "CRITERIA",
    "MIN_SEEDS",
    "RECOVERY_SUMMARY_FILES",
    "RecoverySettings",
    "RecoverySummary",
    "arm_numbers",
    "config_label",
    "evaluate_recovery",
    "first_crossing",
    "flag",
    "fraction_text",
    "return_text",
    "steps_text",
    "summarise_recovery",
]

RECOVERY_ARMS = ("grad_on", "grad_off")
ARM_LABELS = {"grad_on": "∇ on", "grad_off": "∇ off"}
ALGO_LABELS = {"ppo": "PPO", "a2c": "A2C"}
#: fewer included (collapsed) seeds than this decide no verdict: a "majority" of one or two
#: seeds says nothing
MIN_SEEDS = 3
RECOVERY_SUMMARY_FILES = {"collapse": "collapse.csv", "runs": "runs.csv", "curves": "curves.csv",
                 "stats": "stats.csv"}
STAT_METRICS = ["steps_to_recovery", "final_return", "switch_embed_var", "embed_var_final"]

CRITERIA = {
    "a": (
        "*The RL gradient pulls the encoder out of collapse* when, among the included seeds "
        "(collapsed, both arms complete), ∇ on recovers in a strict majority AND ∇ off "
        "recovers in fewer seeds than ∇ on. Counts, not CIs, decide: with 5 seeds even 5 of 5 "
        "has an exact 95% CI reaching below one half. The exact CIs and a one-sided paired "
        "sign test on the seeds where the arms disagree are reported beside the counts."
    ),
    "b": (
        "*How fast*: the median steps to recovery (the step by which half of the included "
        "seeds had recovered; never-recovered seeds count as later than any step) of ∇ on is "
        "reached within the budget AND is smaller than that of ∇ off."
    ),
    "c": (
        "*Recovers on its own with ∇ off* (Kenneweg et al.: 'in some cases the embeddings "
        "recover from this collapse state when training is continued for longer') when the ∇ "
        "off arm recovers in at least one included seed. No recovery in any of at least "
        f"{MIN_SEEDS} included seeds fails, within this budget only."
    ),
    "seeds": (
        f"Every check is undecided when fewer than {MIN_SEEDS} seeds are included, except that "
        "an observed recovery with ∇ off settles (c) whatever the count."
    ),
}


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class RecoverySettings:
    """The numbers the experiment was run with; all are stated in the report."""

    collapse_steps: int
    """Step cap of stage 1: a run that gets there without collapsing has not collapsed."""
    recovery_steps: int
    """Steps of each stage-2 run after the switch."""
    collapse_threshold: float = 1e-7
    """embed_var below this is a collapse (Kenneweg et al.); stage 1 stops there."""
    recovery_threshold: float = 1e-5
    """embed_var above this after the switch is a recovery (100 times the collapse line)."""
    collapse_rel: float = 0.0
    """ρ = embed_var / embed_var of stage 1's update 1 below this is a collapse too (stage 1
    stops there: train --set stop_rel_var); 0: not used."""
    recovery_rel: float = 0.0
    """When > 0, ρ (relative to stage 1's update 1) above this after the switch is the recovery
    that decides, and the absolute recovery_threshold is reported beside it; 0: not used."""

    def __post_init__(self) -> None:
        for name in ("collapse_steps", "recovery_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        for name in ("collapse_threshold", "recovery_threshold"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name}={value!r} must be a finite number > 0")
        for name in ("collapse_rel", "recovery_rel"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}={value!r} must be a finite number >= 0 (0: not used)")
        for low, high in (("collapse_threshold", "recovery_threshold"),
                          ("collapse_rel", "recovery_rel")):
            if getattr(self, low) > 0 and getattr(self, high) <= getattr(self, low):
                raise ValueError(f"{high}={getattr(self, high):g} must lie above "
                                 f"{low}={getattr(self, low):g}")


@dataclass
class RecoverySummary:
    """The tables of one recovery experiment (columns in the module docstring)."""

    collapse: pd.DataFrame
    runs: pd.DataFrame
    curves: pd.DataFrame
    stats: pd.DataFrame
    meta: dict


# --------------------------------------------------------------------------- small pieces


def first_crossing(values, threshold: float, *, below: bool) -> int | None:
    """Index of the first value below (``below``) or above ``threshold``; None if none.
    Missing values (NaN) never cross."""
    v = np.asarray(values, dtype=float)
    hit = (v < threshold) if below else (v > threshold)
    hit &= np.isfinite(v)
    idx = np.flatnonzero(hit)
    return int(idx[0]) if idx.size else None


def _floats(values) -> np.ndarray:
    """A (nullable) numeric column as a float array, missing values as NaN."""
    return pd.to_numeric(pd.Series(values), errors="coerce").astype(float).to_numpy()


def steps_text(x: float) -> str:
    """A step count for a report: '12,000', 'not reached' (inf) or 'n/a' (NaN)."""
    if math.isnan(x):
        return "n/a"
    return "not reached" if math.isinf(x) else f"{int(x):,}"


def flag(x) -> bool | None:
    """A cell of a nullable boolean column as True, False or None (missing)."""
    return None if x is None or pd.isna(x) else bool(x)


def config_label(name: str) -> str:
    """'j1g1r0 (J, ∇, R̂)'; an unknown name as it is."""
    try:
        return f"{name} ({get_config(name).notation})"
    except ValueError:
        return name


# --------------------------------------------------------------------------- reading runs


def _read_info(paths) -> dict | None:
    return read_json(paths.run_json) if paths.run_json.is_file() else None


def _collapse_row(root: Path, algo: str, seed: int, s: RecoverySettings,
                  settings_set: str | None) -> dict:
    paths = collapse_paths(root, algo, seed)
    run_dir = paths.root
    row = {"algo": algo, "seed": seed, "configuration": None, "status": "missing",
           "collapsed": None, "steps_to_collapse": math.nan, "updates_to_collapse": math.nan,
           "env_steps": math.nan, "embed_var_first": math.nan, "embed_var_last": math.nan,
           "embed_var_min": math.nan, "rho_min": math.nan, "collapsed_abs": None,
           "steps_to_collapse_abs": math.nan, "collapsed_rel": None,
           "steps_to_collapse_rel": math.nan, "note": ""}
    info = _read_info(paths)
    if info is None:
        row["note"] = f"no run folder {run_dir}"
        return row
    row.update(configuration=info.get("config_name"), status=info.get("status"),
               env_steps=info.get("env_steps", math.nan))
    if row["status"] != "complete":
        row["note"] = f"stage-1 run status={row['status']!r}"
        return row
    cfg = info.get("config", {})
    if cfg.get("rl_grad", False):
        raise ValueError(f"{run_dir}: stage 1 must run with RL gradients off, but config "
                         f"{row['configuration']!r} has rl_grad=True")
    _check_budget(run_dir, cfg, s.collapse_steps, "the collapse cap")
    _check_settings_set(run_dir, info, settings_set)
    for field, line, what in (("stop_embed_var", s.collapse_threshold, "collapse threshold"),
                              ("stop_rel_var", s.collapse_rel, "relative collapse line")):
        stop = cfg.get(field)
        if stop is not None and not math.isclose(float(stop), line, rel_tol=1e-9):
            raise ValueError(f"{run_dir}: trained with {field}={stop:g}, but the {what} is "
                             f"{line:g}; rerun stage 1 or pass its threshold")
    _, metrics, _ = read_run(run_dir)
    ev = pd.to_numeric(metrics["embed_var"], errors="coerce").to_numpy(dtype=float)
    rho = relative_variance(ev, ev[0] if ev.size else math.nan)
    if ev.size:
        row.update(embed_var_first=float(ev[0]), embed_var_last=float(ev[-1]),
                   embed_var_min=float(np.nanmin(ev)) if np.isfinite(ev).any() else math.nan,
                   rho_min=float(np.nanmin(rho)) if np.isfinite(rho).any() else math.nan)
    steps = metrics["env_step"].to_numpy()
    hits = {"abs": first_crossing(ev, s.collapse_threshold, below=True),
            "rel": first_crossing(rho, s.collapse_rel, below=True) if s.collapse_rel else None}
    for kind, at in hits.items():
        if kind == "abs" or s.collapse_rel:  # a line that is not used stays missing
            row[f"collapsed_{kind}"] = at is not None
            row[f"steps_to_collapse_{kind}"] = int(steps[at]) if at is not None else math.nan
    hit = min((at for at in hits.values() if at is not None), default=None)
    row["collapsed"] = hit is not None
    if hit is not None:
        row["steps_to_collapse"] = int(steps[hit])
        row["updates_to_collapse"] = int(metrics["update"].iloc[hit])
    else:
        rel = (f", smallest ρ {sci(row['rho_min'])}, relative line {sci(s.collapse_rel, 0)}"
               if s.collapse_rel else "")
        row["note"] = (f"did not collapse within {int(row['env_steps']):,} steps (smallest "
                       f"embed_var {sci(row['embed_var_min'])}, collapse line "
                       f"{sci(s.collapse_threshold, 0)}{rel})")
    return row


def relative_variance(embed_var, reference: float) -> np.ndarray:
    """ρ = embed_var / ``reference`` (stage 1's update-1 embed_var); NaN throughout when the
    reference is missing or not positive."""
    ev = np.asarray(embed_var, dtype=float)
    if not (math.isfinite(reference) and reference > 0):
        return np.full(ev.shape, math.nan)
    return ev / reference


def recovery_stats_of_run(metrics: pd.DataFrame, episodes: pd.DataFrame,
                          s: RecoverySettings, reference: float = math.nan) -> dict:
    """Per-run scalars of runs.csv from one stage-2 run's metrics and episodes, both already
    cut at the recovery budget and sorted by env_step; ``reference`` is stage 1's update-1
    embed_var, the denominator of ρ."""
    ev = pd.to_numeric(metrics["embed_var"], errors="coerce").to_numpy(dtype=float)
    rho = relative_variance(ev, reference)
    hit_abs = first_crossing(ev, s.recovery_threshold, below=False)
    # the line that decides: ρ's when the settings give one, the absolute one otherwise
    values, line = (rho, s.recovery_rel) if s.recovery_rel else (ev, s.recovery_threshold)
    hit = first_crossing(values, line, below=False)
    ret, ret_n = final_return(episodes["return"].to_numpy(dtype=float))
    finite, finite_rho, decided = (x[np.isfinite(x)] for x in (ev, rho, values))
    steps, updates = metrics["env_step"].to_numpy(), metrics["update"].to_numpy()
    return {
        "switch_embed_var": float(ev[0]) if ev.size else math.nan,
        "recovered": hit is not None,
        "steps_to_recovery": int(steps[hit]) if hit is not None else math.nan,
        "updates_to_recovery": int(updates[hit]) if hit is not None else math.nan,
        "embed_var_max": float(finite.max()) if finite.size else math.nan,
        "embed_var_final": float(finite[-1]) if finite.size else math.nan,
        "recovered_at_end": bool(decided[-1] > line) if decided.size else None,
        "final_return": ret,
        "final_return_n": ret_n,
        "episodes": int(len(episodes)),
        "note": ("above the recovery line already in the first rollout after the switch"
                 if hit == 0 else ""),
        "switch_rho": float(rho[0]) if rho.size else math.nan,
        "rho_max": float(finite_rho.max()) if finite_rho.size else math.nan,
        "rho_final": float(finite_rho[-1]) if finite_rho.size else math.nan,
        "recovered_abs": hit_abs is not None,
        "steps_to_recovery_abs": int(steps[hit_abs]) if hit_abs is not None else math.nan,
    }


def _check_budget(run_dir: Path, cfg: dict, steps: int, what: str) -> None:
    """A run made for another step budget belongs to another experiment: refuse it."""
    total = cfg.get("total_steps")
    if total is not None and int(total) != steps:
        raise ValueError(f"{run_dir}: trained with total_steps={total}, but {what} is {steps}")


def _same_file(a: str | os.PathLike, b: Path) -> bool | None:
    """True/False when both exist; None when that cannot be told."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return None


def _check_settings_set(run_dir: Path, info: dict, expected: str | None) -> None:
    """A run trained under another settings set than the experiment names is refused."""
    if expected is not None and info.get("settings") != expected:
        raise ValueError(f"{run_dir}: trained with settings set {info.get('settings')!r}, but "
                         f"this experiment's is {expected!r}; rerun it or name its set")


def _recover_run(root: Path, algo: str, arm: str, seed: int, s: RecoverySettings,
                 grid: np.ndarray, reference: float,
                 settings_set: str | None) -> tuple[dict, pd.DataFrame | None]:
    paths = switch_paths(root, algo, arm, seed)
    run_dir = paths.root
    row = {"algo": algo, "arm": arm, "seed": seed, "configuration": None, "status": "missing",
           "env_steps": math.nan}
    info = _read_info(paths)
    if info is None:
        return row, None
    row.update(configuration=info.get("config_name"), status=info.get("status"),
               env_steps=info.get("env_steps", math.nan))
    if row["status"] != "complete":
        return row, None
    want = arm == "grad_on"
    if bool(info.get("config", {}).get("rl_grad")) != want:
        raise ValueError(f"{run_dir}: the {arm} arm needs rl_grad={want}, but config "
                         f"{row['configuration']!r} has rl_grad={not want}")
    _check_budget(run_dir, info.get("config", {}), s.recovery_steps, "the recovery budget")
    _check_settings_set(run_dir, info, settings_set)
    source = info.get("init_from")
    if not source:
        raise ValueError(f"{run_dir}: not started from a checkpoint (run.json init_from is "
                         "empty); stage 2 must be trained with --init-from")
    expected = collapse_paths(root, algo, seed).checkpoint
    if _same_file(source, expected) is False:
        raise ValueError(f"{run_dir}: started from {source}, not from {expected}")
    _, metrics, episodes = read_run(run_dir)
    metrics = metrics[metrics["env_step"] <= s.recovery_steps]
    episodes = episodes[episodes["env_step"] <= s.recovery_steps]
    row.update(recovery_stats_of_run(metrics, episodes, s, reference))
    curve = run_curve(metrics, episodes, grid)
    curve["rho"] = relative_variance(curve["embed_var"], reference)
    return row, curve


# --------------------------------------------------------------------------- summary


def summarise_recovery(root: str | os.PathLike, algos: Sequence[str], seeds: Sequence[int],
                       settings: RecoverySettings,
                       settings_sets: Mapping[str, str] | None = None) -> RecoverySummary:
    """Read the run folders of one recovery experiment under ``root`` into tidy tables.

    Nothing is written. Missing or unfinished runs are kept as rows with their status; a seed is
    *included* only if its stage-1 run collapsed and both stage-2 runs are complete.
    ``settings_sets`` (algorithm -> settings set) refuses runs trained under another set."""
    root = Path(root)
    algos = list(dict.fromkeys(algos))
    if not algos:
        raise ValueError("algos=[] is not allowed: give at least one algorithm")
    seeds = check_seeds(seeds)
    s = settings
    grid = make_grid(s.recovery_steps)

    collapse_rows, run_rows, curves = [], [], []
    for algo in algos:
        for seed in seeds:
            settings_set = (settings_sets or {}).get(algo)
            c = _collapse_row(root, algo, seed, s, settings_set)
            collapse_rows.append(c)
            arm_rows = []
            for arm in RECOVERY_ARMS:
                row, curve = _recover_run(root, algo, arm, seed, s, grid, c["embed_var_first"],
                                          settings_set)
                arm_rows.append(row)
                if curve is not None:
                    curve.insert(0, "seed", seed)
                    curve.insert(0, "configuration", row["configuration"])
                    curve.insert(0, "arm", arm)
                    curve.insert(0, "algo", algo)
                    curves.append(curve)
            # why a seed is left out: the first reason that applies
            if c["status"] != "complete":
                reason = f"stage-1 run {c['status']}"
            elif not c["collapsed"]:
                reason = "did not collapse in stage 1"
            else:
                bad = [r for r in arm_rows if r["status"] != "complete"]
                reason = (", ".join(f"{r['arm']} run {r['status']}" for r in bad)) if bad else ""
            for row in arm_rows:
                row["start_collapsed"] = c["collapsed"]
                row["included"] = reason == ""
                row["exclusion"] = reason
                row.setdefault("note", "")
                run_rows.append(row)

    collapse = pd.DataFrame(collapse_rows)
    runs = pd.DataFrame(run_rows)
    for col in ("configuration", "switch_embed_var", "recovered", "steps_to_recovery",
                "updates_to_recovery", "embed_var_max", "embed_var_final", "recovered_at_end",
                "final_return", "final_return_n", "episodes", "switch_rho", "rho_max",
                "rho_final", "recovered_abs", "steps_to_recovery_abs"):
        if col not in runs:
            runs[col] = math.nan
    runs = runs[["algo", "arm", "seed", "configuration", "status", "start_collapsed", "included",
                 "exclusion", "env_steps", "switch_embed_var", "recovered", "steps_to_recovery",
                 "updates_to_recovery", "embed_var_max", "embed_var_final", "recovered_at_end",
                 "final_return", "final_return_n", "episodes", "note", "switch_rho", "rho_max",
                 "rho_final", "recovered_abs", "steps_to_recovery_abs"]]
    for frame, cols in ((collapse, ("collapsed", "collapsed_abs", "collapsed_rel")),
                        (runs, ("start_collapsed", "included", "recovered", "recovered_at_end",
                                "recovered_abs"))):
        for col in cols:
            frame[col] = frame[col].astype("boolean")
    for frame, cols in ((collapse, ("steps_to_collapse", "updates_to_collapse", "env_steps",
                                    "steps_to_collapse_abs", "steps_to_collapse_rel")),
                        (runs, ("env_steps", "steps_to_recovery", "updates_to_recovery",
                                "final_return_n", "episodes", "steps_to_recovery_abs"))):
        for col in cols:  # whole numbers with gaps: nullable integers, not floats
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    curves_df = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(
        columns=["algo", "arm", "configuration", "seed", "env_step", "return_running",
                 "embed_var", "rho"])
    curves_df = curves_df.merge(runs[["algo", "arm", "seed", "included"]],
                                on=["algo", "arm", "seed"], how="left")

    meta = {
        "root": str(root), "algos": algos, "seeds": seeds, "settings": asdict(s),
        "settings_sets": dict(settings_sets or {}),
        "min_seeds": MIN_SEEDS, "return_window": RETURN_WINDOW,
        "grid_step": int(grid[1] - grid[0]) if grid.size > 1 else int(grid[0]),
        "ci": {"level": CI_LEVEL, "mean": f"{CI_METHOD} (scipy.stats.bootstrap)",
               "n_resamples": CI_RESAMPLES, "seed": CI_SEED, "fraction": EXACT},
    }
    return RecoverySummary(collapse, runs, curves_df, _stats(runs, algos), meta)


def _stats(runs: pd.DataFrame, algos: list[str]) -> pd.DataFrame:
    rows = []
    for algo in algos:
        for arm in RECOVERY_ARMS:
            sub = runs[(runs["algo"] == algo) & (runs["arm"] == arm) & runs["included"].fillna(False)]
            n = len(sub)
            k = int(sub["recovered"].fillna(False).sum())
            frac, low, high = proportion(k, n)
            rows.append({"algo": algo, "arm": arm, "metric": "recovered", "n": n, "count": k,
                         "mean": frac, "std": math.nan, "median": math.nan, "iqm": math.nan,
                         "min": math.nan, "max": math.nan, "ci_low": low, "ci_high": high,
                         "ci_method": EXACT, "ci_note": "" if n else "no values"})
            for metric in STAT_METRICS:
                values = _floats(sub[metric])
                d = describe_sample(values)
                note = d.pop("ci_note")
                if metric == "steps_to_recovery":
                    note = "; ".join(filter(None, ["recovered seeds only", note]))
                rows.append({"algo": algo, "arm": arm, "metric": metric, **d,
                             "count": math.nan, "ci_method": CI_METHOD, "ci_note": note})
    cols = ["algo", "arm", "metric", "n", "count", "mean", "std", "median", "iqm", "min", "max",
            "ci_low", "ci_high", "ci_method", "ci_note"]
    out = pd.DataFrame(rows)[cols]
    out["count"] = out["count"].astype("Int64")
    return out


# --------------------------------------------------------------------------- verdicts


def arm_numbers(summary: RecoverySummary, algo: str, arm: str) -> dict:
    """One arm of one algorithm over the included seeds, in seed order: recovered per seed,
    steps to recovery (inf: never), the count with its exact CI, the median steps to recovery,
    how many are still above the line at the end, the count by the absolute line and the final
    return."""
    runs = summary.runs
    sub = runs[(runs["algo"] == algo) & (runs["arm"] == arm) & runs["included"].fillna(False)]
    sub = sub.sort_values("seed")
    rec = sub["recovered"].fillna(False).astype(bool).to_list()
    times = [float(t) if r else math.inf for t, r in zip(_floats(sub["steps_to_recovery"]), rec)]
    k, n = int(sum(rec)), len(rec)
    frac, low, high = proportion(k, n)
    fr = describe_sample(_floats(sub["final_return"]))
    configs = sorted(set(sub["configuration"].dropna())) or sorted(
        set(runs[(runs["algo"] == algo) & (runs["arm"] == arm)]["configuration"].dropna()))
    return {"configuration": configs[0] if configs else None, "seeds": sub["seed"].to_list(),
            "recovered": rec, "steps_to_recovery": times, "count": k, "n": n,
            "fraction": frac, "fraction_ci": [low, high],
            "median_steps_to_recovery": median_time_to_event(times),
            "recovered_at_end": int(sub["recovered_at_end"].fillna(False).sum()),
            "count_abs": int(sub["recovered_abs"].fillna(False).sum()),
            "final_return": fr}


def fraction_text(a: dict) -> str:
    """'3 of 4 (75%; exact 95% CI 19% to 99%)' for an arm's numbers."""
    if a["n"] == 0:
        return "no included seed"
    return (f"{a['count']} of {a['n']} ({a['fraction']:.0%}; exact 95% CI "
            f"{a['fraction_ci'][0]:.0%} to {a['fraction_ci'][1]:.0%})")


def return_text(d: dict) -> str:
    """A described sample of final returns: mean (95% CI; n)."""
    if d["n"] == 0:
        return "n/a"
    ci = (f"95% CI {d['ci_low']:.1f} to {d['ci_high']:.1f}" if math.isfinite(d["ci_low"])
          else f"no CI: {d['ci_note']}")
    return f"{d['mean']:.1f} ({ci}; n={d['n']})"


def evaluate_recovery(summary: RecoverySummary) -> dict:
    """The verdicts of claims (a), (b), (c) per algorithm; the content of recovery.json."""
    s = RecoverySettings(**summary.meta["settings"])
    claims, per_algo = [], {}
    for algo in summary.meta["algos"]:
        label = ALGO_LABELS.get(algo, algo)
        col = summary.collapse[summary.collapse["algo"] == algo]
        on, off = arm_numbers(summary, algo, "grad_on"), arm_numbers(summary, algo, "grad_off")
        n = on["n"]
        enough = n >= MIN_SEEDS
        sign = sign_test(on["recovered"], off["recovered"])
        collapsed = col[col["collapsed"].fillna(False)]
        per_algo[algo] = {
            "collapse": {
                "configuration": next(iter(col["configuration"].dropna()), None),
                "seeds_collapsed": [int(x) for x in collapsed["seed"]],
                "seeds_not_collapsed": [int(x) for x in col[col["collapsed"].eq(False).fillna(False)]["seed"]],
                "seeds_without_stage1": [int(x) for x in col[col["status"] != "complete"]["seed"]],
                "median_steps_to_collapse": float(np.median(_floats(collapsed["steps_to_collapse"])))
                if len(collapsed) else math.nan,
            },
            "included_seeds": on["seeds"], "grad_on": on, "grad_off": off, "sign_test": sign,
        }
        few = f"only {n} included seed{'s' if n != 1 else ''} (< {MIN_SEEDS})"

        # (a) the RL gradient pulls the encoder out of collapse
        maj = (on["count"] > n / 2) if enough else None
        less = (off["count"] < on["count"]) if enough else None
        checks = [
            make_check("∇ on recovers in a strict majority of included seeds", maj,
                       f"∇ on ({on['configuration']}) recovered in {fraction_text(on)}"
                       + ("" if enough else f"; {few}") + f": {yes_no(maj)}",
                       count=on["count"], n=n),
            make_check("∇ off recovers in fewer seeds than ∇ on", less,
                       f"∇ off ({off['configuration']}) recovered in {fraction_text(off)} vs "
                       f"∇ on {on['count']}; seeds where only ∇ on recovered: "
                       f"{sign['only_grad_on']}, only ∇ off: {sign['only_grad_off']} (one-sided "
                       f"exact sign test p = {sign['p_one_sided']:.3g}): {yes_no(less)}",
                       grad_off_count=off["count"], grad_on_count=on["count"], **sign),
        ]
        claims.append(make_claim("a", {"algo": algo}, f"{label}: the RL gradient pulls a collapsed encoder out "
                             "of collapse (Yu & Chen: a collapsed encoder is not optimal once a "
                             "policy loss is present).", CRITERIA["a"], checks))

        # (b) how fast
        m_on, m_off = on["median_steps_to_recovery"], off["median_steps_to_recovery"]
        within = math.isfinite(m_on) if enough else None
        faster = (m_on < m_off) if enough else None
        earlier = sum(a < b for a, b in zip(on["steps_to_recovery"], off["steps_to_recovery"]))
        rec_steps = [int(t) for t in on["steps_to_recovery"] if math.isfinite(t)]
        checks = [
            make_check("median steps to recovery with ∇ on reached within the budget", within,
                       f"∇ on median {steps_text(m_on)} env steps of {s.recovery_steps:,} (per included "
                       f"seed: {', '.join(steps_text(t) for t in on['steps_to_recovery']) or 'none'})"
                       + ("" if enough else f"; {few}") + f": {yes_no(within)}",
                       median=m_on, steps=on["steps_to_recovery"], recovered_steps=rec_steps),
            make_check("∇ on recovers faster than ∇ off (median)", faster,
                       f"median ∇ on {steps_text(m_on)} vs ∇ off {steps_text(m_off)} env steps; ∇ on "
                       f"recovered strictly earlier in {earlier} of {n} seeds: {yes_no(faster)}",
                       median_grad_on=m_on, median_grad_off=m_off, seeds_grad_on_earlier=int(earlier)),
        ]
        claims.append(make_claim("b", {"algo": algo}, f"{label}: with the RL gradient the encoder leaves "
                             "collapse quickly, faster than without it.", CRITERIA["b"], checks))

        # (c) Kenneweg et al.: sometimes recovers on its own with ∇ off
        own = True if off["count"] >= 1 else (False if enough else None)
        extension = "" if algo == "ppo" else (" (the paper's remark is about PPO with an EMA "
                                              "target; for this algorithm it is our extension)")
        checks = [
            make_check("∇ off recovers in at least one included seed", own,
                       f"∇ off ({off['configuration']}) recovered in {fraction_text(off)} within "
                       f"{s.recovery_steps:,} steps after the switch ({off['recovered_at_end']} of "
                       f"{n} still above the recovery line at the end)"
                       + ("" if enough or own else f"; {few}") + f": {yes_no(own)}",
                       count=off["count"], n=n, recovered_at_end=off["recovered_at_end"]),
        ]
        claims.append(make_claim("c", {"algo": algo}, f"{label}: a collapsed encoder sometimes recovers on its "
                             "own when training continues with ∇ off (Kenneweg et al., "
                             f"section 3){extension}.", CRITERIA["c"], checks))

    return {
        "experiment": ("recovery from collapse: a collapsed encoder (trained with J on and ∇ off "
                       "until embed_var < the collapse threshold) continued with ∇ on vs ∇ off"),
        "papers": ["Yu & Chen, RL as Internal Regularization Preventing JEPA Representation "
                   "Collapse", "Kenneweg et al. 2025, JEPA for RL, section 3"],
        "runs": {"root": summary.meta["root"], "algos": summary.meta["algos"],
                 "seeds": summary.meta["seeds"]},
        "thresholds": {**summary.meta["settings"], "min_seeds": MIN_SEEDS,
                       "return_window": RETURN_WINDOW, "ci": summary.meta["ci"]},
        "criteria": CRITERIA,
        "algorithms": per_algo,
        "claims": claims,
    }
