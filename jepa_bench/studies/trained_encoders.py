"""What trained encoders keep: the frozen probe's table and figure, Yu & Chen's Proposition 2
(partial collapse) and the second half of Kenneweg et al.'s claim 4, decided by the criteria of
docs/trained-encoders.md.

    results = [read_probe(p) for p in probe_files]         # `jepa-bench probe-frozen --json`
    result = evaluate_trained_encoders(results, pairs={"j1g0r0": "j1g1r0"})
    write_trained_encoders_report("results/sensitivity/centre/trained-encoders.md", result)

A probe file holds one run's snapshots (step 0 = the encoder at initialisation), each with R² per
state component for a linear and an MLP head. This module owns the table, the two decisions and
the report; the probe itself is jepa_bench.rl.probe.frozen_probe. No torch.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from jepa_bench.analysis.plots import line_colours, notation_mathtext, save_figures, seed_band
from jepa_bench.analysis.stats import describe_sample, welch_interval
from jepa_bench.analysis.verdicts import (INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, make_check,
                                          make_claim, verdict_of, write_report)
from jepa_bench.config import get_config
from jepa_bench.metrics import STATE_NAMES, markdown_table, read_json, write_table

__all__ = ["CLAIM4_COMPONENTS", "CLAIM4_CONFIG", "DROP_LEVEL", "PAIRS", "claim4_second_half",
           "probe_table", "proposition2", "evaluate_trained_encoders", "read_probe",
           "trained_encoders_figure", "write_trained_encoders_report"]

DROP_LEVEL = 0.5
"""A component is dropped when its frozen MLP-head R² falls below this while the run's step-0
encoder's is at least this (docs/trained-encoders.md)."""
DROPPED_MIN_SEEDS, KEPT_MAX_SEEDS = 3, 1
CLAIM4_CONFIG = "j1g0r1"
CLAIM4_COMPONENTS = ("theta", "x")
CLAIM4_STEP = 100_000
PAIRS = {"j1g0r0": "j1g1r0", "j1g0r1": "j1g1r0", "a2c_shared_nograd": "a2c_shared"}
"""The (∇ off -> ∇ on) pairs of Proposition 2's test, as preregistered."""


def read_probe(path: str | os.PathLike) -> dict:
    """One run's frozen-probe file (`jepa-bench probe-frozen RUN --json`); a file of another kind
    (another probe's, a report, several runs in one file) is a ValueError naming it."""
    return read_json(Path(path), need={"run": str, "config_name": str, "seed": int,
                                       "snapshots": list},
                     what="one run's frozen probe (jepa-bench probe-frozen RUN --json)")


def probe_table(results: Sequence[dict]) -> pd.DataFrame:
    """One row per (run, snapshot, head): configuration, seed, env_step, head, R² per component."""
    rows = []
    for res in results:
        for snap in res["snapshots"]:
            for head, r2 in snap["r2"].items():
                rows.append({"configuration": res["config_name"], "seed": res["seed"],
                             "env_step": snap["env_step"], "head": head,
                             **{c: r2[c] for c in STATE_NAMES}})
    return pd.DataFrame(rows).sort_values(["configuration", "seed", "env_step", "head"],
                                          kind="stable", ignore_index=True)


def _at(table: pd.DataFrame, config: str, head: str, step: str | int) -> pd.DataFrame:
    """One R² row per seed: at env step 0, at the run's last snapshot ('last'), or at `step`."""
    sub = table[(table["configuration"] == config) & (table["head"] == head)]
    if step == "last":
        sub = sub.loc[sub.groupby("seed")["env_step"].idxmax()]
    else:
        sub = sub[sub["env_step"] == int(step)]
    return sub.set_index("seed").sort_index()


def dropped(table: pd.DataFrame, config: str) -> dict[str, list[int]]:
    """Per component, the seeds whose last snapshot dropped it (MLP head below DROP_LEVEL where
    the step-0 encoder was at or above it); a component no seed could read at step 0 maps to
    None (not readable at initialisation)."""
    init, last = _at(table, config, "mlp", 0), _at(table, config, "mlp", "last")
    out = {}
    for c in STATE_NAMES:
        readable = init[c] >= DROP_LEVEL
        out[c] = (None if not readable.any() else
                  [int(s) for s in last.index if s in init.index and readable[s]
                   and last.loc[s, c] < DROP_LEVEL])
    return out


