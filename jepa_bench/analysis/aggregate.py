"""Turn run folders into tidy summary tables.

    jepa-bench aggregate --runs-root results/runs --configs j0g1r0 j1g1r0 \\
        --seeds 0 1 2 3 4 --total-steps 100000 --out results/summary

reads ``{runs_root}/{configuration}/seed{seed}/{run.json,metrics.csv,episodes.csv}`` (format in
the spec) and writes, atomically, into ``out_dir``:

``curves.csv`` -- one row per (run, grid step). The grid is every ``ceil(total_steps / 50)`` env
steps (2000 for 100k) up to and including ``total_steps``. Values are step-held: the row at grid
step g shows what the run had logged at or before env step g (NaN before its first log).

    configuration   configuration name, e.g. ``j1g1r0``
    notation        the paper's notation, e.g. ``J, ∇, R̂`` (a hat means "off")
    seed            run seed
    env_step        grid point (environment steps summed over all parallel envs)
    episodes        episodes finished at or before env_step
    return_running  running average of episodic return: mean return of the last 10 episodes
                    finished at or before env_step (fewer if fewer have finished)
    jepa_loss, reg_loss, actor_loss, critic_loss, entropy, approx_kl, clip_frac,
    explained_variance, embed_var, embed_rank, sps
                    the run's metrics.csv columns of the same name, last value logged at or
                    before env_step (embed_var: mean batch-wise variance of s_x; embed_rank:
                    effective rank of s_x; sps: env steps per second)

``runs.csv`` -- one row per run; only env steps <= total_steps count.

    configuration, notation, seed
    status            run.json status (only "complete" runs are used)
    env_steps         env steps the run reports in run.json
    episodes          episodes finished at or before total_steps
    final_return      mean return of the last 10 episodes finished at or before total_steps
    final_return_n    how many episodes final_return averages (< 10 only in very short runs)
    auc_return        area under the running-return curve divided by the steps it spans
                      (from the first finished episode to total_steps): the time-averaged
                      running return, in return units
    late_slope        least-squares slope of return_running over the grid points in the last
                      quarter of training, in return per 1000 env steps
    embed_var_final   last logged embed_var
    embed_var_min     smallest logged embed_var
    embed_var_max     largest logged embed_var
    collapsed         embed_var_min < 1e-7 (the paper's collapse indicator); empty if no
                      embed_var was logged
    embed_rank_final  last logged embed_rank
    jepa_loss_final   last logged jepa_loss
    wall_time         last logged wall_time (seconds)

``stats.csv`` -- one row per (configuration, metric): statistics over seeds of each runs.csv
metric in ``RUN_METRICS``; plus one row ``configuration="random"``, ``metric="episode_return"``
whose sample is the random-policy episodes (see below).

    configuration, notation, metric
    n                 number of non-missing values
    mean, std (ddof=1), median, min, max
    iqm               interquartile mean, scipy.stats.trim_mean(x, 0.25), as rliable recommends
    ci_low, ci_high   95% percentile-bootstrap CI of the mean (scipy.stats.bootstrap,
                      10000 resamples, seeded); NaN when n < 2; the common value when
                      all values are equal
    ci_note           why the CI is NaN or a point, else empty

``random_baseline.csv`` -- one row per episode of a uniformly random policy on gymnasium's
CartPole-v1 (measured here, never hard-coded): ``episode, reset_seed, return, length``.

``summary.json`` -- the settings behind the tables (grid, window, CI, baseline, collapse
threshold, CartPole-v1's reward threshold) and the runs used (every run asked for: a missing or
unfinished run is an error). Its ``notes`` name the runs that stop short of total_steps and those
trained from code with uncommitted changes (run.json ``git_dirty``); the latter are also a
warning on stderr.

This module owns the tidy tables of the Figure-3 grid and the per-run numbers (running return,
AUC, late slope, embedding variance extremes). It reads run folders through jepa_bench.layout,
takes every statistic over seeds from jepa_bench.analysis.stats and the configurations' names and
notation from jepa_bench.config. It must not import torch (the workflow's report stages stay
light), draw figures or pass verdicts.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from jepa_bench.config import config_differences, get_config, resolve
from jepa_bench.layout import RunPaths, check_seeds
from jepa_bench.metrics import (EPISODE_COLUMNS, atomic_write_text, check_metrics_rows,
                                read_json, read_table, write_table)
from jepa_bench.analysis.stats import (CI_LEVEL, CI_RESAMPLES, CI_SEED, RETURN_WINDOW, describe_sample,
                              final_return)

__all__ = [
    "COLLAPSE_THRESHOLD",
    "RUN_METRICS",
    "SUMMARY_FILES",
    "make_grid",
    "random_policy_returns",
    "read_run",
    "read_summary",
    "read_tables",
    "run_curve",
    "run_summary",
    "summarise",
]

#: mean batch-wise embedding variance below which the paper calls the encoder collapsed
COLLAPSE_THRESHOLD = 1e-7
#: the common grid has about this many points
GRID_POINTS = 50
#: share of training (at the end) over which late_slope is fitted
LATE_FRACTION = 0.25
BASELINE_ENV = "CartPole-v1"
BASELINE_EPISODES = 1000
BASELINE_SEED = 0
DIRTY_NOTE = "trained from a work tree with uncommitted changes to the code"

SUMMARY_FILES = {
    "curves": "curves.csv",
    "runs": "runs.csv",
    "stats": "stats.csv",
    "random_baseline": "random_baseline.csv",
    "meta": "summary.json",
}

#: metrics.csv columns carried (step-held) into curves.csv
CURVE_METRICS = [
    "jepa_loss",
    "reg_loss",
    "actor_loss",
    "critic_loss",
    "entropy",
    "approx_kl",
    "clip_frac",
    "explained_variance",
    "embed_var",
    "embed_rank",
    "sps",
]
#: runs.csv columns summarised over seeds in stats.csv
RUN_METRICS = [
    "final_return",
    "auc_return",
    "late_slope",
    "embed_var_final",
    "embed_var_min",
    "embed_var_max",
    "embed_rank_final",
    "jepa_loss_final",
]

# --------------------------------------------------------------------------- the random policy


def random_policy_returns(
    episodes: int = BASELINE_EPISODES, seed: int = BASELINE_SEED, env_id: str = BASELINE_ENV
) -> pd.DataFrame:
    """Play ``episodes`` episodes of gymnasium ``env_id`` with uniformly random actions.

    Episode i is reset with seed ``seed + i``; actions come from ``np.random.default_rng(seed)``.
    Returns one row per episode: episode, reset_seed, return, length.
    """
    if episodes < 1:
        raise ValueError(f"episodes={episodes} is not allowed: must be >= 1")
    import gymnasium as gym

    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    n_actions = int(env.action_space.n)
    rows = []
    try:
        for i in range(episodes):
            env.reset(seed=seed + i)
            total, length, done = 0.0, 0, False
            while not done:
                _, reward, terminated, truncated, _ = env.step(int(rng.integers(n_actions)))
                total += float(reward)
                length += 1
                done = terminated or truncated
            rows.append((i, seed + i, total, length))
    finally:
        env.close()
    return pd.DataFrame(rows, columns=["episode", "reset_seed", "return", "length"])


# --------------------------------------------------------------------------- one run


def read_run(run_dir: str | os.PathLike) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Load (run.json, metrics.csv, episodes.csv) of one run folder, sorted by env_step."""
    paths = RunPaths(run_dir)
    return (read_json(paths.run_json), *read_tables(paths))


