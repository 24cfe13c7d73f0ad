"""One-line config errors and command-line seeds for the Snakemake workflow."""

import os
from pathlib import Path

import pytest
import yaml

from jepa_bench.workflow_config import (config_error, folders_error, load_schema,
                                        section_error, seeds_from_command_line)

REPO = Path(__file__).resolve().parents[2]
SCHEMA = load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
GOOD = yaml.safe_load((REPO / "workflow" / "config" / "config.yaml").read_text())


@pytest.mark.parametrize("preset", ["config", "full-grid", "tiny", "recovery", "recovery-small"])
def test_presets_pass(preset):
    path = REPO / "workflow" / "config" / f"{preset}.yaml"
    merged = GOOD | yaml.safe_load(path.read_text())
    assert config_error(merged, SCHEMA) is None


@pytest.mark.parametrize("key, value, expected", [
    ("total_steps", 0, "config total_steps=0 is not allowed: must be >= 1"),
    ("seeds", [0, -1], "config seeds[1]=-1 is not allowed: must be >= 0"),
    ("seeds", [0, 0], "config seeds=[0, 0] is not allowed: [0, 0] has non-unique elements"),
    ("configurations", ["j9g0r0"], "config configurations[0]='j9g0r0' is not allowed: allowed "
                                   "values are j0g0r0, j0g0r1"),
    ("device", "tpu", "config device='tpu' is not allowed"),
    ("experiments", ["calibration", "probe"], "config experiments=['calibration', 'probe'] is "
                                              "not allowed: calibration and probe both write"),
])
def test_bad_value_is_one_line_naming_key_and_value(key, value, expected):
    message = config_error(GOOD | {key: value}, SCHEMA)
    assert message is not None and message.startswith(expected)
    assert "\n" not in message


@pytest.mark.parametrize("items, expected", [
    # config total_steps sets a run's steps: the --set item would be ignored
    (["num_envs=4", "total_steps=1000"], "config train_overrides=['num_envs=4', 'total_steps=1000'] "
                                         "is not allowed: --set total_steps is not allowed: use "
                                         "--total-steps (the workflow: config total_steps)"),
    (["bogus=1"], "config train_overrides=['bogus=1'] is not allowed: unknown --set key 'bogus'; "
                  "valid keys: "),
    (["jepa=0"], "config train_overrides=['jepa=0'] is not allowed: --set jepa is fixed by the "
                 "configuration name"),
    # every training gets --renderer from config renderer, which wins over --set renderer
    (["renderer=gym"], "config train_overrides=['renderer=gym'] is not allowed: renderer is set "
                       "by config renderer (every training gets --renderer from it"),
])
def test_train_overrides_get_the_check_of_set_items(items, expected):
    for experiments in (["figure3"], ["sensitivity"], ["recovery"]):
        message = config_error(GOOD | {"train_overrides": items, "experiments": experiments},
                               SCHEMA)
        assert message is not None and message.startswith(expected) and "\n" not in message
    assert config_error(GOOD | {"train_overrides": ["num_envs=4", "lr=0.001"]}, SCHEMA) is None


def test_probe_configs_must_read_pixels():
    message = config_error(GOOD | {"probe_configs": ["j1g1r0", "state"]}, SCHEMA)
    assert message == ("config probe_configs=['j1g1r0', 'state'] is not allowed: state reads the "
                       "state, not pixels; the probe needs a pixel configuration")
    assert config_error(GOOD | {"probe_configs": ["j1g1r0", "cnn_pixel_ppo"]}, SCHEMA) is None


