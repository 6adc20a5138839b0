"""The anomaly report: SPEC section 3, ``anomalies.csv``.

The threshold needs the mean and sample standard deviation of revenue per
unit over *all* clean rows before any row can be flagged, so the report takes
two passes over the cleaned rows: one to accumulate the statistics (Chan et
al.'s pairwise update of count, mean and sum of squared deviations, which
stays accurate where the textbook sum-of-squares formula cancels), one to
flag rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

DEFAULT_ANOMALY_K = 2.0
ANOMALY_EXTRA_COLUMNS = ["revenue_per_unit", "z_score", "threshold"]


@dataclass
class RunningStats:
    """Count, mean and sum of squared deviations, merged batch by batch."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, values: np.ndarray) -> None:
        n = len(values)
        if n == 0:
            return
        if not np.isfinite(values).all():
            # Overflowed revenue per unit: the statistics are no longer numbers.
            self.count += n
            self.mean = self.m2 = float("nan")
            return
        batch_mean = float(np.mean(values))
        batch_m2 = float(np.sum((values - batch_mean) ** 2))
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.m2 += batch_m2 + delta * delta * self.count * n / total
        self.count = total

    @property
    def sample_std(self) -> float:
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else float("nan")


@dataclass(frozen=True)
class AnomalyRule:
    """Rows with revenue per unit strictly above ``threshold`` are anomalies."""

    mean: float
    std: float
    k: float

    @property
    def threshold(self) -> float:
        return self.mean + self.k * self.std


def revenue_per_unit_stats(batches: Iterable[np.ndarray]) -> RunningStats:
    stats = RunningStats()
    for values in batches:
        stats.add(np.asarray(values, dtype="float64"))
    return stats


def anomaly_rule(stats: RunningStats, k: float = DEFAULT_ANOMALY_K) -> AnomalyRule | None:
    """The rule for a file, or None when nothing can be an anomaly.

    With fewer than two clean rows there is no spread to speak of; with
    ``std <= 1e-12 * |mean|`` the spread is rounding noise; and when revenue
    per unit overflowed to infinity for some row, mean and spread are not
    numbers (a case SPEC leaves open: no anomalies, documented in the README).
    """
    if stats.count < 2:
        return None
    std = stats.sample_std
    if not (math.isfinite(stats.mean) and math.isfinite(std)):
        return None  # an overflowing revenue per unit leaves no meaningful spread
    if std <= 1e-12 * abs(stats.mean):
        return None
    return AnomalyRule(mean=stats.mean, std=std, k=k)


def flag_anomalies(rows: pd.DataFrame, rule: AnomalyRule | None) -> pd.DataFrame:
    """The anomalous rows of ``rows`` with ``z_score`` and ``threshold`` added."""
    if rule is None:
        flagged = rows.iloc[0:0].copy()
    else:
        flagged = rows.loc[rows["revenue_per_unit"] > rule.threshold].copy()
    flagged["z_score"] = (flagged["revenue_per_unit"] - (rule.mean if rule else 0.0)) / (rule.std if rule else 1.0)
    flagged["threshold"] = rule.threshold if rule else 0.0
    return flagged.astype({"z_score": "float64", "threshold": "float64"})
