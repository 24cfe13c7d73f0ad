"""The probe's results as a table: R² per state component and the embedding variance at
initialisation, per encoder, against the targets of docs/calibration.md.

Owns the table and the report of `jepa-bench probe --json` results (the workflow's probe
experiment and the calibration's stage A read them through here). Reads JSON only: no torch, so
the Snakefile and the report stages stay light; the probe itself is jepa_bench.rl.probe.

    jepa-bench probe-table results/v2/probe/*/seed*.json --out results/v2/probe.md
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jepa_bench.metrics import STATE_NAMES, atomic_write_text, markdown_table, read_json, write_table

PROBE_TARGETS = {"theta": 0.90, "theta_dot": 0.73}
"""R² an encoder must reach to count as reading the pole (docs/calibration.md, stage A)."""


def summarise_probes(results: list[dict]) -> dict:
    """One row from the probe results of one encoder over seeds: R² per component (mean over
    seeds) and the range of the embedding variance at initialisation."""
    if not results:
        raise ValueError("summarise_probes needs at least one probe result")
    row = {"seeds": " ".join(str(r["seed"]) for r in results)}
    for name in STATE_NAMES:
        row[f"r2_{name}"] = round(sum(r["r2"][name] for r in results) / len(results), 3)
    init = [r["init_embed_var"] for r in results]
    row.update(init_embed_var_min=min(init), init_embed_var_max=max(init))
    return row


def probe_table(paths_by_config: dict[str, list]):
    """One row per configuration from its probe JSON files (as `jepa-bench probe --json` wrote
    them), with whether R²(θ) and R²(θ̇) reach PROBE_TARGETS; a pandas DataFrame."""
    rows = []
    for config, paths in paths_by_config.items():
        results = [read_json(p, need={"encoder": str, "r2": dict},
                             what="a probe result (jepa-bench probe --json)") for p in paths]
        row = {"config": config, "encoder": results[0]["encoder"],
               "settings": results[0].get("settings"), **summarise_probes(results)}
        for name, floor in PROBE_TARGETS.items():
            row[f"reads_{name}"] = row[f"r2_{name}"] >= floor
        rows.append(row)
    return pd.DataFrame(rows)


def write_probe_report(paths_by_config: dict[str, list], out) -> list:
    """probe_table as markdown at `out` and CSV beside it (same name, .csv); returns both paths."""
    out = Path(out)
    if out.suffix != ".md":
        raise ValueError(f"--out {str(out)!r} is not allowed: the report must end in '.md' (its "
                         "table is written beside it as .csv)")
    table = probe_table(paths_by_config)
    write_table(table, out.with_suffix(".csv"))
    atomic_write_text(out, "# Can each encoder read the state? (supervised probe)\n\n"
                      "A freshly initialised encoder of each configuration plus a linear head, "
                      "regressed on the standardised state from random-policy frames (`jepa-bench "
                      "probe`); R² on held-out frames, mean over the seeds listed; the embedding "
                      "variance is the fresh encoder's, before any step. Reads θ / θ̇: R² at least "
                      f"{PROBE_TARGETS['theta']} / {PROBE_TARGETS['theta_dot']}.\n\n"
                      + markdown_table(table))
    return [out, out.with_suffix(".csv")]
