"""Check the claims of the paper's section 3 against the summary tables.

    jepa-bench claims --summary results/summary --out results/claims.md

writes ``claims.md`` and its twin ``claims.json``. Every claim gets a verdict:

- ``reproduced``: every check of the claim passes;
- ``not reproduced``: at least one check clearly fails;
- ``inconclusive``: no check fails but at least one cannot be decided (CIs overlap a threshold
  or each other, or too few seeds for a CI);
- ``inconclusive (not run)``: a configuration the claim is about is not among the runs.

The criteria are fixed here, before any run is looked at; see ``CRITERIA`` for the text put in
the report. Statistics come from stats.csv / runs.csv (aggregate.py): per run, the final return
is the mean of the last 10 episodes finished before the step budget and the AUC is the
time-averaged running return; per configuration, the 95% percentile-bootstrap CI of the mean
over seeds. A quantity is compared with a threshold t by its CI: above t if ci_low > t, not
above t if ci_high <= t, undecided otherwise. Two configurations are "separated" when their CIs
do not overlap. When all seeds give the same value the CI in stats.csv is NaN; here it is taken
as that single value. With fewer than two seeds nothing is decided.

A summary of fewer than ``SMOKE_STEPS`` environment steps per run (the tiny preset's 512) is a
smoke test of the pipeline: its report says so at the top, before any verdict.

This module owns the five claims (``CLAIMS``: one ``Claim`` each, whose checks are one function
each), their criteria and the report's wording. Comparisons, verdict words and report writing come from jepa_bench.analysis.verdicts,
the configurations' notation from jepa_bench.config. It reads only the summary tables: never a
run folder, never a statistic of its own.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from jepa_bench.analysis.aggregate import read_summary
from jepa_bench.config import PAPER_CONFIGS, get_config
from jepa_bench.analysis.verdicts import (NOT_RUN, Interval, above, all_of, below, check_lines, make_check,
                                 make_claim, report_json_path, sci, separated, verdict_of,
                                 write_report, yes_no)

__all__ = ["CLAIMS", "CRITERIA", "Claim", "evaluate_claims", "write_claims"]

GRAD_CONFIGS = ["j0g1r0", "j1g1r0"]  # the paper's ∇ configurations
PAPER_STEPS = 100_000
"""The paper's horizon: Figure 3 shows the first 100k environment steps."""
SMOKE_STEPS = PAPER_STEPS // 10
"""Runs shorter than a tenth of the paper's horizon test that the pipeline runs, not the claims."""

CRITERIA = {
    "learns": (
        "A configuration *learns* (does better than a random policy) when the 95% CI lower bound "
        "of its mean final return is above T_learn = random mean + 1 SD of random episode "
        "returns (both measured); it *does not learn* when the CI upper bound is at or below "
        "T_learn; otherwise undecided. One SD is a margin so that a policy whose returns sit "
        "within the spread of random play is not counted as learning, and so that 'does not "
        "rise' (claim 3) can be decided at all."
    ),
    "limited": (
        "Learning is *limited* when the CI upper bound of the mean final return is below "
        "CartPole-v1's reward threshold (475, read from gymnasium's registry); *not limited* "
        "when the CI lower bound is at or above it."
    ),
    "best": (
        "*Best* = highest mean AUC among the paper's four configurations that were run, with a "
        "CI that overlaps none of theirs. A configuration with a higher AUC CI (no overlap) makes "
        "the check fail; any overlap leaves it undecided."
    ),
    "no_plateau": (
        "*No plateau* = the CI lower bound of the mean late slope (least-squares slope of the "
        "running return over the last quarter of training) is above 0, or the run has reached "
        "the ceiling (CI lower bound of the final return >= 475). The CI upper bound of the "
        "slope at or below 0 (and not at the ceiling) is a plateau."
    ),
    "collapse": (
        "*Collapse* = the minimum logged embedding variance is below 1e-7 (the paper's indicator) "
        "in a strict majority of seeds; in at most half of the seeds it is not a collapse."
    ),
    "no_collapse": "*Avoids collapse* = no seed's minimum logged embedding variance is below 1e-7.",
    "slower": (
        "*Slower than J, ∇, R̂* = the AUC CI lies entirely below that of j1g1r0; entirely above "
        "fails; overlap is undecided."
    ),
    "variance_range": (
        "*Embedding variance between 0 and 1* = in every run of the paper's ∇ configurations "
        "(j0g1r0, j1g1r0) every logged embedding variance lies in [1e-7, 1] (0 is read as "
        "'not collapsed', i.e. the 1e-7 indicator); any run outside fails."
    ),
}