def read_tables(paths: RunPaths) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A run folder's metrics.csv and episodes.csv, checked for the columns we use, by env_step."""
    metrics = read_table(paths.metrics)
    episodes = read_table(paths.episodes)
    for frame, path, needed in (
        (metrics, paths.metrics, ["env_step", "wall_time", *CURVE_METRICS]),
        (episodes, paths.episodes, list(EPISODE_COLUMNS)),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"{path} lacks columns {missing}")
        if frame["env_step"].isna().any():
            raise ValueError(f"{path} has a row with no env_step (row "
                             f"{int(frame['env_step'].isna().idxmax()) + 2} of the file): it is "
                             "damaged; restore it, or train the run again")
    metrics = metrics.sort_values("env_step", kind="stable").reset_index(drop=True)
    episodes = episodes.sort_values("env_step", kind="stable").reset_index(drop=True)
    return metrics, episodes


def check_run_config(paths: RunPaths, info: dict, name: str, overrides: dict,
                     settings: str | None = None) -> None:
    """ValueError unless run.json's config is configuration `name` under the settings set
    `settings` with `overrides` applied."""
    want = resolve(name, overrides, settings=settings).to_dict()
    have = info.get("config") or {}
    diff = config_differences(have, want)
    if diff:
        shown = ", ".join(f"{k}={have.get(k, want.get(k))!r} (asked: {want.get(k)!r})"
                          for k in diff[:4])
        more = f" and {len(diff) - 4} more" if len(diff) > 4 else ""
        raise ValueError(f"{paths.run_json} was trained with other settings: {shown}{more}; "
                         "give these runs their own runs_root (or --out another folder when you "
                         "train them again)")