def test_a_results_root_that_is_a_file_is_named(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    good = {"results_root": str(tmp_path / "new" / "results")}
    assert folders_error(good, str(tmp_path / "runs")) is None  # made when missing
    assert folders_error({"results_root": str(afile)}, str(tmp_path / "runs")) == (
        f"config results_root={str(afile)!r} is not allowed: it is a file, not a folder; give "
        "a folder (it is made when missing)")
    inside = folders_error(good | {"runs_root": str(afile / "runs")}, str(afile / "runs"))
    assert inside.startswith(f"config runs_root={str(afile / 'runs')!r} is not allowed: it lies "
                             f"inside {afile}, which is a file")
    derived = folders_error({"results_root": str(afile), "runs_root": None}, str(afile / "runs"))
    assert derived.startswith("config results_root=")  # the key the user gave comes first
    derived = folders_error({"results_root": str(tmp_path)}, str(afile))
    assert derived.startswith(f"config runs_root (results_root/runs)={str(afile)!r}")


def test_a_spec_section_is_checked_against_the_schema_alone():
    centre = {"name": "centre", "axis": "centre", "set": []}
    assert section_error("sensitivity", {"points": [centre]}) is None
    assert section_error("sensitivity", {"points": 3}) == (
        "config sensitivity[points]=3 is not allowed: 3 is not of type 'array'")
    assert "'axis' is a required property" in section_error(
        "sensitivity", {"points": [{"name": "p"}]})
    assert section_error("calibration", {"screen": 5}).startswith(
        "config calibration[screen]=5 is not allowed: 5 is not of type 'object'")
    assert section_error("sensitivity", {"points": 3}, schema_path="/nonexistent.yaml") is None


def test_unknown_key_lists_the_known_ones():
    message = config_error(GOOD | {"total_step": 5}, SCHEMA)
    assert message.startswith("config key 'total_step' is not known: allowed keys are ")
    assert "total_steps" in message and "\n" not in message


def test_first_error_does_not_depend_on_key_order():
    bad = {"total_steps": 0, "device": "tpu"}
    one = config_error(GOOD | bad, SCHEMA)
    two = config_error(dict(reversed(list((GOOD | bad).items()))), SCHEMA)
    assert one == two


@pytest.mark.parametrize("given, expected", [
    (["0", "1"], [0, 1]), ([0, "2"], [0, 2]), (["a", "1"], ["a", 1]), (["-1"], [-1]),
    ("3", "3"), ([], []),
])
def test_seeds_from_command_line(given, expected):
    assert seeds_from_command_line(given) == expected


def test_negative_seed_from_the_command_line_is_below_the_minimum():
    """`--config "seeds=[-1]"` arrives as ['-1']: reported as below 0, not as a wrong type."""
    message = config_error(GOOD | {"seeds": seeds_from_command_line(["-1"])}, SCHEMA)
    assert message == "config seeds[0]=-1 is not allowed: must be >= 0"


# --- one results folder holds one experiment ----------------------------------------------------

from jepa_bench.workflow_config import (MANIFEST, clear_stale_locks, device_error,  # noqa: E402
                                        experiment_manifest, manifest_error, requested_executor,
                                        write_manifest)


def _config(tmp_path, **changes):
    from snakemake.utils import validate

    cfg = dict(GOOD, results_root=str(tmp_path / "out"), **changes)
    validate(cfg, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return cfg


def test_manifest_records_the_experiment_not_the_machine(tmp_path):
    manifest = experiment_manifest(_config(tmp_path), "r/runs")
    assert {"configurations", "seeds", "total_steps", "renderer", "train_overrides", "settings",
            "runs_root", "experiments"} <= set(manifest)
    assert "device" not in manifest and "results_root" not in manifest
    assert "recovery_steps" not in manifest  # not part of a figure3 experiment
    curves = experiment_manifest(_config(tmp_path, experiments=["curves"]), "r/runs")
    assert {"configurations", "seeds", "total_steps", "settings", "runs_root"} <= set(curves)


def test_a_changed_config_is_refused_in_a_folder_made_under_another(tmp_path):
    cfg = _config(tmp_path)
    assert manifest_error(cfg, "runs") is None  # a new folder
    write_manifest(cfg, "runs")
    assert (tmp_path / "out" / MANIFEST).is_file()
    assert manifest_error(cfg, "runs") is None  # the same experiment
    assert manifest_error(dict(cfg, device="cpu"), "runs") is None  # the device is not in it
    message = manifest_error(dict(cfg, seeds=[0, 1], total_steps=20000), "runs")
    assert message.startswith("config differs from the experiment in ")
    assert "seeds [0, 1, 2, 3, 4] -> [0, 1]" in message and "total_steps 100000 -> 20000" in message
    assert "--config results_root=" in message and "\n" not in message


def test_a_folder_from_before_manifests_is_checked_against_its_summary(tmp_path):
    summary = tmp_path / "out" / "summary"
    summary.mkdir(parents=True)
    (summary / "summary.json").write_text(
        '{"configurations": ["j0g1r0", "j1g1r0", "j1g0r0", "j1g0r1"], "seeds": [0, 1, 2, 3, 4], '
        '"total_steps": 100000, "runs_root": "runs"}')
    cfg = dict(_config(tmp_path), settings="v1")  # a folder from before manifests is v1's
    assert manifest_error(cfg, "runs") is None
    assert "seeds" in manifest_error(dict(cfg, seeds=[0, 1]), "runs")
    assert "settings 'v1' -> 'v2'" in manifest_error(dict(cfg, settings="v2"), "runs")


def test_committed_reference_results_refuse_other_seeds():
    """The committed results/v1/ folder (no manifest yet): its summary records seeds 0-4."""
    from snakemake.utils import validate

    cfg = dict(GOOD, results_root="results/v1", settings="v1", experiments=["figure3"])
    validate(cfg, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    import os
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        assert manifest_error(cfg, "results/v1/runs") is None
        assert "seeds" in manifest_error(dict(cfg, seeds=[0, 1]), "results/v1/runs")
    finally:
        os.chdir(cwd)


def test_calibration_may_grow_but_not_change(tmp_path):
    base = {"probe": {"seeds": [100], "cells": {"a": {"config": "j0g1r0", "set": []}}}}
    cfg = _config(tmp_path, experiments=["calibration"], calibration=base)
    write_manifest(cfg, "runs")
    grown = {"probe": {"seeds": [100, 101], "cells": {"a": {"config": "j0g1r0", "set": []},
                                                     "b": {"config": "j0g1r0", "set": []}}}}
    assert manifest_error(dict(cfg, calibration=grown), "runs") is None
    changed = {"probe": {"seeds": [100], "cells": {"a": {"config": "j0g1r0",
                                                         "set": ["lr=1e-3"]}}}}
    assert "calibration" in manifest_error(dict(cfg, calibration=changed), "runs")


def test_a_folder_may_gain_a_report_but_not_lose_one(tmp_path):
    cfg = _config(tmp_path, experiments=["figure3", "settings"])
    write_manifest(cfg, "runs")
    grown = dict(cfg, experiments=["figure3", "settings", "yu_chen"],
                 yu_chen={"reports": {"a": "a.json"}, "a2c_control": ""})
    assert manifest_error(grown, "runs") is None
    assert "experiments" in manifest_error(dict(cfg, experiments=["figure3"]), "runs")
    # what the new report gathers is then recorded, and may grow but not change
    write_manifest(grown, "runs")
    more = dict(grown, yu_chen={"reports": {"a": "a.json", "b": "b.json"}, "a2c_control": ""})
    assert manifest_error(more, "runs") is None
    moved = dict(grown, yu_chen={"reports": {"a": "elsewhere.json"}, "a2c_control": ""})
    assert "yu_chen" in manifest_error(moved, "runs")


@pytest.mark.parametrize("argv, executor", [
    (["snakemake", "-c2"], "local"), (["snakemake", "--executor", "slurm"], "slurm"),
    (["snakemake", "-e=slurm"], "slurm"),
    (["snakemake", "--workflow-profile", "workflow/profiles/slurm"], "slurm"),
])
def test_requested_executor(argv, executor, monkeypatch):
    monkeypatch.chdir(REPO)
    assert requested_executor(argv) == executor


def test_cuda_without_cuda_is_refused_for_local_jobs_only(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    message = device_error(GOOD | {"device": "cuda"}, ["snakemake", "-n"])
    assert message.startswith("config device='cuda' is not allowed") and "\n" not in message
    assert device_error(GOOD | {"device": "cuda"}, ["snakemake", "--executor", "slurm"]) is None
    assert device_error(GOOD | {"device": "auto"}, ["snakemake"]) is None


def test_stale_snakemake_locks_are_removed_only_when_no_other_snakemake_lives(tmp_path):
    import subprocess
    import sys
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("x")
    # another live process holds the folder: the locks may be its own, so they stay
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from jepa_bench.workflow_config import clear_stale_locks; "
        f"clear_stale_locks({str(tmp_path / '.snakemake')!r}); print('held', flush=True); "
        "time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        (locks / "0.input.lock").write_text("x")
        assert clear_stale_locks(tmp_path / ".snakemake") is False
        assert (locks / "0.input.lock").exists()
    finally:
        holder.kill()
        holder.wait()
    # its holder is dead (killed): they are stale
    assert clear_stale_locks(tmp_path / ".snakemake") is True
    assert not (locks / "0.input.lock").exists()


def test_the_schema_enums_are_the_package_names():
    """A configuration, settings set or algorithm added to jepa_bench.config must be added to the
    schema too (or `snakemake` refuses what `jepa-bench train` takes)."""
    from pathlib import Path

    import yaml

    from jepa_bench.config import ALGORITHMS, CHOICES, CONFIGS, SETTINGS

    schema = yaml.safe_load((Path(__file__).parents[2] / "workflow" / "schemas"
                             / "config.schema.yaml").read_text(encoding="utf-8"))
    found: dict[str, list] = {}

    def walk(node, key=None):
        if isinstance(node, dict):
            if "enum" in node:
                found.setdefault(key, []).append(list(node["enum"]))
            for k, v in node.items():
                walk(v, k if k not in ("items", "properties", "additionalProperties") else key)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)

    walk(schema)
    assert found["configuration"] == [list(CONFIGS)]
    # the top-level settings, the calibration's two, and $defs/settings (recovery_shared_settings)
    assert all(e == list(SETTINGS) for e in found["settings"]) and len(found["settings"]) == 4
    per_algo = schema["properties"]["recovery_shared_settings"]["properties"]
    assert set(per_algo) == set(ALGORITHMS)
    assert all(v == {"$ref": "#/$defs/settings"} for v in per_algo.values())
    assert found["recovery_algorithms"] == [list(ALGORITHMS)]
    assert found["renderer"] == [list(CHOICES["renderer"])]


# --- run folders shared between presets (issue 28, item 5) --------------------------------------

def _runs(tmp_path, config, **fields):
    """run.json files for every run of `config` under tmp_path/runs, with the config it asks for
    (`fields` changed); returns the runs root."""
    import json

    from jepa_bench.config import parse_overrides, resolve
    from jepa_bench.layout import RunPaths

    overrides = {**parse_overrides(config["train_overrides"]), "renderer": config["renderer"],
                 "total_steps": config["total_steps"]}
    for name in config["configurations"]:
        made = resolve(name, overrides, settings=config["settings"]).to_dict() | fields
        for seed in config["seeds"]:
            path = RunPaths.of(tmp_path / "runs", name, seed).run_json
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"config_name": name, "seed": seed, "config": made}))
    return str(tmp_path / "runs")


