"""The bf16-against-float32 check (docs/precision.md): its statistics and its verdicts."""

import json

import pandas as pd
import pytest

from jepa_bench.cli import main
from jepa_bench.studies.precision import LEVEL, compare, write_precision_report


def _summary(root, returns, embed_vars, config="j1g1r1"):
    root.mkdir(parents=True)
    seeds = list(range(100, 100 + len(returns)))
    pd.DataFrame({"configuration": config, "seed": seeds, "final_return": returns,
                  "auc_return": [r / 2 for r in returns], "embed_var_final": embed_vars,
                  "wall_time": 500.0}).to_csv(root / "runs.csv", index=False)
    pd.DataFrame([{"configuration": config, "seed": s, "env_step": step,
                   "return_running": r * step / 2000, "embed_var": v}
                  for s, r, v in zip(seeds, returns, embed_vars) for step in (1000, 2000)]
                 ).to_csv(root / "curves.csv", index=False)
    (root / "summary.json").write_text(json.dumps(
        {"configurations": [config], "seeds": seeds, "total_steps": 2000}))
    return root


def test_arms_within_seed_noise_agree(tmp_path):
    a = _summary(tmp_path / "a", [100, 140, 90, 120, 110], [0.5, 0.6, 0.4, 0.7, 0.5])
    b = _summary(tmp_path / "b", [115, 95, 130, 105, 125], [0.6, 0.5, 0.5, 0.4, 0.6])
    result = compare({"fp32": a, "bf16": b})
    assert result["verdict"] == "agree within seed noise"
    assert result["level"] == pytest.approx(1 - 0.05 / 3) == LEVEL
    final = result["numbers"][0]
    assert final["diff"] == pytest.approx(114 - 112)
    assert result["mean_sps"]["fp32"] == pytest.approx(4.0)


def test_a_gross_change_is_a_difference_named_in_the_report(tmp_path):
    a = _summary(tmp_path / "a", [300, 320, 310, 290, 305], [0.5, 0.6, 0.4, 0.7, 0.5])
    b = _summary(tmp_path / "b", [22, 25, 20, 24, 21], [1e-8, 2e-8, 1e-8, 3e-8, 1e-8])
    written = write_precision_report({"fp32": a, "bf16": b}, tmp_path / "out")
    assert [p.name for p in written] == ["precision.md", "precision.json", "precision.png",
                                         "precision.pdf"]
    result = json.loads((tmp_path / "out" / "precision.json").read_text())
    assert result["verdict"] == "differ"
    assert {n["number"]: n["contains_zero"] for n in result["numbers"]} == {
        "final_return": False, "auc_return": False, "embed_var_final": False}
    text = (tmp_path / "out" / "precision.md").read_text()
    assert "**Verdict: differ** (final_return, auc_return, embed_var_final differ)" in text


def test_a_single_seed_arm_is_undecided_and_its_json_strict(tmp_path):
    a = _summary(tmp_path / "a", [100], [0.5])
    b = _summary(tmp_path / "b", [110], [0.5])
    write_precision_report({"fp32": a, "bf16": b}, tmp_path / "out")

    def refuse(name):
        raise AssertionError(f"precision.json holds {name}, which is not JSON")

    text = (tmp_path / "out" / "precision.json").read_text()
    result = json.loads(text, parse_constant=refuse)
    assert result["verdict"] == "undecided"
    assert result["numbers"][0]["low"] is None


def test_wrong_arms_or_configurations_are_refused(tmp_path):
    a = _summary(tmp_path / "a", [1, 2], [0.1, 0.2])
    b = _summary(tmp_path / "b", [1, 2], [0.1, 0.2], config="j1g1r0")
    with pytest.raises(ValueError, match="expected exactly"):
        compare({"bf16": a, "fp32": a})
    with pytest.raises(ValueError, match="same single configuration"):
        compare({"fp32": a, "bf16": b})


def test_cli_malformed_arm_is_one_line_exit_2(tmp_path, capsys):
    assert main(["precision-report", "--summary", "fp32", "bf16=x", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "jepa-bench precision-report: error: --summary 'fp32': expected ARM=SUMMARY_FOLDER"
