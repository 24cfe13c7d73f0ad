"""The SLURM profile (workflow/profiles/slurm) on a real SLURM cluster: every training run one
SLURM job, the same results as a local run, and a cancelled or timed-out job resubmitted by the
profile's retry and resumed from its checkpoint.

The tests marked `slurm` need a cluster that answers (sbatch, sinfo and sacct): on one machine,
as root, `workflow/slurm/local-cluster.sh install && workflow/slurm/local-cluster.sh start`
(.ci/run does that). Elsewhere they are skipped with the reason. They take 3-6 minutes, much
of it waiting for SLURM: a job is timed out at slurmctld's first check (every 30 s) after its
limit of 1 minute, and the plugin checks job states less often the longer nothing ends.
Jobs ask for 1 CPU and 1 GB, so that they fit any node."""

import csv
import importlib.util
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SNAKEMAKE = shutil.which("snakemake", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
PLUGIN = importlib.util.find_spec("snakemake_executor_plugin_slurm") is not None
PROFILE = ["--workflow-profile", "workflow/profiles/slurm"]
TIMING = {"wall_time", "sps"}  # columns that differ between any two runs


def snakemake_env() -> dict:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), env.get("PYTHONPATH"))))
    return env


def snakemake(*args, timeout=400) -> subprocess.CompletedProcess:
    """snakemake from the repository root, as the user runs it."""
    return subprocess.run([SNAKEMAKE, *args], cwd=REPO, env=snakemake_env(), capture_output=True,
                          text=True, timeout=timeout)


def cluster_problem() -> str | None:
    """Why the slurm tests cannot run here, or None."""
    if SNAKEMAKE is None:
        return "snakemake is not installed"
    if not PLUGIN:
        return "the SLURM executor plugin is not installed (pip install -e '.[slurm]')"
    missing = [t for t in ("sbatch", "squeue", "sacct", "scancel", "sinfo") if not shutil.which(t)]
    if missing:
        return (f"no SLURM here ({', '.join(missing)} not found); as root: "
                "workflow/slurm/local-cluster.sh install && workflow/slurm/local-cluster.sh start")
    try:
        # without a slurm.conf the client commands take a minute to give up
        nodes = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,
                               timeout=20)
        if nodes.returncode != 0:
            last = (nodes.stderr.strip().splitlines() or ["no output"])[-1]
            return f"the SLURM cluster does not answer (sinfo: {last})"
        if not re.search(r"^(idle|mix|alloc|comp)", nodes.stdout, re.M):
            return f"no SLURM node is up (sinfo: {nodes.stdout.split()})"
        acct = subprocess.run(["sacct", "-n", "-X", "-S", "now-1minutes"], capture_output=True,
                              text=True, timeout=20)
        if acct.returncode != 0:
            return f"sacct does not answer (no accounting): {acct.stderr.strip()[:200]}"
    except subprocess.TimeoutExpired as exc:
        return f"{exc.cmd[0]} did not answer within 20 s"
    return None


@pytest.fixture(scope="module")
def cluster():
    problem = cluster_problem()
    if problem:
        pytest.skip(problem)


def slurm_args(tmp_path: Path, runtime: str = "10") -> list[str]:
    """The SLURM profile with jobs small enough for any node: 1 CPU (as a local run: the same
    numbers), 1 GB, `runtime` minutes; status checks from 1 s after submission on."""
    return [*PROFILE, "--slurm-init-seconds-before-status-checks", "1",
            "--slurm-logdir", str(tmp_path / "slurm-logs"), "--set-threads", "train=1",
            "--set-resources", f"train:runtime={runtime}", "train:mem_mb=1000"]


def run_id(output: str) -> str:
    """The plugin's run ID, which is every job's SLURM job name."""
    return re.search(r"SLURM run ID: (\S+)", output)[1]


def sacct_jobs(name: str) -> list[dict]:
    """sacct's record of the jobs named `name`, in submission order. The plugin's comment names
    the rule and wildcards ("rule_train_wildcards_j1g1r0_0")."""
    fields = ["JobID", "State", "Comment", "AllocCPUS", "Timelimit", "ExitCode"]
    for _ in range(40):  # slurmctld hands records to slurmdbd a moment after a job ends
        res = subprocess.run(["sacct", "-X", "-n", "-P", "-S", "now-7days", "--name", name,
                              "--format", ",".join(fields)], capture_output=True, text=True,
                             check=True, timeout=30)
        jobs = [dict(zip(fields, line.split("|"))) for line in res.stdout.splitlines()]
        if jobs and all(j["State"] not in ("RUNNING", "PENDING", "COMPLETING") for j in jobs):
            break
        time.sleep(0.5)
    return sorted(jobs, key=lambda j: int(j["JobID"]))


def train_jobs(jobs: list[dict]) -> dict[tuple[str, int], list[str]]:
    """{(configuration, seed): [state of each attempt]} of the train jobs."""
    out: dict[tuple[str, int], list[str]] = {}
    for job in jobs:
        m = re.search(r"rule_train_wildcards_(\w+)_(\d+)$", job["Comment"])
        assert m, job
        out.setdefault((m[1], int(m[2])), []).append(job["State"].split()[0])
    return out


