"""The `jepa-bench train` command end to end: run folders, determinism, kill and resume, bad input."""

import csv
import json
import os
import signal
import subprocess
import sys

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


# `jepa-bench train` in a child process that sends itself a signal (argv[1]) inside a chosen
# minibatch step (argv[2], counted over this process): a deterministic stop point, halfway
# through an update, after the updates before it.
SIGNALLED_TRAIN = """
import os, signal, sys
import jepa_bench.rl.trainer as trainer
from jepa_bench.cli import main
sig, at, calls, real = signal.Signals[sys.argv[1]], int(sys.argv[2]), [0], trainer.minibatch_step
def signalled(*args, **kwargs):
    calls[0] += 1
    if calls[0] == at:
        os.kill(os.getpid(), sig)
    return real(*args, **kwargs)
trainer.minibatch_step = signalled
sys.exit(main(sys.argv[3:]))
"""


def _signalled(out, steps, sig, at, extra=()):
    """`jepa-bench train` into `out` in a child that sends itself `sig` in minibatch step `at`."""
    cmd = [sys.executable, "-c", SIGNALLED_TRAIN, sig, str(at), "train", "--config", "j1g1r0",
           "--seed", "0", "--total-steps", str(steps), "--out", str(out), *TINY, *extra]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=300)


def _per_update():
    """Minibatch steps in one update of the TINY runs."""
    cfg = resolve("j1g1r0", {"num_envs": 2, "num_steps": 16, "depth": 1})
    return cfg.update_epochs * cfg.num_minibatches


@pytest.mark.parametrize("outputs_deleted", [False, True])
def test_killed_process_resumes_to_the_same_metrics(tmp_path, outputs_deleted):
    """SIGKILL inside an update, then --resume: the same run. With outputs_deleted, run.json and
    the CSVs are gone before the resume, as Snakemake deletes an incomplete job's outputs; the
    killed session stays on record (the copy of run.json beside the checkpoint)."""
    steps = 320  # 10 updates of 32 steps
    ref = tmp_path / "ref"
    assert _train(ref, steps=steps) == 0

    out = tmp_path / "killed"
    per_update = _per_update()
    kill_at = 3 * per_update + per_update // 2  # inside update 4, after 3 checkpoints
    proc = _signalled(out, steps, "SIGKILL", kill_at)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    assert len(_rows(out / "metrics.csv")) == 3  # the rows of the last checkpoint, no more
    if outputs_deleted:
        for name in ("run.json", "metrics.csv", "episodes.csv"):
            (out / name).unlink()

    assert _train(out, steps=steps, extra=["--resume"]) == 0
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "complete"
    assert [(x["first_update"], x["end"]) for x in info["sessions"]] == [(0, None), (3, "complete")]
    assert info["started_at"] == info["sessions"][0]["started_at"]
    for name in ("metrics.csv", "episodes.csv"):
        assert _rows(out / name) == _rows(ref / name)


def _checkpoint_update(out):
    import torch
    return torch.load(out / "checkpoints" / "last.pt", weights_only=False)["update"]


@pytest.mark.slow  # about 12 s: two child processes, each importing torch
def test_sigint_and_sigterm_stop_cleanly_and_resume_to_the_same_run(tmp_path):
    """Issue 28 item 3: Ctrl-C (SIGINT) or SIGTERM halfway through an update keeps every
    complete update (here between periodic checkpoints), marks the run 'interrupted', says in
    one line how to resume and exits 128 + the signal's number; resumed, it is the same run."""
    steps, per_update = 320, _per_update()  # 10 updates of 32 steps
    every5 = ["--set", "checkpoint_every=5"]
    ref = tmp_path / "ref"
    assert _train(ref, steps=steps, extra=every5) == 0
    out = tmp_path / "stopped"
    for sig, code, at, done in (("SIGINT", 130, 3 * per_update + 2, 3),
                                ("SIGTERM", 143, 4 * per_update - 1, 6)):
        extra = every5 + (["--resume"] if sig == "SIGTERM" else [])
        proc = _signalled(out, steps, sig, at, extra)
        assert proc.returncode == code, proc.stderr
        err = proc.stderr.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert err.startswith(f"jepa-bench train: stopped by {sig} at env step {32 * done} ")
        assert err.endswith("--resume") and "--force" not in err
        info = json.loads((out / "run.json").read_text())
        assert (info["status"], info["interrupted_by"]) == ("interrupted", sig)
        assert (info["updates"], info["env_steps"]) == (done, 32 * done)
        assert info["sessions"][-1]["end"] == f"interrupted ({sig})" and info["ended_at"]
        assert _checkpoint_update(out) == done  # the last complete update, not update 0 or 5
        assert _rows(out / "metrics.csv") == _rows(ref / "metrics.csv")[:done]
    assert _train(out, steps=steps, extra=every5 + ["--resume"]) == 0
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "complete" and "interrupted_by" not in info
    assert [s["end"] for s in info["sessions"]] == ["interrupted (SIGINT)",
                                                    "interrupted (SIGTERM)", "complete"]
    assert main(["compare", str(ref), str(out)]) == 0


