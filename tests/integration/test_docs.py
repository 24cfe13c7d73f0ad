"""The documentation site: `mkdocs build --strict` (a broken link or anchor, a missing page or a
result that is not there fails it), the command-line page written from the parser, the findings
and the committed results in the site, and the preregistrations among its pages."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PREREGISTRATIONS = ("calibration", "recovery", "precision", "sensitivity", "trained-encoders",
                    "yu-chen-protocol")
pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[test]')")
pytest.importorskip("material", reason="mkdocs-material is not installed")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                          str(out)], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return out


def _text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def test_every_page_of_the_nav_is_built(site):
    for page in ("reproduction", "calibration-results", "sensitivity-study", "yu-chen",
                 "workflow", "cli", "training", "throughput", "design", "renderer", "report",
                 "development", *PREREGISTRATIONS):
        assert (site / page / "index.html").is_file(), page


def test_the_cli_page_is_the_parser(site):
    from jepa_bench.cli import build_parser

    page = _text(site / "cli" / "index.html")
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sub.choices
    for name, parser in sub.choices.items():
        assert f"usage: jepa-bench {name}" in page, name
        for action in parser._actions:
            for flag in action.option_strings:
                assert flag in page, (name, flag)
    assert "cli-reference" not in page  # the marker was replaced


def test_the_home_page_shows_the_findings_and_the_linked_results_are_in_the_site(site):
    page = (site / "index.html").read_text(encoding="utf-8")
    assert "T_learn" in page and "results/v2/figures/fig3_return.png" in page
    assert "A verdict" in page  # the README's "What the numbers mean"
    assert "A2C control" in page and "<!-- yu-chen -->" not in page  # the Yu & Chen table
    for rel in ("results/v2/figures/fig3_return.png", "results/v2/report.html",
                "results/v1/recovery-small/theory.md", "results/calibration/calibration.md"):
        built = site / rel
        if built.suffix == ".md":
            built = site / Path(rel).with_suffix("") / "index.html"
        assert built.is_file(), rel
    assert (site / "results/v2/figures/fig3_return.png").read_bytes() == \
        (REPO / "results/v2/figures/fig3_return.png").read_bytes()


def test_the_preregistrations_are_pages_of_the_site(site):
    for name in PREREGISTRATIONS:
        source = (REPO / "docs" / f"{name}.md").read_text(encoding="utf-8")
        first = next(line for line in source.splitlines() if line.startswith("# "))
        assert first[2:].split("`")[0].strip()[:40] in _text(site / name / "index.html")
