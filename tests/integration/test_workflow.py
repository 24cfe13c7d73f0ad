"""The Snakemake workflow: lint, dry runs of every preset and profile, and a full run of the
tiny preset with a stand-in for `jepa-bench train` (no training; everything after it is real).

Snakemake runs in a subprocess from the repository root, with results under tmp_path."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import yaml

from jepa_bench.layout import RunPaths

REPO = Path(__file__).resolve().parents[2]
pytest.importorskip("snakemake", reason="snakemake is not installed")


@pytest.fixture
def dry_run(snakemake, job_counts):
    """dry_run(tmp_path, *args, runs_root=None, config=()): a dry run with results under
    tmp_path, as {rule: jobs}; `config` adds KEY=VALUE items to the one --config (a second
    --config would replace the first)."""
    def run(tmp_path, *args, runs_root=None, config=()):
        runs_root = runs_root or f"{tmp_path}/results/runs"
        res = snakemake("-n", "--config", f"results_root={tmp_path}/results",
                        f"runs_root={runs_root}", *config, *args)
        assert res.returncode == 0, res.stderr + res.stdout
        return job_counts(res.stdout)
    return run


def test_lint_is_clean(snakemake):
    res = snakemake("--lint")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Congratulations" in res.stdout + res.stderr


# the default preset also probes 2 encoders x 2 seeds, sets its verdicts beside v1's and gathers
# Yu & Chen's; the full grid sets them beside v1's full grid; the tiny preset does neither
EXTRA_JOBS = {None: {"probe": 4, "probe_table": 1, "settings_table": 1, "yu_chen": 1},
              "full-grid": {"settings_table": 1}, "tiny": {}}


@pytest.mark.parametrize("preset, trains", [(None, 20), ("full-grid", 55), ("tiny", 4)])
def test_dry_run_lists_one_train_job_per_configuration_and_seed(tmp_path, preset, trains,
                                                                dry_run):
    args = ["--configfile", f"workflow/config/{preset}.yaml"] if preset else []
    counts = dry_run(tmp_path, *args)
    extra = EXTRA_JOBS[preset]
    assert counts == {"train": trains, "aggregate": 1, "plots": 1, "claims": 1, "all": 1,
                      **extra, "total": trains + 4 + sum(extra.values())}


def test_a2c_grid_builds_curves_without_a_claims_report(tmp_path, dry_run):
    # the paper's claims are about its four PPO configurations: none for the A2C grid
    counts = dry_run(tmp_path, "--configfile", "workflow/config/a2c-grid.yaml")
    assert counts == {"train": 20, "aggregate": 1, "plots": 1, "all": 1, "total": 23}


def test_trained_encoders_probe_every_run_then_one_report(tmp_path, dry_run):
    counts = dry_run(tmp_path, "--configfile", "workflow/config/a2c-grid.yaml",
                     config=["experiments=[curves,trained_encoders]"])
    assert counts == {"train": 20, "aggregate": 1, "plots": 1, "frozen_probe": 20,
                      "trained_encoders": 1, "all": 1, "total": 44}


def test_a2c_calibration_screens_then_leaves_the_confirmation_to_its_checkpoint(tmp_path,
                                                                               dry_run):
    # before the screen has run, the confirmation's cell is unknown: no confirmation job yet
    counts = dry_run(tmp_path, "--configfile", "workflow/config/a2c-calibration.yaml")
    assert counts == {"calibration_train": 18, "calibration_winner": 1, "calibration_report": 1,
                      "all": 1, "total": 21}


def test_precision_preset_trains_each_seed_once_per_arm(tmp_path, dry_run):
    counts = dry_run(tmp_path, "--configfile", "workflow/config/precision.yaml")
    assert counts == {"precision_train": 10, "precision_aggregate": 2, "precision_report": 1,
                      "all": 1, "total": 14}


def _default_runs(runs, **fields):
    """The default preset's 4 x 5 run folders under `runs`, each run.json with the config that
    preset trains (`fields` changed), the CSVs empty."""
    from jepa_bench.config import resolve

    default = yaml.safe_load((REPO / "workflow" / "config" / "config.yaml").read_text())
    for name in default["configurations"]:
        config = resolve(name, {"total_steps": default["total_steps"]},
                         settings=default["settings"]).to_dict() | fields
        for seed in default["seeds"]:
            paths = RunPaths.of(runs, name, seed)
            for file in paths.results():
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_text("")
            paths.run_json.write_text(json.dumps({"config_name": name, "seed": seed,
                                                  "status": "complete", "config": config}))


def test_full_grid_reuses_the_default_pipelines_runs(tmp_path, dry_run):
    """Run folders of the paper's four configurations that exist are not trained again."""
    runs = tmp_path / "shared-runs"
    _default_runs(runs)
    counts = dry_run(tmp_path, "--configfile", "workflow/config/full-grid.yaml", runs_root=runs)
    assert counts["train"] == 55 - 20