def test_runs_made_with_the_asked_settings_may_be_shared(tmp_path):
    from jepa_bench.workflow_config import runs_root_error

    cfg = _config(tmp_path)
    assert runs_root_error(cfg, str(tmp_path / "none")) is None  # nothing there yet
    assert runs_root_error(cfg, _runs(tmp_path, cfg)) is None


def test_runs_made_with_other_settings_are_refused_at_parse_time(tmp_path):
    from jepa_bench.workflow_config import runs_root_error

    cfg = _config(tmp_path)
    runs = _runs(tmp_path, cfg)  # made with 100k steps; now 20k are asked
    message = runs_root_error(dict(cfg, total_steps=20000), runs)
    assert message.startswith(f"runs_root {runs} holds 20 run folder(s) made with other "
                              "settings than this config asks")
    assert "total_steps=100000 (asked: 20000)" in message and "\n" not in message
    assert f"--config runs_root={tmp_path / 'out'}/runs" in message
    assert "delete" not in message
    # another settings set: named field by field; the default runs_root gets a fresh folder
    message = runs_root_error(dict(cfg, settings="v1"), runs)
    assert "norm_reward=True (asked: False)" in message and "3 more field(s)" in message
    own = dict(cfg, results_root=str(tmp_path), total_steps=20000)
    assert "--config results_root=results/<name>" in runs_root_error(own, runs)
    # experiments that do not train Figure 3's runs are not concerned
    assert runs_root_error(dict(cfg, total_steps=20000, experiments=["theory"]), runs) is None


