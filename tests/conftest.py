"""Fixtures every test folder shares: a run-folder factory on the trainer's own writers, the
gymnasium reference renderer, one torch thread, and the Snakemake runner of the workflow tests.

Tests import these as fixtures only; no test module imports another."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jepa_bench.layout import RunPaths
from jepa_bench.metrics import EPISODE_COLUMNS, METRIC_COLUMNS, write_csv_atomic, write_json_atomic

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAKEMAKE = shutil.which("snakemake", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def _column(value, n: int) -> list:
    """A scalar or a sequence as n plain Python values (numpy scalars would be written as
    'np.float64(...)' by the CSV writer)."""
    arr = np.broadcast_to(np.asarray(value, dtype=float), (n,))
    return [float(v) for v in arr]


def write_run_folder(paths, *, config_name: str, seed: int, metric_steps, episode_steps=(),
                     episode_returns=(), status: str = "complete", env_steps: int | None = None,
                     config: dict | None = None, **columns) -> RunPaths:
    """A run folder as `jepa-bench train` writes it, with made-up numbers.

    ``paths``: a RunPaths (``RunPaths.of(root, config, seed)``, ``collapse_paths(...)``) or a
    folder. metrics.csv gets one row per entry of ``metric_steps`` with every METRIC_COLUMNS
    column: ``update`` 1, 2, ..., ``wall_time`` env_step / 100, ``episodic_return`` empty, and
    0.5 in every other column unless ``columns`` gives a scalar or one value per row (NaN writes
    an empty cell). episodes.csv gets (env_step, return, length 1). run.json gets the config
    name, seed, status, env_steps (default: the last metrics step), config (default {}) and any
    of ``columns`` that is not a metrics column (e.g. ``init_from``).
    """
    paths = paths if isinstance(paths, RunPaths) else RunPaths(paths)
    steps = [int(s) for s in np.asarray(metric_steps)]
    n = len(steps)
    extra = {k: v for k, v in columns.items() if k not in METRIC_COLUMNS}
    values = {c: _column(0.5, n) for c in METRIC_COLUMNS}
    values.update(update=list(range(1, n + 1)), env_step=steps,
                  wall_time=[s / 100.0 for s in steps], episodic_return=_column(np.nan, n))
    values.update({k: _column(v, n) for k, v in columns.items() if k in METRIC_COLUMNS})
    rows = [{c: values[c][i] for c in METRIC_COLUMNS} for i in range(n)]
    write_csv_atomic(paths.metrics, METRIC_COLUMNS, rows)
    ep_steps = [int(s) for s in np.asarray(episode_steps)]
    ep_returns = _column(episode_returns, len(ep_steps)) if ep_steps else []
    write_csv_atomic(paths.episodes, EPISODE_COLUMNS,
                     [{"env_step": s, "return": r, "length": 1} for s, r in zip(ep_steps, ep_returns)])
    write_json_atomic(paths.run_json, {
        "config_name": config_name, "seed": seed, "status": status,
        "env_steps": steps[-1] if env_steps is None and steps else env_steps,
        "config": config if config is not None else {}, **extra})
    return paths


@pytest.fixture
def run_folder():
    """The run-folder factory ``write_run_folder`` (see its docstring)."""
    return write_run_folder


@pytest.fixture(scope="session")
def gym_renderer():
    """gymnasium's own CartPole picture, the reference the fast renderer is checked against."""
    from jepa_bench.rl.render import GymRenderer

    g = GymRenderer()
    yield g
    g.close()


@pytest.fixture
def one_thread():
    """torch on one CPU thread for the duration of a test (benchmarks compare like with like)."""
    from jepa_bench.tools import bench

    with bench.num_threads(1):
        yield