# --------------------------------------------------------------------------- data access


@dataclass
class _Summary:
    stats: pd.DataFrame
    runs: pd.DataFrame
    meta: dict
    present: list[str] = field(default_factory=list)

    def interval(self, configuration: str, metric: str) -> Interval:
        row = self.stats[(self.stats["configuration"] == configuration) & (self.stats["metric"] == metric)]
        if row.empty:
            return Interval(math.nan, math.nan, math.nan, 0)
        r = row.iloc[0]
        n, mean, low, high = int(r["n"]), float(r["mean"]), float(r["ci_low"]), float(r["ci_high"])
        return Interval(mean, low, high, n, float(r["iqm"]))

    def run_rows(self, configuration: str) -> pd.DataFrame:
        return self.runs[self.runs["configuration"] == configuration]


def _load(summary_dir: Path) -> _Summary:
    t = read_summary(summary_dir, ("stats", "runs"))
    present = [c for c in t["meta"]["configurations"] if c in set(t["runs"]["configuration"])]
    return _Summary(t["stats"], t["runs"], t["meta"], present)


# --------------------------------------------------------------------------- the claims


@dataclass(frozen=True)
class _Thresholds:
    t_learn: float  # random mean + 1 SD
    ceiling: float  # CartPole-v1's reward threshold
    collapse: float  # the paper's collapse indicator


def _notation(name: str) -> str:
    return get_config(name).notation


def _learns(s: _Summary, cfg: str, t_learn: float) -> dict:
    fr = s.interval(cfg, "final_return")
    r = above(fr, t_learn)
    return make_check(
        "learns (final return above T_learn)", r,
        f"final return {fr.text()} vs T_learn = {t_learn:.1f}: {yes_no(r)}",
        final_return=fr.__dict__, t_learn=t_learn,
    )


def _collapse_count(s: _Summary, cfg: str) -> tuple[int, int]:
    rows = s.run_rows(cfg)
    ev = rows["embed_var_min"].astype(float)
    have = ev.notna()
    return int((ev[have] < s.meta["collapse_threshold"]).sum()), int(have.sum())


# Each claim's checks, from the configurations that were run; [] when nothing can be checked.


def learns_but_limited(s: _Summary, th: _Thresholds) -> list[dict]:
    """Claim 1: Ĵ, ∇, R̂ learns something (above T_learn), but limited (below 475)."""
    if "j0g1r0" not in s.present:
        return []
    fr = s.interval("j0g1r0", "final_return")
    lim = below(fr, th.ceiling)
    return [
        _learns(s, "j0g1r0", th.t_learn),
        make_check("limited (final return below 475)", lim,
                   f"final return CI {fr.low:.1f} to {fr.high:.1f} vs {th.ceiling:.0f}: {yes_no(lim)}",
                   reward_threshold=th.ceiling),
    ]


def best_without_plateau(s: _Summary, th: _Thresholds) -> list[dict]:
    """Claim 2: J, ∇, R̂ has the highest AUC, separated, and its late slope is above 0."""
    others = [c for c in PAPER_CONFIGS if c != "j1g1r0" and c in s.present]
    if "j1g1r0" not in s.present or not others:
        return []
    auc = s.interval("j1g1r0", "auc_return")
    pair = {o: separated(auc, s.interval(o, "auc_return")) for o in others}
    best = all_of(list(pair.values()))
    detail = "; ".join(f"vs {_notation(o)} AUC {s.interval(o, 'auc_return').text()}: "
                       f"{'separated above' if r else 'separated below' if r is False else 'overlap'}"
                       for o, r in pair.items())
    slope = s.interval("j1g1r0", "late_slope")
    fr = s.interval("j1g1r0", "final_return")
    at_ceiling = fr.defined and fr.low >= th.ceiling
    np_ = True if at_ceiling else above(slope, 0.0)
    return [
        make_check("best AUC among the paper's configurations", best,
                   f"AUC {auc.text()}; {detail}", auc=auc.__dict__,
                   others={o: s.interval(o, "auc_return").__dict__ for o in others}),
        make_check("no plateau", np_,
                   f"late slope {slope.text('.3f')} return per 1000 steps"
                   f"{' (final return at the 475 ceiling)' if at_ceiling else ''}: {yes_no(np_)}",
                   late_slope=slope.__dict__, at_ceiling=at_ceiling),
    ]


