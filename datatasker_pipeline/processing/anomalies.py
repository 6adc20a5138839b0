"""The anomaly report: ``anomalies.csv``, clean rows whose revenue per unit is far above the mean.

The threshold needs the mean and sample standard deviation of revenue per
unit over *all* clean rows before any row can be flagged. After a cleaning
run the cleaner has gathered both and set aside the rows that may be
anomalies (:mod:`.candidates`), so the report reads those few rows, not the
file. Given only ``cleaned.parquet``, it takes two passes: the statistics,
then the rows above the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..vocabulary import (
    ANOMALIES_FILE,
    ANOMALY_EXTRA_COLUMNS,
    DEFAULT_ANOMALY_K,
    NUMERIC_COLUMNS,
    REVENUE_PER_UNIT,
    SOURCE_ROW,
    THRESHOLD,
    Z_SCORE,
)
from .candidates import AnomalyBasis, RunningStats
from .cleaned import file_columns, iter_row_groups, read_row_group, row_group_count
from .files import atomic_path
from .outputs import CsvTableWriter
from .parallel import WORKER_THREADS, map_in_order

# Anomalous rows are held back and written this many at a time: pandas costs per
# call (one write per row group took 1.1 s more at 10M rows), and the batch costs
# memory (50,000 rows held about 70 MB more at the peak at 30M rows than 10,000).
ANOMALY_WRITE_ROWS = 10_000


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
        flagged = rows.loc[rows[REVENUE_PER_UNIT] > rule.threshold].copy()
    flagged[Z_SCORE] = (flagged[REVENUE_PER_UNIT] - (rule.mean if rule else 0.0)) / (rule.std if rule else 1.0)
    flagged[THRESHOLD] = rule.threshold if rule else 0.0
    return flagged.astype({Z_SCORE: "float64", THRESHOLD: "float64"})


@dataclass
class AnomalyReport:
    path: Path
    rule: AnomalyRule | None
    count: int
    top: pd.DataFrame = field(repr=False)  # the rows with the highest z-scores, for the UI


def _over_threshold_everywhere(cleaned_path: Path, threshold: float) -> Iterable[pa.Table]:
    """The second pass of a file the report knows nothing about: every row group, filtered in Arrow."""
    above = pa.scalar(threshold, pa.float64())

    def over_threshold(group: int) -> pa.Table:
        batch = read_row_group(cleaned_path, group)
        return batch.filter(pc.greater(batch.column(REVENUE_PER_UNIT), above))

    return map_in_order(over_threshold, range(row_group_count(cleaned_path)), WORKER_THREADS)


def write_anomaly_report(
    cleaned_path: Path, out_dir: Path, k: float, top_n: int = 10, basis: AnomalyBasis | None = None
) -> AnomalyReport:
    """The rows above the threshold, from what the cleaner set aside (``basis``), else in two passes over the file.

    The candidates file of ``basis`` is deleted once the report is written.
    """
    if basis is not None:
        stats = basis.stats
    else:
        stats = revenue_per_unit_stats(
            table.column(0).to_numpy() for table in iter_row_groups(cleaned_path, [REVENUE_PER_UNIT])
        )
    rule = anomaly_rule(stats, k)
    header = [SOURCE_ROW, *file_columns(cleaned_path), *ANOMALY_EXTRA_COLUMNS]
    numbers = (*NUMERIC_COLUMNS, *ANOMALY_EXTRA_COLUMNS)
    count = 0
    top = pd.DataFrame(columns=header)
    path = out_dir / ANOMALIES_FILE
    with atomic_path(path) as partial:
        writer = CsvTableWriter(partial, header, integer_columns=(SOURCE_ROW,), number_columns=numbers)

        def write(candidates: list[pa.Table]) -> None:
            nonlocal count, top
            flagged = flag_anomalies(pa.concat_tables(candidates).to_pandas(), rule)[header]
            writer.write(flagged)
            count += len(flagged)
            top = pd.concat([top, flagged]).nlargest(top_n, Z_SCORE) if len(top) else flagged.nlargest(top_n, Z_SCORE)

        try:
            if rule is not None:
                # Filter in Arrow; only the (few) anomalous rows become pandas, a
                # batch of many chunks' worth at a time (pandas costs per call).
                if basis is not None:
                    tables = basis.anomalous_tables(cleaned_path, rule.threshold)
                else:
                    tables = _over_threshold_everywhere(cleaned_path, rule.threshold)
                pending: list[pa.Table] = []
                pending_rows = 0
                for over in tables:
                    if over.num_rows:
                        pending.append(over)
                        pending_rows += over.num_rows
                    if pending_rows >= ANOMALY_WRITE_ROWS:
                        write(pending)
                        pending, pending_rows = [], 0
                if pending:
                    write(pending)
        finally:
            writer.close()
    if basis is not None:
        basis.discard()
    return AnomalyReport(path=path, rule=rule, count=count, top=top)
