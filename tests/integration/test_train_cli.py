"""The `jepa-bench train` command end to end: run folders, determinism, kill and resume, bad input."""

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jepa_bench.cli import main
from jepa_bench.config import CONFIGS, resolve
from jepa_bench.metrics import EPISODE_COLUMNS, METRIC_COLUMNS, TIMING_COLUMNS

TINY = ["--set", "num_envs=2", "--set", "num_steps=16", "--set", "depth=1",
        "--set", "checkpoint_every=1", "--threads", "1", "--device", "cpu", "--quiet"]


def _train(out, config="j1g1r0", seed=0, steps=64, extra=()):
    return main(["train", "--config", config, "--seed", str(seed), "--total-steps", str(steps),
                 "--out", str(out), *TINY, *extra])


def _rows(path, drop=TIMING_COLUMNS):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


@pytest.mark.parametrize("config", list(CONFIGS))
def test_every_configuration_writes_its_run_folder(tmp_path, config):
    out = tmp_path / config
    assert _train(out, config=config) == 0
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "complete" and info["config_name"] == config
    assert info["env_steps"] == 64 and info["config"]["total_steps"] == 64
    assert {"torch", "gymnasium"} <= set(info["versions"])
    with open(out / "metrics.csv") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == METRIC_COLUMNS
    rows = _rows(out / "metrics.csv", drop=())
    assert [int(r["env_step"]) for r in rows] == [32, 64]
    for r in rows:  # logged in every configuration, so curves compare like with like
        assert float(r["jepa_loss"]) >= 0 and float(r["embed_var"]) >= 0
        assert 1.0 <= float(r["embed_rank"]) <= 64.0
    with open(out / "episodes.csv") as fh:
        assert tuple(next(csv.reader(fh))) == EPISODE_COLUMNS
    assert (out / "checkpoints" / "last.pt").exists()


def test_same_seed_gives_identical_csvs_apart_from_timing(tmp_path):
    assert _train(tmp_path / "a", seed=3, steps=96) == 0
    assert _train(tmp_path / "b", seed=3, steps=96) == 0
    assert _train(tmp_path / "c", seed=4, steps=96) == 0
    for name in ("metrics.csv", "episodes.csv"):
        assert _rows(tmp_path / "a" / name) == _rows(tmp_path / "b" / name)
    assert _rows(tmp_path / "a" / "metrics.csv") != _rows(tmp_path / "c" / "metrics.csv")
    # `jepa-bench compare` says the same: 0 for the rerun, 1 for another seed
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "c")]) == 1


# `jepa-bench train` in a child process that SIGKILLs itself inside a chosen minibatch step: a
# deterministic stop point, halfway through an update, after the checkpoints of those before it.
KILLED_TRAIN = """
import os, signal, sys
import jepa_bench.train as train
from jepa_bench.cli import main
kill_at, calls, real = int(sys.argv[1]), [0], train.minibatch_loss
def dying(*args, **kwargs):
    calls[0] += 1
    if calls[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
train.minibatch_loss = dying
sys.exit(main(sys.argv[2:]))
"""


def test_killed_process_resumes_to_the_same_metrics(tmp_path):
    steps = 320  # 10 updates of 32 steps
    ref = tmp_path / "ref"
    assert _train(ref, steps=steps) == 0

    out = tmp_path / "killed"
    cfg = resolve("j1g1r0", {"num_envs": 2, "num_steps": 16, "depth": 1})
    per_update = cfg.update_epochs * cfg.num_minibatches  # minibatch steps in one update
    kill_at = 3 * per_update + per_update // 2  # inside update 4, after 3 checkpoints
    cmd = [sys.executable, "-c", KILLED_TRAIN, str(kill_at), "train", "--config", "j1g1r0",
           "--seed", "0", "--total-steps", str(steps), "--out", str(out), *TINY]
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    assert len(_rows(out / "metrics.csv")) == 3  # the rows of the last checkpoint, no more

    assert _train(out, steps=steps, extra=["--resume"]) == 0
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    for name in ("metrics.csv", "episodes.csv"):
        assert _rows(out / name) == _rows(ref / name)


def test_complete_run_is_not_overwritten_without_resume_or_force(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    assert _train(out) == 2
    err = capsys.readouterr().err.strip()
    assert "already holds a complete run" in err and "\n" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert _train(out, extra=["--resume"]) == 0  # complete: nothing to do
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert _train(out, extra=["--force"]) == 0


@pytest.mark.parametrize("args, message", [
    (["--config", "j9g9r9", "--seed", "0"], "unknown config 'j9g9r9'; valid names: j0g0r0"),
    (["--config", "j1g1r0", "--seed", "0", "--set", "bogus=1"], "unknown --set key 'bogus'"),
    (["--config", "j1g1r0", "--seed", "0", "--set", "lr=fast"], "--set lr='fast': expected a float"),
    (["--config", "j1g1r0", "--seed", "0", "--set", "jepa=0"], "--set jepa is fixed"),
    (["--config", "j1g1r0", "--seed", "0", "--total-steps", "0"], "0 must be a positive integer"),
    (["--config", "j1g1r0", "--seed", "-1"], "-1 must be >= 0"),
    (["--config", "j1g1r0", "--seed", "0", "--renderer", "vulkan"], "invalid choice: 'vulkan'"),
    (["--config", "j1g1r0", "--seed", "0", "--set", "patch=7"], "patch"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exc_info:
        code = main(["train", *args, "--out", str(tmp_path / "x"), "--quiet"])
        raise SystemExit(code)
    assert exc_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x" / "metrics.csv").exists()


def test_diverging_run_is_marked_failed_and_keeps_its_rows(tmp_path, capsys):
    out = tmp_path / "nan"
    code = _train(out, steps=320, extra=["--set", "lr=1e30", "--set", "max_grad_norm=1e30",
                                         "--set", "anneal_lr=false"])
    assert code == 1
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "failed"
    assert "env_step" in info["error"] and ("nan" in info["error"] or "inf" in info["error"])
    assert "training diverged" in capsys.readouterr().err
    rows = _rows(out / "metrics.csv")
    assert len(rows) == info["updates"]


def test_configs_command_lists_every_name_with_notation(capsys):
    assert main(["configs"]) == 0
    out = capsys.readouterr().out
    for name, named in CONFIGS.items():
        assert name in out and named.notation in out
