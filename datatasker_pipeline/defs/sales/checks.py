"""Asset checks: the guarantees each materialization is checked against.

The specs are declared on the assets, which yield the results in the same
step, so a partitioned run checks exactly the partition it wrote. Each
result is built from a plain function of ``processing``.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from ...processing.cleaned import schema_problems
from ...processing.outputs import count_csv_records
from ...vocabulary import ANOMALY_ASSET, CLEANED_ASSET

MAX_ANOMALY_RATE = 0.05

rows_conserved_spec = dg.AssetCheckSpec(
    "rows_conserved",
    asset=CLEANED_ASSET,
    description="Every record read is either clean or rejected with a reason: rows_read = clean + rejected.",
)
cleaned_schema_spec = dg.AssetCheckSpec(
    "cleaned_matches_schema",
    asset=CLEANED_ASSET,
    description="cleaned.parquet has the expected columns and types, and every row satisfies CleanSalesRows: "
    "the cleaner validated every row with it before placing the file; the check confirms the file holds exactly the "
    "rows validated and that every row group's statistics lie within the model's bounds.",
)
anomaly_rate_spec = dg.AssetCheckSpec(
    "anomaly_rate",
    asset=ANOMALY_ASSET,
    description=f"Warns when more than {MAX_ANOMALY_RATE:.0%} of clean rows are anomalies: the data, not the rows, may be off.",
)


def check_rows_conserved(rows_read: int, cleaned_path: Path, rejected_path: Path) -> dg.AssetCheckResult:
    """Counts what was actually written, not what the cleaner said it wrote."""
    clean = pq.ParquetFile(cleaned_path).metadata.num_rows
    rejected = count_csv_records(rejected_path)
    return dg.AssetCheckResult(
        check_name=rows_conserved_spec.name,
        asset_key=rows_conserved_spec.asset_key,
        passed=rows_read == clean + rejected,
        metadata={"rows_read": rows_read, "rows_clean_written": clean, "rows_rejected_written": rejected},
    )


def check_cleaned_schema(
    cleaned_path: Path, columns: tuple[str, ...], validated_rows: int | None = None
) -> dg.AssetCheckResult:
    """Without ``validated_rows`` (a file the cleaner did not vouch for) every row is validated here."""
    problems = schema_problems(cleaned_path, columns, validated_rows)
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