def test_an_unreadable_shared_run_json_is_named(tmp_path):
    from jepa_bench.workflow_config import runs_root_error

    cfg = _config(tmp_path)
    runs = _runs(tmp_path, cfg)
    bad = tmp_path / "runs" / "j1g1r0" / "seed3" / "run.json"
    bad.write_text('{"config": ')
    message = runs_root_error(cfg, runs)
    assert message.startswith(f"{bad} cannot be read (") and "restore it" in message


# --- committed results keep the order they were made in ------------------------------------------

def test_committed_files_get_their_last_commits_time_once_per_head(git_repo):
    """An output committed after its input is newer than it again whatever order the checkout
    wrote them in; a file changed since its commit keeps its own time; the stamp makes the
    second call a no-op, so a later `touch` stays in effect until HEAD moves."""
    from jepa_bench.workflow_config import sync_commit_times
    repo = git_repo.root
    (repo / "results" / "b").mkdir(parents=True)
    (repo / "results" / "a").mkdir()
    (repo / "results" / "b" / "input.txt").write_text("run\n")
    (repo / "results" / "a" / "edited.txt").write_text("v1\n")
    (repo / "other.txt").write_text("not under results\n")
    git_repo.commit("runs", when=1_700_000_000)
    (repo / "results" / "a" / "output.txt").write_text("report\n")
    git_repo.commit("report", when=1_700_000_500)
    # a file deleted in a commit and made again, not committed: git's history names it
    (repo / "results" / "gone.txt").write_text("old\n")
    git_repo.commit("gone", when=1_700_000_600)
    git_repo.run("rm", "-q", "results/gone.txt")
    git_repo.commit("removed", when=1_700_000_700)
    # the checkout's order: the output written first, then its input, both "now"
    for rel in ("results/a/output.txt", "results/b/input.txt", "other.txt"):
        os.utime(repo / rel, (1_800_000_000, 1_800_000_000))
    (repo / "results" / "a" / "edited.txt").write_text("v2, not committed\n")
    os.utime(repo / "results" / "a" / "edited.txt", (1_800_000_100, 1_800_000_100))
    (repo / "results" / "gone.txt").write_text("made again\n")
    os.utime(repo / "results" / "gone.txt", (1_800_000_200, 1_800_000_200))

    assert sync_commit_times(repo=repo) == 2
    assert os.stat(repo / "results" / "gone.txt").st_mtime == 1_800_000_200
    mtime = {rel: os.stat(repo / rel).st_mtime
             for rel in ("results/a/output.txt", "results/b/input.txt",
                         "results/a/edited.txt", "other.txt")}
    assert mtime == {"results/a/output.txt": 1_700_000_500, "results/b/input.txt": 1_700_000_000,
                     "results/a/edited.txt": 1_800_000_100, "other.txt": 1_800_000_000}
    stamp = repo / ".snakemake" / "jepa-bench-commit-times"
    assert len(stamp.read_text().strip()) == 40

    os.utime(repo / "results" / "b" / "input.txt", (1_900_000_000, 1_900_000_000))
    assert sync_commit_times(repo=repo) is None  # same HEAD: the touch stands
    assert os.stat(repo / "results" / "b" / "input.txt").st_mtime == 1_900_000_000
    git_repo.run("commit", "-q", "--allow-empty", "-m", "later", when=1_700_001_000)
    assert sync_commit_times(repo=repo) == 2  # a new HEAD: synced again
    assert os.stat(repo / "results" / "b" / "input.txt").st_mtime == 1_700_000_000


