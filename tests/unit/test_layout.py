"""jepa_bench.layout: run folders are a function of (root, config, seed); the recovery stages'
folders; the file names; the Snakemake wildcards pass through."""

from pathlib import Path

import pytest

from jepa_bench.layout import (RunPaths, calibration_paths, collapse_paths, probe_json,
                               probe_name_of, recovery_root_of, run_dir, runs_root_of, switch_paths)


def test_seeds_are_checked_not_silently_mended():
    from jepa_bench.layout import check_seeds
    assert check_seeds(["2", 0]) == [2, 0]
    with pytest.raises(ValueError, match=r"seeds=\[0, 1, 0\] is not allowed: 0 given twice"):
        check_seeds([0, 1, 0])
    with pytest.raises(ValueError, match=r"every seed >= 0"):
        check_seeds([-1])


def test_a_run_folder_is_root_config_seed():
    p = RunPaths.of("results/runs", "j1g1r0", 3)
    assert p.root == Path("results/runs/j1g1r0/seed3") == run_dir("results/runs", "j1g1r0", 3)
    assert [f.name for f in p.results()] == ["run.json", "metrics.csv", "episodes.csv"]
    assert p.checkpoint == Path("results/runs/j1g1r0/seed3/checkpoints/last.pt")
    assert runs_root_of(p.metrics) == Path("results/runs")


def test_recovery_stages_and_their_inverse():
    c = collapse_paths("r/recovery", "ppo", 1)
    assert c.root == Path("r/recovery/collapse/ppo/seed1")
    on = switch_paths("r/recovery", "ppo", "grad_on", 1)
    assert on.root == Path("r/recovery/ppo/grad_on/seed1")
    assert recovery_root_of(c.run_json) == Path("r/recovery")


def test_snakemake_wildcards_pass_through():
    assert str(RunPaths.of("res/runs", "{configuration}", "{seed}").run_json) == \
        "res/runs/{configuration}/seed{seed}/run.json"
    assert str(switch_paths("x", "{algo}", "{arm}", "{seed}").metrics) == \
        "x/{algo}/{arm}/seed{seed}/metrics.csv"


def test_calibration_runs_and_probe_results_and_their_inverse():
    assert calibration_paths("r/cal", "screen", "e4m8", 100).root == Path("r/cal/screen/e4m8/seed100")
    probe = probe_json("r/v2", "j1g1r0", 1)
    assert probe == Path("r/v2/probe/j1g1r0/seed1.json") and probe_name_of(probe) == "j1g1r0"
    assert str(probe_json("R", "{cell}", "{seed}")) == "R/probe/{cell}/seed{seed}.json"
