"""What a run records about the code it ran (git state, issue 28 item 8), the aggregate's warning
about runs made from uncommitted code, and the smoke-test heading of a short claims report."""

import subprocess

import numpy as np
import pytest

from jepa_bench.analysis.aggregate import DIRTY_NOTE, summarise
from jepa_bench.analysis.claims import SMOKE_STEPS, write_claims
from jepa_bench.layout import RunPaths
from jepa_bench.metrics import read_json
from jepa_bench.rl.machine import git_revision, git_state, utc_now


def _git(folder, *args):
    subprocess.run(["git", "-C", str(folder), "-c", "user.email=t@t", "-c", "user.name=t",
                    *args], check=True, capture_output=True)


def test_git_state_says_whether_the_code_has_uncommitted_changes(tmp_path):
    assert git_state(tmp_path) == {"git_dirty": None, "git_diff_sha256": None}  # no repository
    assert git_revision(tmp_path) == "unknown"
    code = tmp_path / "pkg"
    code.mkdir()
    (code / "a.py").write_text("x = 1\n")
    (tmp_path / "results.csv").write_text("1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "one")
    assert git_state(code) == {"git_dirty": False, "git_diff_sha256": None}
    assert len(git_revision(code)) == 40
    (tmp_path / "results.csv").write_text("2\n")  # outside the code: still clean
    assert git_state(code)["git_dirty"] is False
    (code / "a.py").write_text("x = 2\n")
    first = git_state(code)
    assert first["git_dirty"] is True and len(first["git_diff_sha256"]) == 64
    assert git_state(code) == first  # the same change, the same hash
    (code / "a.py").write_text("x = 3\n")
    assert git_state(code)["git_diff_sha256"] != first["git_diff_sha256"]
    (code / "a.py").write_text("x = 1\n")
    (code / "new.py").write_text("y = 1\n")  # an untracked module is a change too
    assert git_state(code)["git_dirty"] is True


def test_utc_now_is_iso_8601_in_utc():
    import re
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", utc_now())


def _summary(tmp_path, run_folder, total, **run_json):
    steps = np.arange(total // 10, total + 1, total // 10)
    for seed in (0, 1):
        run_folder(RunPaths.of(tmp_path / "runs", "j1g1r0", seed), config_name="j1g1r0",
                   seed=seed, metric_steps=steps, episode_steps=steps,
                   episode_returns=20.0 + seed, **(run_json if seed == 1 else {}))
    summarise(tmp_path / "runs", ["j1g1r0"], [0, 1], total, tmp_path / "summary",
              baseline_episodes=20)
    return tmp_path / "summary"


def test_aggregate_warns_about_a_run_made_from_uncommitted_code(tmp_path, run_folder, capsys):
    summary = _summary(tmp_path, run_folder, 1000, git_dirty=True, git_rev="abc",
                       git_diff_sha256="f00d")
    err = capsys.readouterr().err
    assert "jepa-bench aggregate: warning: " in err and DIRTY_NOTE in err
    assert str(RunPaths.of(tmp_path / "runs", "j1g1r0", 1).run_json) in err
    assert "seed0" not in err
    notes = read_json(summary / "summary.json")["notes"]
    assert notes == [f"j1g1r0/seed1: {DIRTY_NOTE} (git_rev abc, git_diff_sha256 f00d)"]


def test_aggregate_is_quiet_about_clean_and_older_runs(tmp_path, run_folder, capsys):
    summary = _summary(tmp_path, run_folder, 1000, git_dirty=False)
    assert "warning" not in capsys.readouterr().err
    assert read_json(summary / "summary.json")["notes"] == []


@pytest.mark.parametrize("total, smoke", [(512, True), (SMOKE_STEPS - 1, True),
                                          (SMOKE_STEPS, False), (100_000, False)])
def test_a_short_claims_report_says_it_is_a_smoke_test(tmp_path, run_folder, total, smoke):
    md, _ = write_claims(_summary(tmp_path, run_folder, total), tmp_path / "claims.md")
    lines = md.read_text().splitlines()
    assert lines[0] == "# Claims of section 3, checked against our runs"
    assert lines[2].startswith("**Smoke test, not a verdict**") is smoke
    assert ("Smoke test" in md.read_text()) is smoke
