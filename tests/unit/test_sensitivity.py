"""The sensitivity study (jepa_bench.studies.sensitivity): the points' specification, which runs a
point reads, the check of a point's runs, the scale-free indicator and gradient ratios against
hand values, the robustness table, and the report and figures written from made-up runs."""

import json
import math

import pandas as pd
import pytest

from jepa_bench.analysis.aggregate import summarise
from jepa_bench.analysis.claims import write_claims
from jepa_bench.config import PAPER_CONFIGS, parse_overrides, resolve
from jepa_bench.layout import RunPaths
from jepa_bench.studies.sensitivity import (CENTRE, check_point_runs, configuration_fields,
                                            deciding_number, first_number, format_robustness,
                                            gradient_table,
                                            heads_clip_factor, point_run_roots, points_through,
                                            robustness, robustness_result, scale_free_table,
                                            sweep_points, write_robustness_report)
from jepa_bench.studies.sensitivity_figures import contrast_figure, gradient_figure, jepa_weight

CONFIGS = list(PAPER_CONFIGS)
SPEC = {"points": [
    {"name": "centre", "axis": "centre"},
    {"name": "jepa_coef_0.1", "axis": "A", "set": ["jepa_coef=0.1"],
     "rerun": ["j1g1r0", "j1g0r0", "j1g0r1"]},
    {"name": "clip_parts", "axis": "B", "set": ["clip_groups=parts"]},
]}
STEPS = 2000


def _run(run_folder, root, name, seed, overrides=(), embed_var=(0.01, 0.001), rank=(9.0, 4.0),
         grads=None, returns=(20.0,)):
    cfg = resolve(name, {**parse_overrides(list(overrides)), "total_steps": STEPS},
                  settings="v2").to_dict()
    paths = run_folder(RunPaths.of(root, name, seed), config_name=name, seed=seed,
                       metric_steps=[1000, 2000], episode_steps=[500 * (i + 1) for i in
                                                                 range(len(returns))],
                       episode_returns=list(returns), config=cfg, embed_var=list(embed_var),
                       embed_rank=list(rank))
    if grads is not None:
        m = pd.read_csv(paths.metrics)
        for k, v in grads.items():
            m[k] = v
        m.to_csv(paths.metrics, index=False)
    return paths


def test_points_are_checked_in_one_line():
    points = sweep_points(SPEC, CONFIGS)
    assert [p.name for p in points] == ["centre", "jepa_coef_0.1", "clip_parts"]
    assert points[1].values == {"jepa_coef": 0.1} and points[2].rerun == tuple(CONFIGS)
    assert [p.name for p in points_through(points, "jepa_coef_0.1", given_as="--through")] == [
        "centre", "jepa_coef_0.1"]
    # the message names the value as the user gave it: the workflow's key or the CLI's option
    with pytest.raises(ValueError) as info:
        points_through(points, "nope", given_as="config sensitivity_through")
    assert str(info.value) == ("config sensitivity_through='nope' is not one of: centre, "
                               "jepa_coef_0.1, clip_parts")
    with pytest.raises(ValueError, match=r"^--through='nope' is not one of: centre, "):
        points_through(points, "nope", given_as="--through")
    bad = {"points": [{"name": "centre"}, {"name": "x", "set": ["jepa=false"]}]}
    with pytest.raises(ValueError, match="point 'x': --set jepa is fixed by the configuration"):
        sweep_points(bad, CONFIGS)
    # a point's steps are config total_steps, never a --set item that the option would overwrite
    bad = {"points": [{"name": "centre"}, {"name": "x", "set": ["total_steps=1000"]}]}
    with pytest.raises(ValueError, match="point 'x': --set total_steps is not allowed: use "
                                         "--total-steps"):
        sweep_points(bad, CONFIGS)
    with pytest.raises(ValueError, match="first sensitivity point must be 'centre'"):
        sweep_points({"points": [{"name": "clip", "set": ["clip_groups=parts"]}]}, CONFIGS)
    with pytest.raises(ValueError, match=r"rerun \['state'\] is not among"):
        sweep_points({"points": [{"name": "centre"}, {"name": "y", "rerun": ["state"]}]},
                     CONFIGS)


