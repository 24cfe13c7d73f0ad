"""Where runs live: the one owner of the run-folder layout and of a run folder's file names.

    RunPaths.of("results/runs", "j1g1r0", 0).metrics     # results/runs/j1g1r0/seed0/metrics.csv
    collapse_paths("results/recovery", "ppo", 3).checkpoint
    switch_paths("results/recovery", "ppo", "grad_on", 3).run_json
    probe_json("results/v2", "j1g1r0", 0)                # results/v2/probe/j1g1r0/seed0.json

A run of configuration ``config`` and seed ``seed`` lives in ``{root}/{config}/seed{seed}``, a
function of (root, config, seed) and never of the time. The recovery experiment keeps its two
training stages under one root: ``{root}/collapse/{algo}/seed{seed}`` (stage 1) and
``{root}/{algo}/{arm}/seed{seed}`` (stage 2, one folder per arm). The calibration keeps its
training stages as ``{root}/{stage}/{cell}/seed{seed}``, and a probe of an encoder writes
``{root}/probe/{name}/seed{seed}.json``.

Every part of the package and of the workflow that names a run folder or one of its files asks
this module: the trainer's default output folder, the Snakemake rules' outputs (their wildcards
are passed in place of the config, algorithm, arm and seed), the aggregate, the recovery report,
`jepa-bench compare`. Nothing else spells ``seed{seed}``, ``run.json`` or
``checkpoints/last.pt`` or ``encoder/step{env_step}.pt``.

This module must stay a leaf: standard library only, no reading or writing of files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_RUNS_ROOT", "RunPaths", "calibration_paths", "calibration_winner_json",
           "check_seeds", "collapse_paths", "probe_json", "probe_name_of", "recovery_root_of",
           "run_dir", "runs_root_of", "switch_paths"]

DEFAULT_RUNS_ROOT = "runs"
"""Where `jepa-bench train` puts a run when no --out is given (git ignores it); the workflow's
runs live under its config's runs_root instead."""
RUN_JSON = "run.json"
METRICS_CSV = "metrics.csv"
EPISODES_CSV = "episodes.csv"
CHECKPOINT = ("checkpoints", "last.pt")
CHECKPOINT_RECORD = ("checkpoints", "run.json")
ENCODER_DIR = "encoder"
COLLAPSE_STAGE = "collapse"
PROBE_DIR = "probe"


def check_seeds(seeds) -> list[int]:
    """The seeds of an experiment as ints >= 0, in order; ValueError if none, one is negative
    (a seed names a folder) or one is given twice (a run would count twice, as the workflow's
    schema refuses too)."""
    seeds = [int(x) for x in seeds]
    if not seeds or any(x < 0 for x in seeds):
        raise ValueError(f"seeds={seeds} is not allowed: give at least one seed, every seed >= 0")
    twice = sorted({x for x in seeds if seeds.count(x) > 1})
    if twice:
        raise ValueError(f"seeds={seeds} is not allowed: {', '.join(map(str, twice))} given "
                         "twice; give each seed once")
    return seeds


def run_dir(root, config: str, seed) -> Path:
    """The folder of one run: ``{root}/{config}/seed{seed}``. ``seed`` may be a Snakemake
    wildcard such as ``"{seed}"``; so may ``config``."""
    return Path(root) / str(config) / f"seed{seed}"


@dataclass(frozen=True)
class RunPaths:
    """The files of one run folder: run.json, metrics.csv, episodes.csv, checkpoints/last.pt and
    the x-encoder's snapshots encoder/step{env_step}.pt."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def of(cls, runs_root, config: str, seed) -> "RunPaths":
        """The run folder of (config, seed) under ``runs_root``."""
        return cls(run_dir(runs_root, config, seed))

    @property
    def run_json(self) -> Path:
        return self.root / RUN_JSON

    @property
    def metrics(self) -> Path:
        return self.root / METRICS_CSV

    @property
    def episodes(self) -> Path:
        return self.root / EPISODES_CSV

    @property
    def checkpoint(self) -> Path:
        return self.root.joinpath(*CHECKPOINT)

    @property
    def checkpoint_record(self) -> Path:
        """run.json as it was when the checkpoint was last written, beside it: what `--resume`
        reads when run.json is gone (Snakemake deletes an incomplete job's outputs before it
        reruns the job), so that the earlier sessions stay on record."""
        return self.root.joinpath(*CHECKPOINT_RECORD)

    def encoder_snapshot(self, env_step: int) -> Path:
        """The x-encoder's weights as they were at `env_step`: ``encoder/step{env_step}.pt``."""
        return self.root / ENCODER_DIR / f"step{int(env_step)}.pt"

    def encoder_snapshots(self) -> list[Path]:
        """The encoder snapshots the run folder holds, in order of their step."""
        found = self.root.joinpath(ENCODER_DIR).glob("step*.pt")
        return sorted(found, key=lambda p: int(p.stem[4:]) if p.stem[4:].isdigit() else -1)

    def results(self) -> tuple[Path, Path, Path]:
        """The three files a finished run leaves (the checkpoint is not one of them)."""
        return self.run_json, self.metrics, self.episodes


def collapse_paths(root, algo: str, seed) -> RunPaths:
    """Stage 1 of the recovery experiment: ``{root}/collapse/{algo}/seed{seed}``."""
    return RunPaths(run_dir(Path(root) / COLLAPSE_STAGE, algo, seed))


def switch_paths(root, algo: str, arm: str, seed) -> RunPaths:
    """Stage 2 of the recovery experiment, one arm: ``{root}/{algo}/{arm}/seed{seed}``."""
    return RunPaths(run_dir(Path(root) / str(algo), arm, seed))


def calibration_paths(root, stage: str, cell: str, seed) -> RunPaths:
    """A training run of the calibration, one stage and cell: ``{root}/{stage}/{cell}/seed{seed}``."""
    return RunPaths(run_dir(Path(root) / str(stage), cell, seed))


def calibration_winner_json(root, stage: str) -> Path:
    """The cell a calibration stage's preregistered rule chose (`jepa-bench calibration-winner`):
    ``{root}/{stage}-winner.json``."""
    return Path(root) / f"{stage}-winner.json"


def probe_json(root, name: str, seed) -> Path:
    """The result of one probe (`jepa-bench probe --json`): ``{root}/probe/{name}/seed{seed}.json``,
    ``name`` being the probed configuration (probe experiment) or calibration cell."""
    return Path(root) / PROBE_DIR / str(name) / f"seed{seed}.json"


def probe_name_of(probe_file) -> str:
    """The configuration or cell a probe result belongs to: the inverse of ``probe_json``."""
    return Path(probe_file).parent.name


def runs_root_of(run_file) -> Path:
    """The runs root a file of a run folder lies under: the inverse of ``RunPaths.of`` (for a
    Snakemake rule, which must take a path prefix from its inputs, not from the config)."""
    return Path(run_file).parents[2]


def recovery_root_of(collapse_file) -> Path:
    """The recovery root a file of a stage-1 run folder lies under: the inverse of
    ``collapse_paths``."""
    return Path(collapse_file).parents[3]
