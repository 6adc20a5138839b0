"""The region summary: SPEC section 3, ``region_summary.csv``."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd
import pyarrow.parquet as pq

SUMMARY_COLUMNS = ["region", "row_count", "revenue_sum", "revenue_mean", "quantity_sum", "discount_mean"]
SUMMARY_INPUT_COLUMNS = ["region", "revenue", "quantity", "discount"]


def summarize_regions(batches: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """One row per region over all clean rows, sorted by region in code-point order.

    Batches are reduced to per-region partial sums as they arrive, so memory
    depends on the number of regions, not of rows.
    """
    partials = []
    for batch in batches:
        if len(batch):
            grouped = batch.groupby("region", sort=False).agg(
                row_count=("revenue", "size"),
                revenue_sum=("revenue", "sum"),
                quantity_sum=("quantity", "sum"),
                discount_sum=("discount", "sum"),
            )
            partials.append(grouped)
    if not partials:
        return pd.DataFrame(
            {
                "region": pd.Series([], dtype="str"),
                "row_count": pd.Series([], dtype="int64"),
                **{c: pd.Series([], dtype="float64") for c in SUMMARY_COLUMNS[2:]},
            }
        )[SUMMARY_COLUMNS]
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


def iter_parquet_batches(path: Path, columns: list[str] | None = None, batch_rows: int = 262_144):
    """Record batches of a parquet file as pandas frames, in file order."""
    parquet = pq.ParquetFile(path)
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
        yield batch.to_pandas()


def region_summary_of(cleaned_parquet: Path) -> pd.DataFrame:
    return summarize_regions(iter_parquet_batches(cleaned_parquet, SUMMARY_INPUT_COLUMNS))
