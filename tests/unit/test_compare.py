"""jepa_bench.analysis.compare: timing columns are ignored, every other cell counts."""

import json

import pytest

from jepa_bench.cli import main
from jepa_bench.analysis.compare import compare_csv, compare_runs
from jepa_bench.metrics import write_json_atomic


@pytest.fixture
def run(run_folder):
    """run(folder, updates=2, seed=0, episodes=1, **metric columns): a finished j1g1r0 run of
    32 steps an update; embed_var 0.25, 0.125, ...; wall_time 0.5 an update; sps 64."""
    def make(folder, updates=2, seed=0, episodes=1, **columns):
        steps = [32 * (u + 1) for u in range(updates)]
        metrics = dict(embed_var=[0.25 / 2**u for u in range(updates)],
                       wall_time=[0.5 * (u + 1) for u in range(updates)], sps=64.0) | columns
        return run_folder(folder, config_name="j1g1r0", seed=seed, metric_steps=steps,
                          episode_steps=[9] * episodes, episode_returns=9.0, env_steps=64,
                          config={"lr": 1e-3}, updates=updates, **metrics).root
    return make


def test_runs_that_differ_only_in_timing_are_the_same(tmp_path, run):
    a = run(tmp_path / "a")
    b = run(tmp_path / "b", wall_time=[1.0, 2.0], sps=32.0)
    assert compare_runs(a, b) == []


def test_a_changed_cell_is_reported_with_line_and_column(tmp_path, run):
    a = run(tmp_path / "a")
    b = run(tmp_path / "b", embed_var=[0.25, 0.12500001])
    assert compare_csv(a / "metrics.csv", b / "metrics.csv") == [
        "metrics.csv line 3, embed_var: 0.125 vs 0.12500001"]


def test_missing_rows_seed_and_episodes_are_reported(tmp_path, run):
    a = run(tmp_path / "a")
    b = run(tmp_path / "b", updates=1, seed=1, episodes=0)
    diffs = compare_runs(a, b)
    assert "run.json seed: 0 vs 1" in diffs and "run.json updates: 2 vs 1" in diffs
    assert "metrics.csv: 2 rows vs 1" in diffs and "episodes.csv: 1 rows vs 0" in diffs


def test_cli_exit_codes_and_unfinished_folder(tmp_path, capsys, run):
    a = run(tmp_path / "a")
    assert main(["compare", str(a), str(a)]) == 0
    assert "same run" in capsys.readouterr().out
    assert main(["compare", str(a), str(run(tmp_path / "b", updates=1))]) == 1
    (tmp_path / "c").mkdir()
    assert main(["compare", str(a), str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "run.json is missing" in err


def test_empty_csv_is_a_clear_error(tmp_path):
    (tmp_path / "x.csv").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        compare_csv(tmp_path / "x.csv", tmp_path / "x.csv")


def test_a_config_field_a_run_predates_counts_as_its_default(tmp_path, run):
    """A rerun at a later revision stores fields the committed run.json lacks; when they hold
    their defaults it is still the same run, and a real difference is named."""
    a, b = run(tmp_path / "a"), run(tmp_path / "b")
    info = json.loads((b / "run.json").read_text())
    info["config"]["encoder"] = "vit"
    write_json_atomic(b / "run.json", info)
    assert compare_runs(a, b) == []
    info["config"]["encoder"] = "cnn"
    write_json_atomic(b / "run.json", info)
    assert compare_runs(a, b) == ["run.json config.encoder: None vs 'cnn'"]
