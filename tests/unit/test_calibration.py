"""Calibration tables, the probe table and the settings table, on hand-written inputs."""

import json

import pandas as pd
import pytest

from jepa_bench.studies.calibration import (calibration_targets, calibration_probe_table,
                                            report_inputs, screen_winner, stage_overrides, training_table,
                                            write_calibration_report, write_winner)
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


A2C_CELLS = {"n5_lr7e-4": ["num_steps=5", "lr=7e-4"], "n16_lr2.5e-4": ["num_steps=16", "lr=2.5e-4"],
             "n5_lr2e-3": ["num_steps=5", "lr=2e-3"], "n32_lr2e-3": ["num_steps=32", "lr=2e-3"]}
A2C_SPEC = {"screen": {"config": "cnn_pixel_a2c", "settings": "v2", "total_steps": 300,
                       "seeds": [100, 101], "base": ["num_envs=2"], "cells": A2C_CELLS},
            "confirm": {"config": "cnn_pixel_a2c", "settings": "v2", "total_steps": 600,
                        "seeds": [100, 101, 102], "from": "screen", "tie_break": ["num_steps", "lr"]}}


def _screen_runs(scores):
    rows = [{"cell": c, "seed": s, "episodes": 60, "mean_last_50": v}
            for c, per_seed in scores.items() for s, v in zip((100, 101), per_seed)]
    return pd.DataFrame(rows)


def test_screen_winner_best_mean_then_shorter_rollout_then_smaller_lr():
    # means: 40.04, 40.00, 40.01 (all 40.0 to one decimal: a tie), 39.0
    runs = _screen_runs({"n5_lr7e-4": (40.08, 40.0), "n16_lr2.5e-4": (50.0, 30.0),
                         "n5_lr2e-3": (40.02, 40.0), "n32_lr2e-3": (39.0, 39.0)})
    won = screen_winner(runs, A2C_CELLS, [100, 101], ["num_steps", "lr"])
    # the 16-step cell has the same rounded score but a longer rollout; of the two 5-step cells
    # the smaller learning rate wins although its raw mean is not the largest
    assert won["cell"] == "n5_lr7e-4" and won["score"] == pytest.approx(40.04)
    assert list(won["scores"])[:3] == ["n5_lr7e-4", "n5_lr2e-3", "n16_lr2.5e-4"]
    # a clear best mean wins whatever its rollout
    runs = _screen_runs({"n5_lr7e-4": (40.0, 40.0), "n16_lr2.5e-4": (60.0, 40.2),
                         "n5_lr2e-3": (10.0, 10.0), "n32_lr2e-3": (39.0, 39.0)})
    assert screen_winner(runs, A2C_CELLS, [100, 101], ["num_steps", "lr"])["cell"] == "n16_lr2.5e-4"


def test_screen_winner_refuses_part_of_the_grid_and_unknown_tie_keys():
    runs = _screen_runs({c: (1.0, 2.0) for c in A2C_CELLS}).iloc[1:]
    with pytest.raises(ValueError, match="missing: n5_lr7e-4/seed100"):
        screen_winner(runs, A2C_CELLS, [100, 101], ["num_steps"])
    runs = _screen_runs({c: (1.0, 2.0) for c in A2C_CELLS})
    with pytest.raises(ValueError, match=r"tie_break key\(s\) \['ent_coef'\]"):
        screen_winner(runs, A2C_CELLS, [100, 101], ["ent_coef"])


def test_a_confirmation_trains_the_winner_with_the_screens_settings(tmp_path, run_folder):
    assert stage_overrides(A2C_SPEC, "confirm", "n5_lr2e-3") == ["num_envs=2", "num_steps=5",
                                                                 "lr=2e-3"]
    # before the winner is known, a confirmation asks for no run
    assert calibration_targets(A2C_SPEC, "R") == [f"R/screen/{c}/seed{s}/run.json"
                                                  for c in A2C_CELLS for s in (100, 101)]
    assert report_inputs(A2C_SPEC, "R", {"confirm": "n5_lr2e-3"}.get)[-4:] == [
        f"R/confirm/n5_lr2e-3/seed{s}/run.json" for s in (100, 101, 102)] + ["R/confirm-winner.json"]
    for i, cell in enumerate(A2C_CELLS):
        for seed in (100, 101):
            run_folder(tmp_path / "screen" / cell / f"seed{seed}", config_name="cnn_pixel_a2c",
                       seed=seed, metric_steps=[300], episode_steps=[100, 200, 300],
                       episode_returns=[10.0, 20.0 + i, 30.0 + i])
    path = write_winner(tmp_path, A2C_SPEC, "confirm")
    won = json.loads(path.read_text())
    assert path == tmp_path / "confirm-winner.json" and won["cell"] == "n32_lr2e-3"
    assert won["from"] == "screen" and won["set"] == ["num_steps=32", "lr=2e-3"]
    text = write_calibration_report(tmp_path, A2C_SPEC, tmp_path / "c.md")[-1].read_text()
    assert "**n32_lr2e-3** (num_steps=32 lr=2e-3)" in text and "Stage B: A2C screen" in text
    with pytest.raises(ValueError, match="stage 'screen' confirms no other stage's winner; "
                                         "stages with `from`: confirm$"):
        write_winner(tmp_path, {**A2C_SPEC, "protocol": "docs/from.md"}, "screen")


def test_calibration_winner_cli_bad_input_exits_2(tmp_path, capsys):
    from jepa_bench.cli import main
    spec = json.dumps(A2C_SPEC)
    assert main(["calibration-winner", "--root", str(tmp_path), "--spec", spec,
                 "--stage", "screen"]) == 2
    assert main(["calibration-winner", "--root", str(tmp_path), "--spec", "[1]",
                 "--stage", "confirm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "confirms no other stage's winner" in err[0] and "must be a JSON object" in err[1]
    # no screen runs yet: the rule is not applied to part of the grid, nothing is written
    assert main(["calibration-winner", "--root", str(tmp_path), "--spec", spec,
                 "--stage", "confirm"]) == 2
    assert not (tmp_path / "confirm-winner.json").exists()


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
