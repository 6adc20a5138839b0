"""The region summary: ``region_summary.csv``, one row per region of the clean rows.

Each row group of ``cleaned.parquet`` is reduced to per-region partial sums
by Arrow as it is read, so memory depends on the number of regions, not of
rows.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..vocabulary import REGION_SUMMARY_FILE, REQUIRED_COLUMNS, SUMMARY_COLUMNS
from .cleaned import iter_row_groups
from .outputs import write_csv


def _arrow_partials(path: Path):
    """Per-region partial sums of each parquet batch, grouped by Arrow (no pandas rows)."""
    for table in iter_row_groups(path, list(REQUIRED_COLUMNS)):
        if table.num_rows == 0:
            continue
        grouped = table.group_by("region", use_threads=False).aggregate(
            [("revenue", "count"), ("revenue", "sum"), ("quantity", "sum"), ("discount", "sum")]
        )
        yield pd.DataFrame(
            {
                "row_count": grouped.column("revenue_count").to_numpy(),
                "revenue_sum": grouped.column("revenue_sum").to_numpy(),
                "quantity_sum": grouped.column("quantity_sum").to_numpy(),
                "discount_sum": grouped.column("discount_sum").to_numpy(),
            },
            index=pd.Index(grouped.column("region").to_pylist(), dtype="str", name="region"),
        )


def summarize_partials(partials) -> pd.DataFrame:
    """Add up per-region partial sums and finish the summary (sorted by code point)."""
    partials = [p for p in partials if len(p)]
    if not partials:
        return pd.DataFrame(
            {
                "region": pd.Series([], dtype="str"),
                "row_count": pd.Series([], dtype="int64"),
                **{c: pd.Series([], dtype="float64") for c in SUMMARY_COLUMNS[2:]},
            }
        )[list(SUMMARY_COLUMNS)]
    totals = pd.concat(partials).groupby(level=0, sort=False).sum()
    # Python's str ordering is code-point order, independent of any locale.
    totals = totals.loc[sorted(totals.index)]
    return pd.DataFrame(
        {
            "region": pd.Series(totals.index, dtype="str"),
            "row_count": totals["row_count"].to_numpy(dtype="int64"),
            "revenue_sum": totals["revenue_sum"].to_numpy(),
            "revenue_mean": (totals["revenue_sum"] / totals["row_count"]).to_numpy(),
            "quantity_sum": totals["quantity_sum"].to_numpy(),
            "discount_mean": (totals["discount_sum"] / totals["row_count"]).to_numpy(),
        }
    )


def region_summary_of(cleaned_parquet: Path) -> pd.DataFrame:
    """The summary of a cleaned parquet file, read in batches (memory: regions, not rows)."""
    return summarize_partials(_arrow_partials(cleaned_parquet))


def write_region_summary(cleaned_path: Path, out_dir: Path) -> tuple[pd.DataFrame, Path]:
    """Summarize the clean rows and write ``region_summary.csv`` into ``out_dir``."""
    summary = region_summary_of(cleaned_path)
    path = write_csv(
        out_dir / REGION_SUMMARY_FILE,
        summary,
        integer_columns=("row_count",),
        number_columns=("revenue_sum", "revenue_mean", "quantity_sum", "discount_mean"),
    )
    return summary, path
