"""The README as a front page (jepa_bench.tools.readme): its findings are what the committed
reports say, it states no other number, and it stays short with both set-up commands in it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from jepa_bench.tools import readme

REPO = Path(__file__).resolve().parents[2]
TEXT = (REPO / "README.md").read_text(encoding="utf-8")

# numbers the README may state outside its generated blocks: none of them is a result
NOT_RESULTS = {"2025",        # the paper's year (ESANN 2025)
               "2504.16591",  # its arXiv number
               "3"}           # "Figure 3", "section-3"


def _hand_written(text: str) -> str:
    """The README without its generated blocks, code blocks, inline code and link targets."""
    text = readme.BLOCK.sub("", text)
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`]*`", "", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def test_the_committed_readme_is_what_the_reports_say():
    assert readme.render(TEXT) == TEXT, "README.md is stale: python -m jepa_bench.tools.readme"
    assert readme.main(["--check"]) == 0


def test_no_number_outside_the_generated_blocks():
    numbers = set(re.findall(r"(?<![\w.])\d+(?:[.,]\d+)*", _hand_written(TEXT)))  # not v2
    assert numbers <= NOT_RESULTS, (
        f"numbers {sorted(numbers - NOT_RESULTS)} are written by hand in README.md; a result "
        "belongs in a block that jepa_bench.tools.readme writes")


def test_a_short_front_page_with_both_commands_and_the_findings_on_its_first_screen():
    lines = TEXT.splitlines()
    assert len(lines) <= 150
    first_screen = "\n".join(lines[:45])
    assert "snakemake -c2 --configfile workflow/config/tiny.yaml" in first_screen
    test_block = re.search(r"<!-- ci:test -->\n```bash\n(.*?)\n```\n<!-- /ci:test -->", TEXT, re.S)
    assert test_block and test_block[1] == ('python3 -m venv .venv && . .venv/bin/activate && '
                                            'pip install "torch==2.13.0" -e ".[test]" && pytest')
    assert "<!-- generated:findings -->" in first_screen and "| # |" in first_screen
    assert "--index-url https://download.pytorch.org/whl/cpu" in TEXT


def test_every_relative_link_of_the_readme_exists():
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", TEXT)
    local = [t for t in targets if "://" not in t]
    assert "results/v2/report.html" in local and "docs/reproduction.md" in local
    assert [t for t in local if not (REPO / t).exists()] == []


def test_the_findings_quote_each_verdict_and_its_deciding_number():
    block = readme.findings()
    for name in ("v1", "v2"):
        claims = json.loads((REPO / "results" / name / "claims.json").read_text())["claims"]
        for claim in claims:
            assert f"**{claim['verdict']}**" in block
    assert "(results/v2/figures/fig3_return.png)" in block
    assert "final return 132.3 (CI 110.8 to 162.8) vs T_learn 33.5" in block  # v2, claim 1
    assert "Under v2 (the default): reproduced 1 and 5; not reproduced 2 and 3; inconclusive 4." \
        in block


def _check(name, result, **numbers):
    return {"check": name, "result": result, "numbers": numbers, "detail": f"{name} detail"}


FR = {"mean": 30.0, "low": 25.0, "high": 35.0, "n": 5}
THRESHOLDS = {"collapse": 1e-7}


@pytest.mark.parametrize("verdict, expected", [
    ("reproduced", "final return 30.0 (CI 25.0 to 35.0) vs T_learn 33.5"),
    ("not reproduced", "0 of 5 seeds collapse (variance below 1e-7)"),
    ("inconclusive", "late slope 0.10 (CI -0.20 to 0.40) per 1000 steps"),
])
def test_the_evidence_is_the_check_that_decided_the_verdict(verdict, expected):
    claim = {"verdict": verdict, "checks": [
        _check("learns", True, final_return=FR, t_learn=33.5),
        _check("collapse", False, collapsed_seeds=0, seeds_with_embed_var=5),
        _check("no plateau", None, late_slope={"mean": 0.1, "low": -0.2, "high": 0.4, "n": 5},
               at_ceiling=False)]}
    assert readme.claim_evidence(claim, THRESHOLDS) == expected


def test_variance_range_checks_are_joined_and_unknown_checks_keep_their_detail():
    claim = {"verdict": "reproduced", "checks": [_check("a", True, min=2e-4, max=0.5, runs=5),
                                                  _check("b", True, min=1e-4, max=0.9, runs=5)]}
    assert readme.claim_evidence(claim, THRESHOLDS) == \
        "every logged variance of 10 runs in [1.0e-4, 9.0e-1]"
    odd = {"verdict": "reproduced", "checks": [_check("odd", True, something=1)]}
    assert readme.claim_evidence(odd, THRESHOLDS) == "odd detail"


@pytest.fixture
def repo_copy(tmp_path):
    """The files the findings are written from, in a folder of their own."""
    for rel in ("workflow/config/config.yaml", "results/v1/claims.json", "results/v2/claims.json",
                "README.md", readme.ROBUSTNESS, "results/v2/yu-chen.json"):
        if (REPO / rel).is_file():
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / rel, tmp_path / rel)
    return tmp_path


def test_the_robustness_column_joins_once_the_sweep_has_written_its_report(repo_copy):
    (repo_copy / readme.ROBUSTNESS).unlink(missing_ok=True)  # before the sweep's first report
    assert "robustness" not in readme.findings(repo_copy).split("\n\n")[1]
    rows = [{"id": i, "holds": i % 3, "of": 8, "flipped_by": []} for i in range(1, 6)]
    rows[1] |= {"flipped_by": ["a"], "cells": {"centre": {"verdict": "not reproduced"},
                                               "a": {"verdict": "inconclusive"}}}
    path = repo_copy / readme.ROBUSTNESS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"robustness": {"claims": rows}, "planned": ["centre", "a", "b"],
                                "done": ["centre"]}))
    table = readme.findings(repo_copy).split("\n\n")[1].splitlines()
    assert table[0].endswith("| robustness (sensitivity sweep) |")
    assert table[2].endswith("| reproduced at 1 of 8 points |")  # claim 1
    assert table[3].endswith("| reproduced at 2 of 8 points<br>differs from the centre at a: "
                             "inconclusive |")  # claim 2, whose verdict point a changes
    text = readme.findings(repo_copy)
    assert "has no results yet" not in text
    assert "has run 1 of its 3 points; not yet run: a, b" in text
    # holds = i % 3 of 8: claim 3 reproduced at no point, the others at some
    assert ("So far, at none: claim 3; at some: claims 1 (1 of 8), 2 (2 of 8), 4 (1 of 8) and "
            "5 (2 of 8). The centre's verdict changes with the point: claim 2 goes from not "
            "reproduced to inconclusive at a. A claim reproduced") in text
    # once every planned point has run, the words say so and drop "so far"
    sweep = json.loads(path.read_text())
    path.write_text(json.dumps(sweep | {"done": ["centre", "a", "b"]}))
    text = readme.findings(repo_copy)
    assert "has run all 3 of its points (" in text and "not yet run" not in text
    assert "So far" not in text and "Over all its points, at none: claim 3;" in text


def test_the_robustness_summary_in_plain_words():
    def cells(centre, **points):
        return {"centre": {"verdict": centre}} | {p: {"verdict": v} for p, v in points.items()}

    rows = [{"id": 1, "holds": 3, "of": 3, "flipped_by": []},
            {"id": 2, "holds": 0, "of": 3, "flipped_by": ["p1", "p2", "q"],
             "cells": cells("not reproduced", p1="inconclusive", p2="inconclusive",
                            q="inconclusive")},
            {"id": 3, "holds": 0, "of": 3, "flipped_by": []},
            {"id": 4, "holds": 1, "of": 3, "flipped_by": ["p1", "r"],  # r: a point with no axis
             "cells": cells("inconclusive", p1="reproduced", r="not reproduced")}]
    sweep = {"robustness": {"claims": rows}, "axes": {"p1": "A", "p2": "A", "q": "B"}}
    assert readme._robustness_summary(sweep) == (
        "So far, reproduced at every point run: claim 1; at none: claims 2 and 3; at some: "
        "claim 4 (1 of 3). The centre's verdict changes with the point: claim 2 goes from not "
        "reproduced to inconclusive at p1 and p2 (A) and q (B); claim 4 goes from inconclusive "
        "to reproduced at p1 (A) and to not reproduced at r. ")
    assert readme._robustness_summary(sweep, complete=True).startswith(
        "Over all its points, reproduced at every point: claim 1; at none: claims 2 and 3;")
    for row in rows:
        row["flipped_by"] = []
    assert readme._robustness_summary(sweep).endswith(" No point changes a verdict of the "
                                                      "centre's. ")
    for row in rows:
        row["of"] = row["holds"] = 0  # no point run yet: nothing to say
    assert readme._robustness_summary(sweep) == ""


def test_check_reports_a_stale_readme_and_a_rewrite_fixes_it(repo_copy, capsys):
    readme_path = repo_copy / "README.md"
    readme_path.write_text(TEXT.replace("132.3", "999.9"))
    assert readme.main(["--check", "--repo", str(repo_copy)]) == 1
    assert "-" in capsys.readouterr().out
    assert readme.main(["--repo", str(repo_copy)]) == 0
    assert readme_path.read_text() == TEXT


def test_the_yu_chen_block_lists_each_verdict_as_its_report_decided_it(repo_copy):
    path = repo_copy / "results" / "v2" / "yu-chen.json"
    path.unlink(missing_ok=True)
    assert readme.yu_chen(repo_copy).startswith("Not gathered yet: `results/v2/yu-chen.json`")
    claims = [{"source": "enc", "id": "P2 x vs y", "statement": "partial collapse",
               "verdict": "inconclusive", "checks": [{"detail": "x: dropped in 2 vs 0 seeds"}]},
              {"source": "recovery", "id": "-", "statement": "not run yet",
               "verdict": "not run yet", "checks": []}]
    path.write_text(json.dumps({"claims": claims}))
    rows = readme.yu_chen(repo_copy).splitlines()
    assert rows[2] == ("| enc: P2 x vs y | partial collapse | **inconclusive** | "
                       "x: dropped in 2 vs 0 seeds |")
    assert rows[3] == "| recovery | not run yet | **not run yet** | - |"


def test_an_unknown_block_is_an_error():
    with pytest.raises(ValueError, match="not one of"):
        readme.render("<!-- generated:nope -->\n<!-- /generated:nope -->\n")
