"""The recovery experiment's figure and report: recovery.png/.pdf, recovery.md and its JSON twin.

Owns: how the experiment is drawn (embed_var and return after the switch, per algorithm, ∇ on
against ∇ off) and worded, and writing the tables, figure and report in one call
(``write_recovery_report``, what `jepa-bench recovery` runs). It only presents what
jepa_bench.studies.recovery.experiment computed: no run folder is read and no verdict decided here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from jepa_bench.metrics import write_table
from jepa_bench.analysis.plots import line_colours, save_figures, seed_band
from jepa_bench.studies.recovery.experiment import (ALGO_LABELS, ARM_LABELS, RECOVERY_ARMS, RECOVERY_SUMMARY_FILES,
                                            RecoverySettings, RecoverySummary, config_label,
                                            evaluate_recovery, flag, fraction_text, return_text,
                                            steps_text, summarise_recovery)
from jepa_bench.analysis.stats import RETURN_WINDOW
from jepa_bench.analysis.verdicts import check_lines, report_json_path, sci, write_report

__all__ = ["ARM_MATHTEXT", "FIGURE_STEM", "SWITCH_CAVEAT", "arm_table", "arms_title",
           "curve_panel", "draw_arms", "finish_figure", "included_curves", "plot_recovery", "recovered_at",
           "run_table", "verdict_sections", "write_recovery_report"]

FIGURE_STEM = "recovery"
ARM_MATHTEXT = {"grad_on": r"$\nabla$ on (RL gradients into the encoder)",
                "grad_off": r"$\hat{\nabla}$ off (RL gradients stopped)"}

# --------------------------------------------------------------------------- figure

_STYLE = {"grad_on": dict(dashes=(1, 0), marker="o"), "grad_off": dict(dashes=(6, 2), marker="s")}


def draw_arms(ax, curves: pd.DataFrame, column: str, *, log: bool) -> None:
    """∇ on against ∇ off on one axis: ``column`` of ``curves`` (rows of arm, seed, env_step),
    thin lines for single seeds (recovery is an event of one seed) and the (geometric, with
    ``log``) mean over seeds with its 95% bootstrap band in bold, labelled by arm."""
    colours = dict(zip(RECOVERY_ARMS, line_colours(len(RECOVERY_ARMS))))
    for arm in RECOVERY_ARMS:
        data = curves[curves["arm"] == arm]
        if not len(data):
            continue
        x, y, mean, low, high = seed_band(data, column, log=log)
        style = _STYLE[arm]
        for seed_values in y:
            ax.plot(x, seed_values, color=colours[arm], dashes=style["dashes"], linewidth=0.7,
                    alpha=0.35)
        ax.fill_between(x, low, high, color=colours[arm], alpha=0.18, linewidth=0)
        every = max(1, len(x) // 8)
        ax.plot(x, mean, color=colours[arm], dashes=style["dashes"], marker=style["marker"],
                markevery=(0 if arm == "grad_on" else every // 2, every), markersize=5,
                linewidth=1.8, label=ARM_MATHTEXT[arm])


def included_curves(curves: pd.DataFrame, algo: str) -> pd.DataFrame:
    """The curves of one algorithm's included seeds (collapsed, both arms complete)."""
    if not len(curves):
        return curves
    return curves[(curves["algo"] == algo) & curves["included"].fillna(False).astype(bool)]


def arms_title(part: pd.DataFrame, algo: str) -> str:
    """'PPO (n = 3 collapsed seeds)' and the configurations of the two arms."""
    n = int(part["seed"].nunique()) if len(part) else 0
    names = ""
    if n:
        configs = {arm: next(iter(part[part["arm"] == arm]["configuration"]), "?")
                   for arm in RECOVERY_ARMS}
        names = (f"\n$\\nabla$ on: {configs['grad_on']}, $\\hat{{\\nabla}}$ off: "
                 f"{configs['grad_off']}")
    return f"{ALGO_LABELS.get(algo, algo)} (n = {n} collapsed seed{'s' if n != 1 else ''}){names}"


