"""The asset checks, over files written here (no Dagster run)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from datatasker_pipeline.defs.sales.checks import (
    check_anomaly_rate,
    check_cleaned_schema,
    check_rows_conserved,
)
from datatasker_pipeline.processing.outputs import cleaned_arrow_schema

COLUMNS = ("region", "revenue", "quantity", "discount", "note")


def clean_rows(first_row: int, count: int, revenue: float = 10.0) -> pa.Table:
    rows = list(range(first_row, first_row + count))
    return pa.table(
        {
            "source_row": rows,
            "region": ["East"] * count,
            "revenue": [revenue] * count,
            "quantity": [2.0] * count,
            "discount": [0.1] * count,
            "note": ["x"] * count,
            "revenue_per_unit": [revenue / 2] * count,
        },
        schema=cleaned_arrow_schema(COLUMNS),
    )


def write_row_groups(path, *tables: pa.Table) -> None:
    with pq.ParquetWriter(path, tables[0].schema) as writer:
        for table in tables:
            writer.write_table(table)


def test_schema_check_passes_on_clean_rows_in_many_row_groups(tmp_path):
    path = tmp_path / "cleaned.parquet"
    write_row_groups(path, *(clean_rows(1 + 100 * i, 100) for i in range(6)))
    result = check_cleaned_schema(path, COLUMNS)
    assert result.passed and result.metadata["problems"].value == "none"


def test_schema_check_finds_a_bad_row_in_a_late_row_group(tmp_path):
    path = tmp_path / "cleaned.parquet"
    write_row_groups(path, *(clean_rows(1 + 100 * i, 100) for i in range(5)), clean_rows(501, 3, revenue=-1.0))
    result = check_cleaned_schema(path, COLUMNS)
    assert not result.passed
    assert "revenue" in result.metadata["problems"].value


def test_schema_check_fails_on_other_columns(tmp_path):
    path = tmp_path / "cleaned.parquet"
    write_row_groups(path, clean_rows(1, 5).drop_columns(["note"]))
    result = check_cleaned_schema(path, COLUMNS)
    assert not result.passed and "expected" in result.metadata["problems"].value


def test_rows_conserved_counts_what_was_written(tmp_path):
    cleaned, rejected = tmp_path / "cleaned.parquet", tmp_path / "rejected_rows.csv"
    write_row_groups(cleaned, clean_rows(1, 4))
    rejected.write_text('source_row,reason,column,value\n5,not_a_number,revenue,"a\nb"\n', encoding="utf-8")
    assert check_rows_conserved(5, cleaned, rejected).passed
    assert not check_rows_conserved(6, cleaned, rejected).passed


def test_anomaly_rate_warns_above_five_percent():
    assert check_anomaly_rate(5, 100).passed
    assert not check_anomaly_rate(6, 100).passed
    assert check_anomaly_rate(0, 0).passed


def test_schema_check_trusts_the_cleaners_validation_but_checks_the_row_count(tmp_path):
    path = tmp_path / "cleaned.parquet"
    write_row_groups(path, *(clean_rows(1 + 100 * i, 100) for i in range(6)))
    assert check_cleaned_schema(path, COLUMNS, 600).passed
    result = check_cleaned_schema(path, COLUMNS, 599)
    assert not result.passed and "validated 599" in result.metadata["problems"].value


def test_schema_check_finds_a_bad_row_group_from_its_statistics(tmp_path):
    path = tmp_path / "cleaned.parquet"
    write_row_groups(path, *(clean_rows(1 + 100 * i, 100) for i in range(5)), clean_rows(501, 3, revenue=-1.0))
    result = check_cleaned_schema(path, COLUMNS, 503)
    assert not result.passed and "row group 5: revenue" in result.metadata["problems"].value


def test_schema_check_finds_repeated_source_rows_across_row_groups(tmp_path):
    path = tmp_path / "cleaned.parquet"
    write_row_groups(path, clean_rows(1, 100), clean_rows(50, 100))
    result = check_cleaned_schema(path, COLUMNS, 200)
    assert not result.passed and "source_row 50" in result.metadata["problems"].value


def test_schema_check_validates_row_groups_without_statistics(tmp_path):
    path = tmp_path / "cleaned.parquet"
    table = clean_rows(1, 10, revenue=-1.0)
    with pq.ParquetWriter(path, table.schema, write_statistics=False) as writer:
        writer.write_table(table)
    result = check_cleaned_schema(path, COLUMNS, 10)
    assert not result.passed and "revenue" in result.metadata["problems"].value
