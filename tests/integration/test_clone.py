"""A fresh clone, as a new user gets it: the tiny pipeline killed by SIGKILL during training and
run again with the same command (no --unlock, no --rerun-incomplete), then a changed config
refused where another experiment's outputs are (the tiny run's and the committed results/v1/)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SNAKEMAKE = shutil.which("snakemake", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
pytestmark = pytest.mark.skipif(SNAKEMAKE is None or shutil.which("git") is None,
                                reason="needs snakemake and git")


def _clone(dst: Path) -> Path:
    """`git clone` of this repository, with the working tree's uncommitted edits laid over it."""
    subprocess.run(["git", "clone", "-q", str(REPO), str(dst)], check=True)
    changed = subprocess.run(["git", "ls-files", "-m"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.split()
    for rel in changed:
        if (REPO / rel).is_file():
            shutil.copy2(REPO / rel, dst / rel)
    return dst


@pytest.mark.slow  # about 2-3 minutes on 2 cores: the tiny preset trains for real, twice in part
def test_killed_pipeline_continues_and_a_changed_config_is_refused(tmp_path):
    clone = _clone(tmp_path / "clone")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=str(clone))
    tiny = [SNAKEMAKE, "-c2", "--configfile", "workflow/config/tiny.yaml"]
    proc = subprocess.Popen(tiny, cwd=clone, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    runs = clone / "results" / "smoke" / "runs"
    deadline = time.monotonic() + 300
    while not list(runs.glob("*/seed*/.train.lock")) and time.monotonic() < deadline:
        assert proc.poll() is None, "the pipeline ended before it could be killed"
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)  # the Snakemake process only: its trainings run on
    proc.wait()
    assert list((clone / ".snakemake" / "locks").glob("*")), "a killed Snakemake leaves locks"

    res = subprocess.run(tiny, cwd=clone, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Using workflow specific profile profiles/default" in res.stderr
    for run in runs.glob("*/seed*/run.json"):
        assert json.loads(run.read_text())["status"] == "complete"
    assert len(list(runs.glob("*/seed*/run.json"))) == 4
    assert (clone / "results" / "smoke" / "claims.json").is_file()
    manifest = json.loads((clone / "results" / "smoke" / "experiment.json").read_text())
    assert manifest["seeds"] == [0, 1] and manifest["total_steps"] == 512

    def dry(*args):
        return subprocess.run([SNAKEMAKE, "-n", *args], cwd=clone, env=env, capture_output=True,
                              text=True, timeout=300)

    # the tiny run's folder, then the committed reference results of set v1: refused in one line
    v1 = ["--configfile", "workflow/config/v1.yaml"]
    for args in (["--configfile", "workflow/config/tiny.yaml", "--config", "seeds=[0]"],
                 [*v1, "--config", "seeds=[0,1]"],
                 [*v1, "--config", "total_steps=20000", "renderer=gym"]):
        res = dry(*args)
        assert res.returncode == 2, res.stdout
        line = res.stderr.strip().splitlines()[-1]
        assert line.startswith("jepa-bench workflow: error: config differs from the experiment")
        assert "--config results_root=" in line
    # the same change in a fresh folder is fine; so is the unchanged default in the clone
    assert dry("--configfile", "workflow/config/tiny.yaml", "--config", "seeds=[0]",
               "results_root=results/smoke-one").returncode == 0
    assert dry().returncode == 0
    status = subprocess.run(["git", "status", "--porcelain", "results"], cwd=clone,
                            capture_output=True, text=True).stdout
    assert status == "", status  # nothing committed was touched


def test_a_fresh_clone_does_not_redo_committed_results(tmp_path):
    """Git writes a checkout in path order, so results/v2/recovery/recovery/a2c/ (outputs) lands
    before .../collapse/ (their inputs); without the commit times of workflow_config's
    sync_commit_times the recovery preset would retrain ten committed runs, and the trained-encoder
    preset would redo twenty probes."""
    clone = _clone(tmp_path / "clone")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=str(clone))
    for preset in ("recovery", "a2c-grid-v2-a2c", "recovery-shared", "full-grid"):
        res = subprocess.run([SNAKEMAKE, "-n", "--configfile", f"workflow/config/{preset}.yaml"],
                             cwd=clone, env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        assert "Nothing to be done" in res.stdout + res.stderr, (preset, res.stdout[-2000:])
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True,
                            text=True).stdout
    assert all(line[3:].startswith(("jepa_bench/", "tests/", "workflow/", "docs/", "README"))
               for line in status.splitlines()), status  # only the laid-over edits