def test_a_point_reads_the_centre_for_what_it_does_not_rerun(tmp_path):
    point = sweep_points(SPEC, CONFIGS)[1]
    roots = point_run_roots(point, tmp_path, CONFIGS)
    assert roots["j0g1r0"] == tmp_path / CENTRE / "runs"
    assert roots["j1g1r0"] == tmp_path / "jepa_coef_0.1" / "runs"


def _centre_and_jepa_coef_runs(run_folder, root):
    """Seed 0 of the centre's four configurations and of jepa_coef_0.1's three."""
    for name in CONFIGS:
        _run(run_folder, root / "centre" / "runs", name, 0)
        if name != "j0g1r0":
            _run(run_folder, root / "jepa_coef_0.1" / "runs", name, 0, ["jepa_coef=0.1"])


def test_check_point_runs(tmp_path, run_folder):
    points = sweep_points(SPEC, CONFIGS)
    _centre_and_jepa_coef_runs(run_folder, tmp_path)
    roots = point_run_roots(points[1], tmp_path, CONFIGS)
    notes = check_point_runs(points[1], roots, [0], STEPS, "v2")
    assert notes == [f"j0g1r0: reused from the centre ({tmp_path / 'centre' / 'runs'})"]
    # a run made without the point's setting is named
    _run(run_folder, tmp_path / "jepa_coef_0.1" / "runs", "j1g0r0", 0)
    with pytest.raises(ValueError, match=r"j1g0r0/seed0/run.json was trained with other "
                                         r"settings: jepa_coef=1.0 \(asked: 0.1\)"):
        check_point_runs(points[1], roots, [0], STEPS, "v2")
    with pytest.raises(ValueError, match="seed1/run.json does not exist; train the point"):
        check_point_runs(points[0], point_run_roots(points[0], tmp_path, CONFIGS), [1], STEPS,
                         "v2")


def test_what_the_configurations_differ_in_is_read_from_the_runs(tmp_path, run_folder):
    """The switches, jepa_coef where only the reused Ĵ run lacks it, and anything else named."""
    points = sweep_points(SPEC, CONFIGS)
    _centre_and_jepa_coef_runs(run_folder, tmp_path)
    assert configuration_fields(point_run_roots(points[0], tmp_path, CONFIGS), [0]) == {
        "switches": ["jepa", "rl_grad", "var_reg"], "inert": [], "other": []}
    roots = point_run_roots(points[1], tmp_path, CONFIGS)
    assert configuration_fields(roots, [0]) == {
        "switches": ["jepa", "rl_grad", "var_reg"], "inert": ["jepa_coef"], "other": []}
    # one seed of one configuration trained with another learning rate: named
    for name in CONFIGS:
        _run(run_folder, roots[name], name, 1, [] if name == "j0g1r0" else
             ["jepa_coef=0.1"] + (["lr=0.001"] if name == "j1g0r1" else []))
    assert configuration_fields(roots, [0])["other"] == []
    assert configuration_fields(roots, [0, 1])["other"] == ["lr"]


def test_scale_free_indicator_and_gradient_ratios_by_hand(tmp_path, run_folder):
    root = tmp_path / "runs"
    _run(run_folder, root, "j1g1r0", 0, embed_var=(0.02, 1e-7), rank=(10.0, 3.0),
         grads={"grad_enc_jepa": [100.0, 30.0], "grad_enc_critic": [10.0, 1.0],
                "grad_enc_actor": [1.0, 0.5], "grad_norm_encoder": [12.0, 0.0],
                "grad_norm_predictor": [4.0, 0.1], "grad_norm_heads": [3.0, 0.2]})
    sf = scale_free_table({"j1g1r0": root}, [0]).iloc[0]
    assert sf["rho_min"] == pytest.approx(1e-7 / 0.02) and bool(sf["collapsed_relative"])
    assert sf["embed_rank_final"] == 3.0
    gr = gradient_table({"j1g1r0": root}, [0]).iloc[0]
    assert gr["jepa_over_critic"] == pytest.approx((10.0 + 30.0) / 2)  # median of 10, 30
    assert gr["jepa_over_actor"] == pytest.approx((100.0 + 60.0) / 2)
    assert math.isnan(gr["grad_enc_reg"])  # a run without the diagnostic column
    # the run's config: one global clip of 0.5; factors 0.5 / 13 and 1 (norm 0.22 < 0.5)
    assert gr["heads_clip_factor"] == pytest.approx((0.5 / 13.0 + 1.0) / 2, rel=1e-6)


