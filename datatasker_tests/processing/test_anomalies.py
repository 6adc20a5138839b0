"""Anomalies: mean + k * sample std of revenue per unit, strictly above."""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd
import pytest

from datatasker_pipeline.processing.anomalies import (
    RunningStats,
    anomaly_rule,
    flag_anomalies,
    revenue_per_unit_stats,
)


def rows(values):
    return pd.DataFrame({"source_row": range(1, len(values) + 1), "revenue_per_unit": values})


def test_running_stats_match_the_textbook_over_uneven_batches():
    rng = np.random.default_rng(7)
    values = rng.normal(50, 12, 1001)
    stats = revenue_per_unit_stats([values[:1], values[1:400], values[400:400], values[400:]])
    assert stats.count == 1001
    assert stats.mean == pytest.approx(statistics.fmean(values), rel=1e-13)
    assert stats.sample_std == pytest.approx(statistics.stdev(values), rel=1e-12)


def test_stable_with_a_large_offset():
    # the naive sum-of-squares formula loses every digit here
    values = np.array([1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16])
    stats = revenue_per_unit_stats([values[:2], values[2:]])
    assert stats.sample_std == pytest.approx(statistics.stdev([4, 7, 13, 16]), rel=1e-9)


def test_threshold_and_z_score():
    values = [10.0] * 9 + [100.0]
    stats = revenue_per_unit_stats([np.array(values)])
    rule = anomaly_rule(stats, k=2.0)
    mean, std = statistics.fmean(values), statistics.stdev(values)
    assert rule.threshold == pytest.approx(mean + 2 * std)
    flagged = flag_anomalies(rows(values), rule)
    assert flagged["source_row"].tolist() == [10]
    assert flagged["z_score"].iloc[0] == pytest.approx((100 - mean) / std)
    assert flagged["threshold"].iloc[0] == pytest.approx(mean + 2 * std)


def test_strictly_above_the_threshold():
    # with k = 0 the threshold is the mean itself: a row exactly at the mean is not an anomaly
    values = np.array([1.0, 2.0, 3.0])
    flagged = flag_anomalies(rows(values), anomaly_rule(revenue_per_unit_stats([values]), k=0))
    assert flagged["source_row"].tolist() == [3]


@pytest.mark.parametrize("values", [[], [5.0], [3.0, 3.0, 3.0], [0.0, 0.0], [0.1] * 7])
def test_no_anomalies_without_two_rows_or_spread(values):
    assert anomaly_rule(revenue_per_unit_stats([np.array(values)]), k=2.0) is None
    assert flag_anomalies(rows(values), None).empty


def test_overflowed_revenue_per_unit_gives_no_anomalies():
    stats = revenue_per_unit_stats([np.array([1.0, np.inf, 2.0])])
    assert anomaly_rule(stats, k=2.0) is None


def test_running_stats_start_empty():
    assert RunningStats().count == 0