def compare_runs(run_a: Path, run_b: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "jepa-bench"), "compare", str(run_a), str(run_b)],
                          capture_output=True, text=True, timeout=120)


def csv_without_timing(path: Path) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


# -- without a cluster ---------------------------------------------------------------------------

def test_wrapper_names_the_missing_plugin_in_one_line(tmp_path):
    """Without the plugin snakemake rejects `executor: slurm` with its whole usage text;
    workflow/slurm/snakemake-slurm says instead what to install."""
    python = tmp_path / "python"  # a Python without the plugin
    python.write_text("#!/bin/sh\nexit 1\n")
    fake = tmp_path / "snakemake"
    fake.write_text(f"#!{python}\n")
    for path in (python, fake):
        path.chmod(0o755)
    env = dict(os.environ, PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    res = subprocess.run([str(REPO / "workflow" / "slurm" / "snakemake-slurm"), "-n"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and res.stdout == ""
    assert len(res.stderr.splitlines()) == 1
    assert 'pip install -e ".[slurm]"' in res.stderr


@pytest.mark.skipif(SNAKEMAKE is None or not PLUGIN, reason="needs snakemake and the plugin")
def test_dry_run_shows_the_threads_a_slurm_job_gets(tmp_path):
    """A dry run assumes the profile's `cores`, not 1: each training command shows
    `set-threads: train` (the job's --cpus-per-task), as submitted."""
    threads = yaml.safe_load((REPO / "workflow/profiles/slurm/config.yaml").read_text())[
        "set-threads"]["train"]
    res = snakemake("-n", "-p", *PROFILE, "--configfile", "workflow/config/tiny.yaml",
                    "--config", f"results_root={tmp_path}/results")
    assert res.returncode == 0, res.stderr[-3000:]
    cmds = [ln for ln in res.stdout.splitlines() if "jepa-bench train" in ln]
    assert len(cmds) == 4 and all(f"--threads {threads} " in c for c in cmds)


# -- on the cluster ------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.slurm
def test_tiny_preset_on_slurm_matches_a_local_run(cluster, tmp_path):
    """Every training run of the tiny preset is one SLURM job, with its threads as CPUs; the
    summary and claims are those of a local run of the same preset, timing apart."""
    preset = ["--configfile", "workflow/config/tiny.yaml"]
    on_slurm, local = tmp_path / "slurm", tmp_path / "local"
    # up to the claims (figures add nothing to compare); the local run alongside, as the SLURM
    # run mostly waits
    local_run = subprocess.Popen(
        [SNAKEMAKE, str(local / "claims.json"), "--cores", "2", *preset, "--config",
         f"results_root={local}"], cwd=REPO, env=snakemake_env(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        res = snakemake(str(on_slurm / "claims.json"), *preset, "--config",
                        f"results_root={on_slurm}", *slurm_args(tmp_path))
        local_output = local_run.communicate(timeout=400)[0]
    finally:
        if local_run.poll() is None:
            local_run.kill()
            local_run.wait()
    assert res.returncode == 0, res.stderr[-4000:]
    assert local_run.returncode == 0, local_output[-4000:]
    records = sacct_jobs(run_id(res.stdout + res.stderr))
    jobs = train_jobs(records)
    assert jobs == {(c, s): ["COMPLETED"] for c in ("j1g1r0", "j1g0r1") for s in (0, 1)}
    assert {j["AllocCPUS"] for j in records} == {"1"}  # --cpus-per-task = set-threads

    for config, seed in jobs:
        run = Path("runs") / config / f"seed{seed}"
        same = compare_runs(on_slurm / run, local / run)
        assert same.returncode == 0, same.stdout + same.stderr
    for table in ("curves", "runs", "stats", "random_baseline"):
        path = Path("summary") / f"{table}.csv"
        assert csv_without_timing(on_slurm / path) == csv_without_timing(local / path), table
    for path in ("summary/summary.json", "claims.json", "claims.md"):
        text_slurm = (on_slurm / path).read_text().replace(str(on_slurm), "RESULTS")
        assert text_slurm == (local / path).read_text().replace(str(local), "RESULTS"), path


# Two runs of one configuration, interrupted on the cluster: seed 0's job is cancelled with
# scancel; seed 1's training stalls (SIGSTOP) until SLURM ends the job at its time limit of one
# minute. The profile's retry resubmits each (the retry with 10 minutes), and each resumes from
# its checkpoint. A local run of the same two is the reference.
INTERRUPTED = {"configuration": "j1g1r0", "updates": 12, "cancel_after": 3, "stall_after": 8}


def job_of(comment: str, timeout: float = 120) -> str:
    """The id of the running SLURM job with this comment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i|%k"], capture_output=True,
                             text=True, timeout=30)
        for line in res.stdout.splitlines():
            job, _, job_comment = line.partition("|")
            if job_comment.strip() == comment:
                return job
        time.sleep(0.2)
    raise AssertionError(f"no running SLURM job {comment} after {timeout} s")


def wait_for_updates(run_dir: Path, updates: int, proc: subprocess.Popen,
                     timeout: float = 180) -> None:
    """Until the run's checkpoint holds `updates` updates (its metrics.csv, rewritten at every
    checkpoint, has that many rows)."""
    metrics = run_dir / "metrics.csv"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if len(metrics.read_text().splitlines()) - 1 >= updates:
                return
        except FileNotFoundError:
            pass
        assert proc.poll() is None, f"snakemake ended (exit {proc.returncode}) early"
        assert time.monotonic() < deadline, f"{metrics}: not {updates} updates after {timeout} s"
        time.sleep(0.1)


def training_processes(run_dir: Path) -> list[int]:
    """The `jepa-bench train` processes writing run_dir (not the shell that started them)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().decode().split("\0")
        except (OSError, ValueError):
            continue
        if proc.name.isdigit() and "train" in argv and str(run_dir) in argv:
            pids.append(int(proc.name))
    return pids


@pytest.fixture(scope="module")
def interrupted(cluster, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("interrupted")
    name = INTERRUPTED["configuration"]
    preset = yaml.safe_load((REPO / "workflow/config/tiny.yaml").read_text())
    preset.update(configurations=[name], seeds=[0, 1], total_steps=128 * INTERRUPTED["updates"],
                  train_overrides=preset["train_overrides"] + ["checkpoint_every=1"])
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump(preset))
    on_slurm, reference = tmp / "slurm", tmp / "reference"
    runs = {seed: on_slurm / "runs" / name / f"seed{seed}" for seed in (0, 1)}

    log = tmp / "snakemake.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [SNAKEMAKE, *[str(r / "run.json") for r in runs.values()], "--configfile", str(config),
             "--config", f"results_root={on_slurm}",
             *slurm_args(tmp, runtime="1 if attempt == 1 else 10")],
            cwd=REPO, env=snakemake_env(), stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_updates(runs[0], INTERRUPTED["cancel_after"], proc)
        subprocess.run(["scancel", job_of(f"rule_train_wildcards_{name}_0")], check=True)
        wait_for_updates(runs[1], INTERRUPTED["stall_after"], proc)
        job_of(f"rule_train_wildcards_{name}_1")
        stalled = training_processes(runs[1])
        assert stalled, "seed 1's training process not found"
        for pid in stalled:
            os.kill(pid, signal.SIGSTOP)
        # the uninterrupted reference, while SLURM lets seed 1 run out of time
        res = snakemake("--cores", "2", *[str(reference / "runs" / name / f"seed{s}" / "run.json")
                                          for s in (0, 1)],
                        "--configfile", str(config), "--config", f"results_root={reference}",
                        timeout=400)
        assert res.returncode == 0, res.stderr[-4000:]
        proc.wait(timeout=400)
    finally:
        if proc.poll() is None:  # a failed assertion above: end snakemake and its jobs
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            found = re.search(r"SLURM run ID: (\S+)", log.read_text())
            if found:
                subprocess.run(["scancel", "--name", found[1]], timeout=60)
    output = log.read_text()
    assert proc.returncode == 0, output[-4000:]
    return {"output": output, "jobs": sacct_jobs(run_id(output)), "runs": runs,
            "reference": {s: reference / "runs" / name / f"seed{s}" for s in (0, 1)},
            "logs": {s: on_slurm / "logs" / "train" / name / f"seed{s}.log" for s in (0, 1)}}


def assert_resumed_to_the_same_run(interrupted, seed):
    run = interrupted["runs"][seed]
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "complete" and info["updates"] == INTERRUPTED["updates"]
    # the resubmitted job's log (the first attempt's is overwritten): no fresh start
    assert "starting a fresh one" not in interrupted["logs"][seed].read_text()
    same = compare_runs(run, interrupted["reference"][seed])
    assert same.returncode == 0, same.stdout + same.stderr


@pytest.mark.slow
@pytest.mark.slurm
def test_cancelled_job_is_resubmitted_and_resumes(interrupted):
    jobs = train_jobs(interrupted["jobs"])
    assert jobs[(INTERRUPTED["configuration"], 0)] == ["CANCELLED", "COMPLETED"]
    assert_resumed_to_the_same_run(interrupted, 0)


@pytest.mark.slow
@pytest.mark.slurm
def test_job_past_its_time_limit_is_resubmitted_and_resumes(interrupted):
    jobs = [j for j in interrupted["jobs"] if j["Comment"].endswith("_1")]
    assert [(j["State"], j["Timelimit"]) for j in jobs] == [
        ("TIMEOUT", "00:01:00"), ("COMPLETED", "00:10:00")]
    assert "SLURM status is: 'TIMEOUT'" in interrupted["output"]
    assert_resumed_to_the_same_run(interrupted, 1)
