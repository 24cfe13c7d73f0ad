"""The report of a collapse that happens (docs/yu-chen-protocol.md, part 2): recovery_shared.png
/.pdf, recovery.md and its JSON twin, the tables.

Owns: how this protocol's result is drawn (ρ after the switch per arm on a log axis; the frozen
probe's MLP-head R² per component at the switch and at the end) and worded, and writing tables,
figure and report in one call (``write_shared_report``, what `jepa-bench recovery-shared`
runs). It only presents what jepa_bench.studies.recovery.shared and .experiment computed: no
verdict is decided here; run folders and probe files are read through them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from jepa_bench.analysis.plots import line_colours
from jepa_bench.analysis.verdicts import report_json_path, sci, write_report
from jepa_bench.metrics import STATE_NAMES, write_table
from jepa_bench.studies.recovery.experiment import (ALGO_LABELS, ARM_LABELS, RECOVERY_ARMS,
                                                    RECOVERY_SUMMARY_FILES, RecoverySettings,
                                                    RecoverySummary, config_label, flag,
                                                    steps_text, summarise_recovery)
from jepa_bench.studies.recovery.report import (ARM_MATHTEXT, SWITCH_CAVEAT, arm_table,
                                                arms_title, curve_panel, finish_figure,
                                                included_curves,
                                                recovered_at, run_table, verdict_sections)
from jepa_bench.studies.recovery.shared import (REGAIN_LEVEL, check_settings_sets,
                                                evaluate_shared, probe_switch_table)
from jepa_bench.studies.trained_encoders import read_probe

__all__ = ["SHARED_FIGURE_STEM", "SHARED_SUMMARY_FILES", "plot_shared", "probe_text",
           "write_shared_report"]

SHARED_FIGURE_STEM = "recovery_shared"
SHARED_SUMMARY_FILES = {**RECOVERY_SUMMARY_FILES, "probe": "probe.csv"}
COMPONENT_LABELS = {"x": "$x$", "x_dot": r"$\dot{x}$", "theta": r"$\theta$",
                    "theta_dot": r"$\dot{\theta}$"}
COMPONENT_TEXT = {"x": "x", "x_dot": "ẋ", "theta": "θ", "theta_dot": "θ̇"}


def probe_text(numbers: dict) -> str:
    """'x 0 of 3 (MLP R² 0.12 -> 0.31), ...': an arm's regained components."""
    if not any(v["n"] for v in numbers.values()):
        return "no probe of an included seed"
    return ", ".join(f"{COMPONENT_TEXT[c]} {v['regained']} of {v['n']} (MLP R² "
                     f"{v['mlp_switch_mean']:.2f} -> {v['mlp_end_mean']:.2f})"
                     for c, v in numbers.items())


# --------------------------------------------------------------------------- figure


def _probe_panel(ax, probe: pd.DataFrame) -> None:
    """MLP-head R² per component at the switch (hollow) and at the end (filled), ∇ on and ∇ off
    side by side: a dot per included seed, a bar for the mean; the regain level dotted."""
    colours = dict(zip(RECOVERY_ARMS, line_colours(len(RECOVERY_ARMS))))
    rows = probe[probe["included"].fillna(False).astype(bool) & probe["regained"].notna()]
    offsets = {("grad_on", "switch"): -0.3, ("grad_on", "end"): -0.1,
               ("grad_off", "switch"): 0.1, ("grad_off", "end"): 0.3}
    for (arm, when), dx in offsets.items():
        part = rows[rows["arm"] == arm]
        for i, comp in enumerate(STATE_NAMES):
            values = part[part["component"] == comp][f"mlp_{when}"].to_numpy(dtype=float)
            if not values.size:
                continue
            filled = when == "end"
            ax.scatter(np.full(values.size, i + dx), values, s=14, color=colours[arm],
                       facecolors=colours[arm] if filled else "none", linewidths=0.9,
                       label=(f"{ARM_MATHTEXT[arm].split(' (')[0]}, {when}" if i == 0 else None))
            ax.hlines(values.mean(), i + dx - 0.08, i + dx + 0.08, color=colours[arm],
                      linewidth=2.2)
    if not len(rows):
        ax.text(0.5, 0.5, "no probe of an included seed", ha="center", va="center",
                transform=ax.transAxes, fontsize=9)
    ax.axhline(REGAIN_LEVEL, color="0.35", linestyle=(0, (1, 3)), linewidth=1.2)
    ax.set_xticks(range(len(STATE_NAMES)), [COMPONENT_LABELS[c] for c in STATE_NAMES])
    ax.set_xlim(-0.6, len(STATE_NAMES) - 0.4)
    ax.set_ylim(min(-0.05, float(np.nanmin(rows[["mlp_switch", "mlp_end"]].to_numpy(dtype=float),
                                               initial=0.0)) - 0.05), 1.0)
    ax.set_ylabel("frozen probe, MLP-head R²", fontsize=9)
    if len(rows):  # above the panel, where it hides no dot
        ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=4,
                  frameon=False, handletextpad=0.2, columnspacing=0.8)