def proposition2(table: pd.DataFrame, off: str, on: str) -> dict:
    """Yu & Chen's Proposition 2 on one pair (∇ off, ∇ on): reproduced if some component is
    dropped in at least 3 seeds without the RL gradient and in at most 1 with it; not
    reproduced if no component is dropped in more than 1 seed without it; else inconclusive."""
    d_off, d_on = dropped(table, off), dropped(table, on)
    n_off = {c: (None if v is None else len(v)) for c, v in d_off.items()}
    n_on = {c: (None if v is None else len(v)) for c, v in d_on.items()}
    supported = [c for c in STATE_NAMES if n_off[c] is not None and n_off[c] >= DROPPED_MIN_SEEDS
                 and (n_on[c] or 0) <= KEPT_MAX_SEEDS]
    if supported:
        verdict = REPRODUCED
    elif all(n is None or n <= KEPT_MAX_SEEDS for n in n_off.values()):
        verdict = NOT_REPRODUCED
    else:
        verdict = INCONCLUSIVE
    last_off, last_on = _at(table, off, "mlp", "last"), _at(table, on, "mlp", "last")
    diffs = {}
    for c in STATE_NAMES:
        diffs[c] = welch_interval(last_on[c].to_numpy(), last_off[c].to_numpy())
    detail = "; ".join(f"{c}: dropped in {n_off[c] if n_off[c] is not None else 'n/a'} "
                       f"(∇ off) vs {n_on[c] if n_on[c] is not None else 'n/a'} (∇ on) seeds"
                       for c in STATE_NAMES)
    check = make_check(f"a component dropped without the RL gradient ({off}) and kept with it "
                       f"({on})", verdict == REPRODUCED if verdict != INCONCLUSIVE else None,
                       detail, dropped_off=d_off, dropped_on=d_on, r2_difference_on_minus_off=diffs)
    return make_claim(f"P2 {off} vs {on}", {"off": off, "on": on},
                      "Yu & Chen, Proposition 2: without the policy loss the encoder can drop a "
                      "state component (partial collapse); with it, it cannot.",
                      f"MLP-head R² < {DROP_LEVEL} at the last snapshot where step 0 had ≥ "
                      f"{DROP_LEVEL}: in ≥ {DROPPED_MIN_SEEDS} seeds ∇ off and ≤ {KEPT_MAX_SEEDS} "
                      "∇ on", [check], verdict)


def claim4_second_half(table: pd.DataFrame) -> dict:
    """Kenneweg et al.'s claim 4, second half, on J,∇̂,R at 100k: the frozen linear-head R² of θ
    and of x each above the step-0 encoder's (paired difference, 95 % bootstrap CI above 0)."""
    init = _at(table, CLAIM4_CONFIG, "linear", 0)
    late = _at(table, CLAIM4_CONFIG, "linear", CLAIM4_STEP)
    checks = []
    for c in CLAIM4_COMPONENTS:
        seeds = [s for s in late.index if s in init.index]
        d = describe_sample((late.loc[seeds, c] - init.loc[seeds, c]).to_numpy())
        result = (True if d["ci_low"] > 0 else False if d["ci_high"] <= 0 else None) \
            if not math.isnan(d["ci_low"]) else None
        checks.append(make_check(
            f"R²({c}) at 100k above initialisation", result,
            f"paired difference {d['mean']:.3f} (95% CI {d['ci_low']:.3f} to "
            f"{d['ci_high']:.3f}; n={d['n']})", difference=d))
    return make_claim("4b", {"configuration": CLAIM4_CONFIG,
                             "notation": get_config(CLAIM4_CONFIG).notation},
                      "JEPA is able to learn informative state representations without gradient "
                      "propagation from the RL task (claim 4, second half).",
                      "frozen linear-head R² of θ and of x at 100k each above step 0's "
                      "(paired 95 % CI above 0); not reproduced if either CI is at or below 0",
                      checks, verdict_of([ch["result"] for ch in checks]))