@pytest.mark.parametrize("dry", [True, False])
def test_shared_runs_made_with_other_settings_are_refused_before_anything_is_written(
        tmp_path, snakemake, dry):
    """Issue 28 item 5: the full grid with total_steps=20000 would reuse the default preset's
    100k-step runs; refused at parse time, in the dry run as in the real one, before
    experiment.json is written, and without advice to delete them."""
    runs, results = tmp_path / "shared-runs", tmp_path / "fg3"
    _default_runs(runs)
    res = snakemake(*(["-n"] if dry else ["-c1"]), "--configfile",
                    "workflow/config/full-grid.yaml", "--config", "total_steps=20000",
                    f"results_root={results}", f"runs_root={runs}")
    assert res.returncode == 2, res.stderr + res.stdout
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith(f"jepa-bench workflow: error: runs_root {runs} holds 20 run folder(s) "
                           "made with other settings")
    assert "total_steps=100000 (asked: 20000)" in line and f"runs_root={results}/runs" in line
    assert "delete" not in line and "Traceback" not in res.stderr
    assert not results.exists()
    # the corrected command, into the same folder, is not refused
    res = snakemake("-n", "--configfile", "workflow/config/full-grid.yaml", "--config",
                    "total_steps=20000", f"results_root={results}", f"runs_root={results}/runs")
    assert res.returncode == 0, res.stderr


def test_config_is_validated_against_the_schema(tmp_path, snakemake):
    res = snakemake("-n", "--config", f"results_root={tmp_path}", "total_steps=0")
    assert res.returncode != 0
    assert "config total_steps=0 is not allowed: must be >= 1" in res.stderr.splitlines()[-1]
    assert not (tmp_path / "runs").exists()


def test_seeds_given_on_the_command_line(tmp_path, dry_run):
    """`--config seeds=[0,1]` reaches the workflow as strings; it still means seeds 0 and 1."""
    counts = dry_run(tmp_path, config=["seeds=[0,1]"])
    assert counts["train"] == 4 * 2


@pytest.mark.parametrize("key, value", [
    ("total_steps", 0), ("configurations", ["j9g0r0"]), ("configurations", []),
    ("seeds", [-1]), ("seeds", [0, 0]), ("device", "tpu"), ("renderer", "pygame"),
    ("train_overrides", ["novalue"]), ("results_root", ""), ("unknown_key", 1),
])
def test_schema_rejects_bad_values(key, value):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    schema = str(REPO / "workflow" / "schemas" / "config.schema.yaml")
    for preset in ("config", "full-grid", "tiny"):
        validate(yaml.safe_load((REPO / "workflow" / "config" / f"{preset}.yaml").read_text()), schema)
    good = yaml.safe_load((REPO / "workflow" / "config" / "config.yaml").read_text())
    with pytest.raises(WorkflowError):
        validate(good | {key: value}, schema)


