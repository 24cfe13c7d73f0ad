"""The Yu & Chen table: verdicts gathered from the reports that decide them, the A2C control
against 41.5 by hand, and reports not run yet listed as such."""

import json

import pytest

from jepa_bench.cli import main
from jepa_bench.studies.yu_chen import (TARGET_MET, TARGET_NOT_MET, a2c_control_claim,
                                        write_yu_chen_report)


def _confirm(path, returns, cell="n16_lr7e-4"):
    rows = ["cell,seed,episodes,mean_last_10"] + [f"{cell},{100 + i},50,{r}"
                                                  for i, r in enumerate(returns)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_the_a2c_control_meets_the_target_only_when_its_whole_ci_is_above_41_5(tmp_path):
    high = a2c_control_claim(_confirm(tmp_path / "a.csv", [60.0, 70.0, 80.0, 90.0, 100.0]))
    assert high["verdict"] == TARGET_MET and high["cell"] == "n16_lr7e-4"
    numbers = high["checks"][0]["numbers"]["final_return"]
    assert numbers["mean"] == 80.0 and numbers["n"] == 5 and numbers["low"] > 41.5
    # mean above 41.5 but a CI that reaches below it: not met
    straddle = a2c_control_claim(_confirm(tmp_path / "b.csv", [20.0, 30.0, 45.0, 60.0, 90.0]))
    assert straddle["verdict"] == TARGET_NOT_MET and "vs 41.5" in straddle["checks"][0]["detail"]
    with pytest.raises(ValueError, match="one cell"):
        a2c_control_claim(_confirm(tmp_path / "c.csv", []))


def test_the_report_keeps_each_verdict_and_lists_what_is_not_run(tmp_path):
    claim = {"id": "P2 a2c_shared_nograd vs a2c_shared", "statement": "partial collapse",
             "verdict": "inconclusive", "checks": [{"check": "c", "result": None,
                                                     "detail": "x: dropped in 2 vs 0 seeds"}]}
    (tmp_path / "enc.json").write_text(json.dumps({"claims": [claim]}))
    md, js = write_yu_chen_report({"a2c-encoders": tmp_path / "enc.json",
                                   "recovery": tmp_path / "missing.json"},
                                  tmp_path / "yu-chen.md",
                                  a2c_control=_confirm(tmp_path / "a.csv", [80.0] * 5))
    text = md.read_text()
    assert "| a2c-encoders | P2 a2c_shared_nograd vs a2c_shared | partial collapse | " \
           "**inconclusive** | x: dropped in 2 vs 0 seeds |" in text
    assert "| recovery | - | not run yet | **not run yet** |" in text
    result = json.loads(js.read_text())
    assert [c["source"] for c in result["claims"]] == ["a2c-calibration", "a2c-encoders",
                                                      "recovery"]
    assert result["claims"][0]["verdict"] == TARGET_MET


def test_cli_bad_pair_is_one_line_exit_2(tmp_path, capsys):
    assert main(["yu-chen", "--reports", "no-equals-sign", "--out", str(tmp_path / "y.md")]) == 2
    assert "expected NAME=PATH/report.json" in capsys.readouterr().err
    assert not (tmp_path / "y.md").exists()
