"""A collapse that happens (docs/yu-chen-protocol.md, part 2): which seeds collapsed, what the
frozen probe says at the switch and at the end, and the verdicts (a), (b), (c) of the protocol.

    jepa-bench recovery-shared-collapse --root R --algos ppo --seeds 0 1 2 3 4 ... --out C/ppo.json
    jepa-bench recovery-shared --root R --algos ppo a2c --seeds 0 1 2 3 4 ... \\
        --probes P/*.json --summary T --figures F --out results/recovery-shared/recovery.md

The experiment (workflow/rules/recovery_shared.smk, preset workflow/config/recovery-shared.yaml)
has the run folders of jepa_bench.studies.recovery.experiment (its ``summarise_recovery`` reads
them, with the relative lines of ``RecoverySettings`` set):

1. collapse: the shared-target configuration with ∇ off (PPO ``ppo_shared_nograd``, A2C
   ``a2c_shared_nograd``), trained with ``stop_rel_var`` and ``stop_embed_var``, so it ends at the
   first update where ρ = embed_var / embed_var of update 1 is below 1e-4 or embed_var below 1e-7,
   or at the cap (300,000 steps). Either line is a collapse; a capped run has not collapsed.
2. the checkpoint (``collapse_outcome``): which seeds collapsed, one JSON file per algorithm;
   the workflow schedules stage 2 for those seeds only (``switch_wildcards``).
3. the switch, from the collapsed checkpoint: ∇ on (``ppo_shared`` / ``a2c_shared``) and ∇ off
   (the stage-1 configuration continued), 50,000 steps each; PPO under settings set v2, A2C
   under v2-a2c.
4. the frozen probe (`jepa-bench probe-frozen`) of each stage-2 run's snapshots; then here.

Definitions, fixed by the protocol before any run:

- *recovered* (measure 1, the one that decides): ρ, still relative to stage 1's update-1
  embed_var, above 1e-2 within the 50,000 steps; steps to recovery counted from the switch. The
  absolute line of docs/recovery.md (embed_var above 1e-5) is reported beside it.
- *at the switch* (measure 2): the stage-2 run's step-0 encoder snapshot, written after
  ``--init-from`` loaded the collapsed weights (docs/trained-encoders.md, section 1), i.e. the
  collapsed encoder; *at the end*: the run's last snapshot. A component is *regained* when its
  frozen MLP-head R² is below 0.5 at the switch and at least 0.5 at the end.
- Verdicts per algorithm over the included seeds (collapsed, both arms complete); fewer than
  ``MIN_SEEDS`` of them decide nothing (every verdict inconclusive):
  (a) ∇ on recovered in at least ``PULL_SEEDS`` of them; (b) ∇ on recovered in more of them
  than ∇ off, or, where both recovered in all, its median steps to recovery is smaller (the
  one-sided paired sign test is reported beside); (c) ∇ off recovered in at least one. The probe
  is reported beside each, component by component; it changes none of them.

Tables (written by shared_report.write_shared_report): those of the recovery experiment and
``{summary}/probe.csv``, one row per (algo, arm, seed, component).

Owns: the stage-1 outcome and the seeds it schedules, the probe table and the verdicts of this
protocol. Numbers of each arm, statistics and verdict words come from the recovery experiment,
jepa_bench.analysis.stats and jepa_bench.analysis.verdicts. Reads run folders and probe
results; writes nothing and draws nothing.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from jepa_bench.analysis.stats import sign_test
from jepa_bench.analysis.verdicts import json_safe, make_check, make_claim, sci, yes_no
from jepa_bench.config import SETTINGS
from jepa_bench.layout import switch_paths
from jepa_bench.metrics import STATE_NAMES, read_json
from jepa_bench.studies.recovery.experiment import (ALGO_LABELS, MIN_SEEDS, RECOVERY_ARMS,
                                                    RecoverySettings, RecoverySummary,
                                                    arm_numbers, fraction_text, steps_text,
                                                    summarise_recovery)
from jepa_bench.studies.trained_encoders import DROP_LEVEL

__all__ = [
    "PROTOCOL",
    "PULL_SEEDS",
    "REGAIN_LEVEL",
    "SHARED_CRITERIA",
    "check_settings_sets",
    "collapse_outcome",
    "evaluate_shared",
    "probe_switch_table",
    "switch_wildcards",
]

PROTOCOL = RecoverySettings(collapse_steps=300_000, recovery_steps=50_000,
                            collapse_threshold=1e-7, recovery_threshold=1e-5,
                            collapse_rel=1e-4, recovery_rel=1e-2)
"""The numbers docs/yu-chen-protocol.md fixes (the preset's defaults)."""
PULL_SEEDS = 3
"""(a): ∇ on must recover in at least this many of the collapsed seeds."""
REGAIN_LEVEL = DROP_LEVEL
"""The MLP-head R² a regained component rises to from below (0.5, as for a dropped one)."""

SHARED_CRITERIA = {
    "a": ("*The RL gradient pulls the encoder out*: among the included seeds (collapsed, both "
          f"arms complete), ∇ on recovers (ρ above the recovery line) in at least {PULL_SEEDS}."),
    "b": ("*Faster than without it*: ∇ on recovers in more included seeds than ∇ off, or, where "
          "both recover in every included seed, its median steps to recovery is smaller. The "
          "one-sided exact sign test on the seeds where the arms disagree is reported beside."),
    "c": "*It sometimes recovers on its own*: ∇ off recovers in at least one included seed.",
    "seeds": (f"Every verdict is inconclusive when fewer than {MIN_SEEDS} seeds are included "
              "(docs/recovery.md), an observed recovery with ∇ off included."),
    "probe": (f"The frozen probe is reported beside each verdict and changes none: a component is "
              f"regained when its MLP-head R² goes from below {REGAIN_LEVEL} at the switch (the "
              f"stage-2 run's step-0 snapshot, the collapsed encoder) to at least {REGAIN_LEVEL} "
              "at the end (its last snapshot)."),
}


# --------------------------------------------------------------------------- stage 1 -> stage 2


def check_settings_sets(algos: Sequence[str], settings_sets: Mapping[str, str]) -> dict[str, str]:
    """One known settings set per algorithm, as a plain dict; ValueError naming what is wrong."""
    sets = {str(a): str(s) for a, s in settings_sets.items()}
    for algo, name in sets.items():
        if name not in SETTINGS:
            raise ValueError(f"settings set {name!r} of {algo} is not one of: "
                             f"{', '.join(SETTINGS)}")
    missing, extra = [a for a in algos if a not in sets], [a for a in sets if a not in algos]
    if missing or extra:
        raise ValueError(f"settings sets are given for {sorted(sets)} but the algorithms are "
                         f"{list(algos)}: give one ALGO=SET for each algorithm")
    return sets


def collapse_outcome(root: str | os.PathLike, algo: str, seeds: Sequence[int],
                     settings: RecoverySettings, settings_set: str) -> dict:
    """Stage 1's outcome for one algorithm: which seeds collapsed (by either line), which did
    not, and each run's row; the content of the workflow checkpoint's JSON. ValueError when a
    stage-1 run is missing or unfinished: the checkpoint decides on finished runs only."""
    summary = summarise_recovery(root, [algo], seeds, settings,
                                 check_settings_sets([algo], {algo: settings_set}))
    col = summary.collapse
    unfinished = col[col["status"] != "complete"]
    if len(unfinished):
        r = unfinished.iloc[0]
        raise ValueError(f"stage-1 run of {algo} seed {r['seed']} is {r['status']} ({r['note']}); "
                         "finish stage 1 before deciding which seeds collapsed")
    collapsed = col["collapsed"].fillna(False).astype(bool)
    return json_safe({
        "algo": algo, "root": str(root), "settings": asdict(settings),
        "settings_set": settings_set,
        "collapsed": [int(x) for x in col[collapsed]["seed"]],
        "not_collapsed": [int(x) for x in col[~collapsed]["seed"]],
        "runs": col.astype(object).where(col.notna(), None).to_dict("records"),
    })


def switch_wildcards(outcome_file: str | os.PathLike) -> list[dict]:
    """The stage-2 runs a checkpoint's outcome asks for: {algo, arm, seed} of both arms of each
    collapsed seed (what the workflow's input functions format its path patterns with)."""
    outcome = read_json(Path(outcome_file))
    return [{"algo": outcome["algo"], "arm": arm, "seed": seed}
            for seed in outcome["collapsed"] for arm in RECOVERY_ARMS]


# --------------------------------------------------------------------------- the probe


def _snapshot_r2(snapshots: list[dict], where: str) -> tuple[int, dict]:
    """(env_step, {head: {component: R²}}) of the first (step 0) or the last snapshot."""
    ordered = sorted(snapshots, key=lambda s: s["env_step"])
    snap = ordered[0] if where == "switch" else ordered[-1]
    return int(snap["env_step"]), snap["r2"]


def probe_switch_table(summary: RecoverySummary, probes: Sequence[dict]) -> pd.DataFrame:
    """One row per (algo, arm, seed, component) of every complete stage-2 run: the frozen
    probe's MLP and linear R² at the switch (step-0 snapshot) and at the end (last snapshot),
    and whether the component was regained; NaN where the run has no probe. ValueError for a
    probe of a run that is not one of this experiment's, one whose first snapshot is not at
    step 0, or one that ends before its run did."""
    root = Path(summary.meta["root"])
    runs = summary.runs[summary.runs["status"] == "complete"]
    by_folder = {Path(switch_paths(root, r.algo, r.arm, r.seed).root).resolve(): r
                 for r in runs.itertuples()}
    found = {}
    for probe in probes:
        run = by_folder.get(Path(probe["run"]).resolve())
        if run is None:
            raise ValueError(f"probe of {probe['run']}: not a complete stage-2 run under {root}")
        start, switch = _snapshot_r2(probe["snapshots"], "switch")
        end, last = _snapshot_r2(probe["snapshots"], "end")
        if start != 0 or end != int(run.env_steps):
            raise ValueError(f"probe of {probe['run']}: snapshots from step {start} to {end}, but "
                             f"the run went from 0 to {int(run.env_steps)}; probe it again")
        found[(run.algo, run.arm, run.seed)] = (end, switch, last)
    rows = []
    for r in runs.itertuples():
        end, switch, last = found.get((r.algo, r.arm, r.seed), (math.nan, None, None))
        for c in STATE_NAMES:
            values = {f"{head}_{when}": (at[head][c] if at else math.nan)
                      for head in ("mlp", "linear") for when, at in (("switch", switch),
                                                                      ("end", last))}
            regained = (None if switch is None else
                        bool(values["mlp_switch"] < REGAIN_LEVEL <= values["mlp_end"]))
            rows.append({"algo": r.algo, "arm": r.arm, "seed": r.seed, "included": r.included,
                         "component": c, "end_step": end, **values, "regained": regained})
    cols = ["algo", "arm", "seed", "included", "component", "end_step", "mlp_switch", "mlp_end",
            "linear_switch", "linear_end", "regained"]
    table = pd.DataFrame(rows, columns=cols)
    table["regained"] = table["regained"].astype("boolean")
    table["included"] = table["included"].astype("boolean")
    table["end_step"] = pd.to_numeric(table["end_step"], errors="coerce").astype("Int64")
    return table


def _probe_numbers(table: pd.DataFrame, algo: str, arm: str) -> dict:
    """Per component over the included seeds with a probe: how many regained it, of how many,
    and the mean MLP-head R² at the switch and at the end."""
    sub = table[(table["algo"] == algo) & (table["arm"] == arm)
                & table["included"].fillna(False).astype(bool) & table["regained"].notna()]
    out = {}
    for c in STATE_NAMES:
        part = sub[sub["component"] == c]
        out[c] = {"regained": int(part["regained"].astype(bool).sum()), "n": int(len(part)),
                  "seeds": [int(s) for s in part[part["regained"].astype(bool)]["seed"]],
                  "mlp_switch_mean": float(part["mlp_switch"].mean()) if len(part) else math.nan,
                  "mlp_end_mean": float(part["mlp_end"].mean()) if len(part) else math.nan}
    return out


# --------------------------------------------------------------------------- verdicts


def _collapse_numbers(summary: RecoverySummary, algo: str) -> dict:
    col = summary.collapse[summary.collapse["algo"] == algo]

    def seeds(column: str) -> list[int]:
        return [int(x) for x in col[col[column].fillna(False).astype(bool)]["seed"]]

    steps = col[col["collapsed"].fillna(False).astype(bool)]["steps_to_collapse"]
    return {"configuration": next(iter(col["configuration"].dropna()), None),
            "seeds_collapsed": seeds("collapsed"), "seeds_collapsed_rel": seeds("collapsed_rel"),
            "seeds_collapsed_abs": seeds("collapsed_abs"),
            "seeds_not_collapsed": [int(x) for x in col[col["collapsed"].eq(False).fillna(False)]["seed"]],
            "seeds_without_stage1": [int(x) for x in col[col["status"] != "complete"]["seed"]],
            "median_steps_to_collapse": float(np.median(steps.astype(float))) if len(steps)
            else math.nan}


def evaluate_shared(summary: RecoverySummary, probe: pd.DataFrame) -> dict:
    """The verdicts (a), (b), (c) per algorithm with the probe beside them; the content of
    recovery.json. ``summary`` must have been made with the relative lines set."""
    s = RecoverySettings(**summary.meta["settings"])
    if not (s.collapse_rel and s.recovery_rel):
        raise ValueError("the protocol's verdicts need the relative lines: collapse_rel and "
                         "recovery_rel must be > 0")
    line = f"ρ above {sci(s.recovery_rel, 0)}"
    claims, per_algo = [], {}
    for algo in summary.meta["algos"]:
        label = ALGO_LABELS.get(algo, algo)
        on, off = (arm_numbers(summary, algo, arm) for arm in RECOVERY_ARMS)
        n, sign = on["n"], sign_test(on["recovered"], off["recovered"])
        enough = n >= MIN_SEEDS
        few = "" if enough else f"; only {n} included seed{'s' if n != 1 else ''} (< {MIN_SEEDS})"
        probes = {arm: _probe_numbers(probe, algo, arm) for arm in RECOVERY_ARMS}
        per_algo[algo] = {"collapse": _collapse_numbers(summary, algo),
                          "included_seeds": on["seeds"], "grad_on": on, "grad_off": off,
                          "sign_test": sign, "probe": probes}
        m_on, m_off = on["median_steps_to_recovery"], off["median_steps_to_recovery"]
        all_both = on["count"] == off["count"] == n > 0
        results = {
            "a": on["count"] >= PULL_SEEDS,
            "b": on["count"] > off["count"] or (all_both and m_on < m_off),
            "c": off["count"] >= 1,
        }
        details = {
            "a": (f"∇ on recovered ({line}) in {fraction_text(on)}; by the absolute line "
                  f"{on['count_abs']} of {n}", "∇ on recovers in at least "
                  f"{PULL_SEEDS} included seeds", ["grad_on"]),
            "b": (f"∇ on {on['count']} vs ∇ off {off['count']} of {n}; median steps to recovery "
                  f"∇ on {steps_text(m_on)} vs ∇ off {steps_text(m_off)}; only ∇ on recovered in "
                  f"{sign['only_grad_on']}, only ∇ off in {sign['only_grad_off']} (one-sided "
                  f"exact sign test p = {sign['p_one_sided']:.3g})",
                  "∇ on recovers in more seeds, or, both in all, sooner (median)",
                  list(RECOVERY_ARMS)),
            "c": (f"∇ off recovered ({line}) in {fraction_text(off)} ({off['recovered_at_end']} "
                  f"still above at the end); by the absolute line {off['count_abs']} of {n}",
                  "∇ off recovers in at least one included seed", ["grad_off"]),
        }
        statements = {"a": "the RL gradient pulls a collapsed encoder out of collapse.",
                      "b": "with the RL gradient it recovers faster than without it.",
                      "c": "a collapsed encoder sometimes recovers on its own with ∇ off."}
        for cid in "abc":
            result = results[cid] if enough else None
            detail, name, arms = details[cid]
            check = make_check(name, result, f"{detail}{few}: {yes_no(result)}",
                               grad_on=on["count"], grad_off=off["count"], n=n,
                               median_grad_on=m_on, median_grad_off=m_off, **sign)
            claims.append(make_claim(cid, {"algo": algo}, f"{label}: {statements[cid]}",
                                     SHARED_CRITERIA[cid], [check],
                                     probe={arm: probes[arm] for arm in arms}))
    return {
        "experiment": ("a collapse that happens (docs/yu-chen-protocol.md, part 2): the shared "
                       "target without stop-gradient trained with ∇ off until ρ < the relative "
                       "line or embed_var < the absolute one, then continued with ∇ on vs ∇ off"),
        "protocol": "docs/yu-chen-protocol.md",
        "papers": ["Yu & Chen, RL as Internal Regularization Preventing JEPA Representation "
                   "Collapse", "Kenneweg et al. 2025, JEPA for RL, section 3"],
        "runs": {"root": summary.meta["root"], "algos": summary.meta["algos"],
                 "seeds": summary.meta["seeds"], "settings_sets": summary.meta["settings_sets"]},
        "thresholds": {**summary.meta["settings"], "min_seeds": MIN_SEEDS,
                       "pull_seeds": PULL_SEEDS, "regain_level": REGAIN_LEVEL,
                       "return_window": summary.meta["return_window"], "ci": summary.meta["ci"]},
        "criteria": SHARED_CRITERIA,
        "algorithms": per_algo,
        "claims": claims,
    }