@pytest.mark.parametrize("profile, threads", [("default", 1), ("slurm", 4)])
def test_profiles_set_train_threads(tmp_path, profile, threads, snakemake, job_counts):
    """Dry run with each profile. Without the SLURM plugin, the same profile minus `executor`."""
    path = REPO / "workflow" / "profiles" / profile
    settings = yaml.safe_load((path / "config.yaml").read_text())
    if settings.get("executor") and importlib.util.find_spec(
            f"snakemake_executor_plugin_{settings['executor']}") is None:
        del settings["executor"]
        path = tmp_path / "profile"
        path.mkdir()
        (path / "config.yaml").write_text(yaml.safe_dump(settings))
    res = snakemake("-n", "-p", "--cores", "8", "--workflow-profile", str(path),
                    "--config", f"results_root={tmp_path}/results")
    assert res.returncode == 0, res.stderr + res.stdout
    assert job_counts(res.stdout)["train"] == 20
    train_cmds = [ln for ln in res.stdout.splitlines() if "jepa-bench train" in ln]
    assert len(train_cmds) == 20 and all(f"--threads {threads} " in c for c in train_cmds)


# the stand-in's body (after the shared head, tests/conftest.py): a small synthetic run folder
FAKE_CLI = '''
a = TRAIN.parse_args(sys.argv[2:])
out, total, seed = Path(a.out), int(a.total_steps), int(a.seed)
out.mkdir(parents=True, exist_ok=True)
from jepa_bench.layout import RunPaths
from jepa_bench.metrics import METRIC_COLUMNS, write_csv_atomic
paths = RunPaths(out)
write_csv_atomic(paths.metrics, METRIC_COLUMNS, [
    dict(update=u, env_step=128 * u, wall_time=u, sps=100, episodes=0, jepa_loss=1 / u,
         reg_loss=-0.5, actor_loss=0.1, critic_loss=0.2, entropy=0.69, approx_kl=0.01,
         clip_frac=0.1, explained_variance=0.0, embed_var=0.5 / u, embed_rank=3 + seed, lr=0.001)
    for u in range(1, total // 128 + 1)])
eps = ["env_step,return,length"] + [f"{{s}},{{10 + s // 20 + seed}},{{10 + s // 20 + seed}}"
                                    for s in range(20, total + 1, 20)]
(out / "episodes.csv").write_text("\\n".join(eps) + "\\n")
from jepa_bench.config import parse_overrides, resolve
cfg = resolve(a.config, {{**parse_overrides(a.set), "total_steps": total, "renderer": a.renderer}})
(out / "run.json").write_text(json.dumps({{"config_name": a.config, "seed": seed,
                                         "status": "complete", "env_steps": total,
                                         "config": cfg.to_dict()}}))
'''


@pytest.mark.slow  # about 30 s: three real CLI stages, each importing torch
def test_tiny_preset_runs_to_figures_and_report(tmp_path, snakemake, job_counts, stand_in):
    fake, stand_in_calls = stand_in(FAKE_CLI)
    results = tmp_path / "results"
    args = ["--cores", "2", "--configfile", "workflow/config/tiny.yaml",
            "--config", f"results_root={results}"]
    res = snakemake(*args, path_prefix=fake)
    assert res.returncode == 0, res.stderr[-3000:]

    calls = stand_in_calls()
    assert len(calls) == 4
    assert all("--resume" in c and c[c.index("--total-steps") + 1] == "512" for c in calls)
    assert all(" ".join(c).endswith("--settings v2 --resume --quiet --set num_envs=4 "
                                    "--set num_steps=32") for c in calls)
    for stem in ("fig3_return", "embed_var", "jepa_loss", "embed_rank"):
        for ext in ("png", "pdf"):
            assert (results / "figures" / f"{stem}.{ext}").stat().st_size > 0
    claims = json.loads((results / "claims.json").read_text())
    assert [c["id"] for c in claims["claims"]] == [1, 2, 3, 4, 5]
    assert (results / "claims.md").read_text().startswith(
        "# Claims of section 3, checked against our runs\n\n**Smoke test, not a verdict**")
    for name in ("train/j1g1r0/seed0", "aggregate", "plots", "claims"):
        assert (results / "logs" / f"{name}.log").exists()

    # complete: nothing to do. Interrupted while one run was training (its outputs and
    # everything downstream missing): only that run is redone, then the later stages
    assert "Nothing to be done" in snakemake(*args, "-n", path_prefix=fake).stdout
    (results / "runs" / "j1g0r1" / "seed1" / "metrics.csv").unlink()
    for sub in ("summary", "figures"):
        shutil.rmtree(results / sub)
    (results / "claims.md").unlink()
    counts = job_counts(snakemake(*args, "-n", path_prefix=fake).stdout)
    assert counts == {"train": 1, "aggregate": 1, "plots": 1, "claims": 1, "all": 1, "total": 5}


