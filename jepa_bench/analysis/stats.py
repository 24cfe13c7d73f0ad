"""Statistics over seeds and runs: the one place every table, report and figure takes them from.

    describe_sample([21.0, 25.5, 19.2])       # n, mean, std, median, IQM, min, max, 95% CI
    final_return(episode_returns)             # mean of the last 10 episodes, and how many
    band(values[seed, step])                  # mean and 95% bootstrap band per step
    geometric_band(values[seed, step])        # the same over log10 values (a log axis)
    proportion(k, n)                          # k/n with its exact (Clopper-Pearson) CI
    welch_interval(b, a, level=0.95)          # mean(b) - mean(a) with its Welch t interval
    bootstrap_difference(b, a)                # mean(b) - mean(a), percentile-bootstrap CI

Owns: the CI settings (level, resamples, seed), the final-return window, the bootstrap CI of a
mean (scipy.stats.bootstrap, percentile), the interquartile mean, the per-step bands of the
figures, exact binomial intervals and tests, the median of times to an event. Pure functions of
arrays: no file, no figure, no verdict (jepa_bench.analysis.verdicts turns these numbers into verdicts).
Must not import torch or any other module of this package.
"""

from __future__ import annotations

import math
import warnings
from typing import Iterable, Sequence

import numpy as np
from scipy import stats

__all__ = [
    "BAND_RESAMPLES",
    "CI_LEVEL",
    "CI_METHOD",
    "CI_RESAMPLES",
    "CI_SEED",
    "EXACT",
    "RETURN_WINDOW",
    "band",
    "bootstrap_difference",
    "describe_sample",
    "final_return",
    "geometric_band",
    "median_time_to_event",
    "prediction_interval",
    "proportion",
    "sign_test",
    "welch_interval",
]

CI_LEVEL = 0.95
CI_RESAMPLES = 10_000
CI_SEED = 0
CI_METHOD = "percentile bootstrap of the mean"
EXACT = "Clopper-Pearson exact"
BAND_RESAMPLES = 2000
"""Resamples of the figures' per-step bands (one resample of seed indices serves every step)."""
RETURN_WINDOW = 10
"""The final return (and the running return of the curves) averages this many last episodes."""