def curve_panel(ax, part: pd.DataFrame, column: str, ylabel: str, steps: int,
                lines: tuple[float, float] | None) -> None:
    """One panel over the steps after the switch (``draw_arms``); with ``lines`` (the collapse
    and the recovery line in ``column``'s units) a log axis with both lines drawn."""
    if not len(part):
        ax.text(0.5, 0.5, "no collapsed seed with both arms complete", ha="center",
                va="center", transform=ax.transAxes, fontsize=9)
        if lines:  # an empty log axis has no range of its own
            ax.set_ylim(lines[0] / 10, lines[1] * 10)
    else:
        draw_arms(ax, part, column, log=bool(lines))
    if lines:
        ax.set_yscale("log")
        ax.axhline(lines[0], color="0.15", linestyle=(0, (1, 3)), linewidth=1.4,
                   label=f"collapse line {sci(lines[0], 0)}")
        ax.axhline(lines[1], color="0.35", linestyle=(0, (5, 2, 1, 2)), linewidth=1.4,
                   label=f"recovery line {sci(lines[1], 0)}")
    ax.set_xlim(0, steps)
    ax.set_ylabel(ylabel, fontsize=9)


def finish_figure(fig: Figure, first_panel, title: str, out_dir: str | os.PathLike,
                  stem: str) -> list[Path]:
    """The legend of ``first_panel``'s curves and lines below the panels (so that it hides no
    curve), the title, and the figure saved as ``{out_dir}/{stem}.png`` and ``.pdf``."""
    handles, labels = first_panel.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8,
                   handlelength=3.5)
    fig.suptitle(title, fontsize=10)
    return save_figures(fig, out_dir, stem)


def plot_recovery(summary: RecoverySummary, out_dir: str | os.PathLike) -> list[Path]:
    """embed_var (log axis, with the collapse and recovery lines) and running return over the
    steps after the switch: one column per algorithm, ∇ on vs ∇ off, included seeds only.
    Bold: (geometric) mean over seeds with a 95% bootstrap band; thin: single seeds."""
    out_dir = Path(out_dir)
    s = RecoverySettings(**summary.meta["settings"])
    algos = summary.meta["algos"]
    curves = summary.curves
    rows = (("embed_var", "batch-wise embedding variance", True),
            ("return_running", f"episodic return (mean of last {RETURN_WINDOW})", False))
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(max(6.4, 4.8 * len(algos)), 7.4), layout="constrained")
        axes = fig.subplots(2, len(algos), squeeze=False, sharex=True)
    for j, algo in enumerate(algos):
        part = included_curves(curves, algo)
        for i, (column, ylabel, log) in enumerate(rows):
            curve_panel(axes[i][j], part, column, ylabel, s.recovery_steps,
                        (s.collapse_threshold, s.recovery_threshold) if log else None)
        axes[1][j].set_xlabel("environment steps after the switch")
        axes[0][j].set_title(arms_title(part, algo), fontsize=10)
    return finish_figure(fig, axes[0][0], "Recovery from a collapsed encoder\nbold: mean "
                         "(geometric for the variance), 95% bootstrap CI over seeds; thin: "
                         "single seeds", out_dir, FIGURE_STEM)


# --------------------------------------------------------------------------- report


def verdict_sections(claims: list[dict], beside=lambda claim: []) -> list[str]:
    """The verdicts table and one section per claim with its checks; ``beside(claim)`` gives
    lines shown after a claim's checks (what is reported beside it)."""
    lines = ["", "## Verdicts", "", "| claim | algorithm | statement | verdict |",
             "|---|---|---|---|"]
    for c in claims:
        lines.append(f"| ({c['id']}) | {ALGO_LABELS.get(c['algo'], c['algo'])} | "
                     f"{c['statement']} | **{c['verdict']}** |")
    for c in claims:
        lines += ["", f"## ({c['id']}) {ALGO_LABELS.get(c['algo'], c['algo'])}", "",
                  f"> {c['statement']}", ""]
        lines += check_lines(c) + list(beside(c))
        lines += ["", f"Verdict: **{c['verdict']}**"]
    return lines