def _snakemake(*args, path_prefix=None, timeout=300):
    """Run snakemake from the repository root (the package on PYTHONPATH, `path_prefix` first
    on PATH); returns the CompletedProcess."""
    if SNAKEMAKE is None:
        pytest.skip("snakemake is not installed")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(str(p) for p in (path_prefix, BIN, env.get("PATH", "")) if p)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), env.get("PYTHONPATH"))))
    return subprocess.run([SNAKEMAKE, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


STAND_IN_HEAD = '''#!{python}
"""Stand-in `jepa-bench`: {handles} write synthetic results (no training) and log their
arguments to $STAND_IN_LOG, one JSON list a line; every other subcommand is the real CLI."""
import argparse, json, os, sys
from pathlib import Path

if sys.argv[1] not in {handles!r}:
    from jepa_bench.cli import main
    raise SystemExit(main(sys.argv[1:]))
with open(os.environ["STAND_IN_LOG"], "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
TRAIN = argparse.ArgumentParser()  # what the workflow's train_shell passes
for opt in ("--config", "--seed", "--total-steps", "--out", "--renderer", "--device", "--threads",
            "--settings", "--init-from"):
    TRAIN.add_argument(opt)
TRAIN.add_argument("--set", action="append", default=[])
for flag in ("--resume", "--quiet", "--grad-diagnostic"):
    TRAIN.add_argument(flag, action="store_true")
'''


def _stand_in(folder: Path, body: str, handles=("train",)) -> tuple[Path, Path]:
    """Write a stand-in `jepa-bench` into folder/bin: STAND_IN_HEAD, then `body` (both
    str.format-ed with `python`, so the body doubles its braces), run for the subcommands in
    `handles`. Returns (the bin folder, for _snakemake's path_prefix; the log it writes to, which
    the caller exports as STAND_IN_LOG)."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "jepa-bench"
    script.write_text((STAND_IN_HEAD + body).format(python=sys.executable, handles=tuple(handles)))
    script.chmod(0o755)
    return bin_dir, folder / "stand-in-calls.jsonl"


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """``stand_in(body, handles=("train",))`` -> (bin folder, calls): a stand-in `jepa-bench` on
    STAND_IN_HEAD (which parses train's options into TRAIN) for the workflow tests; `calls()` is
    the list of argument lists it was called with."""
    def make(body: str, handles=("train",)):
        bin_dir, log = _stand_in(tmp_path, body, handles)
        monkeypatch.setenv("STAND_IN_LOG", str(log))
        def calls():
            return [json.loads(line) for line in log.read_text().splitlines()]
        return bin_dir, calls
    return make


def _job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    table = output.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


@pytest.fixture
def snakemake():
    """``snakemake(*args, path_prefix=None, timeout=300)``; skips the test without snakemake."""
    return _snakemake


@pytest.fixture
def job_counts():
    """``job_counts(dry_run_stdout)`` -> {rule: number of jobs}."""
    return _job_counts


@pytest.fixture(scope="session")
def tiny_results(tmp_path_factory):
    """The tiny preset trained for real once a session (about a minute on 2 cores): the
    ``--config`` arguments it ran with and its results folder, shared by the tests that need a
    finished pipeline (the run itself, its HTML report). A test that changes the folder must
    leave it complete again."""
    results = tmp_path_factory.mktemp("tiny") / "results"
    args = ["--cores", "2", "--configfile", "workflow/config/tiny.yaml",
            "--config", f"results_root={results}"]
    res = _snakemake(*args, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    return args, results


class GitRepo:
    """A throwaway git repository: `commit(message, when)` commits everything at the Unix time
    `when` (author and committer) and returns the full hash."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.run("init", "-q")

    def run(self, *args: str, when: int | None = None) -> str:
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
        if when is not None:
            env |= {"GIT_AUTHOR_DATE": f"@{when} +0000", "GIT_COMMITTER_DATE": f"@{when} +0000"}
        return subprocess.run(["git", *args], cwd=self.root, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()

    def commit(self, message: str, when: int) -> str:
        self.run("add", "-A")
        self.run("commit", "-q", "--allow-empty", "-m", message, when=when)
        return self.run("rev-parse", "HEAD")


@pytest.fixture
def git_repo(tmp_path):
    """A GitRepo in tmp_path/repo (skipped without git)."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    return GitRepo(tmp_path / "repo")
