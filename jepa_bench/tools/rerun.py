"""Rerun a committed run on this machine and say how it compares: `jepa-bench rerun-check`.

    jepa-bench rerun-check results/v2/runs/j1g1r0/seed0      # its seeds: results/v2/runs/j1g1r0/
    jepa-bench rerun-check RUN_DIR --seeds-of DIR --out /tmp/rerun

The run is trained again from the configuration its run.json records, not from the command line
it was started with (a run made before `--settings` existed has none on its command line, and
replaying it would train under today's default set): the configuration name, the settings set
(a run.json without one was made with 'v1'), each recorded field that differs from what that
name and set give as `--set`, the seed, total_steps and thread count, into a new folder. When
no such command gives back the recorded config (a field this version does not know, a switch
the name does not allow) it refuses in one line before training anything. Then:

- "same run": metrics.csv and episodes.csv agree cell for cell apart from the timing columns
  (`jepa-bench compare`). Expect this only on the same CPU kind (model and vector instruction
  sets, run.json `machine`), the same torch build and the same thread count: floating-point
  sums are ordered by the kernels torch picks for the CPU and by the threads, so another CPU
  gives another run from the first update on.
- "same distribution": not the same run, but its final return (mean of the last 10 episodes
  within total_steps, as in the summary tables) lies inside the two-sided 95 % prediction
  interval of the configuration's committed seeds: mean ± t(0.975, n−1) · sd · sqrt(1 + 1/n)
  over the n ≥ 2 committed runs of that configuration (the run itself included), the interval
  for one new draw from the normal distribution those runs estimate.
- "different": outside that interval. Exit status 1 (0 for the other two).
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Callable

from jepa_bench.analysis.compare import describe
from jepa_bench.config import (SWITCH_KEYS, TrainConfig, config_differences, get_config,
                               resolve)
from jepa_bench.layout import RunPaths
from jepa_bench.metrics import read_json
from jepa_bench.analysis.stats import CI_LEVEL, final_return, prediction_interval

VERDICTS = ("same run", "same distribution", "different")
LEGACY_SETTINGS = "v1"
"""The settings set of a run.json that records none: runs made before settings sets existed."""


def recorded_overrides(info: dict) -> tuple[str, dict]:
    """(settings set, --set overrides) that give back the config `info` (a run.json) records
    under its configuration name; ValueError, in one line, when none can."""
    name, settings = info.get("config_name"), info.get("settings") or LEGACY_SETTINGS
    recorded = info.get("config") or {}
    where = f"run.json of {name}/seed{info.get('seed')}"
    get_config(str(name))  # an unknown name: one line
    known = {f.name: f.default for f in fields(TrainConfig)}
    unknown = sorted(set(recorded) - set(known))
    if unknown:
        raise ValueError(f"{where} records config fields this version does not know "
                         f"({', '.join(unknown)}); rerun it with the jepa-bench it was made with "
                         f"(git_rev {info.get('git_rev', 'unknown')})")
    base = resolve(name, settings=settings).to_dict()
    diff = config_differences(base, recorded)
    fixed = [k for k in diff if k in SWITCH_KEYS]
    if fixed:
        raise ValueError(f"{where} records {', '.join(f'{k}={recorded.get(k)!r}' for k in fixed)}"
                         f", which configuration {name!r} fixes otherwise; this record and its "
                         "name cannot be made to agree, so there is nothing to rerun")
    return settings, {k: recorded.get(k, known[k]) for k in diff}


def rerun_args(info: dict, out: Path) -> list[str]:
    """The `jepa-bench train` arguments that train again the run `info` (its run.json) records,
    into `out`: built from its recorded config (`recorded_overrides`), seed, threads and device
    (the CPU when it ran on the CPU), never from its command line."""
    if info.get("init_from"):
        raise ValueError("rerun-check cannot rerun a run that started from another run's weights "
                         "(--init-from); rerun that run first")
    segments = (info.get("lr_schedule") or {}).get("segments") or []
    if len(info.get("commands") or []) > 1 or len(segments) > 1:
        raise ValueError("rerun-check cannot rerun an extended run (run.json `commands` lists "
                         "several); rerun its commands one after the other by hand")
    settings, overrides = recorded_overrides(info)
    total = overrides.pop("total_steps", TrainConfig.total_steps)
    sets = [w for k, v in sorted(overrides.items()) for w in ("--set", f"{k}={_word(v)}")]
    device = "cpu" if str(info.get("device", "cpu")) == "cpu" else "auto"
    extra = ["--grad-diagnostic"] if info.get("grad_diagnostic") else []
    return ["train", "--config", info["config_name"], "--seed", str(info["seed"]),
            "--total-steps", str(total), "--settings", settings, *sets,
            "--threads", str(info["threads"]), "--device", device, *extra,
            "--out", str(out), "--quiet"]


def _word(value) -> str:
    """A config value as `--set` reads it back: repr for floats (every digit), lower-case
    booleans."""
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, float) else str(value)


def run_final_return(folder: Path) -> float:
    """Final return of a run folder: mean of its last 10 episodes within total_steps."""
    paths = RunPaths(folder)
    total = read_json(paths.run_json)["config"]["total_steps"]
    with open(paths.episodes, encoding="utf-8", newline="") as fh:
        returns = [float(r["return"]) for r in csv.DictReader(fh) if int(r["env_step"]) <= total]
    return final_return(returns)[0]


def seed_runs(folder: Path, like: dict) -> list[Path]:
    """The finished seed*/ run folders under `folder` made with the config of `like` (seed aside)."""
    found = []
    for run in sorted(folder.glob("seed*/run.json")):
        info = read_json(run)
        if info.get("status") == "complete" and not config_differences(
                info.get("config") or {}, like.get("config") or {}):
            found.append(run.parent)
    return found


def judge(rerun_return: float, committed: list[float]) -> tuple[str, str]:
    """'same distribution' or 'different', and the sentence that says why."""
    low, high = prediction_interval(committed)
    inside = low <= rerun_return <= high
    text = (f"the rerun's final return {rerun_return:.2f} lies {'inside' if inside else 'outside'} "
            f"the {CI_LEVEL:.0%} prediction interval [{low:.2f}, {high:.2f}] of the {len(committed)} "
            f"committed seeds (final returns {', '.join(f'{v:.1f}' for v in committed)})")
    return ("same distribution" if inside else "different"), text


def rerun_check(run_dir: Path, train: Callable[[list[str]], int],
                seeds_of: str | Path | None = None, out: Path | None = None) -> tuple[str, str]:
    """Rerun `run_dir` into `out` (default: a new temporary folder) and judge it: (verdict,
    report); the verdict is one of VERDICTS and starts the report. `train` runs the command
    line of `jepa-bench` it is given (the CLI's main) and returns its exit status."""
    from jepa_bench.rl.machine import machine_info

    paths = RunPaths(Path(run_dir))
    if not paths.run_json.is_file():
        raise ValueError(f"{run_dir} holds no run.json; rerun-check takes a finished run folder")
    info = read_json(paths.run_json)  # a file that is not a JSON object: one line naming it
    if seeds_of is not None and not Path(seeds_of).is_dir():  # before an hour of training
        raise ValueError(f"--seeds-of {seeds_of} is not a folder; give the folder that holds the "
                         "configuration's seed folders")
    if info.get("status") != "complete":
        raise ValueError(f"{run_dir} is not a complete run (status {info.get('status')!r})")
    out = Path(out) if out else Path(tempfile.mkdtemp(prefix="jepa-bench-rerun-")) / "run"
    if out.exists() and any(out.iterdir()):  # before training: one line, not train's and ours
        raise ValueError(f"--out {out} is not empty; rerun-check trains a fresh run: give a new "
                         "folder, or none for a temporary one")
    code = train(rerun_args(info, out))
    if code != 0:
        raise ValueError(f"the rerun into {out} failed with exit status {code}")
    made = read_json(RunPaths(out).run_json).get("config") or {}
    diff = config_differences(made, info.get("config") or {})
    if diff:  # the contract rerun_args keeps, checked on what was trained
        raise ValueError(f"the rerun in {out} was made with another config than {run_dir} "
                         f"(differs in: {', '.join(diff)})")
    here, there = machine_info(), info.get("machine") or {}
    machines = (f"committed on {there.get('cpu', 'an unrecorded CPU')}, rerun on {here['cpu']} "
                f"(torch {info.get('versions', {}).get('torch', '?')} vs "
                f"{read_json(RunPaths(out).run_json)['versions']['torch']}, "
                f"{info.get('threads')} thread(s))")
    same, report = describe(paths.root, out)
    if same:
        return "same run", f"same run: {report}; {machines}"
    folder = Path(seeds_of) if seeds_of else paths.root.parent
    runs = seed_runs(folder, info)
    if paths.root.resolve() not in [r.resolve() for r in runs]:
        runs.append(paths.root)
    committed = [run_final_return(r) for r in runs]
    verdict, why = judge(run_final_return(out), committed)
    first = report.splitlines()[1].strip() if len(report.splitlines()) > 1 else report
    return verdict, (f"{verdict}: not the same run (first difference: {first}); {why}; "
                     f"{machines}; rerun in {out}")