# a run started as a child process, then stopped from outside at whatever point it has reached
SIGNAL_FROM_OUTSIDE = [sys.executable, "-m", "jepa_bench", "train", "--config", "j1g1r0",
                       "--seed", "0", "--total-steps", "960", *TINY]


@pytest.mark.slow  # about 20 s: three child processes, each importing torch
def test_signals_from_outside_stop_a_real_run_that_resumes_to_the_same_run(tmp_path):
    import time
    ref, out = tmp_path / "ref", tmp_path / "run"
    assert _train(ref, steps=960) == 0
    for sig in (signal.SIGINT, signal.SIGTERM):
        extra = ["--resume"] if sig == signal.SIGTERM else []
        child = subprocess.Popen([*SIGNAL_FROM_OUTSIDE, "--out", str(out), *extra],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        before = json.loads((out / "run.json").read_text())["updates"] if extra else 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until this child has made an update of its own
            try:
                if json.loads((out / "run.json").read_text())["updates"] > before:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        child.send_signal(sig)
        _, err = child.communicate(timeout=120)
        assert child.returncode == 128 + sig.value, err
        assert len(err.strip().splitlines()) == 1 and err.strip().endswith("--resume")
        info = json.loads((out / "run.json").read_text())
        assert info["status"] == "interrupted" and 0 < info["updates"] < 30
    assert _train(out, steps=960, extra=["--resume"]) == 0
    assert main(["compare", str(ref), str(out)]) == 0


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


def test_a_complete_run_whose_metrics_are_cut_short_is_named_not_passed(tmp_path, capsys):
    out = tmp_path / "j1g1r0" / "seed0"
    assert _train(out) == 0  # 64 steps of 32: two updates, two metrics rows
    metrics = out / "metrics.csv"
    text = metrics.read_text()
    metrics.write_text(text[:text.rindex("\n", 0, len(text) - 1) + 20])  # a disk that filled up
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    assert _train(out, extra=["--resume"]) == 2  # not "complete, nothing to do"
    err = capsys.readouterr().err.strip()
    assert "holds a complete run whose files are damaged" in err and "\n" not in err
    assert "metrics.csv holds 1 whole rows and a last row cut off, but its run.json records 2 " \
           "updates" in err and "pass --resume to write its tables again from" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert main(["compare", str(out), str(out)]) == 2
    assert "a last row cut off" in capsys.readouterr().err
    assert main(["aggregate", "--runs-root", str(tmp_path), "--configs", "j1g1r0", "--seeds", "0",
                 "--total-steps", "64", "--out", str(tmp_path / "summary")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{metrics} holds 1 whole rows" in err and "\n" not in err
    assert not (tmp_path / "summary").exists()
    (out / "run.json").rename(tmp_path / "run.json.aside")  # the way the message gives
    assert _train(out, extra=["--resume"]) == 0
    assert metrics.read_text() == text and json.loads((out / "run.json").read_text())["status"] \
        == "complete"


@pytest.mark.parametrize("args, message", [
    (["--config", "j9g9r9", "--seed", "0"], "unknown config 'j9g9r9'; valid names: j0g0r0"),
    (["--config", "j1g1r0", "--seed", "0", "--set", "bogus=1"], "unknown --set key 'bogus'"),
    (["--config", "j1g1r0", "--seed", "0", "--set", "lr=fast"], "--set lr='fast': expected a number"),
    (["--config", "j1g1r0", "--seed", "0", "--set", "jepa=0"], "--set jepa is fixed"),
    (["--config", "j1g1r0", "--seed", "0", "--set", "total_steps=0"],
     "error: --set total_steps is not allowed: use --total-steps (the workflow: config "
     "total_steps)"),
    (["--config", "j1g1r0", "--seed", "0", "--total-steps", "0"], "0 must be a positive integer"),
    (["--config", "j1g1r0", "--seed", "4_0"], "argument --seed: '4_0' is not an integer"),
    (["--config", "j1g1r0", "--seed", "-1"], "-1 must be >= 0"),
    (["--config", "j1g1r0", "--seed", "0", "--renderer", "vulkan"], "invalid choice: 'vulkan'"),
    (["--config", "j1g1r0", "--seed", "0", "--set", "patch=7"], "patch"),
    # beyond what torch takes: one line, not an OverflowError or an OpenMP crash
    (["--config", "j1g1r0", "--seed", str(2**64)],
     f"{2**64} is too large (allowed: 0 to {2**63 - 1})"),
    (["--config", "j1g1r0", "--seed", "0", "--threads", "99999"],
     "--threads: 99999 is too large (allowed: 1 to 1024)"),
    (["--config", "j1g1r0", "--seed", "0", "--resume", "--force"],
     "argument --force: not allowed with argument --resume"),
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


# --- issue 14: checkpoints, folders, resume semantics, help ----------------------------------

@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated"])
def test_unreadable_checkpoint_is_one_line_exit_2_and_kept(tmp_path, capsys, content):
    out = tmp_path / "run"
    assert _train(out, steps=64, extra=["--set", "checkpoint_every=1"]) == 0
    info = json.loads((out / "run.json").read_text())
    info["status"] = "running"
    (out / "run.json").write_text(json.dumps(info))
    (out / "checkpoints" / "last.pt").write_bytes(content)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert _train(out, steps=64, extra=["--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "last.pt cannot be read" in err and "--force" in err
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_unwritable_out_is_one_line_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert _train(blocker / "run") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot use" in err and str(blocker) in err


def test_missing_input_is_one_line_exit_2_naming_it(tmp_path, capsys):
    missing = tmp_path / "no-summary"
    assert main(["claims", "--summary", str(missing), "--out", str(tmp_path / "c.md")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot read" in err and str(missing) in err
    assert "nothing was overwritten" not in err
    assert not (tmp_path / "c.md").exists()


def test_permission_error_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    import jepa_bench.rl.run as train_module

    def refuse(path, data):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(train_module, "write_json_atomic", refuse)
    assert _train(tmp_path / "run") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Permission denied" in err and "run.json" in err


def test_resume_without_a_run_says_so(tmp_path, capsys):
    assert _train(tmp_path / "new", extra=["--resume"]) == 0
    assert "no run in" in capsys.readouterr().err


def test_resume_with_another_seed_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out, seed=0) == 0
    capsys.readouterr()
    assert _train(out, seed=7, extra=["--resume"]) == 2
    assert "holds seed 0, not seed 7" in capsys.readouterr().err


def test_a_finished_run_can_be_extended_with_an_explicit_lr_schedule(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out, steps=64) == 0  # 2 updates of 32 steps
    first = _rows(out / "metrics.csv")
    assert _train(out, steps=128, extra=["--resume"]) == 0
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "complete" and info["env_steps"] == 128
    assert info["lr_schedule"]["segments"] == [{"first_update": 0, "total_updates": 2},
                                               {"first_update": 2, "total_updates": 4}]
    rows = _rows(out / "metrics.csv")
    assert rows[:2] == first and len(rows) == 4
    lr = CONFIGS["j1g1r0"].overrides.get("lr", 2.5e-4)
    assert [float(r["lr"]) for r in rows[2:]] == pytest.approx([lr * 0.5, lr * 0.25])
    capsys.readouterr()
    assert _train(out, steps=64, extra=["--resume"]) == 2  # shorter: refused
    assert "not shorten" in capsys.readouterr().err


def test_init_from_is_refused_for_a_run_it_did_not_start(tmp_path, capsys):
    source, run = tmp_path / "source", tmp_path / "run"
    assert _train(source) == 0 and _train(run) == 0
    before = (run / "run.json").read_bytes()
    capsys.readouterr()
    ckpt = source / "checkpoints" / "last.pt"
    assert _train(run, extra=["--resume", "--init-from", str(ckpt)]) == 2  # not ignored
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"--init-from {ckpt}: the run in {run}, which --resume continues, was "
                        "started from scratch; drop --init-from, or --out another folder")
    assert (run / "run.json").read_bytes() == before
    started = tmp_path / "started"  # the workflow's recover rule: the same --init-from each time
    assert _train(started, extra=["--init-from", str(ckpt)]) == 0
    assert _train(started, extra=["--resume", "--init-from", str(ckpt)]) == 0


def test_steps_that_are_not_whole_updates_are_rounded_up_with_a_note(tmp_path, capsys):
    assert _train(tmp_path / "run", steps=40) == 0  # batches of 2 envs x 16 steps
    err = capsys.readouterr().err.strip()
    assert err == ("jepa-bench train: note: --total-steps 40 is not a whole number of updates of "
                   "32 steps (num_envs × num_steps); the run takes 2 updates, 64 env steps")
    assert json.loads((tmp_path / "run" / "run.json").read_text())["env_steps"] == 64
    assert _train(tmp_path / "whole", steps=64) == 0 and capsys.readouterr().err == ""


def test_train_without_out_writes_under_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--config", "j1g1r0", "--seed", "0", "--total-steps", "32", *TINY]) == 0
    assert (tmp_path / "runs" / "j1g1r0" / "seed0" / "run.json").is_file()


def test_force_never_deletes_files_tracked_by_git(tmp_path, capsys):
    out = tmp_path / "results" / "runs" / "j1g1r0" / "seed0"
    assert _train(out) == 0
    git = ["git", "-C", str(tmp_path), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "results/runs/j1g1r0/seed0/run.json"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "reference"], check=True)
    before = (out / "metrics.csv").read_bytes()
    capsys.readouterr()
    assert _train(out, extra=["--force"]) == 2
    err = capsys.readouterr().err
    assert "tracked by git" in err and "--force never deletes committed results" in err
    assert (out / "metrics.csv").read_bytes() == before


def test_run_json_records_the_machine(tmp_path):
    assert _train(tmp_path / "run") == 0
    machine = json.loads((tmp_path / "run" / "run.json").read_text())["machine"]
    assert machine["cpu"] and isinstance(machine["isa"], list) and machine["arch"]
    assert "torch_cpu_capability" in machine


def test_progress_shows_elapsed_time_and_eta(tmp_path, capsys):
    args = [a for a in TINY if a != "--quiet"]
    assert main(["train", "--config", "j1g1r0", "--seed", "0", "--total-steps", "64",
                 "--out", str(tmp_path / "run"), *args]) == 0
    err = capsys.readouterr().err
    assert "elapsed" in err and "ETA" in err


def test_help_version_and_set_keys(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("jepa-bench ")
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 100000)" in text and "seed (>= 0)" in text
    keys = text.split("keys:", 1)[1].split(" --", 1)[0]
    assert "lr," in keys and "jepa," not in keys and "rl_grad" not in keys
    assert "total_steps" not in keys  # --total-steps sets it
    assert _train("/nonexistent-never", extra=["--set", "bogus=1"]) == 2
    err = capsys.readouterr().err
    valid = err.split("valid keys:")[1]
    assert "jepa," not in valid and "total_steps" not in valid and "lr," in valid


def test_rerun_check_help_shows_a_committed_run(capsys):
    from pathlib import Path
    with pytest.raises(SystemExit):
        main(["rerun-check", "--help"])
    example = " ".join(capsys.readouterr().out.split()).split("e.g. ", 1)[1].split()[0]
    assert (Path(__file__).resolve().parents[2] / example / "run.json").is_file(), example


def test_track_tensorboard_needs_its_package(tmp_path, capsys):
    import importlib.util
    if importlib.util.find_spec("tensorboard") is not None:
        assert _train(tmp_path / "run", extra=["--track", "tensorboard"]) == 0
        assert any((tmp_path / "run" / "tensorboard").iterdir())
        return
    assert _train(tmp_path / "run", extra=["--track", "tensorboard"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install" in err
    assert not (tmp_path / "run").exists()


def test_rerun_check_says_same_run_then_judges_the_distribution(tmp_path, capsys):
    from jepa_bench.tools.rerun import judge
    from jepa_bench.analysis.stats import prediction_interval
    root = tmp_path / "j1g1r0"
    for seed in (0, 1, 2):
        assert _train(root / f"seed{seed}", seed=seed, steps=96) == 0
    capsys.readouterr()
    assert main(["rerun-check", str(root / "seed0"), "--out", str(tmp_path / "re1")]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("same run: ")
    before = (tmp_path / "re1" / "metrics.csv").read_bytes()
    assert main(["rerun-check", str(root / "seed0"), "--out", str(tmp_path / "re1")]) == 2
    err = capsys.readouterr().err.strip()  # refused before training, in one line
    assert err.endswith("is not empty; rerun-check trains a fresh run: give a new folder, or "
                        "none for a temporary one") and "\n" not in err
    assert (tmp_path / "re1" / "metrics.csv").read_bytes() == before
    # a committed run that differs from its rerun (as on another CPU): judged by the spread
    ep = root / "seed0" / "episodes.csv"
    lines = ep.read_text().splitlines()
    last = lines[-1].split(",")
    lines[-1] = ",".join([last[0], str(float(last[1]) + 1.0), last[2]])
    ep.write_text("\n".join(lines) + "\n")
    code = main(["rerun-check", str(root / "seed0"), "--out", str(tmp_path / "re2")])
    out = capsys.readouterr().out.splitlines()[-1]
    assert out.split(":")[0] in ("same distribution", "different")
    assert code == (1 if out.startswith("different") else 0) and "prediction interval" in out
    low, high = prediction_interval([20.0, 22.0, 24.0])
    assert low < 22.0 < high and high - 22.0 == pytest.approx(4.303 * 2.0 * (4 / 3) ** 0.5,
                                                               rel=1e-3)
    assert judge(22.5, [20.0, 22.0, 24.0])[0] == "same distribution"
    assert judge(60.0, [20.0, 22.0, 24.0])[0] == "different"


# --- issue 28: errors that point the right way, rerun from the record, provenance ----------------

def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_corrupt_run_json_is_named_with_what_to_do(tmp_path, capsys):
    """Item 4: train --resume, train and compare name the file and say what to do; nothing
    changes; --force still starts over."""
    good, out = tmp_path / "good", tmp_path / "run"
    assert _train(good) == 0 and _train(out) == 0
    text = (out / "run.json").read_text()
    (out / "run.json").write_text(text[:300])  # cut short, as by a full disk
    before = _files(out)
    capsys.readouterr()
    for extra in (["--resume"], []):
        assert _train(out, extra=extra) == 2
        err = _one_line(capsys)
        assert f"run.json {out / 'run.json'} cannot be read (" in err
        assert "restore it" in err and "--force" in err and "--resume to continue" in err
        assert _files(out) == before
    assert main(["compare", str(good), str(out)]) == 2
    err = _one_line(capsys)
    assert f"{out / 'run.json'} is not valid JSON (" in err and "restore it" in err
    assert _train(out, extra=["--force"]) == 0
    assert json.loads((out / "run.json").read_text())["status"] == "complete"


def test_an_out_that_cannot_be_made_is_an_output_error(tmp_path, capsys):
    """Item 6: a folder that cannot be created is an output problem, not 'run the stage that
    writes it'."""
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs Linux's /proc, where no folder can be made")
    assert _train("/proc/nope") == 2
    err = _one_line(capsys)
    assert "cannot use /proc/nope" in err and "--out" in err and "cannot read" not in err
    assert main(["theory", "--out", "/proc/nope/theory.md"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "cannot use /proc/nope" in err and "run the stage that writes it" not in err
    # an input that is missing still says so
    assert main(["claims", "--summary", str(tmp_path / "none"), "--out", "/proc/nope/c.md"]) == 2
    assert "cannot read" in _one_line(capsys)


def test_init_from_a_missing_or_unreadable_file_leaves_no_folder(tmp_path, capsys):
    """Item 6: --init-from a missing file is refused before anything is written; an unreadable
    one is refused with its whole first sentence; neither advises --force or leaves a folder."""
    donor = tmp_path / "donor"
    assert _train(donor) == 0
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((donor / "checkpoints" / "last.pt").read_bytes()[:3000])
    capsys.readouterr()
    for source, reason in ((tmp_path / "nothere.pt", "no such file"),
                           (truncated, "failed finding central directory.)")):
        out = tmp_path / "new" / "run"
        assert _train(out, extra=["--init-from", str(source)]) == 2
        err = _one_line(capsys)
        assert f"--init-from {source}" in err and reason in err, err
        assert "--force" not in err and "checkpoints/last.pt" in err
        assert not (tmp_path / "new").exists()


def test_an_unreadable_checkpoint_message_ends_on_a_whole_sentence(tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(out) == 0
    info = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**info, "status": "running"}))
    ckpt = out / "checkpoints" / "last.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:3000])
    capsys.readouterr()
    assert _train(out, extra=["--resume"]) == 2
    err = _one_line(capsys)
    assert "(PytorchStreamReader failed reading zip archive: failed finding central " \
           "directory.); it was left as it is: restore it, or start the run over with --force" \
           in err


def test_rerun_check_reruns_the_recorded_configuration_not_the_command(tmp_path, capsys):
    """Item 2: a run.json whose command has no --settings (made before the default changed) is
    rerun under the settings set and fields it records: the same run."""
    root = tmp_path / "j1g1r0"
    assert _train(root / "seed0", steps=64, extra=["--settings", "v1"]) == 0
    info = json.loads((root / "seed0" / "run.json").read_text())
    del info["settings"]  # as the v1 reference runs: no settings key, no --settings
    info["command"] = info["command"].replace(" --settings v1", "")
    (root / "seed0" / "run.json").write_text(json.dumps(info))
    capsys.readouterr()
    assert main(["rerun-check", str(root / "seed0"), "--out", str(tmp_path / "re")]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("same run: ")
    made = json.loads((tmp_path / "re" / "run.json").read_text())
    assert made["settings"] == "v1" and made["config"] == info["config"]


def test_rerun_check_refuses_a_record_its_name_cannot_give(tmp_path, capsys):
    run = tmp_path / "j1g1r0" / "seed0"
    assert _train(run, steps=64) == 0
    info = json.loads((run / "run.json").read_text())
    info["config"]["jepa"] = False  # j1g1r0 always has the JEPA loss
    (run / "run.json").write_text(json.dumps(info))
    capsys.readouterr()
    assert main(["rerun-check", str(run), "--out", str(tmp_path / "re")]) == 2
    err = _one_line(capsys)
    assert "jepa=False" in err and "cannot be made to agree" in err
    assert not (tmp_path / "re").exists()


def test_run_json_records_when_and_from_what_code(tmp_path):
    """Item 8: UTC start and end, and whether the package's code had uncommitted changes."""
    import re
    assert _train(tmp_path / "run") == 0
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    assert stamp.fullmatch(info["started_at"]) and stamp.fullmatch(info["ended_at"])
    assert info["started_at"] <= info["ended_at"]
    assert info["git_dirty"] in (True, False, None)
    assert (info["git_diff_sha256"] is not None) == bool(info["git_dirty"])
    (session,) = info["sessions"]
    assert session["end"] == "complete" and session["git_rev"] == info["git_rev"]


def test_a_run_stops_at_the_scale_free_collapse_line(tmp_path):
    """stop_rel_var ends a run, complete, at the first update whose embed_var relative to update
    1's is below it (docs/yu-chen-protocol.md); 1e9 is crossed at update 1 itself."""
    out = tmp_path / "stop"
    assert _train(out, steps=96, extra=["--set", "stop_rel_var=1e9"]) == 0
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "complete" and info["updates"] == 1 and info["env_steps"] == 32
    assert _train(tmp_path / "bad", extra=["--set", "stop_rel_var=-1"]) == 2
