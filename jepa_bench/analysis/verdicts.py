"""Verdicts: from numbers with intervals to "reproduced" / "not reproduced" / "inconclusive".

    x = Interval(mean=30.0, low=27.0, high=33.0, n=5)
    above(x, 25.0)                      # True: the CI lies above the threshold
    check = make_check("learns", above(x, 25.0), "final return 30.0 vs 25.0")
    verdict_of([check["result"]])       # "reproduced"
    write_report("results/claims.md", markdown_text, result)   # and results/claims.json

Owns: the verdict words, three-valued comparisons of intervals with thresholds and with each
other, a check and a claim as plain dicts, the markdown lines every report shares, number
formatting for reports (``sci``), and writing a report as markdown plus its JSON twin. The
claims of Kenneweg et al. (jepa_bench.analysis.claims) and the recovery experiment (jepa_bench.studies.recovery)
build on it. Must not compute statistics (jepa_bench.analysis.stats does), read run folders or draw.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jepa_bench.metrics import atomic_write_text

__all__ = [
    "INCONCLUSIVE",
    "NOT_REPRODUCED",
    "NOT_RUN",
    "REPRODUCED",
    "Interval",
    "above",
    "all_of",
    "below",
    "check_lines",
    "first_detail",
    "json_safe",
    "make_check",
    "make_claim",
    "report_json_path",
    "sci",
    "separated",
    "verdict_of",
    "write_report",
    "yes_no",
]

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
NOT_RUN = "inconclusive (not run)"
"""The verdict of a claim one of whose configurations was not run, whatever the rest says."""


@dataclass(frozen=True)
class Interval:
    """Mean and CI of one configuration's metric; low/high NaN when undecidable."""

    mean: float
    low: float
    high: float
    n: int
    iqm: float = math.nan

    @property
    def defined(self) -> bool:
        return self.n >= 2 and math.isfinite(self.low) and math.isfinite(self.high)

    def text(self, fmt: str = ".1f") -> str:
        if not math.isfinite(self.mean):
            return "n/a"
        ci = f"{self.low:{fmt}} to {self.high:{fmt}}" if self.defined else "undefined"
        return f"{self.mean:{fmt}} (95% CI {ci}; IQM {self.iqm:{fmt}}; n={self.n})"


def above(x: Interval, threshold: float) -> bool | None:
    """True if x's CI lies above threshold, False if at or below it, None if it straddles."""
    if not x.defined:
        return None
    if x.low > threshold:
        return True
    if x.high <= threshold:
        return False
    return None


def below(x: Interval, threshold: float) -> bool | None:
    """True if x's CI lies below threshold, False if at or above it, None if it straddles."""
    if not x.defined:
        return None
    if x.high < threshold:
        return True
    if x.low >= threshold:
        return False
    return None


def separated(a: Interval, b: Interval) -> bool | None:
    """True if a's CI lies entirely above b's, False if entirely below, None if they overlap."""
    if not (a.defined and b.defined):
        return None
    if a.low > b.high:
        return True
    if a.high < b.low:
        return False
    return None


def all_of(results: list[bool | None]) -> bool | None:
    """Three-valued AND."""
    if any(r is False for r in results):
        return False
    if results and all(r is True for r in results):
        return True
    return None


def verdict_of(results: list[bool | None]) -> str:
    """Every check passes: reproduced; one clearly fails: not reproduced; else inconclusive."""
    r = all_of(results)
    return REPRODUCED if r is True else NOT_REPRODUCED if r is False else INCONCLUSIVE


def yes_no(r: bool | None) -> str:
    return "yes" if r is True else "no" if r is False else "undecided"


def make_check(name: str, result: bool | None, detail: str, **numbers) -> dict:
    """One check of a claim: its name, three-valued result, the sentence a report shows and the
    numbers behind it (for the JSON twin)."""
    return {"check": name, "result": result, "detail": detail, "numbers": numbers}


def make_claim(cid, about: dict, statement: str, criterion: str, checks: list[dict],
               verdict: str | None = None, **extra) -> dict:
    """One claim: id, what it is about (e.g. its configuration or algorithm), the statement, the
    criterion, its checks and its verdict (by default from the checks), then ``extra``."""
    if verdict is None:
        verdict = verdict_of([c["result"] for c in checks])
    return {"id": cid, **about, "statement": statement, "criterion": criterion,
            "checks": checks, "verdict": verdict, **extra}


def first_detail(claim: dict) -> str:
    """The sentence of a claim's first check that has one ("" if none): the number a summary
    table shows beside the verdict."""
    return next((c["detail"] for c in claim.get("checks", []) if c.get("detail")), "")


def check_lines(claim: dict) -> list[str]:
    """A claim's checks as markdown lines (the body of its section in a report)."""
    return [f"- {ch['check']}: **{yes_no(ch['result'])}** -- {ch['detail']}"
            for ch in claim["checks"]]


def sci(x, digits: int = 1) -> str:
    """3.72e-08 -> '3.7e-8' (digits=0: '4e-8'); NaN or missing -> 'n/a'."""
    try:
        x = float(x)
    except (TypeError, ValueError):  # None, pandas' NA
        return "n/a"
    if math.isnan(x):
        return "n/a"
    mant, _, exp = f"{x:.{digits}e}".partition("e")
    return f"{mant}e{int(exp)}"


def json_safe(obj, *, nan_as_none: bool = True):
    """A result as plain JSON types: numpy scalars and arrays as Python ones, tuples as lists,
    keys as strings, and NaN and inf as null (unless ``nan_as_none`` is False: then they stay
    floats, which ``json.dumps`` writes as NaN and Infinity)."""
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        obj = float(obj)
        return obj if math.isfinite(obj) or not nan_as_none else None
    if isinstance(obj, dict):
        return {str(k): json_safe(v, nan_as_none=nan_as_none) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    if isinstance(obj, (list, tuple)):
        return [json_safe(v, nan_as_none=nan_as_none) for v in obj]
    return obj


def report_json_path(out_md: str | os.PathLike) -> Path:
    """The JSON twin of a markdown report (same stem); ValueError unless out_md ends in .md."""
    out_md = Path(out_md)
    if out_md.suffix != ".md":
        raise ValueError(f"out_md={str(out_md)!r} is not allowed: the report path must end in '.md'")
    return out_md.with_suffix(".json")


def write_report(out_md: str | os.PathLike, markdown: str, result: dict) -> tuple[Path, Path]:
    """Write a report's markdown to ``out_md`` and ``result`` as JSON beside it, atomically."""
    out_json = report_json_path(out_md)
    atomic_write_text(Path(out_md), markdown)
    atomic_write_text(out_json, json.dumps(json_safe(result), indent=2, ensure_ascii=False) + "\n")
    return Path(out_md), out_json
