"""Does opt-in bf16 learn like float32? The check preregistered in docs/precision.md.

Two arms (fp32, bf16) of one configuration over the same seeds, each aggregated by
jepa_bench.analysis.aggregate into its own summary folder. Per run three numbers of that summary's
runs.csv; per number the Welch interval of bf16 - fp32 at level 1 - 0.05/3 (Bonferroni). The arms
agree within seed noise when every interval contains 0.

    jepa-bench precision-report --summary fp32=results/precision/fp32/summary \\
        bf16=results/precision/bf16/summary --out results/precision

Owns only this comparison; the per-run numbers come from the summaries, the statistics from
jepa_bench.analysis.stats, the figure files from jepa_bench.analysis.plots.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from jepa_bench.analysis.aggregate import read_summary
from jepa_bench.metrics import markdown_table
from jepa_bench.analysis.stats import welch_interval
from jepa_bench.analysis.verdicts import write_report

PRECISIONS = ("fp32", "bf16")
"""The reference arm first; differences are the second minus the first."""

#: runs.csv column -> (what the report calls it, transform applied per run)
NUMBERS = {
    "final_return": ("final return (mean of the last 10 episodes)", None),
    "auc_return": ("AUC (time-averaged running return)", None),
    "embed_var_final": ("log10 of the last logged embedding variance", "log10"),
}
FAMILY_ALPHA = 0.05
LEVEL = 1.0 - FAMILY_ALPHA / len(NUMBERS)
"""Each interval's level: Bonferroni over the numbers, so that the family errs at most 5 %."""


def _values(runs: pd.DataFrame, column: str) -> np.ndarray:
    values = runs[column].to_numpy(dtype=float)
    if NUMBERS[column][1] == "log10":
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.log10(values)
    return values[np.isfinite(values)]


def compare(summaries: dict[str, Path]) -> dict:
    """The comparison of the two arms' summaries ({arm: summary folder}, PRECISIONS as keys)."""
    if tuple(summaries) != PRECISIONS:
        raise ValueError(f"arms {list(summaries)}: expected exactly {list(PRECISIONS)}, in that order")
    tables = {arm: read_summary(path, ("runs",)) for arm, path in summaries.items()}
    configs = {arm: t["meta"]["configurations"] for arm, t in tables.items()}
    if len({tuple(c) for c in configs.values()}) != 1 or len(configs["fp32"]) != 1:
        raise ValueError(f"each arm must hold the same single configuration, got {configs}")
    numbers = []
    for column, (label, _) in NUMBERS.items():
        a, b = (_values(tables[arm]["runs"], column) for arm in PRECISIONS)
        w = welch_interval(b, a, level=LEVEL)
        contains = (w["low"] <= 0.0 <= w["high"]) if math.isfinite(w["low"]) else None
        numbers.append({"number": column, "label": label, "fp32_mean": float(np.mean(a)),
                        "bf16_mean": float(np.mean(b)), "fp32_n": int(a.size),
                        "bf16_n": int(b.size), **w, "contains_zero": contains})
    if any(n["contains_zero"] is None for n in numbers):
        verdict = "undecided"
    elif all(n["contains_zero"] for n in numbers):
        verdict = "agree within seed noise"
    else:
        verdict = "differ"
    runs = {arm: t["runs"][["seed", "final_return", "auc_return", "embed_var_final",
                            "wall_time"]].to_dict("records") for arm, t in tables.items()}
    speed = {arm: float((t["meta"]["total_steps"] / t["runs"]["wall_time"]).mean())
             for arm, t in tables.items()}
    return {"configuration": configs["fp32"][0], "seeds": tables["fp32"]["meta"]["seeds"],
            "total_steps": tables["fp32"]["meta"]["total_steps"], "level": LEVEL,
            "numbers": numbers, "verdict": verdict, "runs": runs, "mean_sps": speed,
            "summaries": {arm: str(path) for arm, path in summaries.items()}}


def format_precision_report(result: dict) -> str:
    differing = [n["number"] for n in result["numbers"] if n["contains_zero"] is False]
    rows = pd.DataFrame([{
        "number": n["label"], "fp32 mean": f"{n['fp32_mean']:.3g}",
        "bf16 mean": f"{n['bf16_mean']:.3g}", "bf16 − fp32": f"{n['diff']:+.3g}",
        f"{100 * result['level']:.2f} % Welch interval": f"{n['low']:+.3g} to {n['high']:+.3g}",
        "contains 0": {True: "yes", False: "**no**", None: "n/a"}[n["contains_zero"]],
    } for n in result["numbers"]])
    per_run = pd.DataFrame([{"arm": arm, **r} for arm, rs in result["runs"].items() for r in rs])
    lines = [
        "# bf16 against float32: does opt-in bf16 learn like float32?\n",
        "Preregistered in `docs/precision.md` before these runs. Configuration "
        f"`{result['configuration']}`, seeds {', '.join(map(str, result['seeds']))}, "
        f"{result['total_steps']:,} environment steps, arms fp32 and bf16 "
        f"(summaries: {', '.join(f'`{p}`' for p in result['summaries'].values())}).\n",
        f"**Verdict: {result['verdict']}**"
        + (f" ({', '.join(differing)} differ)" if differing else "") + ". Each interval is "
        "Welch's t interval of the difference of the arm means at level "
        f"{100 * result['level']:.2f} % (Bonferroni over {len(result['numbers'])} numbers); the "
        "arms agree within seed noise when every interval contains 0. With this few seeds an "
        "interval is wide: the check rules out a gross change, not a small one.\n",
        markdown_table(rows), "",
        "Mean env steps/s per run (indicative only: the arms shared the CPU in the scheduler's "
        "order; `jepa-bench bench --levers` measures speed): "
        + ", ".join(f"{arm} {v:.0f}" for arm, v in result["mean_sps"].items()) + ".\n",
        "## Runs\n", markdown_table(per_run), "",
        "Curves: `figures/precision.png` (mean and 95 % bootstrap band over seeds).\n",
    ]
    return "\n".join(lines)


def draw_curves(summaries: dict[str, Path], result: dict, out_dir: Path) -> list[Path]:
    """Return and embedding variance of both arms in one figure (PNG and PDF); ``result`` is
    compare()'s, for the title."""
    import seaborn as sns
    from matplotlib.figure import Figure

    from jepa_bench.analysis.plots import save_figures, seed_band

    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(10, 4), layout="constrained")
        axes = fig.subplots(1, 2)
    for arm, path in summaries.items():
        curves = read_summary(path, ("curves",))["curves"]
        for ax, column, log in ((axes[0], "return_running", False), (axes[1], "embed_var", True)):
            steps, _, mean, low, high = seed_band(curves, column, log=log)
            ax.plot(steps, mean, label=arm)
            ax.fill_between(steps, low, high, alpha=0.25)
    fig.suptitle(f"{result['configuration']}: fp32 against bf16 (mean, 95 % bootstrap band "
                 f"over {len(result['seeds'])} seeds)", fontsize=10)
    axes[0].set_ylabel("running return")
    axes[1].set_ylabel("embedding variance")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("environment steps")
        ax.legend(title="precision")
    return save_figures(fig, out_dir, "precision")


def write_precision_report(summaries: dict[str, Path], out_dir: Path) -> list[Path]:
    """precision.md, precision.json and figures/precision.{png,pdf} under ``out_dir``."""
    out_dir = Path(out_dir)
    result = compare(summaries)
    written = draw_curves(summaries, result, out_dir / "figures")
    write_report(out_dir / "precision.md", format_precision_report(result), result)
    return [out_dir / "precision.md", out_dir / "precision.json", *written]
