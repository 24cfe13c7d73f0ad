"""The five verdicts under each settings set, side by side (the first point of a sensitivity study).

Owns only the side-by-side table: it reads the claims.json that jepa_bench.analysis.claims wrote for each
set and never re-derives a verdict. A claim that a set's report does not hold is listed as "not run".
The command refuses a report file that is not there, naming every such file, before it writes
anything: each set it is given must have been run (the workflow's settings_table rule has every
report as an input, so Snakemake builds or refuses a missing one first), and a mistyped path must
not become a column of "not run".

    jepa-bench settings-table --claims v1=results/v1/claims.json v2=results/v2/claims.json \\
        --out results/v2/settings.md
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from jepa_bench.analysis.verdicts import first_detail
from jepa_bench.metrics import atomic_write_text, read_json


def _cell(claim: dict) -> str:
    first = first_detail(claim)
    return f"**{claim['verdict']}**" + (f" ({first})" if first else "")


def settings_table(reports: dict[str, Path]) -> str:
    """Markdown: one row per claim, one column per settings set (verdict and its first number);
    a report file that is not there is a column of "not run" here (write_settings_table refuses
    it)."""
    loaded = {name: read_json(path, need={"claims": list}, what="a claims report (claims.json)")
              if path.is_file() else None for name, path in reports.items()}
    claims = next((r["claims"] for r in loaded.values() if r), [])
    lines = ["# The paper's claims under each settings set\n",
             "Each cell is the verdict of that set's claims report with the first number behind "
             "it; the reports themselves hold every criterion. Written by `jepa-bench "
             "settings-table` from " + ", ".join(f"`{p}`" for p in reports.values()) + ".\n",
             "| # | claim | " + " | ".join(reports) + " |",
             "|---|---|" + "---|" * len(reports)]
    for claim in claims:
        cells = []
        for report in loaded.values():
            match = next((c for c in report["claims"] if c["id"] == claim["id"]), None) \
                if report else None
            cells.append(_cell(match) if match else "not run")
        lines.append(f"| {claim['id']} | {claim['statement']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_settings_table(reports: dict[str, Path], out: Path) -> Path:
    """settings_table written to `out`; FileNotFoundError naming every report file that is not
    there (the command line: one line, exit 2) before anything is written."""
    missing = [str(path) for path in reports.values() if not Path(path).is_file()]
    if missing:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), ", ".join(missing))
    atomic_write_text(Path(out), settings_table(reports))
    return Path(out)
