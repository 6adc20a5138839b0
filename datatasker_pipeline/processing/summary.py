"""The region summary: ``region_summary.csv``, one row per region of the clean rows.

Each chunk of clean rows is reduced to per-region partial sums by Arrow
(:func:`region_partials`), and :class:`RegionTotals` adds them up as they
come, so memory depends on the number of regions, not of rows. The cleaner
does this for every chunk as it cleans it, on the cleaning threads, and
saves the totals beside its work (:data:`REGION_TOTALS_FILE`): the summary
step then reads those few rows instead of the whole cleaned file again. A
summary step re-executed without them reads ``cleaned.parquet`` row group
by row group, for the same reduction.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..vocabulary import REGION_SUMMARY_FILE, REGION_TOTALS_FILE, REQUIRED_COLUMNS, SUMMARY_COLUMNS
from .cleaned import iter_row_groups
from .outputs import write_csv

# Arrow's names for the aggregates, used in the saved totals too.
_TOTALS_SCHEMA = pa.schema(
    [
        ("revenue_count", pa.int64()),
        ("revenue_sum", pa.float64()),
        ("quantity_sum", pa.float64()),
        ("discount_sum", pa.float64()),
        ("region", pa.string()),
    ]
)
_SUMS = _TOTALS_SCHEMA.names[1:-1]


def region_partials(table: pa.Table) -> pa.Table:
    """Per-region row count and sums of revenue, quantity and discount of one chunk of clean rows (Arrow)."""
    return table.group_by("region", use_threads=False).aggregate(
        [("revenue", "count"), ("revenue", "sum"), ("quantity", "sum"), ("discount", "sum")]
    )


class RegionTotals:
    """Per-region row counts and sums, added up chunk by chunk in file order (memory: regions, not rows).

    Each region has a slot in a few numpy arrays, in the order the regions
    came. A chunk's regions find their slots with one Arrow lookup
    (``index_in``, which lets go of the GIL), not a Python loop over names:
    this runs on the thread that also cuts the file into blocks, and with
    thousands of regions a per-name loop there held up the cleaning threads.
    The lookup costs the regions known so far plus the chunk's. Nothing
    long-lived is made per chunk: holding each chunk's partial sums as small
    frames until the end left 50 MB more peak memory at 10M rows (long-lived
    small allocations pin freed pages of the heap).
    """

    def __init__(self) -> None:
        self._regions = pa.array([], pa.string())
        self._counts = np.zeros(0, dtype="int64")
        self._sums = np.zeros((0, len(_SUMS)), dtype="float64")
        self._saved: Path | None = None

    def add(self, partials: pa.Table) -> None:
        """One chunk's :func:`region_partials` (each region once)."""
        if not partials.num_rows:
            return
        names = partials.column("region").combine_chunks().cast(pa.string())
        found = pc.index_in(names, value_set=self._regions)
        slots = pc.fill_null(found, -1).to_numpy().astype(np.intp)
        if found.null_count:
            first_seen = names.filter(pc.is_null(found))
            slots[slots < 0] = np.arange(len(self._regions), len(self._regions) + len(first_seen))
            self._regions = pa.concat_arrays([self._regions, first_seen])
        if len(self._regions) > len(self._counts):
            capacity = max(len(self._regions), 2 * len(self._counts))
            self._counts = np.concatenate([self._counts, np.zeros(capacity - len(self._counts), "int64")])
            self._sums = np.concatenate([self._sums, np.zeros((capacity - len(self._sums), len(_SUMS)))])
        self._counts[slots] += partials.column("revenue_count").to_numpy()
        for i, name in enumerate(_SUMS):
            self._sums[slots, i] += partials.column(name).to_numpy()

    def _columns(self) -> dict[str, np.ndarray]:
        """The count and each sum, one value per region in the order the regions came."""
        regions = len(self._regions)
        return {"revenue_count": self._counts[:regions], **{n: self._sums[:regions, i] for i, n in enumerate(_SUMS)}}

    def totals(self) -> pd.DataFrame:
        """One row per region (the index), in the order the regions came."""
        return pd.DataFrame(self._columns(), index=pd.Index(self._regions.to_pylist(), dtype="str", name="region"))

    def summary(self) -> pd.DataFrame:
        """The summary rows, sorted by region in code-point order."""
        return summarize(self.totals())

    def save(self, folder: Path) -> Path:
        """Write the totals into ``folder``, for a summary made by another step; returns the file."""
        table = pa.table({**self._columns(), "region": self._regions}, schema=_TOTALS_SCHEMA)
        self._saved = folder / REGION_TOTALS_FILE
        pq.write_table(table, self._saved)
        return self._saved

    @classmethod
    def saved_in(cls, folder: Path) -> RegionTotals | None:
        """What :meth:`save` wrote into ``folder``; None when there is nothing readable there."""
        path = folder / REGION_TOTALS_FILE
        try:
            table = pq.read_table(path, schema=_TOTALS_SCHEMA)
        except (OSError, pa.ArrowInvalid):
            return None
        totals = cls()
        totals.add(table)
        totals._saved = path
        return totals

    def discard(self) -> None:
        """Delete the saved totals (once the summary made from them is written)."""
        if self._saved is not None:
            with contextlib.suppress(OSError):
                self._saved.unlink()


def summarize(totals: pd.DataFrame) -> pd.DataFrame:
    """The summary rows of per-region totals (index: region), sorted by code point."""
    # Python's str ordering is code-point order, independent of any locale.
    totals = totals.loc[sorted(totals.index)]
    count = totals["revenue_count"].to_numpy(dtype="int64")
    return pd.DataFrame(
        {
            "region": pd.Series(totals.index, dtype="str"),
            "row_count": count,
            "revenue_sum": totals["revenue_sum"].to_numpy(dtype="float64"),
            "revenue_mean": totals["revenue_sum"].to_numpy(dtype="float64") / count,
            "quantity_sum": totals["quantity_sum"].to_numpy(dtype="float64"),
            "discount_mean": totals["discount_sum"].to_numpy(dtype="float64") / count,
        },
        columns=list(SUMMARY_COLUMNS),
    )


def region_summary_of(cleaned_parquet: Path) -> pd.DataFrame:
    """The summary of a cleaned parquet file, read row group by row group (memory: regions, not rows)."""
    totals = RegionTotals()
    for table in iter_row_groups(cleaned_parquet, list(REQUIRED_COLUMNS)):
        totals.add(region_partials(table))
    return totals.summary()


def write_region_summary(
    cleaned_path: Path, out_dir: Path, totals: RegionTotals | None = None
) -> tuple[pd.DataFrame, Path]:
    """Write ``region_summary.csv`` into ``out_dir``: from the cleaner's ``totals``, else from the clean rows."""
    summary = totals.summary() if totals is not None else region_summary_of(cleaned_path)
    path = write_csv(
        out_dir / REGION_SUMMARY_FILE,
        summary,
        integer_columns=("row_count",),
        number_columns=("revenue_sum", "revenue_mean", "quantity_sum", "discount_mean"),
    )
    if totals is not None:
        totals.discard()
    return summary, path