def collapses_without_learning(s: _Summary, th: _Thresholds) -> list[dict]:
    """Claim 3: J, ∇̂, R̂ collapses in a majority of seeds and does not learn."""
    if "j1g0r0" not in s.present:
        return []
    k, n = _collapse_count(s, "j1g0r0")
    col = None if n == 0 else k > n / 2
    learn = _learns(s, "j1g0r0", th.t_learn)
    flat = None if learn["result"] is None else not learn["result"]
    return [
        make_check("collapse in a majority of seeds", col,
                   f"{k} of {n} seeds have min embedding variance < {sci(th.collapse, 0)} "
                   f"(each seed's lowest variance, mean over seeds: "
                   f"{s.interval('j1g0r0', 'embed_var_min').text('.2e')}): "
                   f"{yes_no(col)}",
                   collapsed_seeds=k, seeds_with_embed_var=n),
        make_check("return does not rise (does not learn)", flat,
                   f"final return {s.interval('j1g0r0', 'final_return').text()} vs T_learn = "
                   f"{th.t_learn:.1f}: does not rise: {yes_no(flat)}",
                   **learn["numbers"]),
    ]


def learns_slowly_without_collapse(s: _Summary, th: _Thresholds) -> list[dict]:
    """Claim 4: J, ∇̂, R avoids collapse, learns, and has a lower AUC than J, ∇, R̂."""
    if not {"j1g0r1", "j1g1r0"} <= set(s.present):
        return []
    k, n = _collapse_count(s, "j1g0r1")
    nocol = None if n == 0 else k == 0
    auc, ref = s.interval("j1g0r1", "auc_return"), s.interval("j1g1r0", "auc_return")
    sep = separated(ref, auc)
    return [
        make_check("avoids collapse (no seed below 1e-7)", nocol,
                   f"{k} of {n} seeds have min embedding variance < {sci(th.collapse, 0)}: "
                   f"{'avoided' if nocol else 'not avoided' if nocol is False else 'undecided'}",
                   collapsed_seeds=k, seeds_with_embed_var=n),
        _learns(s, "j1g0r1", th.t_learn),
        make_check("slower than J, ∇, R̂ (AUC)", sep,
                   f"AUC {auc.text()} vs J, ∇, R̂ {ref.text()}: "
                   f"{'lower, separated' if sep else 'higher, separated' if sep is False else 'overlap'}",
                   auc=auc.__dict__, reference_auc=ref.__dict__),
    ]


def variance_in_range(s: _Summary, th: _Thresholds) -> list[dict]:
    """Claim 5: every logged embedding variance of each ∇ configuration run lies in [1e-7, 1]."""
    checks = []
    for c in [c for c in GRAD_CONFIGS if c in s.present]:
        rows = s.run_rows(c)
        lo, hi = rows["embed_var_min"].astype(float), rows["embed_var_max"].astype(float)
        ok = lo.notna() & hi.notna()
        r = bool(((lo[ok] >= th.collapse) & (hi[ok] <= 1.0)).all()) if ok.any() else None
        checks.append(make_check(
            f"{_notation(c)}: every logged embedding variance in [1e-7, 1]", r,
            f"{int(ok.sum())} runs; smallest {lo.min():.3g}, largest {hi.max():.3g}: {yes_no(r)}",
            min=float(lo.min()), max=float(hi.max()), runs=int(ok.sum()),
        ))
    return checks


