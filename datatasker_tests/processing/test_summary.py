"""The region summary: one row per region, code-point order, sums and means, read row group by row group."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from datatasker_pipeline.processing.summary import region_summary_of
from datatasker_pipeline.vocabulary import SUMMARY_COLUMNS

SCHEMA = pa.schema([("region", pa.string()), ("revenue", pa.float64()), ("quantity", pa.float64()), ("discount", pa.float64())])


def cleaned(tmp_path, *row_groups):
    """A cleaned.parquet whose row groups are the given lists of (region, revenue, quantity, discount)."""
    path = tmp_path / f"cleaned{len(list(tmp_path.iterdir()))}.parquet"
    with pq.ParquetWriter(path, SCHEMA) as writer:
        for rows in row_groups:
            writer.write_table(pa.Table.from_pylist([dict(zip(SCHEMA.names, r)) for r in rows], schema=SCHEMA))
    return path


def test_sorted_by_code_point_not_locale(tmp_path):
    regions = ["東京", "west", "Île-de-France", "West", "East"]
    summary = region_summary_of(cleaned(tmp_path, [(r, 1, 1, 0) for r in regions]))
    assert summary["region"].tolist() == ["East", "West", "west", "Île-de-France", "東京"]


def test_sums_and_means_over_row_groups_match_one_row_group(tmp_path):
    rows = [("East", 10, 2, 0.1), ("West", 5, 1, 0.0), ("East", 30, 3, 0.3), ("West", 1.5, 4, 1.0)]
    split = region_summary_of(cleaned(tmp_path, rows[:1], rows[1:3], [], rows[3:]))
    whole = region_summary_of(cleaned(tmp_path, rows))
    pd.testing.assert_frame_equal(split, whole)
    assert tuple(whole.columns) == SUMMARY_COLUMNS
    east = whole.iloc[0].to_dict()
    assert east == {"region": "East", "row_count": 2, "revenue_sum": 40.0, "revenue_mean": 20.0,
                    "quantity_sum": 5.0, "discount_mean": 0.2}


def test_no_clean_rows_gives_an_empty_summary_with_columns(tmp_path):
    summary = region_summary_of(cleaned(tmp_path))
    assert summary.empty and tuple(summary.columns) == SUMMARY_COLUMNS
