"""jepa_bench.analysis.stats: each statistic against hand values or scipy, and its degenerate
cases (one value, equal values, NaN)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from jepa_bench.analysis.stats import (band, bootstrap_difference, describe_sample, final_return,
                                       geometric_band, prediction_interval, proportion,
                                       welch_interval)


def test_describe_sample_statistics_and_degenerate_cases():
    d = describe_sample([1.0, 2.0, 3.0, 4.0, 10.0])
    assert d["n"] == 5 and d["mean"] == 4.0 and d["median"] == 3.0
    assert d["iqm"] == pytest.approx(3.0)  # trim one value at each end
    assert d["ci_low"] < d["mean"] < d["ci_high"] and d["ci_note"] == ""
    assert describe_sample([1.0, 2.0, 3.0, 4.0, 10.0]) == d  # seeded
    one = describe_sample([7.0])
    assert one["mean"] == 7.0 and math.isnan(one["ci_low"]) and "n<2" in one["ci_note"]
    same = describe_sample([5.0, 5.0, 5.0])
    assert same["ci_low"] == same["ci_high"] == same["mean"] == 5.0  # every resample's mean
    assert "equal" in same["ci_note"]
    nan = describe_sample([np.nan, 2.0, np.nan])
    assert nan["n"] == 1
    assert describe_sample([])["n"] == 0


def test_welch_interval_matches_scipy_and_hand_values():
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 9.0, 10.0]
    w = welch_interval(b, a, level=0.95)
    ci = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert w["diff"] == pytest.approx(3.7)
    assert (w["low"], w["high"]) == pytest.approx((ci.low, ci.high))
    # equal samples: zero-width interval at the difference; one value: no interval
    assert welch_interval([2.0, 2.0], [1.0, 1.0])["low"] == 1.0
    assert pd.isna(welch_interval([2.0], [1.0, 3.0])["low"])


def test_bootstrap_difference_by_hand():
    """b = [0, 2] resampled gives means 0, 1, 2 with chances 1/4, 1/2, 1/4, so its 2.5th and
    97.5th percentiles are 0 and 2; a = [5, 5] always means 5: the CI is -5 to -3."""
    d = bootstrap_difference([0.0, 2.0], [5.0, 5.0])
    assert (d["diff"], d["low"], d["high"], d["n_b"], d["n_a"]) == (-4.0, -5.0, -3.0, 2, 2)
    # each sample resampled on its own: never wider than the range of possible differences
    d = bootstrap_difference([3.0, 4.0, 5.0, 6.0], [1.0, 2.0, 2.0, 3.0])
    assert d["diff"] == 2.5 and 0.0 < d["low"] < 2.5 < d["high"] < 5.0
    assert bootstrap_difference([3.0, 4.0, 5.0, 6.0], [1.0, 2.0, 2.0, 3.0]) == d  # seeded
    assert bootstrap_difference([2.0, 2.0], [1.0, 1.0])["low"] == 1.0  # both constant
    one = bootstrap_difference([2.0], [1.0, 3.0, float("nan")])
    assert one["diff"] == 0.0 and math.isnan(one["low"]) and one["n_a"] == 2


def test_final_return_is_the_mean_of_the_last_episodes():
    assert final_return([1.0, 2.0, 3.0, 4.0], window=2) == (3.5, 2)
    assert final_return([5.0], window=10) == (5.0, 1)
    value, n = final_return([], window=10)
    assert math.isnan(value) and n == 0


def test_band_and_geometric_band():
    values = np.array([[1.0, 10.0], [3.0, 1000.0], [np.nan, 100.0]])
    mean, low, high = band(values)
    assert mean[0] == 2.0 and mean[1] == pytest.approx(370.0)
    assert low[1] <= mean[1] <= high[1]
    assert band(values[:1])[1][0] != band(values[:1])[1][0]  # one seed: NaN band
    gmean, glow, ghigh = geometric_band(values)
    assert gmean[1] == pytest.approx(100.0)  # 10^(mean of 1, 3, 2)
    assert glow[1] <= gmean[1] <= ghigh[1]


def test_proportion_and_prediction_interval():
    p, low, high = proportion(0, 5)
    assert p == 0.0 and low == 0.0 and high == pytest.approx(0.5218, abs=1e-4)  # exact CI
    assert all(math.isnan(v) for v in proportion(0, 0))
    lo, hi = prediction_interval([1.0, 2.0, 3.0])
    # mean 2, sd 1, n 3: t(0.975, 2) * 1 * sqrt(1 + 1/3)
    half = stats.t.ppf(0.975, 2) * math.sqrt(1 + 1 / 3)
    assert (lo, hi) == pytest.approx((2 - half, 2 + half))
    assert pd.isna(welch_interval([1.0], [1.0])["low"])