def describe_sample(
    values: Iterable[float],
    *,
    confidence: float = CI_LEVEL,
    n_resamples: int = CI_RESAMPLES,
    seed: int = CI_SEED,
) -> dict:
    """Mean, spread, IQM and a percentile-bootstrap CI of the mean of one sample.

    NaNs are dropped first. The CI is NaN (with ``ci_note`` saying why) when fewer than two
    values remain. When all values are equal every resample has that mean, so the percentile
    CI is that one point (``ci_low == ci_high == mean``, and ``ci_note`` says so).
    """
    x = np.asarray([v for v in values if v is not None], dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    out = {
        "n": n,
        "mean": math.nan,
        "std": math.nan,
        "median": math.nan,
        "iqm": math.nan,
        "min": math.nan,
        "max": math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "ci_note": "",
    }
    if n == 0:
        out["ci_note"] = "no values"
        return out
    out.update(
        mean=float(x.mean()),
        std=float(x.std(ddof=1)) if n > 1 else math.nan,
        median=float(np.median(x)),
        iqm=float(stats.trim_mean(x, 0.25)),
        min=float(x.min()),
        max=float(x.max()),
    )
    if n < 2:
        out["ci_note"] = "n<2: no bootstrap CI"
    elif np.all(x == x[0]):
        out.update(ci_low=out["mean"], ci_high=out["mean"],
                   ci_note="all values equal: the CI is that value")
    else:
        res = stats.bootstrap(
            (x,),
            np.mean,
            n_resamples=n_resamples,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
        out["ci_low"] = float(res.confidence_interval.low)
        out["ci_high"] = float(res.confidence_interval.high)
    return out


def final_return(returns: Sequence[float], window: int = RETURN_WINDOW) -> tuple[float, int]:
    """(mean of the last ``window`` episode returns, how many it averages); (NaN, 0) if none.
    ``returns`` in the order the episodes finished, already cut at the step budget."""
    last = np.asarray(returns, dtype=float)[-window:]
    return (float(last.mean()) if last.size else math.nan), int(last.size)


def band(values: np.ndarray, *, level: float = CI_LEVEL, n_boot: int = BAND_RESAMPLES,
         seed: int = CI_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds and a percentile-bootstrap CI of it, per column of values[seed, step].

    NaNs (a seed with nothing logged yet) are left out of that column. Columns with fewer than
    two values get a NaN band. Vectorised: one resample of seed indices serves every column.
    """
    values = np.asarray(values, dtype=float)
    n = values.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        mean = np.nanmean(values, axis=0)
        count = np.sum(np.isfinite(values), axis=0)
        if n < 2:
            nan = np.full(values.shape[1], np.nan)
            return mean, nan, nan.copy()
        idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
        boot = np.nanmean(values[idx], axis=1)  # (n_boot, steps)
        alpha = (1 - level) / 2
        low, high = np.nanquantile(boot, [alpha, 1 - alpha], axis=0)
    low[count < 2] = np.nan
    high[count < 2] = np.nan
    return mean, low, high


def geometric_band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``band`` over log10 values, returned on the original scale: a geometric mean and band,
    so that on a log axis one seed that kept its variance cannot hide several that collapsed.
    Values <= 0 must be NaN already."""
    mean, low, high = band(np.log10(values))
    return 10.0**mean, 10.0**low, 10.0**high


def proportion(k: int, n: int, level: float = CI_LEVEL) -> tuple[float, float, float]:
    """Fraction k/n with its exact (Clopper-Pearson) CI; NaNs when n == 0."""
    if n == 0:
        return math.nan, math.nan, math.nan
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return k / n, float(ci.low), float(ci.high)


def welch_interval(b: Sequence[float], a: Sequence[float], level: float = CI_LEVEL) -> dict:
    """mean(b) - mean(a) with its Welch (unequal-variance) t interval at ``level``:
    {"diff", "low", "high", "df"}; NaNs when either sample has fewer than two values. Two
    samples whose values are all equal give a zero-width interval at the difference."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    diff = float(b.mean() - a.mean()) if a.size and b.size else math.nan
    if a.size < 2 or b.size < 2:
        return {"diff": diff, "low": math.nan, "high": math.nan, "df": math.nan}
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    if se == 0.0:
        return {"diff": diff, "low": diff, "high": diff, "df": math.inf}
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    return {"diff": diff, "low": diff - half, "high": diff + half, "df": float(df)}


def bootstrap_difference(b: Sequence[float], a: Sequence[float], *, confidence: float = CI_LEVEL,
                         n_resamples: int = CI_RESAMPLES, seed: int = CI_SEED) -> dict:
    """mean(b) - mean(a) with a percentile-bootstrap CI, each sample resampled on its own (the
    settings of describe_sample): {"diff", "low", "high", "n_b", "n_a"}. NaNs dropped first; the
    CI is NaN when either sample has fewer than two values, and the difference itself when
    every value of each sample is equal."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    diff = float(b.mean() - a.mean()) if a.size and b.size else math.nan
    out = {"diff": diff, "low": math.nan, "high": math.nan, "n_b": int(b.size),
           "n_a": int(a.size)}
    if a.size < 2 or b.size < 2:
        return out
    if np.all(a == a[0]) and np.all(b == b[0]):
        return out | {"low": diff, "high": diff}
    res = stats.bootstrap((b, a), lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis),
                          n_resamples=n_resamples, confidence_level=confidence,
                          method="percentile", paired=False, rng=np.random.default_rng(seed))
    return out | {"low": float(res.confidence_interval.low),
                  "high": float(res.confidence_interval.high)}


def prediction_interval(values: Sequence[float], level: float = CI_LEVEL) -> tuple[float, float]:
    """Two-sided interval for one new draw from the normal distribution that ``values``
    estimate: mean ± t(0.5 + level/2, n−1) · sd · sqrt(1 + 1/n); ValueError when n < 2."""
    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if n < 2:
        raise ValueError(f"a prediction interval needs at least 2 values, got {n}")
    mean = float(x.mean())
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * float(x.std(ddof=1)) * math.sqrt(1 + 1 / n)
    return mean - half, mean + half


def sign_test(on: Sequence[bool], off: Sequence[bool]) -> dict:
    """One-sided exact sign test on the paired subjects where exactly one of two arms had the
    event: {"only_grad_on", "only_grad_off", "p_one_sided"} (p of "on" more often)."""
    only_on = int(sum(a and not b for a, b in zip(on, off)))
    only_off = int(sum(b and not a for a, b in zip(on, off)))
    n = only_on + only_off
    p = float(stats.binomtest(only_on, n, 0.5, alternative="greater").pvalue) if n else 1.0
    return {"only_grad_on": only_on, "only_grad_off": only_off, "p_one_sided": p}


def median_time_to_event(times: Sequence[float]) -> float:
    """The time by which half of the subjects had the event; inf (never) entries are subjects
    without it. inf if fewer than half had it; NaN for an empty sample."""
    t = np.sort(np.asarray(times, dtype=float))
    if t.size == 0:
        return math.nan
    needed = math.ceil(t.size / 2)
    return float(t[needed - 1])
