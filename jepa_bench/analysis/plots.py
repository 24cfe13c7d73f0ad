"""Figures from the summary tables (see aggregate.py for their columns).

    jepa-bench plots --summary results/summary --out results/figures

writes, as PNG and PDF:

- ``fig3_return``: running average of episodic return over env steps (the paper's Figure 3),
  with the measured random-policy mean as a reference line;
- ``embed_var``: batch-wise embedding variance on a log axis with the 1e-7 collapse line;
- ``jepa_loss``: JEPA loss (Eq. 1);
- ``embed_rank``: effective rank of the embeddings.

Each line is one configuration: the mean over seeds with a 95% percentile-bootstrap CI band
(resampling seeds, seeded, as in aggregate.py; seaborn's palette and theme). On the log axis of
``embed_var`` mean and band are geometric (taken over log10 values), so a collapse in some seeds
is not hidden by one seed that kept its variance. Lines differ in colour, dash pattern and
marker, so the figures survive greyscale printing. Configurations with no data for a metric (e.g. ``state`` has no encoder) are left out
of that figure; a figure with no data at all says so in its axes.

This module only draws what the summary tables hold: bands come from jepa_bench.analysis.stats, names
from jepa_bench.config. It owns the figures' look, the mathtext form of the notation and
``save_figure`` (atomic, reproducible bytes, the usual file mode), which every figure uses.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from jepa_bench.analysis.aggregate import COLLAPSE_THRESHOLD, read_summary
from jepa_bench.config import GRID_CONFIGS, get_config
from jepa_bench.analysis.stats import band, geometric_band

__all__ = ["FIGURES", "FORMATS", "line_colours", "make_figures", "notation_mathtext", "save_figure",
           "seed_band", "save_figures"]

FORMATS = ("png", "pdf")
LEGEND_INSIDE_MAX = 6
"""Legends with more entries go beside the axes instead of over the curves."""
#: figure stem -> (curves.csv column, y label, log y axis)
FIGURES = {
    "fig3_return": ("return_running", "episodic return (running mean of last 10 episodes)", False),
    "embed_var": ("embed_var", "batch-wise embedding variance (mean over dims)", True),
    "jepa_loss": ("jepa_loss", "JEPA loss  $\\|s^p_y - s_y\\|_2^2$", False),
    "embed_rank": ("embed_rank", "effective rank of embeddings", False),
}
_TITLES = {
    "fig3_return": "Average episodic return (cf. paper Fig. 3)",
    "embed_var": "Embedding variance",
    "jepa_loss": "JEPA loss",
    "embed_rank": "Effective rank of $s_x$",
}
# dash patterns and markers per configuration, in order of appearance
_DASHES = [(1, 0), (6, 2), (2, 2), (6, 2, 2, 2), (10, 3), (1, 1), (4, 1, 1, 1, 1, 1), (8, 2, 2, 2, 2, 2), (3, 3)]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<"]


def notation_mathtext(name: str) -> str:
    """A configuration's notation (jepa_bench.config's) as matplotlib mathtext, since combining
    hats render badly in plots: 'j1g0r0' -> '$J,\\ \\hat{\\nabla},\\ \\hat{R}$'."""
    named = get_config(name)
    if name not in GRID_CONFIGS:
        return named.notation
    flags = (named.overrides["jepa"], named.overrides["rl_grad"], named.overrides["var_reg"])
    parts = [sym if on else rf"\hat{{{sym}}}" for sym, on in zip(("J", r"\nabla", "R"), flags)]
    return "$" + ",\\ ".join(parts) + "$"


def save_figure(fig: Figure, path: Path) -> None:
    """Save atomically (a temporary file in the same folder, then rename), with the file mode
    every other output gets (the umask's, 0644 as a rule); a PDF carries no creation date, so
    the same figure gives the same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fmt = path.suffix.lstrip(".")
        meta = {"CreationDate": None} if fmt == "pdf" else {}
        fig.savefig(tmp, format=fmt, dpi=150, metadata=meta)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_figures(fig: Figure, out_dir: str | os.PathLike, stem: str) -> list[Path]:
    """``fig`` as ``{out_dir}/{stem}.png`` and ``.pdf`` (FORMATS, in order); the paths."""
    paths = [Path(out_dir) / f"{stem}.{fmt}" for fmt in FORMATS]
    for path in paths:
        save_figure(fig, path)
    return paths


def seed_band(curves: pd.DataFrame, column: str, *, log: bool):
    """One curve of a tidy table (rows of seed, env_step, ``column``) as (steps, values, mean,
    low, high): values seeds × steps, and the mean with its bootstrap band over seeds. With
    ``log`` they are taken over log10 values (values <= 0 count as missing): a geometric mean,
    so that on a log axis one seed that did not collapse cannot hide several that did."""
    wide = curves.pivot(index="seed", columns="env_step", values=column)
    steps = wide.columns.to_numpy(dtype=float)
    values = wide.to_numpy(dtype=float)
    if log:
        values = np.where(values > 0, values, np.nan)
    mean, low, high = geometric_band(values) if log else band(values)
    return steps, values, mean, low, high


def line_colours(n: int) -> list:
    """``n`` distinct colours: seaborn's colour-blind palette, which has 10 and would repeat
    itself from the 11th line on, then its "dark" counterpart for lines 11 to 20."""
    colours = sns.color_palette("colorblind") + sns.color_palette("dark")
    if n > len(colours):
        raise ValueError(f"{n} lines: a figure draws at most {len(colours)}")
    return colours[:n]


def _line_plot(ax, data: pd.DataFrame, column: str, order: list[str], log: bool) -> None:
    """One line per configuration. With ``log`` the mean and band are taken over log10 values
    (a geometric mean), so one seed that did not collapse cannot hide several that did."""
    colours = line_colours(len(order))
    for i, name in enumerate(order):
        steps, _, mean, low, high = seed_band(data[data["configuration"] == name], column, log=log)
        ax.fill_between(steps, low, high, color=colours[i], alpha=0.2, linewidth=0)
        every = max(1, len(steps) // 10)
        ax.plot(steps, mean, color=colours[i], dashes=_DASHES[i % len(_DASHES)],
                # markers staggered between lines so that overlapping lines stay tellable
                marker=_MARKERS[i % len(_MARKERS)], markevery=(i * every // len(order), every),
                markersize=5, linewidth=1.6, label=notation_mathtext(name))


def make_figures(summary_dir: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
    """Draw every figure in FIGURES from ``summary_dir`` into ``out_dir`` (PNG and PDF).

    Returns the written paths, in FIGURES order, PNG before PDF.
    """
    summary_dir, out_dir = Path(summary_dir), Path(out_dir)
    tables = read_summary(summary_dir, ("curves", "stats"))
    curves, stats, meta = tables["curves"], tables["stats"], tables["meta"]
    order = [c for c in meta["configurations"] if c in set(curves["configuration"])]
    random = stats[(stats["configuration"] == "random") & (stats["metric"] == "episode_return")]

    written: list[Path] = []
    for stem, (column, ylabel, log_y) in FIGURES.items():
        data = curves[["configuration", "seed", "env_step", column]].copy()
        if log_y:  # a log axis cannot show values <= 0
            data.loc[data[column] <= 0, column] = np.nan
        data = data.dropna(subset=[column])
        present = [c for c in order if c in set(data["configuration"])]
        n_seeds = int(data.groupby("configuration")["seed"].nunique().max()) if len(data) else 0

        with sns.axes_style("whitegrid"):
            fig = Figure(figsize=(6.4, 4.2), layout="constrained")
            ax = fig.add_subplot()
        if present:
            _line_plot(ax, data, column, present, log_y)
        else:
            ax.text(0.5, 0.5, "no data logged for this metric", ha="center", va="center",
                    transform=ax.transAxes)
        if stem == "fig3_return" and len(random):
            mean = float(random["mean"].iloc[0])
            ax.axhline(mean, color="0.4", linestyle=":", linewidth=1.5,
                       label=f"random policy, measured ({mean:.1f})")
        if stem == "embed_var":
            ax.axhline(COLLAPSE_THRESHOLD, color="0.2", linestyle=(0, (1, 3)), linewidth=1.5,
                       label="collapse threshold $10^{-7}$")
        if log_y:
            ax.set_yscale("log")
        ax.set_xlim(0, meta["total_steps"])
        ax.set_xlabel("environment steps")
        ax.set_ylabel(ylabel)
        centre = "geometric mean" if log_y else "mean"
        caption = f"{centre}, 95% bootstrap CI over seeds" if n_seeds > 1 else "single seed"
        plural = "s" if n_seeds != 1 else ""
        ax.set_title(f"{_TITLES[stem]}\n({caption}; n = {n_seeds} seed{plural})", fontsize=10)
        handles, labels = ax.get_legend_handles_labels()
        if len(handles) > LEGEND_INSIDE_MAX:
            # a legend this long would cover the curves: beside the axes, the figure made wider
            fig.set_figwidth(fig.get_figwidth() + 2.6)
            fig.legend(handles, labels, title="configuration", fontsize=8, title_fontsize=8,
                       handlelength=3.5, loc="outside right center")
        elif handles:
            ax.legend(handles, labels, title="configuration", fontsize=8, title_fontsize=8,
                      handlelength=3.5)
        written += save_figures(fig, out_dir, stem)
    return written
