"""Asset checks: the guarantees each materialization is checked against.

Each check is a plain function that returns an ``AssetCheckResult``; the
assets declare the specs and yield the results in the same step, so a
partitioned run checks exactly the partition it wrote.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from .outputs import cleaned_arrow_schema
from .schema import CleanSalesRows
from .parallel import map_in_order
from .summary import read_row_group

MAX_ANOMALY_RATE = 0.05

rows_conserved_spec = dg.AssetCheckSpec(
    "rows_conserved",
    asset="cleaned_sales",
    description="Every record read is either clean or rejected with a reason: rows_read = clean + rejected.",
)
cleaned_schema_spec = dg.AssetCheckSpec(
    "cleaned_matches_schema",
    asset="cleaned_sales",
    description="cleaned.parquet has the expected columns and types, and every row satisfies CleanSalesRows.",
)
anomaly_rate_spec = dg.AssetCheckSpec(
    "anomaly_rate",
    asset="anomaly_report",
    description=f"Warns when more than {MAX_ANOMALY_RATE:.0%} of clean rows are anomalies: the data, not the rows, may be off.",
)


def count_csv_rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as f:
        return max(sum(1 for _ in csv.reader(f)) - 1, 0)


def check_rows_conserved(rows_read: int, cleaned_path: Path, rejected_path: Path) -> dg.AssetCheckResult:
    """Counts what was actually written, not what the cleaner said it wrote."""
    clean = pq.ParquetFile(cleaned_path).metadata.num_rows
    rejected = count_csv_rows(rejected_path)
    return dg.AssetCheckResult(
        check_name=rows_conserved_spec.name,
        asset_key=rows_conserved_spec.asset_key,
        passed=rows_read == clean + rejected,
        metadata={"rows_read": rows_read, "rows_clean_written": clean, "rows_rejected_written": rejected},
    )


def check_cleaned_schema(cleaned_path: Path, columns: tuple[str, ...]) -> dg.AssetCheckResult:
    expected = cleaned_arrow_schema(columns)
    actual = pq.read_schema(cleaned_path)
    problems = []
    if actual.names != expected.names or actual.types != expected.types:
        problems.append(f"schema is {actual.names} {actual.types}, expected {expected.names} {expected.types}")
    else:
        # Only the columns the model checks: carried text would cost time and prove nothing.
        checked = [name for name in CleanSalesRows.to_schema().columns if name in actual.names]

        def problem_in(group: int) -> str | None:
            try:
                CleanSalesRows.validate(read_row_group(cleaned_path, group, checked).to_pandas())
            except Exception as error:  # pandera's SchemaError: report, don't crash the step
                return str(error).splitlines()[0]
            return None

        groups = range(pq.ParquetFile(cleaned_path).num_row_groups)
        problems.extend(itertools.islice(filter(None, map_in_order(problem_in, groups)), 1))
    return dg.AssetCheckResult(
        check_name=cleaned_schema_spec.name,
        asset_key=cleaned_schema_spec.asset_key,
        passed=not problems,
        metadata={"problems": "; ".join(problems) or "none"},
    )


def check_anomaly_rate(anomalies: int, rows_clean: int) -> dg.AssetCheckResult:
    rate = anomalies / rows_clean if rows_clean else 0.0
    return dg.AssetCheckResult(
        check_name=anomaly_rate_spec.name,
        asset_key=anomaly_rate_spec.asset_key,
        passed=rate <= MAX_ANOMALY_RATE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"anomaly_rate": rate, "limit": MAX_ANOMALY_RATE},
    )