@dataclass(frozen=True)
class Claim:
    """One claim of section 3: what it is about, the configurations it needs, its statement and
    criterion (fixed before any run), and the function computing its checks."""

    id: int
    configuration: str
    needs: tuple[str, ...]
    statement: str
    criterion: str
    checks: Callable[[_Summary, _Thresholds], list[dict]]
    joint: bool = False
    """The claim is about each configuration in `needs` that ran (named together)."""

    def evaluate(self, s: _Summary, th: _Thresholds) -> dict:
        """The claim with its checks and verdict. With a configuration it needs missing it is
        *not run*, whatever the checks of the configurations that did run say."""
        missing = [c for c in self.needs if c not in s.present]
        checks = self.checks(s, th)
        verdict = NOT_RUN if missing else verdict_of([c["result"] for c in checks])
        ran = [c for c in self.needs if c in s.present]
        if self.joint and ran:
            about = {"configuration": " + ".join(ran),
                     "notation": " + ".join(f"({_notation(c)})" for c in ran)}
        else:
            about = {"configuration": self.configuration,
                     "notation": _notation(self.configuration)}
        return make_claim(self.id, about, self.statement, self.criterion, checks, verdict,
                          missing_configurations=missing)


CLAIMS = (
    Claim(1, "j0g1r0", ("j0g1r0",),
          "Ĵ, ∇, R̂ learns some advantageous behaviour (better than random), albeit limited.",
          "learns AND limited.", learns_but_limited),
    Claim(2, "j1g1r0", tuple(PAPER_CONFIGS),
          "J, ∇, R̂ gives the best results: the return rises much faster and does not plateau.",
          "best (AUC) AND no plateau.", best_without_plateau),
    Claim(3, "j1g0r0", ("j1g0r0",),
          "J, ∇̂, R̂ collapses: the embedding variance falls below 1e-7 and the episodic return "
          "never increases.",
          "collapse AND does not learn (NOT learns).", collapses_without_learning),
    Claim(4, "j1g0r1", ("j1g0r1", "j1g1r0"),
          "J, ∇̂, R avoids collapse and the actor learns, but much slower than with actor-critic "
          "gradients (J, ∇, R̂).",
          "avoids collapse AND learns AND slower (AUC) than j1g1r0.",
          learns_slowly_without_collapse),
    Claim(5, "j1g1r0", tuple(GRAD_CONFIGS),
          "The embedding variance of the ∇ configurations stays in a reasonable range between 0 "
          "and 1.",
          "variance range, in every run of j0g1r0 and j1g1r0 that was run.", variance_in_range,
          joint=True),
)
"""The claims of the paper's section 3, in its order."""


def evaluate_claims(summary_dir: str | os.PathLike) -> dict:
    """Evaluate the five claims; returns the content of claims.json."""
    s = _load(Path(summary_dir))
    rnd = s.interval("random", "episode_return")
    rnd_rows = s.stats[(s.stats["configuration"] == "random") & (s.stats["metric"] == "episode_return")]
    if rnd_rows.empty:
        raise ValueError(f"{summary_dir}: stats.csv has no 'random' episode_return row, which "
                         "T_learn is made from; write the summary with `jepa-bench aggregate`")
    rnd_row = rnd_rows.iloc[0]
    rnd_sd = float(rnd_row["std"])
    th = _Thresholds(t_learn=rnd.mean + rnd_sd, ceiling=float(s.meta["reward_threshold"]),
                     collapse=float(s.meta["collapse_threshold"]))
    return {
        "paper": "Kenneweg et al. 2025, JEPA for RL, section 3 (Figure 3)",
        "runs": {
            "configurations": s.present,
            "seeds": s.meta["seeds"],
            "total_steps": s.meta["total_steps"],
        },
        "random_baseline": {
            "mean": rnd.mean, "ci_low": rnd.low, "ci_high": rnd.high, "sd": rnd_sd, "episodes": rnd.n,
            "env_id": s.meta["random_baseline"]["env_id"],
        },
        "thresholds": {
            "t_learn": th.t_learn,
            "reward_threshold": th.ceiling,
            "collapse": th.collapse,
            "variance_range": [th.collapse, 1.0],
            "ci_level": s.meta["ci"]["level"],
            "ci_method": s.meta["ci"]["method"],
            "late_fraction": s.meta["late_fraction"],
            "return_window": s.meta["return_window"],
        },
        "criteria": CRITERIA,
        "claims": [claim.evaluate(s, th) for claim in CLAIMS],
    }


