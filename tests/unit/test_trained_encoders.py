"""What trained encoders keep (jepa_bench.studies.trained_encoders): partial collapse and claim 4's
second half decided on made-up probe results by the preregistered rules, and the report."""

import pytest

from jepa_bench.analysis.verdicts import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from jepa_bench.studies.trained_encoders import (dropped, evaluate_trained_encoders, probe_table,
                                                 trained_encoders_figure,
                                                 write_trained_encoders_report)

READ = {"x": 0.9, "x_dot": 0.6, "theta": 0.9, "theta_dot": 0.6}


def _run(config, seed, last, init=READ, steps=(0, 100_000), linear_gain=0.0):
    snaps = []
    for step in steps:
        mlp = init if step == 0 else last
        lin = {k: v - 0.1 + (linear_gain if step else 0.0) for k, v in mlp.items()}
        snaps.append({"env_step": step, "r2": {"linear": lin, "mlp": mlp}})
    return {"config_name": config, "seed": seed, "snapshots": snaps}


def _runs(config, drops_theta_in, n=5, **kw):
    return [_run(config, s, {**READ, "theta": 0.2} if s < drops_theta_in else READ, **kw)
            for s in range(n)]


def test_a_component_is_dropped_only_if_it_was_readable_at_init():
    table = probe_table(_runs("j1g0r0", 3) + [_run("j1g1r0", 0, READ, init={**READ, "x": 0.1})])
    d = dropped(table, "j1g0r0")
    assert d["theta"] == [0, 1, 2] and d["x"] == []
    assert dropped(table, "j1g1r0")["x"] is None  # not readable at initialisation


@pytest.mark.parametrize("off_drops, on_drops, verdict", [
    (3, 1, REPRODUCED),       # dropped in 3 of 5 without the RL gradient, in 1 with it
    (1, 0, NOT_REPRODUCED),   # no component dropped in more than one seed without it
    (3, 2, INCONCLUSIVE),     # dropped in both
    (2, 0, INCONCLUSIVE),
])
def test_proposition2_by_the_preregistered_rule(off_drops, on_drops, verdict):
    results = _runs("j1g0r0", off_drops) + _runs("j1g1r0", on_drops)
    res = evaluate_trained_encoders(results, pairs={"j1g0r0": "j1g1r0"})
    (claim,) = res["claims"]
    assert claim["verdict"] == verdict
    assert f"theta: dropped in {off_drops} (∇ off) vs {on_drops} (∇ on) seeds" in \
        claim["checks"][0]["detail"]


@pytest.mark.parametrize("gains, verdict", [
    ((0.2, 0.3, 0.25, 0.2, 0.3), REPRODUCED),
    ((-0.2, -0.3, -0.25, -0.2, -0.3), NOT_REPRODUCED),
    ((0.2, -0.3, 0.25, -0.2, 0.05), INCONCLUSIVE),
])
def test_claim4_second_half(gains, verdict):
    results = [_run("j1g0r1", s, READ, linear_gain=g) for s, g in enumerate(gains)]
    (claim,) = evaluate_trained_encoders(results)["claims"]
    assert claim["id"] == "4b" and claim["verdict"] == verdict


def test_report_table_and_figure(tmp_path):
    results = _runs("j1g0r0", 3, steps=(0, 25_000, 100_000)) + _runs("j1g1r0", 0, steps=(
        0, 25_000, 100_000))
    res = evaluate_trained_encoders(results)
    md, js = write_trained_encoders_report(tmp_path / "te.md", res)
    text = md.read_text()
    assert "### P2 j1g0r0 vs j1g1r0: reproduced" in text and js.is_file()
    assert (tmp_path / "te.csv").read_text().count("\n") == 1 + 10 * 3 * 2
    paths = trained_encoders_figure(probe_table(results), tmp_path / "figures")
    assert [p.name for p in paths] == ["trained_encoders.png", "trained_encoders.pdf"]


def test_the_cli_marks_an_exploratory_report_and_refuses_a_reason_that_is_no_sentence(
        tmp_path, capsys):
    import json

    from jepa_bench.cli import main

    files = []
    for res in _runs("j1g0r0", 3) + _runs("j1g1r0", 0):
        path = tmp_path / f"{res['config_name']}-{res['seed']}.json"
        path.write_text(json.dumps({"run": str(path), **res}))
        files.append(str(path))
    out = tmp_path / "te.md"
    why = "Probed after the point's results were read."
    assert main(["trained-encoders", "--probes", *files, "--out", str(out),
                 "--exploratory", why]) == 0
    text = out.read_text()
    assert text.splitlines()[2] == (f"**Exploratory, not preregistered:** {why} The criteria "
                                    "below are docs/trained-encoders.md's, applied here after "
                                    "the fact; these verdicts are descriptive and count towards "
                                    "no claim.")
    assert json.loads(out.with_suffix(".json").read_text())["exploratory"] == why
    out.unlink()
    assert main(["trained-encoders", "--probes", *files, "--out", str(out)]) == 0
    assert "Exploratory" not in out.read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["trained-encoders", "--probes", *files, "--out", str(tmp_path / "no.md"),
              "--exploratory", "after the fact"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "argument --exploratory: 'after the fact' is not one sentence ending in '.'" in err
    assert not (tmp_path / "no.md").exists()
