"""The sensitivity preset (workflow/config/sensitivity.yaml, docs/sensitivity.md) as Snakemake
plans it: one train job per (point, re-run configuration, seed), the centre's runs read by the
points that reuse them, `sensitivity_through` stopping in the preregistered order, and a bad
point refused in one line before anything runs."""

import pytest

pytest.importorskip("snakemake", reason="snakemake is not installed")

PRESET = ["--configfile", "workflow/config/sensitivity.yaml"]


def _plan(snakemake, job_counts, tmp_path, *config):
    res = snakemake("-n", *PRESET, "--config", f"results_root={tmp_path}/sens", *config)
    assert res.returncode == 0, res.stderr + res.stdout
    return job_counts(res.stdout), res.stdout


@pytest.mark.parametrize("through, trains, points", [
    ("centre", 20, 1),                # 4 configurations x 5 seeds
    ("jepa_coef_0.01", 50, 3),        # + 2 points x 3 configurations (J on) x 5 seeds
    ("", 150, 8),                     # every point: + 5 x 4 x 5
])
def test_points_are_planned_in_the_preregistered_order(tmp_path, snakemake, job_counts, through,
                                                       trains, points):
    counts, out = _plan(snakemake, job_counts, tmp_path, f"sensitivity_through={through}")
    assert counts["sensitivity_train"] == trains
    assert counts["sensitivity_aggregate"] == counts["sensitivity_claims"] == points
    assert counts["sensitivity_report"] == 1
    # a reused configuration is read from the centre, never trained at the point
    assert "sens/jepa_coef_0.1/runs/j0g1r0" not in out


def test_every_sweep_run_logs_the_gradient_diagnostic(tmp_path, snakemake):
    res = snakemake("-n", "-p", *PRESET, "--config", f"results_root={tmp_path}/sens",
                    "sensitivity_through=jepa_coef_0.1")
    trains = [line.partition("Shell command: ")[2] for line in res.stdout.splitlines()
              if "Shell command: jepa-bench train " in line]
    assert len(trains) == 35 and all("--grad-diagnostic" in t for t in trains)
    point = [t for t in trains if "/jepa_coef_0.1/" in t]
    assert len(point) == 15 and all("--set jepa_coef=0.1" in t for t in point)


def test_a_through_that_is_not_a_point_is_one_line_exit_2(tmp_path, snakemake):
    res = snakemake("-n", *PRESET, "--config", f"results_root={tmp_path}/sens",
                    "sensitivity_through=nope")
    assert res.returncode == 2
    assert [line for line in res.stderr.splitlines() if "error" in line] == [
        "jepa-bench workflow: error: config sensitivity_through='nope' is not one of: centre, "
        "jepa_coef_0.1, jepa_coef_0.01, clip_parts, norm_reward_off, epochs_4x4, input_unit, "
        "picture_48x192"]
