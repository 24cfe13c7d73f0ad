"""The tiny preset end to end with real training: 2 configurations x 2 seeds x 512 env steps,
through run folders, summary tables, figures and the claims report."""

import csv
import json
import shutil

import pytest

from jepa_bench.layout import RunPaths

pytest.importorskip("snakemake", reason="snakemake is not installed")


@pytest.mark.slow  # about a minute on 2 cores, in the session's tiny_results
def test_tiny_preset_trains_for_real_through_to_the_report(tiny_results, snakemake, job_counts):
    args, results = tiny_results
    for config in ("j1g1r0", "j1g0r1"):
        for seed in (0, 1):
            run = RunPaths.of(results / "runs", config, seed)
            info = json.loads(run.run_json.read_text())
            assert info["status"] == "complete" and info["env_steps"] == 512
            assert info["config"]["num_envs"] == 4 and info["config"]["num_steps"] == 32
            with open(run.metrics) as fh:
                assert len(list(csv.DictReader(fh))) == 4  # 512 steps / (4 x 32) per update
    with open(results / "summary" / "runs.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((r["configuration"], r["seed"]) for r in rows) == [
        ("j1g0r1", "0"), ("j1g0r1", "1"), ("j1g1r0", "0"), ("j1g1r0", "1")]
    for stem in ("fig3_return", "embed_var", "jepa_loss", "embed_rank"):
        assert (results / "figures" / f"{stem}.png").stat().st_size > 0
    claims = json.loads((results / "claims.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in claims["claims"]}
    # j0g1r0 and j1g0r0 are not in the tiny preset: every claim that needs them is not run
    assert [verdicts[i] for i in (1, 2, 3, 5)] == ["inconclusive (not run)"] * 4
    assert "Nothing to be done" in snakemake(*args, "-n").stdout
    # interrupted while one run was being written (its outputs and everything downstream
    # missing): that run is redone -- from its checkpoint -- with identical rows
    run = RunPaths.of(results / "runs", "j1g1r0", 1)
    before = run.episodes.read_text()
    run.metrics.unlink()
    shutil.rmtree(results / "summary")
    (results / "claims.md").unlink()
    assert job_counts(snakemake(*args, "-n").stdout)["train"] == 1
    assert snakemake(*args, timeout=900).returncode == 0
    assert run.episodes.read_text() == before and run.metrics.exists()