def trained_encoders_figure(table: pd.DataFrame, out_dir: str | os.PathLike) -> list[Path]:
    """``trained_encoders.{png,pdf}``: R² per component (columns) for each head (rows), one
    line per configuration against env steps, mean and 95 % CI over seeds."""
    heads = list(dict.fromkeys(table["head"]))
    configs = list(dict.fromkeys(table["configuration"]))
    colours = line_colours(len(configs))
    fig = Figure(figsize=(3.2 * len(STATE_NAMES), 2.8 * len(heads)), constrained_layout=True)
    axes = np.atleast_2d(fig.subplots(len(heads), len(STATE_NAMES), squeeze=False))
    for i, head in enumerate(heads):
        for j, comp in enumerate(STATE_NAMES):
            ax = axes[i, j]
            for k, name in enumerate(configs):
                sub = table[(table["configuration"] == name) & (table["head"] == head)]
                steps, _, mean, low, high = seed_band(sub, comp, log=False)
                ax.fill_between(steps, low, high, color=colours[k], alpha=0.2, linewidth=0)
                ax.plot(steps, mean, "o-", color=colours[k], label=notation_mathtext(name),
                        markersize=3)
            ax.set_ylim(-0.05, 1.0)
            ax.axhline(DROP_LEVEL, color="grey", linewidth=0.6, linestyle=":")
            ax.set_title(f"{comp} ({head} head)")
            if j == 0:
                ax.set_ylabel("held-out R²")
            if i == len(heads) - 1:
                ax.set_xlabel("env steps")
    axes[0, -1].legend(fontsize=7)
    return save_figures(fig, out_dir, "trained_encoders")


def evaluate_trained_encoders(results: Sequence[dict],
                              pairs: Mapping[str, str] = PAIRS) -> dict:
    """The table, Proposition 2 on each (∇ off -> ∇ on) pair present, claim 4's second half
    when J,∇̂,R is present."""
    table = probe_table(results)
    present = set(table["configuration"])
    claims = [proposition2(table, off, on) for off, on in pairs.items()
              if off in present and on in present]
    if CLAIM4_CONFIG in present:
        claims.append(claim4_second_half(table))
    return {"drop_level": DROP_LEVEL, "runs": len(results),
            "configurations": sorted(present), "claims": claims,
            "table": table.to_dict(orient="records")}


def write_trained_encoders_report(out_md: str | os.PathLike, result: dict) -> tuple[Path, Path]:
    """The report at `out_md`, its JSON twin, and the table as CSV beside it (same stem)."""
    table = pd.DataFrame(result["table"])
    write_table(table, Path(out_md).with_suffix(".csv"))
    last = table.loc[table.groupby(["configuration", "seed", "head"])["env_step"].idxmax()]
    mean = (last.groupby(["configuration", "head"])[list(STATE_NAMES)].mean().reset_index())
    init = table[table["env_step"] == 0].groupby(["configuration", "head"])[
        list(STATE_NAMES)].mean().reset_index()
    lines = ["# What the trained encoders keep (docs/trained-encoders.md)", ""]
    if result.get("exploratory"):
        lines += [f"**Exploratory, not preregistered:** {result['exploratory']} The criteria "
                  "below are docs/trained-encoders.md's, applied here after the fact; these "
                  "verdicts are descriptive and count towards no claim.", ""]
    lines += [f"Frozen probe of {result['runs']} runs: R² on held-out frames from a fixed mixture "
             "of policies, per state component, for a linear and an MLP head; step 0 is each "
             "run's encoder at initialisation.", "",
             "## Mean R² at each run's last snapshot", "", markdown_table(mean),
             "## Mean R² at initialisation (step 0)", "", markdown_table(init),
             "## Verdicts", ""]
    for claim in result["claims"]:
        lines += [f"### {claim['id']}: {claim['verdict']}", "", claim["statement"], "",
                  f"Criterion: {claim['criterion']}", ""]
        lines += [f"- {ch['check']}: {ch['detail']}" for ch in claim["checks"]] + [""]
    return write_report(Path(out_md), "\n".join(lines), result)