def test_commit_times_outside_a_git_work_tree_do_nothing(tmp_path):
    from jepa_bench.workflow_config import sync_commit_times
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "x.txt").write_text("x")
    before = os.stat(tmp_path / "results" / "x.txt").st_mtime
    assert sync_commit_times(repo=tmp_path) is None
    assert os.stat(tmp_path / "results" / "x.txt").st_mtime == before
    assert not (tmp_path / ".snakemake").exists()



def _category_targets_warnings(names) -> list[str]:
    """The docutils messages of the link targets Snakemake's report writes for its panels and
    each category (snakemake.report: ``.. _<name>: javascript:...``)."""
    from docutils import nodes
    from docutils.core import publish_doctree
    text = "\n".join(f".. _{name}: javascript:show('{i}')"
                     for i, name in enumerate(["Workflow", "Statistics", *sorted(names)]))
    tree = publish_doctree(text, settings_overrides={"report_level": 5, "halt_level": 5})
    return [m.astext() for m in tree.findall(nodes.system_message)]


def test_report_categories_are_distinct_link_targets():
    """Snakemake's HTML report makes each category a reStructuredText link target, beside
    "Workflow" and "Statistics". A colon ends a target's name and names are case-blind:
    "Sensitivity: points" and "Sensitivity" were both the target "sensitivity", and docutils
    printed a duplicate-target warning into every caption of the report."""
    import re
    names = {m[1] for rules in (REPO / "workflow" / "rules").glob("*.smk")
             for m in re.finditer(r'\bcategory="([^"]*)"', rules.read_text())}
    assert "Sensitivity, per point" in names  # the scan finds the rules' categories
    assert _category_targets_warnings(names) == []
    assert _category_targets_warnings(names | {"Sensitivity: points"})  # the check can fail