def make_grid(total_steps: int, points: int = GRID_POINTS) -> np.ndarray:
    """Grid step ceil(total_steps / points), up to and including total_steps."""
    if total_steps < 1:
        raise ValueError(f"total_steps={total_steps} is not allowed: must be >= 1")
    step = max(1, math.ceil(total_steps / points))
    grid = np.arange(step, total_steps, step, dtype=np.int64)
    return np.append(grid, np.int64(total_steps))


def _running_returns(episodes: pd.DataFrame, window: int) -> np.ndarray:
    """Mean of the last ``window`` returns after each episode (episodes sorted by env_step)."""
    r = episodes["return"].to_numpy(dtype=float)
    return pd.Series(r).rolling(window, min_periods=1).mean().to_numpy()


def _hold(at: np.ndarray, steps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """values[k] of the last k with steps[k] <= at (NaN where none); steps sorted."""
    idx = np.searchsorted(steps, at, side="right") - 1
    out = np.full(at.shape, np.nan)
    ok = idx >= 0
    out[ok] = values[idx[ok]]
    return out


def run_curve(
    metrics: pd.DataFrame,
    episodes: pd.DataFrame,
    grid: np.ndarray,
    window: int = RETURN_WINDOW,
) -> pd.DataFrame:
    """One run's metrics and running return, step-held onto ``grid``."""
    grid = np.asarray(grid)
    ep_steps = episodes["env_step"].to_numpy()
    curve = pd.DataFrame({"env_step": grid})
    curve["episodes"] = np.searchsorted(ep_steps, grid, side="right")
    curve["return_running"] = _hold(grid, ep_steps, _running_returns(episodes, window))
    m_steps = metrics["env_step"].to_numpy()
    for col in CURVE_METRICS:
        # carry the last logged value over rows where a metric was left empty
        vals = pd.to_numeric(metrics[col], errors="coerce").ffill().to_numpy(dtype=float)
        curve[col] = _hold(grid, m_steps, vals)
    return curve


def _auc(episodes: pd.DataFrame, total_steps: int, window: int) -> float:
    """Time average of the running-return step function from the first episode to total_steps."""
    if episodes.empty:
        return math.nan
    t = episodes["env_step"].to_numpy(dtype=float)
    r = _running_returns(episodes, window)
    if t[0] >= total_steps:
        return float(r[-1])
    # value r[k] holds on [t[k], t[k+1]); the last one until total_steps
    ends = np.append(t[1:], float(total_steps))
    return float(np.sum(r * (ends - t)) / (total_steps - t[0]))


def _late_slope(curve: pd.DataFrame, total_steps: int) -> float:
    late = curve[curve["env_step"] >= (1 - LATE_FRACTION) * total_steps]
    late = late[np.isfinite(late["return_running"])]
    if len(late) < 2 or late["env_step"].nunique() < 2:
        return math.nan
    x = late["env_step"].to_numpy(float)
    y = late["return_running"].to_numpy(float)
    x, y = x - x.mean(), y - y.mean()  # centred: a flat curve gives exactly 0
    return float(np.sum(x * y) / np.sum(x * x) * 1000.0)


def _last(values: pd.Series) -> float:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return float(v.iloc[-1]) if len(v) else math.nan


def run_summary(
    metrics: pd.DataFrame,
    episodes: pd.DataFrame,
    curve: pd.DataFrame,
    total_steps: int,
    window: int = RETURN_WINDOW,
) -> dict:
    """Per-run scalars of runs.csv (see the module docstring); inputs already cut at total_steps."""
    final, final_n = final_return(episodes["return"].to_numpy(dtype=float), window)
    ev = pd.to_numeric(metrics["embed_var"], errors="coerce").dropna()
    ev_min = float(ev.min()) if len(ev) else math.nan
    return {
        "episodes": int(len(episodes)),
        "final_return": final,
        "final_return_n": final_n,
        "auc_return": _auc(episodes, total_steps, window),
        "late_slope": _late_slope(curve, total_steps),
        "embed_var_final": _last(metrics["embed_var"]),
        "embed_var_min": ev_min,
        "embed_var_max": float(ev.max()) if len(ev) else math.nan,
        "collapsed": (ev_min < COLLAPSE_THRESHOLD) if len(ev) else None,
        "embed_rank_final": _last(metrics["embed_rank"]),
        "jepa_loss_final": _last(metrics["jepa_loss"]),
        "wall_time": _last(metrics["wall_time"]),
    }


# --------------------------------------------------------------------------- the summary tables


def read_summary(summary_dir: str | os.PathLike, tables: Sequence[str]) -> dict:
    """The summary tables ``tables`` (keys of SUMMARY_FILES) as DataFrames and summary.json as
    the dict under "meta", for the stages that read what ``summarise`` wrote. A table cut short
    (its last row cut off, or runs.csv with fewer rows than the runs summary.json lists) is a
    ValueError naming it: a report must not pass a part of the runs off as all of them."""
    summary_dir = Path(summary_dir)
    out = {"meta": read_json(summary_dir / SUMMARY_FILES["meta"])}
    for key in tables:
        path = summary_dir / SUMMARY_FILES[key]
        out[key] = read_table(path)
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            whole = fh.read(1) == b"\n"
        used = out["meta"].get("runs_used") if key == "runs" else None
        if not whole or (isinstance(used, list) and len(out[key]) != len(used)):
            cut = "its last row is cut off" if not whole else \
                f"it has {len(out[key])} rows for the {len(used)} runs summary.json lists"
            raise ValueError(f"{path} is damaged: {cut}; rerun the aggregate that writes it")
    return out


# --------------------------------------------------------------------------- the pipeline step


def _runs_roots(runs_root, configs: list[str]) -> tuple[dict[str, Path], str | dict]:
    """Each configuration's runs root, and what summary.json records of them (the one folder,
    also when a map names the same folder for every configuration; else the map)."""
    if isinstance(runs_root, Mapping):
        missing = [c for c in configs if c not in runs_root]
        if missing:
            raise ValueError(f"runs_root names no folder for {missing}")
        roots = {c: Path(runs_root[c]) for c in configs}
        if len(set(roots.values())) == 1:
            return roots, str(roots[configs[0]])
        return roots, {c: str(roots[c]) for c in configs}
    return dict.fromkeys(configs, Path(runs_root)), str(Path(runs_root))


def _stats_table(runs_df: pd.DataFrame, configs: list[str], baseline: pd.DataFrame) -> pd.DataFrame:
    """describe_sample of every RUN_METRICS column per configuration, and of the random policy's
    episode returns."""
    stat_rows = []
    for name in [c for c in configs if c in set(runs_df["configuration"])]:
        sub = runs_df[runs_df["configuration"] == name]
        for metric in RUN_METRICS:
            stat_rows.append(
                {"configuration": name, "notation": get_config(name).notation, "metric": metric}
                | describe_sample(sub[metric].to_numpy(dtype=float))
            )
    stat_rows.append(
        {"configuration": "random", "notation": "random policy", "metric": "episode_return"}
        | describe_sample(baseline["return"].to_numpy(dtype=float))
    )
    stats_df = pd.DataFrame(stat_rows)
    return stats_df


def _checked_run(paths: RunPaths, name: str, seed: int, total_steps: int,
                 overrides: dict | None, settings: str | None,
                 notes: list[str]) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """One run of the summary, read and checked: there, complete, the configuration and seed its
    folder says, made with `overrides` (when given); a run that stops short of total_steps or was
    trained from a dirty work tree adds a note (the latter also a warning on stderr)."""
    if not paths.run_json.is_file():
        raise ValueError(f"run {name!r} seed {seed} not found: {paths.run_json} does not "
                         "exist (train it first, or check runs_root)")
    info = read_json(paths.run_json)
    status = info.get("status")
    if status != "complete":
        raise ValueError(f"{paths.run_json} has status {status!r}, not 'complete' "
                         "(resume or retrain the run first)")
    check_metrics_rows(paths.metrics, info)
    metrics, episodes = read_tables(paths)
    if info.get("config_name", name) != name or int(info.get("seed", seed)) != seed:
        raise ValueError(
            f"{paths.run_json} says config_name={info.get('config_name')!r}, "
            f"seed={info.get('seed')!r}; the folder says {name!r}, {seed}"
        )
    if overrides is not None:
        check_run_config(paths, info, name, {**overrides, "total_steps": total_steps},
                         settings)
    env_steps = info.get("env_steps")
    if env_steps is not None and int(env_steps) < total_steps:
        notes.append(
            f"{name}/seed{seed}: env_steps={env_steps} < total_steps={total_steps}; "
            "its last values are held to total_steps"
        )
    if info.get("git_dirty"):
        notes.append(f"{name}/seed{seed}: {DIRTY_NOTE} (git_rev {info.get('git_rev')}, "
                     f"git_diff_sha256 {info.get('git_diff_sha256')})")
        print(f"jepa-bench aggregate: warning: {paths.run_json}: {DIRTY_NOTE}; its "
              "numbers may not be what that commit gives", file=sys.stderr)
    return info, metrics, episodes


def summarise(
    runs_root: str | os.PathLike | Mapping[str, str | os.PathLike],
    configs: Sequence[str],
    seeds: Sequence[int],
    total_steps: int,
    out_dir: str | os.PathLike,
    *,
    baseline_episodes: int = BASELINE_EPISODES,
    baseline_seed: int = BASELINE_SEED,
    overrides: dict | None = None,
    settings: str | None = None,
) -> dict[str, Path]:
    """Write the summary tables for runs ``{runs_root}/{config}/seed{seed}`` into ``out_dir``.
    ``runs_root`` may also map each configuration to its own runs root (a study that reuses
    some configurations' runs from another experiment); summary.json records it as given.

    Only steps <= total_steps count. Every asked run must be there and complete: a run folder
    without run.json, or whose run.json status is not "complete", is a ValueError naming the
    file (the workflow trains every run before it aggregates; a run it cannot find means the
    runs_root or the preset is wrong, never that a seed may be dropped quietly).
    With `overrides` (the TrainConfig overrides the runs were asked for, as `jepa-bench train`
    builds them), every run's run.json config must equal its configuration with those overrides
    and total_steps, or ValueError names the run and the differing fields: a run folder reused
    by path (a shared runs_root) cannot stand in for a run made with other settings.
    Returns {"curves", "runs", "stats", "random_baseline", "meta"} -> path.
    """
    out_dir = Path(out_dir)
    configs = [get_config(name).name for name in dict.fromkeys(configs)]
    if not configs:
        raise ValueError("configs=[] is not allowed: give at least one configuration")
    roots, recorded = _runs_roots(runs_root, configs)
    seeds = check_seeds(seeds)
    grid = make_grid(int(total_steps))
    total_steps = int(total_steps)

    curves, runs, notes = [], [], []
    for name in configs:
        label = get_config(name).notation
        for seed in seeds:
            paths = RunPaths.of(roots[name], name, seed)
            info, metrics, episodes = _checked_run(paths, name, seed, total_steps, overrides,
                                                   settings, notes)
            env_steps = info.get("env_steps")
            status = info.get("status")
            metrics = metrics[metrics["env_step"] <= total_steps]
            episodes = episodes[episodes["env_step"] <= total_steps]
            curve = run_curve(metrics, episodes, grid)
            curve.insert(0, "seed", seed)
            curve.insert(0, "notation", label)
            curve.insert(0, "configuration", name)
            curves.append(curve)
            row = {
                "configuration": name,
                "notation": label,
                "seed": seed,
                "status": status,
                "env_steps": env_steps,
            }
            row.update(run_summary(metrics, episodes, curve, total_steps))
            runs.append(row)

    curves_df = pd.concat(curves, ignore_index=True)
    runs_df = pd.DataFrame(runs)
    runs_df["collapsed"] = runs_df["collapsed"].astype("boolean")

    baseline = random_policy_returns(baseline_episodes, baseline_seed)
    stats_df = _stats_table(runs_df, configs, baseline)

    import gymnasium as gym

    meta = {
        "total_steps": total_steps,
        "configurations": configs,
        "seeds": seeds,
        "runs_root": recorded,
        "grid_step": int(grid[1] - grid[0]) if grid.size > 1 else int(grid[0]),
        "grid_points": int(grid.size),
        "return_window": RETURN_WINDOW,
        "late_fraction": LATE_FRACTION,
        "collapse_threshold": COLLAPSE_THRESHOLD,
        "ci": {
            "level": CI_LEVEL,
            "method": "percentile bootstrap of the mean (scipy.stats.bootstrap)",
            "n_resamples": CI_RESAMPLES,
            "seed": CI_SEED,
        },
        "random_baseline": {
            "env_id": BASELINE_ENV,
            "episodes": int(baseline_episodes),
            "seed": int(baseline_seed),
            "policy": "uniformly random actions",
        },
        "reward_threshold": float(gym.spec(BASELINE_ENV).reward_threshold),
        "max_episode_steps": int(gym.spec(BASELINE_ENV).max_episode_steps),
        "runs_used": [{"configuration": r["configuration"], "seed": r["seed"]} for r in runs],
        "notes": notes,
    }

    paths = {key: out_dir / fname for key, fname in SUMMARY_FILES.items()}
    write_table(curves_df, paths["curves"])
    write_table(runs_df, paths["runs"])
    write_table(stats_df, paths["stats"])
    write_table(baseline, paths["random_baseline"])
    atomic_write_text(paths["meta"], json.dumps(meta, indent=2) + "\n")
    return paths
