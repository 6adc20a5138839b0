"""The region summary: one row per region, code-point order, sums and means."""

from __future__ import annotations

import pandas as pd

from datatasker_pipeline.summary import SUMMARY_COLUMNS, summarize_regions


def frame(rows):
    return pd.DataFrame(rows, columns=["region", "revenue", "quantity", "discount"]).astype(
        {"region": "str", "revenue": "float64", "quantity": "float64", "discount": "float64"}
    )


def test_sorted_by_code_point_not_locale():
    regions = ["東京", "west", "Île-de-France", "West", "East"]
    summary = summarize_regions([frame([(r, 1, 1, 0) for r in regions])])
    assert summary["region"].tolist() == ["East", "West", "west", "Île-de-France", "東京"]


def test_sums_and_means_over_batches_match_one_batch():
    rows = [("East", 10, 2, 0.1), ("West", 5, 1, 0.0), ("East", 30, 3, 0.3), ("West", 1.5, 4, 1.0)]
    split = summarize_regions([frame(rows[:1]), frame(rows[1:3]), frame([]), frame(rows[3:])])
    whole = summarize_regions([frame(rows)])
    pd.testing.assert_frame_equal(split, whole)
    assert list(whole.columns) == SUMMARY_COLUMNS
    east = whole.iloc[0].to_dict()
    assert east == {"region": "East", "row_count": 2, "revenue_sum": 40.0, "revenue_mean": 20.0,
                    "quantity_sum": 5.0, "discount_mean": 0.2}


def test_no_clean_rows_gives_an_empty_summary_with_columns():
    summary = summarize_regions([])
    assert summary.empty and list(summary.columns) == SUMMARY_COLUMNS