def plot_shared(summary: RecoverySummary, probe: pd.DataFrame,
                out_dir: str | os.PathLike) -> list[Path]:
    """One column per algorithm: ρ over the steps after the switch (log axis, collapse and
    recovery lines; bold the geometric mean with its 95% bootstrap band, thin single seeds),
    and the frozen probe at the switch and at the end; included seeds only."""
    s = RecoverySettings(**summary.meta["settings"])
    algos = summary.meta["algos"]
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(max(6.4, 4.8 * len(algos)), 7.6), layout="constrained")
        axes = fig.subplots(2, len(algos), squeeze=False)
    for j, algo in enumerate(algos):
        part = included_curves(summary.curves, algo)
        ax = axes[0][j]
        curve_panel(ax, part, "rho", "ρ = embed_var / stage 1's update-1 embed_var",
                    s.recovery_steps, (s.collapse_rel, s.recovery_rel))
        ax.set_xlabel("environment steps after the switch", fontsize=9)
        ax.set_title(arms_title(part, algo), fontsize=10)
        _probe_panel(axes[1][j], probe[probe["algo"] == algo])
    return finish_figure(fig, axes[0][0], "A collapse that happens: ρ after the switch and the "
                         "frozen probe at the switch (hollow) and the end (filled)", out_dir,
                         SHARED_FIGURE_STEM)


# --------------------------------------------------------------------------- report


def _steps(x) -> str:
    return "-" if pd.isna(x) else f"{int(x):,}"