def test_heads_clip_factor_by_hand():
    """The clip scales the heads' gradient by min(1, clip / norm of the heads' group): every
    part under one global clip (norm 13 from 12, 4, 3), the heads alone under 'parts'."""
    m = pd.DataFrame({"grad_norm_encoder": [12.0, 0.0], "grad_norm_predictor": [4.0, 0.1],
                      "grad_norm_heads": [3.0, 0.2]})
    glob = heads_clip_factor(m, "global", 0.5)
    assert glob.tolist() == pytest.approx([0.5 / 13.0, 1.0], rel=1e-6)
    assert heads_clip_factor(m, "parts", 0.5).tolist() == pytest.approx([0.5 / 3.0, 1.0],
                                                                        rel=1e-6)
    assert heads_clip_factor(m[["grad_norm_heads"]], "parts", 0.5).isna().all()
    with pytest.raises(ValueError, match=r"^clip_groups='both' is not one of: 'global', 'parts'"):
        heads_clip_factor(m, "both", 0.5)


def _claims(verdicts):
    return {"claims": [{"id": i + 1, "statement": f"claim {i + 1}", "verdict": v,
                        "checks": [{"numbers": {"final_return": {"mean": 10.0 * (i + 1)}}}]}
                       for i, v in enumerate(verdicts)]}


def test_robustness_counts_and_flips():
    claims = {"v2": _claims(["reproduced", "not reproduced"]),
              "centre": _claims(["reproduced", "not reproduced"]),
              "a": _claims(["not reproduced", "not reproduced"]),
              "b": None}
    res = robustness(claims, ["centre", "a", "b"])
    one, two = res["claims"]
    assert (one["holds"], one["of"], one["flipped_by"]) == (1, 2, ["a"])
    assert (two["holds"], two["of"], two["flipped_by"]) == (0, 2, [])
    # "holds" counts reproduced; same_as_centre counts the centre's verdict, the centre included
    assert (one["centre_verdict"], one["same_as_centre"]) == ("reproduced", 1)
    assert (two["centre_verdict"], two["same_as_centre"]) == ("not reproduced", 2)
    assert one["cells"]["b"] is None and one["cells"]["v2"]["number"] == "final_return 10"
    assert first_number({"checks": [{"numbers": {"collapsed": 3}}]}) == "collapsed 3"
    assert first_number({"checks": []}) == ""


def test_the_deciding_number_is_the_first_failed_or_undecided_check():
    collapse = {"result": True, "numbers": {"collapsed_seeds": 0}}
    learns = {"result": False, "numbers": {"final_return": {"mean": 22.4}}}
    slower = {"result": None, "numbers": {"auc": {"mean": 54.2}}}
    claim = {"verdict": "not reproduced", "checks": [collapse, learns, slower]}
    assert (first_number(claim), deciding_number(claim)) == ("collapsed_seeds 0",
                                                             "final_return 22.4")
    assert deciding_number({"verdict": "inconclusive",
                            "checks": [collapse, dict(learns, result=True), slower]}) == "auc 54.2"
    # reproduced, or decided by the first number itself: nothing to add
    assert deciding_number({"verdict": "reproduced", "checks": [collapse]}) == ""
    assert deciding_number({"verdict": "not reproduced",
                            "checks": [dict(collapse, result=False), learns]}) == ""
    res = robustness({"centre": {"claims": [{"id": 4, "statement": "s", **claim}]}}, ["centre"])
    assert res["claims"][0]["cells"]["centre"]["decided_by"] == "final_return 22.4"


