"""The region summary: one row per region, code-point order, sums and means, from the cleaner's totals or the rows."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from datatasker_pipeline.processing.options import load_options
from datatasker_pipeline.processing.pipeline import clean_file
from datatasker_pipeline.processing.summary import (
    RegionTotals,
    region_partials,
    region_summary_of,
    write_region_summary,
)
from datatasker_pipeline.vocabulary import REGION_TOTALS_FILE, SUMMARY_COLUMNS

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


def test_totals_added_while_cleaning_are_the_summary_of_the_written_rows(tmp_path, make_csv):
    """The cleaner's per-chunk sums (saved for the summary step) equal the summary read back from cleaned.parquet."""
    regions = ["East", "West", "Île", "north", "東京"]
    lines = ["region,revenue,quantity,discount"]
    lines += [f"{regions[i % 5]},{(i * 37) % 1000 / 8},{1 + i % 6},{(i % 9) / 10}" for i in range(4000)]
    lines += ["West,-1,1,0", ",5,1,0"]  # rejected rows add nothing to the sums
    out = tmp_path / "run"
    out.mkdir()
    cleaning = clean_file(make_csv("\n".join(lines) + "\n"), out, load_options(None, {}), chunk_records=300)
    saved = RegionTotals.saved_in(out)
    assert saved is not None and (out / REGION_TOTALS_FILE).exists()
    from_rows = region_summary_of(cleaning.cleaned_path)
    pd.testing.assert_frame_equal(saved.summary(), from_rows)
    pd.testing.assert_frame_equal(cleaning.region_totals.summary(), from_rows)
    assert from_rows["row_count"].sum() == 4000

    written, _ = write_region_summary(cleaning.cleaned_path, out, saved)
    pd.testing.assert_frame_equal(written, from_rows)
    assert not (out / REGION_TOTALS_FILE).exists()  # used once, then deleted
    assert RegionTotals.saved_in(out) is None  # a summary step run again reads cleaned.parquet


def test_totals_of_many_regions_arriving_over_many_chunks():
    """New regions keep arriving: each gets its slot, and every sum is the sum of its rows."""
    rows = pd.DataFrame({
        "region": [f"r{(i * 7) % 500:03d}" for i in range(3000)],
        "revenue": [i % 7 * 0.5 for i in range(3000)],
        "quantity": [1.0 + i % 3 for i in range(3000)],
        "discount": [0.25] * 3000,
    })
    totals = RegionTotals()
    for start in range(0, len(rows), 50):
        totals.add(region_partials(pa.Table.from_pandas(rows[start:start + 50], preserve_index=False)))
    expected = rows.groupby("region").agg(
        row_count=("revenue", "size"), revenue_sum=("revenue", "sum"), quantity_sum=("quantity", "sum"))
    summary = totals.summary().set_index("region")
    assert len(summary) == 500 and summary.index.tolist() == sorted(expected.index)
    # Halves and whole numbers: every sum is exact whatever the order of addition.
    assert summary["row_count"].tolist() == expected["row_count"].tolist()
    assert summary["revenue_sum"].tolist() == expected["revenue_sum"].tolist()
    assert summary["quantity_sum"].tolist() == expected["quantity_sum"].tolist()
    assert (summary["discount_mean"] == 0.25).all()


def test_saved_totals_of_no_clean_rows_give_an_empty_summary(tmp_path):
    RegionTotals().save(tmp_path)
    summary = RegionTotals.saved_in(tmp_path).summary()
    assert summary.empty and tuple(summary.columns) == SUMMARY_COLUMNS