def arm_table(res: dict, recovered: str = "recovered", beside=None) -> list[str]:
    """The per-arm table: the recovered fraction (its column named ``recovered``), median
    steps to recovery, still above at the end, an optional column ``beside`` = (header,
    function of the arm's numbers) and the final return."""
    extra = f" {beside[0]} |" if beside else ""
    lines = ["", "## Per arm", "",
             f"| algorithm | arm | configuration | {recovered} | median steps to recovery | "
             f"still above at end |{extra} final return (mean, 95% CI) |",
             "|---|---|---|---|---|---|" + ("---|" if beside else "") + "---|"]
    for algo, a in res["algorithms"].items():
        for arm in RECOVERY_ARMS:
            x = a[arm]
            cell = f" {beside[1](x)} |" if beside else ""
            lines.append(f"| {ALGO_LABELS.get(algo, algo)} | {ARM_LABELS[arm]} | "
                         f"{config_label(x['configuration']) if x['configuration'] else '-'} | "
                         f"{fraction_text(x)} | {steps_text(x['median_steps_to_recovery'])} | "
                         f"{x['recovered_at_end']} of {x['n']} |{cell} "
                         f"{return_text(x['final_return'])} |")
    return lines


def recovered_at(r, recovered, steps) -> str:
    """A run's cell of a steps-to-recovery column: the step, 'never', or '-' (not complete)."""
    if r.status != "complete":
        return "-"
    return f"{int(steps):,}" if flag(recovered) else "never"


def run_table(runs: pd.DataFrame, columns: list[tuple]) -> list[str]:
    """The per-run table: algorithm, seed, arm and whether the seed is included, then
    ``columns`` = [(header, function of the row)], then the final return and the note."""
    lines = ["", "## Per run", "",
             "| algorithm | seed | arm | included | " + " | ".join(h for h, _ in columns)
             + " | final return | note |", "|---|---|---|---|" + "---|" * (len(columns) + 2)]
    for r in runs.itertuples():
        ret = "-" if pd.isna(r.final_return) else f"{r.final_return:.1f}"
        note = "; ".join(filter(None, [r.note, "" if r.status == "complete" else f"status {r.status}"]))
        cells = " | ".join(cell(r) for _, cell in columns)
        lines.append(f"| {ALGO_LABELS.get(r.algo, r.algo)} | {r.seed} | {ARM_LABELS[r.arm]} | "
                     f"{'yes' if flag(r.included) else 'no'} | {cells} | {ret} | {note} |")
    return lines


SWITCH_CAVEAT = [
    "", "## Caveat", "",
    "The switch restarts Adam and the learning-rate schedule in both arms, so the ∇-off arm is "
    "the right control for the ∇-on arm but not quite Kenneweg et al.'s plain continuation of "
    "one run; a restarted Adam takes full-size steps even on tiny gradients, which could itself "
    "move a collapsed encoder."]
"""The last section of both recovery reports."""


