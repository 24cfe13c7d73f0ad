"""Yu & Chen's claims and the second half of Kenneweg et al.'s claim 4, decided, in one report.

Owns only the gathering: each verdict was decided by the report that owns its criterion
(jepa_bench.studies.trained_encoders: Proposition 2 per pair, claim 4's second half;
jepa_bench.studies.recovery: the recovery questions (a)-(c) per algorithm), and this module
lists them with their numbers, names the file each comes from and marks reports not yet run.
The one thing it computes is the A2C control against the angle-only policy (docs/yu-chen-protocol.md
Part 1), from the calibration's confirmation table, with the calibration's own target.
It never re-derives a verdict and never reads a run folder.

    jepa-bench yu-chen --reports centre=results/sensitivity/centre/trained-encoders.json \\
        recovery=results/recovery-shared/recovery.json \\
        --a2c-control results/a2c-calibration/confirm.csv --out results/v2/yu-chen.md
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import pandas as pd

from jepa_bench.analysis.verdicts import (Interval, above, first_detail, make_check, make_claim,
                                          write_report)
from jepa_bench.metrics import markdown_table, read_json, read_table
from jepa_bench.analysis.stats import describe_sample
from jepa_bench.studies.calibration import CONFIRM_EPISODES, CONFIRM_FLOOR

__all__ = ["A2C_CONTROL_ID", "TARGET_MET", "TARGET_NOT_MET", "a2c_control_claim", "gather_claims",
           "write_yu_chen_report"]

A2C_CONTROL_ID = "A2C control"
TARGET_MET, TARGET_NOT_MET = "target met", "target not met"
_NOT_RUN = "not run yet"


def a2c_control_claim(confirm_csv: str | os.PathLike) -> dict:
    """The A2C control's calibration target as a claim: the 95 % CI of the mean final return of
    the confirmation runs lies entirely above CONFIRM_FLOOR (41.5, the sign-of-angle policy)."""
    runs = read_table(confirm_csv)
    column = f"mean_last_{CONFIRM_EPISODES}"
    if runs.empty or column not in runs or runs["cell"].nunique() != 1:
        raise ValueError(f"{confirm_csv}: expected the confirmation runs of one cell with a "
                         f"{column!r} column")
    cell = runs["cell"].iloc[0]
    d = describe_sample(runs[column])
    x = Interval(mean=d["mean"], low=d["ci_low"], high=d["ci_high"], n=d["n"], iqm=d["iqm"])
    met = above(x, CONFIRM_FLOOR) is True  # a CI that reaches 41.5 does not meet the target
    check = make_check(f"final return above the angle-only policy's {CONFIRM_FLOOR}",
                       met, f"cell {cell}: final return {x.text()} vs {CONFIRM_FLOOR}",
                       final_return={"mean": x.mean, "low": x.low, "high": x.high, "n": x.n},
                       floor=CONFIRM_FLOOR)
    return make_claim(A2C_CONTROL_ID, {"cell": cell},
                      "The calibrated A2C learns: its neutral control (cnn_pixel_a2c) beats the "
                      "angle-only policy, so its policy loss carries information about the state.",
                      f"95 % CI of the mean final return entirely above {CONFIRM_FLOOR}", [check],
                      verdict=TARGET_MET if met else TARGET_NOT_MET)


def gather_claims(reports: Mapping[str, Path]) -> list[dict]:
    """Every claim of every report (name -> JSON with a `claims` list), each with its source; a
    report that does not exist yet is one row saying so."""
    out = []
    for name, path in reports.items():
        path = Path(path)
        if not path.is_file():
            out.append({"source": name, "path": str(path), "id": "-", "statement": _NOT_RUN,
                        "verdict": _NOT_RUN, "checks": []})
            continue
        for claim in read_json(path, need={"claims": list},
                                what="a report with a claims list (a claims.json)")["claims"]:
            out.append({"source": name, "path": str(path), **claim})
    return out


def write_yu_chen_report(reports: Mapping[str, Path], out_md: str | os.PathLike,
                         a2c_control: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """yu-chen.md and its JSON twin: one row per claim (source, id, statement, verdict, first
    number), the A2C control first when its confirmation table is given."""
    sources = {**({"a2c-calibration": Path(a2c_control)} if a2c_control else {}),
               **{n: Path(p) for n, p in reports.items()}}
    claims = gather_claims(reports)
    if a2c_control is not None:
        if Path(a2c_control).is_file():
            control = a2c_control_claim(a2c_control)
        else:
            control = {"id": A2C_CONTROL_ID, "statement": _NOT_RUN, "verdict": _NOT_RUN,
                       "checks": []}
        claims.insert(0, {"source": "a2c-calibration", "path": str(a2c_control), **control})
    table = pd.DataFrame([{"source": c["source"], "claim": c["id"], "statement": c["statement"],
                           "verdict": f"**{c['verdict']}**", "numbers": first_detail(c)}
                          for c in claims])
    text = "\n".join([
        "# Yu & Chen's claims, and the second half of Kenneweg et al.'s claim 4\n",
        "Each verdict is decided by the report it comes from, by the criteria preregistered in "
        "docs/trained-encoders.md (Proposition 2, claim 4's second half) and "
        "docs/yu-chen-protocol.md (the A2C control, the recovery questions (a)-(c)); this table "
        "gathers them with the first number behind each. Written by `jepa-bench yu-chen`.\n",
        markdown_table(table) if not table.empty else "(no report given)\n",
        "\n## Sources\n", "\n".join(f"- {n}: `{p}`" for n, p in sources.items()) + "\n"])
    return write_report(out_md, text, {"claims": claims,
                                       "sources": {n: str(p) for n, p in sources.items()}})