RECOVERY = ["--configfile", "workflow/config/recovery.yaml"]


@pytest.mark.parametrize("extra, algos, seeds", [
    ([], 2, 5),  # the preset: PPO and A2C, seeds 0-4
    (["recovery_algorithms=[a2c]", "recovery_collapse_steps=256", "recovery_steps=256",
      "train_overrides=[num_envs=4,num_steps=32]"], 1, 5),  # a tiny variant from the command line
])
def test_recovery_preset_lists_one_collapse_and_two_switch_runs_per_seed(
        tmp_path, extra, algos, seeds, snakemake, job_counts):
    res = snakemake("-n", *RECOVERY, "--config", f"results_root={tmp_path}/results", *extra)
    assert res.returncode == 0, res.stderr + res.stdout
    assert job_counts(res.stdout) == {"collapse": algos * seeds, "recover": 2 * algos * seeds,
                      "recovery_report": 1, "all": 1, "total": 3 * algos * seeds + 2}


def test_recovery_runs_start_from_the_collapse_checkpoint(tmp_path, snakemake):
    res = snakemake("-n", "-p", *RECOVERY, "--config", f"results_root={tmp_path}",
                    "recovery_algorithms=[ppo]", "recovery_collapse_threshold=2e-7")
    assert res.returncode == 0, res.stderr + res.stdout
    lines = [ln.removeprefix("Shell command: ") for ln in res.stdout.splitlines()]
    cmds = {ln.split("--out ")[1].split()[0][len(str(tmp_path)) + 1:]: ln
            for ln in lines if ln.startswith("jepa-bench")}
    collapse = cmds["recovery/collapse/ppo/seed3"]
    assert "--config j1g0r0 --seed 3 --total-steps 300000" in collapse  # docs/recovery.md
    assert collapse.split(" > ")[0].endswith("--set stop_embed_var=2e-07")
    ckpt = f"--init-from {tmp_path}/recovery/collapse/ppo/seed3/checkpoints/last.pt"
    assert "--config j1g1r0 --seed 3 --total-steps 50000" in cmds["recovery/ppo/grad_on/seed3"]
    assert "--config j1g0r0 --seed 3" in cmds["recovery/ppo/grad_off/seed3"]
    assert all(ckpt in cmds[f"recovery/ppo/{arm}/seed3"] for arm in ("grad_on", "grad_off"))
    report = next(c for c in cmds.values() if c.startswith("jepa-bench recovery"))
    assert (f"--root {tmp_path}/recovery --algos ppo --seeds 0 1 2 3 4 --collapse-steps 300000 "
            "--recovery-steps 50000 --collapse-threshold 2e-07 --recovery-threshold 1e-05") in report


@pytest.mark.parametrize("key, value", [
    ("experiments", []), ("experiments", ["fig3"]), ("recovery_algorithms", ["sac"]),
    ("recovery_configs", {"ppo": {"grad_on": "j1g1r0"}}),
    ("recovery_configs", {"ppo": {"grad_on": "j9g1r0", "grad_off": "j1g0r0"}}),
    ("recovery_steps", 0), ("recovery_collapse_threshold", 0), ("recovery_threshold", "high"),
])
def test_schema_rejects_bad_recovery_values(key, value):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    schema = str(REPO / "workflow" / "schemas" / "config.schema.yaml")
    good = yaml.safe_load((REPO / "workflow" / "config" / "recovery.yaml").read_text())
    validate(dict(good), schema)
    validate({"configurations": ["a2c_shared", "ppo_shared", "a2c_shared_sg", "a2c_ema",
                                 "a2c_shared_nograd"]}, schema)
    with pytest.raises(WorkflowError):
        validate(good | {key: value}, schema)


def test_recovery_threshold_must_lie_above_the_collapse_line(tmp_path, snakemake):
    res = snakemake("-n", *RECOVERY, "--config", f"results_root={tmp_path}",
                    "recovery_threshold=1e-8")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1] == (
        "jepa-bench workflow: error: recovery_threshold=1e-08 must lie above "
        "collapse_threshold=1e-07")
    assert "Traceback" not in res.stdout + res.stderr


