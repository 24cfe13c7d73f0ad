"""The extended-grid tables of the documentation (docs/reproduction.md) against the committed
summaries they quote: every number, to the digits the page gives, is the one in stats.csv."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = (REPO / "docs" / "reproduction.md").read_text(encoding="utf-8")
NUMBER = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"


def _close(text: str, value: float) -> bool:
    """Does `text` (e.g. '32.5', '402', '2.3e-3') state `value` to the digits it shows?"""
    mantissa, _, exponent = text.partition("e")
    decimals = len(mantissa.partition(".")[2])
    tolerance = 0.5 * 10.0 ** (int(exponent or 0) - decimals)
    return abs(float(text) - value) <= tolerance * (1 + 1e-9)


def _grid_rows(heading: str) -> dict[str, list[str]]:
    """configuration -> its cells, from the first table after `heading`."""
    section = PAGE.split(heading, 1)[1]
    rows = {}
    for line in section.splitlines():
        if rows and not line.startswith("|"):
            break
        name = re.search(r"`(\w+)`", line) if line.startswith("| ") else None
        if name:
            rows[name[1]] = [c.strip() for c in line.strip("|").split("|")][1:]
    return rows


def _check_interval(cell: str, stats: pd.DataFrame, config: str, metric: str) -> None:
    row = stats[(stats.configuration == config) & (stats.metric == metric)].iloc[0]
    if cell == "500.0 on every seed":
        assert row["mean"] == row["ci_low"] == row["ci_high"] == 500.0
        return
    m = re.fullmatch(rf"({NUMBER}) \(({NUMBER})–({NUMBER})\)", cell)
    assert m, (config, metric, cell)
    for text, value in zip(m.groups(), (row["mean"], row["ci_low"], row["ci_high"])):
        assert _close(text, value), (config, metric, cell, value)


@pytest.mark.parametrize("heading, results, columns", [
    ("### The extended grid under v2", "results/v2/full-grid",
     ("final_return", "auc_return", "embed_var_min")),
    ("### The extended grid under v1", "results/v1/full-grid", ("final_return", "embed_var_min")),
])
def test_the_extended_grid_tables_quote_the_committed_summary(heading, results, columns):
    stats = pd.read_csv(REPO / results / "summary" / "stats.csv")
    rows = _grid_rows(heading)
    assert len(rows) == 11
    for config, cells in rows.items():
        for cell, metric in zip(cells, columns):
            if metric == "embed_var_min":
                mean = stats[(stats.configuration == config) & (stats.metric == metric)]
                if cell == "—":
                    assert config in ("state", "state_pixel_ppo")
                else:
                    assert _close(cell, mean["mean"].iloc[0]), (config, cell)
            else:
                _check_interval(cell, stats, config, metric)
