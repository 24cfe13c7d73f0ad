"""Calibration tables, the probe table and the settings table, on hand-written inputs."""

import json

import pytest

from jepa_bench.studies.calibration import (calibration_targets, calibration_probe_table, training_table,
                                    write_calibration_report)
from jepa_bench.studies.probe_report import summarise_probes
from jepa_bench.cli import parse_pairs
from jepa_bench.studies.settings_report import settings_table


def _probe(root, cell, seed, theta, theta_dot, init, encoder="vit", overrides=None):
    path = root / "probe" / cell / f"seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"encoder": encoder, "seed": seed, "overrides": overrides or {},
                                "init_embed_var": init,
                                "r2": {"x": 0.5, "x_dot": 0.5, "theta": theta,
                                       "theta_dot": theta_dot}}))


def test_summarise_probes_means_over_seeds():
    rows = [{"seed": 1, "init_embed_var": 1e-3, "r2": dict(x=0, x_dot=0, theta=0.8, theta_dot=0.6)},
            {"seed": 2, "init_embed_var": 3e-3, "r2": dict(x=1, x_dot=0, theta=1.0, theta_dot=0.8)}]
    row = summarise_probes(rows)
    assert row["r2_theta"] == 0.9 and row["r2_theta_dot"] == 0.7 and row["r2_x"] == 0.5
    assert (row["init_embed_var_min"], row["init_embed_var_max"], row["seeds"]) == (1e-3, 3e-3, "1 2")
    with pytest.raises(ValueError):
        summarise_probes([])


def test_probe_targets_decide_each_cell(tmp_path):
    _probe(tmp_path, "good", 100, 0.95, 0.80, 2e-3, overrides={"obs_norm": "standard"})
    _probe(tmp_path, "good", 101, 0.91, 0.76, 3e-3, overrides={"obs_norm": "standard"})
    _probe(tmp_path, "low_var", 100, 0.95, 0.80, 5e-4)
    _probe(tmp_path, "blind", 100, 0.60, 0.80, 2e-3)
    cells = {"good": {"config": "j0g1r0", "set": [], "seeds": [100, 101]},
             "low_var": {"config": "j0g1r0", "set": []}, "blind": {"config": "j0g1r0", "set": []}}
    table = calibration_probe_table(tmp_path, cells, [100]).set_index("cell")
    assert table.loc["good", "meets_all"] and table.loc["good", "r2_theta"] == 0.93
    assert table.loc["good", "set"] == "obs_norm=standard" and table.loc["blind", "set"] == "(v1)"
    assert not table.loc["low_var", "meets_all"] and table.loc["low_var", "meets_theta"]
    assert not table.loc["blind", "meets_theta"]


def test_calibration_never_reads_a_paper_configuration(tmp_path, run_folder):
    run_folder(tmp_path / "screen" / "cell" / "seed100", config_name="j1g1r0", seed=100,
               metric_steps=[100, 200], episode_steps=[100, 200], episode_returns=[10.0, 30.0])
    with pytest.raises(ValueError, match="paper configuration 'j1g1r0'"):
        training_table(tmp_path, "screen", {"cell": []}, [100], 50)


def test_screen_table_and_report(tmp_path, run_folder):
    run_folder(tmp_path / "screen" / "e4m4" / "seed100", config_name="cnn_pixel_ppo", seed=100,
               metric_steps=[300], episode_steps=[100, 200, 300],
               episode_returns=[10.0, 30.0, 50.0])
    spec = {"screen": {"config": "cnn_pixel_ppo", "settings": "v1", "total_steps": 300,
                       "seeds": [100], "cells": {"e4m4": []}}}
    table = training_table(tmp_path, "screen", spec["screen"]["cells"], [100], 2)
    assert table.loc[0, "mean_last_2"] == 40.0 and table.loc[0, "episodes"] == 3
    paths = write_calibration_report(tmp_path, spec, tmp_path / "calibration.md")
    assert (tmp_path / "screen.csv").is_file() and "Stage B" in paths[-1].read_text()
    assert calibration_targets(spec, "R") == ["R/screen/e4m4/seed100/run.json"]


def test_settings_table_marks_missing_sets_not_run(tmp_path):
    claim = {"id": 1, "statement": "baseline learns", "verdict": "reproduced",
             "checks": [{"detail": "final return 120 vs 33"}]}
    (tmp_path / "v2.json").write_text(json.dumps({"claims": [claim]}))
    text = settings_table(parse_pairs([f"v1={tmp_path / 'nope.json'}", f"v2={tmp_path / 'v2.json'}"]))
    assert "| 1 | baseline learns | not run | **reproduced** (final return 120 vs 33) |" in text
    with pytest.raises(ValueError, match="expected SET=PATH"):
        parse_pairs(["v1"])
    with pytest.raises(ValueError, match="'v1' is given twice"):
        parse_pairs(["v1=a/claims.json", "v1=b/claims.json"])
