"""jepa_bench.compare: timing columns are ignored, every other cell counts."""

import json

import pytest

from jepa_bench.cli import main
from jepa_bench.compare import compare_csv, compare_runs
from jepa_bench.metrics import EPISODE_COLUMNS, write_csv_atomic, write_json_atomic


def _run(folder, metrics, episodes=(), seed=0):
    write_json_atomic(folder / "run.json", {"config_name": "j1g1r0", "config": {"lr": 1e-3},
                                            "seed": seed, "env_steps": 64, "updates": len(metrics),
                                            "status": "complete", "wall_time": 1.0 + seed})
    write_csv_atomic(folder / "metrics.csv", ("update", "wall_time", "sps", "embed_var"), metrics)
    write_csv_atomic(folder / "episodes.csv", EPISODE_COLUMNS, list(episodes))
    return folder


ROWS = [{"update": 1, "wall_time": 0.5, "sps": 64.0, "embed_var": 0.25},
        {"update": 2, "wall_time": 1.0, "sps": 64.0, "embed_var": 0.125}]


def test_runs_that_differ_only_in_timing_are_the_same(tmp_path):
    a = _run(tmp_path / "a", ROWS, [{"env_step": 9, "return": 9.0, "length": 9}])
    slower = [r | {"wall_time": 2 * r["wall_time"], "sps": 32.0} for r in ROWS]
    b = _run(tmp_path / "b", slower, [{"env_step": 9, "return": 9.0, "length": 9}])
    assert compare_runs(a, b) == []


def test_a_changed_cell_is_reported_with_line_and_column(tmp_path):
    a = _run(tmp_path / "a", ROWS)
    b = _run(tmp_path / "b", [ROWS[0], ROWS[1] | {"embed_var": 0.12500001}])
    assert compare_csv(a / "metrics.csv", b / "metrics.csv") == [
        "metrics.csv line 3, embed_var: 0.125 vs 0.12500001"]


def test_missing_rows_seed_and_episodes_are_reported(tmp_path):
    a = _run(tmp_path / "a", ROWS, [{"env_step": 9, "return": 9.0, "length": 9}])
    b = _run(tmp_path / "b", ROWS[:1], seed=1)
    diffs = compare_runs(a, b)
    assert "run.json seed: 0 vs 1" in diffs and "run.json updates: 2 vs 1" in diffs
    assert "metrics.csv: 2 rows vs 1" in diffs and "episodes.csv: 1 rows vs 0" in diffs


def test_cli_exit_codes_and_unfinished_folder(tmp_path, capsys):
    a = _run(tmp_path / "a", ROWS)
    assert main(["compare", str(a), str(a)]) == 0
    assert "same run" in capsys.readouterr().out
    assert main(["compare", str(a), str(_run(tmp_path / "b", ROWS[:1]))]) == 1
    (tmp_path / "c").mkdir()
    assert main(["compare", str(a), str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "run.json is missing" in err


def test_empty_csv_is_a_clear_error(tmp_path):
    (tmp_path / "x.csv").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        compare_csv(tmp_path / "x.csv", tmp_path / "x.csv")


def test_a_config_field_a_run_predates_counts_as_its_default(tmp_path):
    """A rerun at a later revision stores fields the committed run.json lacks; when they hold
    their defaults it is still the same run, and a real difference is named."""
    a, b = _run(tmp_path / "a", ROWS), _run(tmp_path / "b", ROWS)
    info = json.loads((b / "run.json").read_text())
    info["config"]["encoder"] = "vit"
    write_json_atomic(b / "run.json", info)
    assert compare_runs(a, b) == []
    info["config"]["encoder"] = "cnn"
    write_json_atomic(b / "run.json", info)
    assert compare_runs(a, b) == ["run.json config.encoder: None vs 'cnn'"]