def test_settings_set_reaches_train_and_aggregate(tmp_path, snakemake):
    res = snakemake("-n", "-p", "--configfile", "workflow/config/tiny.yaml",
                    "--config", f"results_root={tmp_path}/results", "settings=v1")
    assert res.returncode == 0, res.stderr + res.stdout
    cmds = [ln for ln in res.stdout.splitlines() if ln.removeprefix("Shell command: ").startswith(("jepa-bench train",
                                                                   "jepa-bench aggregate"))]
    assert len(cmds) == 5 and all("--settings v1 " in c for c in cmds)


def test_the_default_profile_is_loaded_without_naming_it(tmp_path, snakemake):
    """Snakemake looks for profiles/default/ beside the Snakefile: the link to
    workflow/profiles/default makes plain `snakemake` use it (rerun-incomplete and all)."""
    res = snakemake("-n", "--config", f"results_root={tmp_path}/results")
    assert res.returncode == 0, res.stderr
    assert "Using workflow specific profile profiles/default" in res.stderr
    assert (REPO / "profiles" / "default").resolve() == REPO / "workflow" / "profiles" / "default"
    assert yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())[
        "rerun-incomplete"] is True


@pytest.mark.parametrize("config, message", [
    (["seeds=[-1]"], "jepa-bench workflow: error: config seeds[0]=-1 is not allowed: must be >= 0"),
    (["probe_seeds=[-1]"], "jepa-bench workflow: error: config probe_seeds[0]=-1 is not allowed: "
                           "must be >= 0"),
    (["total_steps=0"], "jepa-bench workflow: error: config total_steps=0 is not allowed: "
                        "must be >= 1"),
    (["experiments=[precision]", "configurations=[j1g1r1,j1g1r0]"],
     "jepa-bench workflow: error: config configurations=['j1g1r1', 'j1g1r0'] is not allowed: "
     "['j1g1r1', 'j1g1r0'] is too long (the precision experiment trains one configuration in "
     "two arms)"),
    (["train_overrides=[total_steps=1000]"],
     "jepa-bench workflow: error: config train_overrides=['total_steps=1000'] is not allowed: "
     "--set total_steps is not allowed: use --total-steps (the workflow: config total_steps)"),
])
def test_config_errors_are_one_line_exit_2(tmp_path, config, message, snakemake):
    res = snakemake("-n", "--config", f"results_root={tmp_path}/results", *config)
    assert res.returncode == 2
    errors = [ln for ln in res.stderr.splitlines() if "error" in ln.lower()]
    assert len(errors) == 1 and errors[0].startswith(message), res.stderr


def test_cuda_on_a_machine_without_cuda_stops_the_dry_run(tmp_path, snakemake):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    res = snakemake("-n", "--config", f"results_root={tmp_path}/results", "device=cuda")
    assert res.returncode == 2
    assert res.stderr.splitlines()[-1].startswith(
        "jepa-bench workflow: error: config device='cuda' is not allowed")


def test_a_changed_config_is_refused_where_another_experiment_lives(tmp_path, snakemake):
    results = tmp_path / "results"
    results.mkdir()
    (results / "experiment.json").write_text(json.dumps(
        {"format": 1, "experiments": ["figure3"], "configurations": ["j1g1r0", "j1g0r1"],
         "seeds": [0, 1], "total_steps": 512, "settings": "v2", "renderer": "fast",
         "train_overrides": ["num_envs=4", "num_steps=32"], "runs_root": f"{results}/runs"}))
    tiny = ["-n", "--configfile", "workflow/config/tiny.yaml"]
    assert snakemake(*tiny, "--config", f"results_root={results}").returncode == 0
    res = snakemake(*tiny, "--config", f"results_root={results}", "seeds=[0]")
    assert res.returncode == 2
    line = res.stderr.splitlines()[-1]
    assert line.startswith("jepa-bench workflow: error: config differs from the experiment in")
    assert "seeds [0, 1] -> [0]" in line and "--config results_root=" in line
