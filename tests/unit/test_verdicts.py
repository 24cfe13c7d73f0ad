"""jepa_bench.analysis.verdicts: three-valued comparisons, verdict words and report writing."""

import json
import math

from jepa_bench.analysis.verdicts import (INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Interval,
                                          above, make_check, make_claim, sci, separated,
                                          verdict_of, write_report)


def test_three_valued_comparisons():
    x = Interval(mean=5.0, low=4.0, high=6.0, n=3)
    assert above(x, 3.9) is True and above(x, 6.0) is False and above(x, 5.0) is None
    assert above(Interval(5.0, math.nan, math.nan, 1), 0.0) is None  # one seed: no CI
    y = Interval(mean=8.0, low=7.0, high=9.0, n=3)
    assert separated(y, x) is True and separated(x, y) is False
    assert separated(Interval(6.5, 5.5, 7.5, 3), x) is None  # overlap


def test_verdict_words_and_numbers():
    assert verdict_of([True, True]) == REPRODUCED
    assert verdict_of([True, False, None]) == NOT_REPRODUCED
    assert verdict_of([True, None]) == INCONCLUSIVE
    assert sci(3.72e-08) == "3.7e-8" and sci(float("nan")) == "n/a" and sci(None) == "n/a"


def test_a_report_is_markdown_and_its_json_twin(tmp_path):
    check = make_check("learns", True, "final return 30 vs 25", final=30.0, nan=math.nan)
    claim = make_claim(1, {"configuration": "j1g1r0"}, "it learns", "final > 25", [check])
    md, js = write_report(tmp_path / "r.md", "# report\n", {"claims": [claim]})
    assert md.read_text() == "# report\n"
    data = json.loads(js.read_text())
    assert data["claims"][0]["verdict"] == REPRODUCED
    assert data["claims"][0]["checks"][0]["numbers"]["nan"] is None  # NaN as null


def test_first_detail_is_the_first_check_that_has_a_sentence():
    from jepa_bench.analysis.verdicts import first_detail
    claim = {"checks": [{"detail": ""}, {"detail": "final return 30 vs 25"}, {"detail": "x"}]}
    assert first_detail(claim) == "final return 30 vs 25"
    assert first_detail({"checks": []}) == "" and first_detail({}) == ""