def _markdown(res: dict, summary: RecoverySummary, probe: pd.DataFrame) -> str:
    th, sets = res["thresholds"], res["runs"]["settings_sets"]
    algos = res["runs"]["algos"]
    lines = [
        "# A collapse that happens: does the RL gradient pull a collapsed encoder out?",
        "",
        f"Preregistered in `{res['protocol']}` (part 2). Papers: {'; '.join(res['papers'])}.",
        "",
        "## Design",
        "",
        "- Algorithms and settings sets: "
        + ", ".join(f"{ALGO_LABELS.get(a, a)} `{sets.get(a, '?')}`" for a in algos)
        + f"; seeds {', '.join(map(str, res['runs']['seeds']))}.",
        f"- Stage 1 (collapse): the shared target without stop-gradient, RL heads detached (∇ "
        f"off), trained until ρ = embed_var / embed_var of update 1 falls below "
        f"{sci(th['collapse_rel'], 0)} or embed_var below {sci(th['collapse_threshold'], 0)} "
        f"(the run stops at that update and keeps its checkpoint), for at most "
        f"{th['collapse_steps']:,} environment steps. Either line is a collapse; a run that "
        "reaches the cap has not collapsed and its seed is left out.",
        f"- Stage 2 (the switch), for collapsed seeds only: from that checkpoint (all network "
        f"weights; fresh optimiser, learning-rate schedule and environments, the same seed in "
        f"both arms) ∇ on and ∇ off each train {th['recovery_steps']:,} more steps.",
        f"- Recovery (measure 1, decides): ρ, relative to stage 1's update-1 embed_var, above "
        f"{sci(th['recovery_rel'], 0)} (= {th['recovery_rel'] / th['collapse_rel']:g} times the "
        f"relative collapse line); steps counted from the switch, one rollout the resolution. The "
        f"absolute line of docs/recovery.md (embed_var above {sci(th['recovery_threshold'], 0)}) "
        "is reported beside it.",
        f"- State information (measure 2, reported beside): the frozen probe "
        f"(docs/trained-encoders.md) of each stage-2 run's step-0 snapshot (the collapsed "
        f"encoder, as `--init-from` loaded it) and of its last snapshot; a component is regained "
        f"when its MLP-head R² goes from below {th['regain_level']} to at least "
        f"{th['regain_level']}.",
        f"- Statistics over the included seeds (collapsed, both arms complete): fractions with an "
        f"exact (Clopper-Pearson) {th['ci']['level']:.0%} CI; final return = mean of the last "
        f"{th['return_window']} episodes. Fewer than {th['min_seeds']} included seeds decide no "
        "verdict.",
        "",
        "## Stage 1: which seeds collapsed",
        "",
        "| algorithm | configuration | seed | collapsed | ρ line crossed at step | absolute line "
        "crossed at step | smallest ρ | last embed_var | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary.collapse.itertuples():
        collapsed = {True: "yes", False: "no", None: "n/a"}[flag(r.collapsed)]
        name = "-" if pd.isna(r.configuration) else config_label(r.configuration)
        lines.append(f"| {ALGO_LABELS.get(r.algo, r.algo)} | {name} | {r.seed} | {collapsed} | "
                     f"{_steps(r.steps_to_collapse_rel)} | {_steps(r.steps_to_collapse_abs)} | "
                     f"{sci(r.rho_min)} | {sci(r.embed_var_last)} | {r.note} |")
    for algo, a in res["algorithms"].items():
        c = a["collapse"]
        lines += ["", f"{ALGO_LABELS.get(algo, algo)}: {len(c['seeds_collapsed'])} of "
                  f"{len(res['runs']['seeds'])} seeds collapsed ({len(c['seeds_collapsed_rel'])} "
                  f"by the ρ line, {len(c['seeds_collapsed_abs'])} by the absolute line; median "
                  f"steps to collapse {steps_text(c['median_steps_to_collapse'])}); included "
                  f"seeds: {', '.join(map(str, a['included_seeds'])) or 'none'}."]
        excluded = summary.runs[(summary.runs["algo"] == algo)
                                & ~summary.runs["included"].fillna(False)]
        for r in excluded.drop_duplicates("seed").itertuples():
            lines.append(f"- seed {r.seed} left out: {r.exclusion}.")
    lines += ["", "## Criteria (fixed before the runs)", ""]
    lines += [f"- {text}" for text in res["criteria"].values()]
    lines += verdict_sections(res["claims"], lambda c: [
        f"- frozen probe beside it (regained components, MLP-head R² mean at the switch -> at "
        f"the end): {ARM_LABELS[arm]}: {probe_text(numbers)}" for arm, numbers in c["probe"].items()])
    lines += arm_table(res, "recovered (ρ)",
                       ("recovered (absolute line)", lambda x: f"{x['count_abs']} of {x['n']}"))
    lines += run_table(summary.runs, [
        ("ρ at switch", lambda r: sci(r.switch_rho)),
        ("recovered (ρ) at step", lambda r: recovered_at(r, r.recovered, r.steps_to_recovery)),
        ("absolute line at step",
         lambda r: recovered_at(r, r.recovered_abs, r.steps_to_recovery_abs)),
        ("ρ at end", lambda r: sci(r.rho_final)),
        ("embed_var at end", lambda r: sci(r.embed_var_final))])
    lines += ["", "## Frozen probe at the switch and at the end", "",
              "| algorithm | seed | arm | component | MLP R² at switch | MLP R² at end | "
              "linear R² at switch | linear R² at end | regained |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in probe.itertuples():
        regained = {True: "**yes**", False: "no", None: "no probe"}[flag(r.regained)]
        r2 = " | ".join("-" if pd.isna(v) else f"{v:.2f}"
                        for v in (r.mlp_switch, r.mlp_end, r.linear_switch, r.linear_end))
        lines.append(f"| {ALGO_LABELS.get(r.algo, r.algo)} | {r.seed} | {ARM_LABELS[r.arm]} | "
                     f"{COMPONENT_TEXT[r.component]} | {r2} | {regained} |")
    if not len(probe):
        lines.append("| - | - | - | - | - | - | - | - | no complete stage-2 run |")
    lines += SWITCH_CAVEAT
    return "\n".join(lines) + "\n"


def write_shared_report(root: str | os.PathLike, algos: Sequence[str], seeds: Sequence[int],
                        settings: RecoverySettings, settings_sets: Mapping[str, str],
                        probe_files: Sequence[str | os.PathLike],
                        summary_dir: str | os.PathLike, figures_dir: str | os.PathLike,
                        out_md: str | os.PathLike) -> list[Path]:
    """Summarise the runs under ``root`` and the frozen probes in ``probe_files``; write the
    tables into ``summary_dir``, the figure into ``figures_dir`` and the report to ``out_md``
    with its .json twin. Returns the paths."""
    report_json_path(out_md)  # a bad report path stops before any work
    summary = summarise_recovery(root, algos, seeds, settings,
                                 check_settings_sets(algos, settings_sets))
    probe = probe_switch_table(summary, [read_probe(p) for p in probe_files])
    res = evaluate_shared(summary, probe)
    tables = {**{key: getattr(summary, key) for key in RECOVERY_SUMMARY_FILES}, "probe": probe}
    written = []
    for key, fname in SHARED_SUMMARY_FILES.items():
        path = Path(summary_dir) / fname
        write_table(tables[key], path)
        written.append(path)
    written += plot_shared(summary, probe, figures_dir)
    return written + list(write_report(out_md, _markdown(res, summary, probe), res))
