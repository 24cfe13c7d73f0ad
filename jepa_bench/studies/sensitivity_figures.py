"""The sensitivity study's two figures (docs/sensitivity.md), drawn from what
jepa_bench.studies.sensitivity computed and from the points' run folders.

- ``contrast``: J,∇,R̂ minus Ĵ,∇,R̂, AUC and final return, mean difference with its 95 %
  bootstrap CI, one marker per point; the points of the JEPA-weight axis (and the centre, λ = 1)
  also drawn as a line against λ on a log axis.
- ``gradient_share``: per point (rows) and configuration (columns), the gradient norm each
  term of Eq. 3 sends into the x-encoder against env steps, geometric mean over seeds.

Owns only the drawing; saving is jepa_bench.analysis.plots.save_figures (atomic, reproducible
bytes). No torch.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from jepa_bench.analysis.plots import line_colours, notation_mathtext, save_figures, seed_band
from jepa_bench.layout import RunPaths
from jepa_bench.metrics import read_table
from jepa_bench.studies.sensitivity import CENTRE, GRAD_TERMS, SweepPoint, point_run_roots

__all__ = ["contrast_figure", "gradient_figure", "jepa_weight"]

METRICS = (("auc_return", "AUC of the return"), ("final_return", "final return"))


def jepa_weight(point: SweepPoint) -> float | None:
    """λ (jepa_coef) of a point of the JEPA-weight axis, 1 for the centre, None otherwise."""
    if point.name == CENTRE:
        return 1.0
    values = point.values
    return float(values["jepa_coef"]) if set(values) == {"jepa_coef"} else None


def contrast_figure(result: dict, points: Sequence[SweepPoint],
                    out_dir: str | os.PathLike) -> list[Path]:
    """``{out_dir}/contrast.{png,pdf}`` from the report's `contrast` entries: on top one marker
    per point run (mean difference and its 95 % CI), below the JEPA-weight axis as a line
    against λ (the centre at λ = 1) once two of its points are run; columns AUC and final
    return."""
    done = [p for p in points if p.name in result["contrast"]]
    weights = sorted(((jepa_weight(p), result["contrast"][p.name]) for p in done
                      if jepa_weight(p) is not None), key=lambda w: w[0])
    fig = Figure(figsize=(10, 7.6), constrained_layout=True)
    axes = fig.subplots(2, 2)
    for column, (metric, label) in enumerate(METRICS):
        ax = axes[0, column]
        xs = np.arange(len(done))
        for x, p in zip(xs, done):
            d = result["contrast"][p.name][metric]
            if d["diff"] is None or math.isnan(d["diff"]):
                continue
            err = [[d["diff"] - d["low"]], [d["high"] - d["diff"]]] if not math.isnan(d["low"]) \
                else None
            ax.errorbar([x], [d["diff"]], yerr=err, fmt="o", color="black", capsize=3)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xticks(xs, [p.name for p in done], rotation=45, ha="right")
        ax.set_ylabel(f"{label}: J,∇,R̂ − Ĵ,∇,R̂")
        ax.set_title(f"{label}, per point")
        _weight_panel(axes[1, column], weights, metric, label)
    return save_figures(fig, out_dir, "contrast")


def _weight_panel(ax, weights, metric: str, label: str) -> None:
    """The JEPA-weight axis as a line against λ, or a note while fewer than two of its points
    are run."""
    ax.set_title(f"{label}, against the JEPA weight")
    if len(weights) < 2:
        ax.text(0.5, 0.5, "fewer than two points of the JEPA-weight axis run", ha="center",
                va="center", transform=ax.transAxes, color="grey")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    lam = [w for w, _ in weights]
    ax.fill_between(lam, [c[metric]["low"] for _, c in weights],
                    [c[metric]["high"] for _, c in weights], color="black", alpha=0.15,
                    linewidth=0)
    ax.plot(lam, [c[metric]["diff"] for _, c in weights], "o-", color="black")
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("λ (weight of L_JEPA)")
    ax.set_ylabel(f"{label}: J,∇,R̂ − Ĵ,∇,R̂")


def gradient_figure(root: str | os.PathLike, points: Sequence[SweepPoint], done: Sequence[str],
                    configurations: Sequence[str], seeds: Sequence[int],
                    out_dir: str | os.PathLike) -> list[Path]:
    """``{out_dir}/gradient_share.{png,pdf}``: one row per finished point, one column per
    configuration, one line per Eq. 3 term (geometric mean over seeds, log axis: a gap is an
    update where the term was 0 in some seed, as the regulariser's is while the batch variance
    is above its clamp at 1); one legend below the panels for every term drawn."""
    rows = [p for p in points if p.name in done]
    fig = Figure(figsize=(3.2 * len(configurations), 2.6 * max(len(rows), 1)),
                 constrained_layout=True)
    axes = np.atleast_2d(fig.subplots(max(len(rows), 1), len(configurations), squeeze=False))
    colours = line_colours(len(GRAD_TERMS))
    for i, point in enumerate(rows):
        roots = point_run_roots(point, root, configurations)
        for j, name in enumerate(configurations):
            ax = axes[i, j]
            frames = []
            for seed in seeds:
                m = read_table(RunPaths.of(roots[name], name, seed).metrics)
                m.insert(0, "seed", seed)
                frames.append(m)
            data = pd.concat(frames, ignore_index=True)
            for k, term in enumerate(GRAD_TERMS):
                if term not in data or not (data[term] > 0).any():
                    continue
                steps, _, mean, low, high = seed_band(data, term, log=True)
                ax.fill_between(steps, low, high, color=colours[k], alpha=0.2, linewidth=0)
                ax.plot(steps, mean, color=colours[k], label=term.removeprefix("grad_enc_"))
            ax.set_yscale("log")
            if i == 0:
                ax.set_title(notation_mathtext(name))
            if j == 0:
                ax.set_ylabel(f"{point.name}\n‖∇ into x-encoder‖")
            if i == len(rows) - 1:
                ax.set_xlabel("env steps")
    # one legend for the figure, of every term drawn in any panel (a panel shows only the terms
    # that reach its encoder), below the panels so that it hides no curve
    drawn: dict[str, object] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            drawn.setdefault(label, handle)
    if drawn:
        labels = [t.removeprefix("grad_enc_") for t in GRAD_TERMS
                  if t.removeprefix("grad_enc_") in drawn]
        fig.legend([drawn[label] for label in labels], labels, loc="outside lower center",
                   ncols=len(labels), fontsize=8, title="term of Eq. 3", title_fontsize=8)
    return save_figures(fig, out_dir, "gradient_share")