def _markdown(res: dict, summary: RecoverySummary) -> str:
    th = res["thresholds"]
    lines = [
        "# Recovery from collapse: does the RL gradient pull a collapsed encoder out?",
        "",
        f"Papers: {'; '.join(res['papers'])}.",
        "",
        "## Design",
        "",
        f"- Algorithms: {', '.join(ALGO_LABELS.get(a, a) for a in res['runs']['algos'])}; seeds "
        f"{', '.join(map(str, res['runs']['seeds']))}.",
        f"- Stage 1 (collapse): the ∇-off configuration is trained with J on until the mean "
        f"batch-wise variance of its CLS embeddings falls below {sci(th['collapse_threshold'], 0)} "
        f"(the run stops at that update and keeps its checkpoint), for at most "
        f"{th['collapse_steps']:,} environment steps. A run that reaches the cap has not "
        "collapsed; its seed is left out of the statistics and listed below.",
        f"- Stage 2 (the switch): from that checkpoint (all network weights; fresh optimiser, "
        f"learning-rate schedule and environments, the same seed in both arms) the ∇-on and the "
        f"∇-off configuration each train {th['recovery_steps']:,} more steps.",
        f"- Recovery: embed_var of a rollout after the switch above "
        f"{sci(th['recovery_threshold'], 0)} (= {th['recovery_threshold'] / th['collapse_threshold']:g} "
        "times the collapse line), chosen before any run; steps to recovery are counted from the "
        "switch, one rollout being the resolution.",
        f"- Statistics over the included seeds (collapsed, both arms complete): fractions with an "
        f"exact (Clopper-Pearson) {th['ci']['level']:.0%} CI; means with a "
        f"{th['ci']['level']:.0%} {th['ci']['mean']}; final return = mean of the last "
        f"{th['return_window']} episodes within the budget. Fewer than {th['min_seeds']} "
        "included seeds decide no verdict.",
        "",
        "## Stage 1: which seeds collapsed",
        "",
        "| algorithm | configuration | seed | collapsed | steps to collapse | last embed_var | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in summary.collapse.itertuples():
        collapsed = {True: "yes", False: "no", None: "n/a"}[flag(r.collapsed)]
        steps = "-" if pd.isna(r.steps_to_collapse) else f"{int(r.steps_to_collapse):,}"
        name = "-" if pd.isna(r.configuration) else config_label(r.configuration)
        lines.append(f"| {ALGO_LABELS.get(r.algo, r.algo)} | {name} | {r.seed} | {collapsed} | "
                     f"{steps} | {sci(r.embed_var_last)} | {r.note} |")
    for algo, a in res["algorithms"].items():
        c = a["collapse"]
        excluded = summary.runs[(summary.runs["algo"] == algo) & ~summary.runs["included"].fillna(False)]
        reasons = excluded.drop_duplicates("seed")
        lines += ["", f"{ALGO_LABELS.get(algo, algo)}: {len(c['seeds_collapsed'])} of "
                  f"{len(res['runs']['seeds'])} seeds collapsed (median steps to collapse "
                  f"{steps_text(c['median_steps_to_collapse'])}); included seeds: "
                  f"{', '.join(map(str, a['included_seeds'])) or 'none'}."]
        for r in reasons.itertuples():
            lines.append(f"- seed {r.seed} left out: {r.exclusion}.")
    lines += [
        "",
        "## Criteria (fixed before looking at the runs)",
        "",
        f"Thresholds: collapse embed_var < {sci(th['collapse_threshold'], 0)}; recovery embed_var "
        f"> {sci(th['recovery_threshold'], 0)}; stage-1 cap {th['collapse_steps']:,} steps; "
        f"stage-2 budget {th['recovery_steps']:,} steps; at least {th['min_seeds']} included seeds.",
        "",
    ]
    lines += [f"- {text}" for text in res["criteria"].values()]
    lines += verdict_sections(res["claims"])
    lines += arm_table(res)
    lines += run_table(summary.runs, [
        ("embed_var at switch", lambda r: sci(r.switch_embed_var)),
        ("recovered at step", lambda r: recovered_at(r, r.recovered, r.steps_to_recovery)),
        ("embed_var at end", lambda r: sci(r.embed_var_final))])
    lines += SWITCH_CAVEAT
    return "\n".join(lines) + "\n"


def write_recovery_report(root: str | os.PathLike, algos: Sequence[str], seeds: Sequence[int],
                          settings: RecoverySettings, summary_dir: str | os.PathLike,
                          figures_dir: str | os.PathLike, out_md: str | os.PathLike) -> list[Path]:
    """Summarise the runs under ``root``; write the tables into ``summary_dir``, the figure into
    ``figures_dir`` and the report to ``out_md`` with its .json twin. Returns the paths."""
    report_json_path(out_md)  # a bad report path stops before any work
    summary = summarise_recovery(root, algos, seeds, settings)
    res = evaluate_recovery(summary)
    summary_dir = Path(summary_dir)
    written = []
    for key, fname in RECOVERY_SUMMARY_FILES.items():
        path = summary_dir / fname
        write_table(getattr(summary, key), path)
        written.append(path)
    written += plot_recovery(summary, figures_dir)
    return written + list(write_report(out_md, _markdown(res, summary), res))