# --------------------------------------------------------------------------- report


def _markdown(res: dict) -> str:
    runs, rb, th = res["runs"], res["random_baseline"], res["thresholds"]
    lines = ["# Claims of section 3, checked against our runs", ""]
    if runs["total_steps"] < SMOKE_STEPS:
        lines += [f"**Smoke test, not a verdict**: {runs['total_steps']:,} environment steps a "
                  f"run, under the {SMOKE_STEPS:,} that this report takes as the least for a "
                  f"verdict (the paper: {PAPER_STEPS:,}). It shows that every stage of the "
                  "pipeline runs; the verdicts below say nothing about the paper's claims.", ""]
    lines += [
        f"Paper: {res['paper']}.",
        "",
        f"- Runs: configurations {', '.join(f'{c} ({_notation(c)})' for c in runs['configurations'])}; "
        f"seeds {', '.join(map(str, runs['seeds']))}; {runs['total_steps']:,} environment steps each "
        "(the paper: 5 seeds, 100,000 steps).",
    ]
    if runs["total_steps"] != PAPER_STEPS:
        lines.append("- Note: the step budget differs from the paper's 100k; the verdicts are about "
                     "these runs only.")
    lines += [
        f"- Random policy on {rb['env_id']} (measured, {rb['episodes']} episodes): mean return "
        f"{rb['mean']:.2f} (95% CI {rb['ci_low']:.2f} to {rb['ci_high']:.2f}), SD {rb['sd']:.2f}.",
        "",
        "## Criteria (fixed before looking at the runs)",
        "",
        "Statistics: per run, *final return* = mean return of the last "
        f"{th['return_window']} episodes finished within the step budget; *AUC* = area under the "
        "running-return curve divided by the steps it spans (time-averaged running return); "
        f"*late slope* = slope of the running return over the last {th['late_fraction']:.0%} of "
        f"training. Per configuration: mean over seeds with a {th['ci_level']:.0%} "
        f"{th['ci_method']}, and the IQM. A CI is compared with a threshold t: above if its lower "
        "bound > t, not above if its upper bound <= t, otherwise undecided. A claim is "
        "*reproduced* if all its checks pass, *not reproduced* if one clearly fails, "
        "*inconclusive* otherwise, *inconclusive (not run)* if its configuration was not run.",
        "",
        "Thresholds: "
        f"T_learn = {th['t_learn']:.2f} (random mean + 1 SD); "
        f"ceiling = {th['reward_threshold']:.0f} (CartPole-v1 reward threshold); "
        f"collapse: embedding variance < {sci(th['collapse'], 0)}; "
        f"variance range [{sci(th['variance_range'][0], 0)}, {th['variance_range'][1]:g}].",
        "",
    ]
    lines += [f"- {text}" for text in res["criteria"].values()]
    lines += ["", "## Verdicts", "", "| # | configuration | claim | verdict |", "|---|---|---|---|"]
    for c in res["claims"]:
        lines.append(f"| {c['id']} | {c['notation']} | {c['statement']} | **{c['verdict']}** |")
    for c in res["claims"]:
        lines += ["", f"## Claim {c['id']}: {c['notation']}", "", f"> {c['statement']}", "",
                  f"Criterion: {c['criterion']}", ""]
        lines += check_lines(c)
        if c["missing_configurations"]:
            lines.append(f"- not run: {', '.join(f'{m} ({_notation(m)})' for m in c['missing_configurations'])}")
        lines += ["", f"Verdict: **{c['verdict']}**"]
    return "\n".join(lines) + "\n"


def write_claims(summary_dir: str | os.PathLike, out_md: str | os.PathLike) -> tuple[Path, Path]:
    """Evaluate the claims; write ``out_md`` and the JSON twin beside it (same stem, .json)."""
    report_json_path(out_md)  # a bad report path stops before any work
    res = evaluate_claims(summary_dir)
    return write_report(out_md, _markdown(res), res)