def test_the_report_and_figures_from_made_up_points(tmp_path, run_folder):
    points = sweep_points(SPEC, CONFIGS)[:2]
    grads = {"grad_enc_jepa": [50.0, 20.0], "grad_enc_critic": [5.0, 2.0],
             "grad_enc_actor": [0.5, 0.2], "grad_enc_entropy": [0.0, 0.0],
             "grad_enc_reg": [0.0, 0.0]}
    for seed in (0, 1):
        for name in CONFIGS:
            good = 60.0 if name == "j1g1r0" else 20.0
            _run(run_folder, tmp_path / "centre" / "runs", name, seed, grads=grads,
                 returns=[good + seed] * 12)
            if name != "j0g1r0":
                _run(run_folder, tmp_path / "jepa_coef_0.1" / "runs", name, seed,
                     ["jepa_coef=0.1"], grads=grads, returns=[15.0 + seed] * 12)
    for point in points:
        roots = point_run_roots(point, tmp_path, CONFIGS)
        check_point_runs(point, roots, [0, 1], STEPS, "v2")
        summarise(roots, CONFIGS, [0, 1], STEPS, tmp_path / point.name / "summary",
                  baseline_episodes=20)
        write_claims(tmp_path / point.name / "summary", tmp_path / point.name / "claims.md")
    # the centre's own claims stand in for a committed record: its 8 runs pair with themselves
    result = robustness_result(tmp_path, sweep_points(SPEC, CONFIGS), ["centre", "jepa_coef_0.1"],
                               CONFIGS, [0, 1], record={"rec": tmp_path / "centre" / "claims.json"})
    md, js = write_robustness_report(tmp_path / "robustness.md", result)
    text = md.read_text()
    assert "Points not run yet (in the preregistered order): clip_parts." in text
    assert "Every preregistered point has run" not in text
    done = format_robustness(result | {"planned": ["centre", "jepa_coef_0.1"]})
    assert "Every preregistered point has run (2)." in done and "not run yet" not in done
    assert "| claim | rec | centre | jepa_coef_0.1 | clip_parts |" in text
    assert "## The centre re-run and the committed record `rec`" in text
    assert "(8 runs each)" in text and "8 where a run does not record its CPU" in text
    assert "j0g1r0 reused from the centre" in text and js.is_file()
    assert ("- jepa_coef_0.1: jepa, rl_grad, var_reg; jepa_coef only where a Ĵ run does not "
            "use it; nothing else.") in text
    # J,∇,R̂ minus Ĵ,∇,R̂: 60.5 - 20.5 at the centre, 15.5 - 20.5 at λ = 0.1
    assert result["contrast"]["centre"]["final_return"]["diff"] == pytest.approx(40.0)
    assert result["contrast"]["jepa_coef_0.1"]["final_return"]["diff"] == pytest.approx(-5.0)
    assert result["gradients"]["centre"]["j1g1r0"]["jepa_over_critic"] == pytest.approx(10.0)
    figs = tmp_path / "figures"
    paths = contrast_figure(result, points, figs) + gradient_figure(
        tmp_path, points, ["centre", "jepa_coef_0.1"], CONFIGS, [0, 1], figs)
    names = sorted(p.name for p in paths)
    assert names == ["contrast.pdf", "contrast.png", "gradient_share.pdf", "gradient_share.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert [jepa_weight(p) for p in sweep_points(SPEC, CONFIGS)] == [1.0, 0.1, None]


def test_the_contrast_figure_draws_the_jepa_weight_axis_as_a_line_against_lambda(monkeypatch):
    """One figure: a marker per point run on top; below, the JEPA-weight points (the centre at
    λ = 1) as a line against λ, in λ's order, or a note while fewer than two are run."""
    from jepa_bench.studies import sensitivity_figures

    def diff(x):
        return {"diff": x, "low": x - 1.0, "high": x + 1.0}

    points = sweep_points(SPEC, CONFIGS)  # centre, jepa_coef_0.1, clip_parts
    result = {"contrast": {"centre": {"auc_return": diff(-50.0), "final_return": diff(-100.0)},
                           "jepa_coef_0.1": {"auc_return": diff(-15.0),
                                             "final_return": diff(-60.0)},
                           "clip_parts": {"auc_return": diff(-20.0),
                                          "final_return": diff(-70.0)}}}
    figures = []
    monkeypatch.setattr(sensitivity_figures, "save_figures",
                        lambda fig, out_dir, stem: figures.append((stem, fig)) or [])
    contrast_figure(result, points, "unused")
    (stem, fig), = figures
    top_auc, _, lam_auc, lam_final = fig.axes
    assert stem == "contrast"
    assert [t.get_text() for t in top_auc.get_xticklabels()] == ["centre", "jepa_coef_0.1",
                                                               "clip_parts"]
    (line,) = [ln for ln in lam_auc.get_lines() if ln.get_marker() == "o"]
    assert list(line.get_xdata()) == [0.1, 1.0] and list(line.get_ydata()) == [-15.0, -50.0]
    assert lam_final.get_xscale() == "log"
    figures.clear()
    del result["contrast"]["jepa_coef_0.1"]
    contrast_figure(result, points, "unused")
    lam_auc = figures[0][1].axes[2]
    assert [t.get_text() for t in lam_auc.texts] == [
        "fewer than two points of the JEPA-weight axis run"]


def test_the_record_is_set_beside_the_centre_by_cpu_kind(tmp_path, run_folder):
    """docs/sensitivity.md, The centre re-run: a pair on another CPU kind is only counted; on
    the same kind `compare` decides whether it is the same run; a record without the summary
    beside its claims.json is reported as not checked."""
    import json

    from jepa_bench.studies.sensitivity import (_record_lines, record_against_centre,
                                                record_run_files)

    centre, record = tmp_path / "centre" / "runs", tmp_path / "v2" / "runs"
    runs = [("AMD EPYC", 20.0), ("Xeon", 20.0), ("Xeon", 25.0), (None, 20.0)]
    for seed, (cpu, ret) in enumerate(runs):
        for root, machine, value in ((centre, "Xeon", 20.0), (record, cpu, ret)):
            run_folder(RunPaths.of(root, "j1g1r0", seed), config_name="j1g1r0", seed=seed,
                       metric_steps=[1000], episode_steps=[500], episode_returns=[value],
                       machine={"cpu": machine})
    (tmp_path / "v2" / "summary").mkdir()
    # a per-configuration map, as a point's summary writes it
    (tmp_path / "v2" / "summary" / "summary.json").write_text(json.dumps(
        {"runs_root": {"j1g1r0": str(record)},
         "runs_used": [{"configuration": "j1g1r0", "seed": s} for s in range(4)]}))
    claims = tmp_path / "v2" / "claims.json"
    audit = record_against_centre(claims, centre, ["j1g1r0"], [0, 1, 2, 3])
    assert audit["machines"] == {"AMD EPYC": 1, "Xeon": 2, "unknown CPU": 1}
    assert audit["centre_machines"] == {"Xeon": 4}
    assert [audit[k] for k in ("pairs", "other_kind", "unknown", "same_run")] == [4, 1, 1, 1]
    assert len(audit["different"]) == 1 and audit["different"][0].startswith("j1g1r0/seed2: ")
    lines = _record_lines("v2", audit)
    assert "paired by configuration and seed (4 runs each)" in lines[0]
    assert ("Of the pairs, 1 on another CPU kind: two samples of the same experiment, set side "
            "by side by their verdicts, not bit for bit; 1 where a run does not record its CPU, "
            "so the kind cannot be compared; 2 on the same CPU kind, of which `jepa-bench "
            "compare` calls 1 the same run.") in lines[0]
    assert lines[1].startswith("Same CPU kind but not the same run: j1g1r0/seed2: ")
    # the workflow rule's inputs are what the audit reads
    files = record_run_files(claims, ["j1g1r0"], [0, 3])
    assert files == [str(tmp_path / "v2" / "summary" / "summary.json")] + [
        str(p) for s in (0, 3) for p in RunPaths.of(record, "j1g1r0", s).results()]
    # not checked, with the reason: no summary beside the claims; a run.json missing
    missing = record_against_centre(tmp_path / "nope" / "claims.json", centre, ["j1g1r0"], [0])
    assert not missing["checked"] and record_run_files(tmp_path / "nope" / "claims.json",
                                                       ["j1g1r0"], [0]) == []
    assert _record_lines("v2", missing)[0].startswith("`v2` against the centre: not checked (no ")
    RunPaths.of(centre, "j1g1r0", 1).run_json.unlink()
    gone = record_against_centre(claims, centre, ["j1g1r0"], [0, 1, 2, 3])
    assert not gone["checked"]
    assert gone["why"] == f"no {RunPaths.of(centre, 'j1g1r0', 1).run_json}"


def test_the_gradient_legend_names_every_term_drawn_in_any_panel(tmp_path, run_folder,
                                                                 monkeypatch):
    """A panel draws only the terms that reach its encoder (none is > 0 elsewhere), so the
    legend is the figure's: every term drawn anywhere, once, in Eq. 3's order."""
    from jepa_bench.studies import sensitivity_figures

    grads = {"j0g1r0": {"grad_enc_actor": [0.5, 0.2], "grad_enc_critic": [5.0, 2.0]},
             "j1g1r0": {"grad_enc_jepa": [50.0, 20.0], "grad_enc_critic": [5.0, 2.0]},
             "j1g0r0": {"grad_enc_jepa": [50.0, 20.0]},
             "j1g0r1": {"grad_enc_jepa": [50.0, 20.0], "grad_enc_reg": [1.0, 0.0]}}
    for name in CONFIGS:
        _run(run_folder, tmp_path / "centre" / "runs", name, 0, grads=grads[name])
    figures = []
    monkeypatch.setattr(sensitivity_figures, "save_figures",
                        lambda fig, out_dir, stem: figures.append(fig) or [])
    gradient_figure(tmp_path, sweep_points(SPEC, CONFIGS), ["centre"], CONFIGS, [0], tmp_path)
    (legend,) = figures[0].legends
    assert [t.get_text() for t in legend.get_texts()] == ["jepa", "actor", "critic", "reg"]
    assert all(ax.get_legend() is None for ax in figures[0].axes)


def test_the_cli_shells_over_the_same_functions(tmp_path, run_folder, capsys):
    """`jepa-bench sensitivity-aggregate` checks a point's runs and writes its summary;
    `sensitivity-report` writes robustness.md and the figures; bad input is one line, exit 2."""
    import json

    from jepa_bench.cli import main

    for name in CONFIGS:
        _run(run_folder, tmp_path / "centre" / "runs", name, 0, returns=[30.0] * 12)
        _run(run_folder, tmp_path / "centre" / "runs", name, 1, returns=[31.0] * 12)
    spec = json.dumps(SPEC)
    common = ["--spec", spec, "--root", str(tmp_path), "--configs", *CONFIGS, "--seeds", "0", "1"]
    summary = tmp_path / "centre" / "summary"
    assert main(["sensitivity-aggregate", *common, "--point", "centre", "--total-steps",
                 str(STEPS), "--settings", "v2", "--out", str(summary)]) == 0
    assert main(["claims", "--summary", str(summary), "--out",
                 str(tmp_path / "centre" / "claims.md")]) == 0
    out = tmp_path / "robustness.md"
    assert main(["sensitivity-report", *common, "--through", "centre", "--figures",
                 str(tmp_path / "figures"), "--out", str(out)]) == 0
    assert "not run yet (in the preregistered order): jepa_coef_0.1, clip_parts" in out.read_text()
    assert (tmp_path / "figures" / "gradient_share.png").is_file()
    capsys.readouterr()
    assert main(["sensitivity-aggregate", *common, "--point", "nope", "--total-steps", "1",
                 "--settings", "v2", "--out", str(summary)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["jepa-bench sensitivity-aggregate: error: --point 'nope' is not one of: "
                   "centre, jepa_coef_0.1, clip_parts"]
    before = out.read_bytes()
    assert main(["sensitivity-report", *common, "--through", "nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["jepa-bench sensitivity-report: error: --through='nope' is not one of: "
                   "centre, jepa_coef_0.1, clip_parts"]
    assert out.read_bytes() == before


# --- preregistration: every run trained after the protocol was committed --------------------------

def test_preregistration_names_runs_not_descended_from_the_protocol(git_repo):
    """Runs whose every session is at a commit after the protocol's first commit count; a run
    with one session before it, at an unknown commit, or with uncommitted code is named."""
    from jepa_bench.studies.sensitivity import _preregistration_lines, preregistration
    repo = git_repo.root
    (repo / "README").write_text("start\n")
    early = git_repo.commit("before the protocol", when=1_700_000_000)
    (repo / "docs").mkdir()
    (repo / "docs" / "sensitivity.md").write_text("the protocol\n")
    protocol = git_repo.commit("protocol", when=1_700_000_100)
    (repo / "docs" / "sensitivity.md").write_text("the protocol, with a deviation appended\n")
    later = git_repo.commit("later", when=1_700_000_200)

    def run(name, *sessions, first_update=0):
        folder = repo / "runs" / name
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({"sessions": [
            {"git_rev": rev, "git_dirty": dirty, "first_update": first_update if i == 0 else 50}
            for i, (rev, dirty) in enumerate(sessions)]}))
        return folder

    folders = [run("ok", (protocol, False), (later, False)), run("resumed_early", (early, False),
               (later, False)), run("unknown", ("f" * 40, False)), run("dirty", (later, True))]
    old = repo / "old" / "runs" / "j1g1r0" / "seed0"  # a run.json from before git_dirty
    old.mkdir(parents=True)
    (old / "run.json").write_text(json.dumps({"git_rev": later}))
    untold = run("untold", (later, None))  # git could not tell
    audit = preregistration(folders + [old, untold], repo=repo)
    assert audit["dirty_unrecorded"] == [str(old), str(untold)] and audit["after"] == 4
    assert (f"2 runs do not record whether the code had uncommitted changes (a run.json from "
            f"before `git_dirty`, or git could not tell): {repo / 'old' / 'runs'} (1), "
            f"{repo} (1).") in _preregistration_lines(audit)
    assert audit["sessions_lost"] == {} and audit["sessions_unrecorded"] == [str(old)]
    assert (f"1 run predates the record of each session (a run.json without `sessions`), so "
            f"whether an earlier session went unrecorded cannot be seen: "
            f"{repo / 'old' / 'runs'} (1).") in _preregistration_lines(audit)
    assert "(every session on record)" in _preregistration_lines(audit)[0]
    assert "(every session)" in _preregistration_lines(preregistration(folders, repo=repo))[0]
    resumed = run("resumed", (later, False), first_update=20)  # its first sessions' record lost
    audit = preregistration([folders[0], resumed], repo=repo)
    assert audit["sessions_lost"] == {str(resumed): 20} and audit["after"] == 2
    lines = _preregistration_lines(audit)
    assert "2 were trained (every session on record)" in lines[0]
    assert lines[-1].startswith("1 run has no record of its sessions before the update given") \
        and lines[-1].endswith(f"the sessions on record: {resumed} (20).")
    audit = preregistration(folders, repo=repo)
    assert audit["commit"] == protocol  # the first commit, not the one that appended
    assert audit["runs"] == 4 and audit["after"] == 2  # ok and dirty descend from it
    assert audit["before"] == [str(folders[1])] and audit["unknown"] == [str(folders[2])]
    assert audit["dirty"] == [str(folders[3])]
    assert audit["revisions"] == {protocol[:7]: 1, later[:7]: 3, early[:7]: 1, "fffffff": 1}
    assert audit["machines"] == {"unknown CPU, None": 4}
    text = "\n".join(_preregistration_lines(audit))
    assert f"first committed at `{protocol[:7]}`" in text and "2 were trained" in text
    assert "1 trained at a commit that does not descend from the protocol" in text
    assert "Trained on (the machine of each run's last session): unknown CPU, None (4 runs)." \
        in text

    # no history (an unpacked archive): said, not guessed
    outside = preregistration([folders[0]], repo=repo / "runs" / "ok", protocol="nowhere.md")
    assert outside["commit"] is None and outside["unknown"] == [str(folders[0])]
    assert "Not checked here" in _preregistration_lines(outside)[0]
