"""Reading ``cleaned.parquet`` back, a row group at a time, and checking it against its model.

The summary, the anomaly report and the schema check all read the clean rows
from the parquet the cleaner wrote, row group by row group rather than with
``ParquetFile.iter_batches``: the batch reader reads ahead, and its memory
grew with the file (about +250 MB over a 30M-row file here); one row group
at a time stays flat (the cleaner writes one row group per chunk, a few MB).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from ..vocabulary import REVENUE_PER_UNIT, SOURCE_ROW
from .outputs import cleaned_arrow_schema
from .parallel import map_in_order
from .schema import CleanSalesRows


def iter_row_groups(path: Path, columns: list[str] | None = None) -> Iterator[pa.Table]:
    """The parquet file's row groups as Arrow tables, in file order, one at a time."""
    parquet = pq.ParquetFile(path)
    for i in range(parquet.num_row_groups):
        yield parquet.read_row_group(i, columns=columns, use_threads=False)


def read_row_group(path: Path, index: int, columns: list[str] | None = None) -> pa.Table:
    """One row group, from a reader of its own (safe to call from several threads at once)."""
    return pq.ParquetFile(path).read_row_group(index, columns=columns, use_threads=False)


def row_group_count(path: Path) -> int:
    return pq.ParquetFile(path).num_row_groups


def file_columns(cleaned_path: Path) -> list[str]:
    """The file's own columns (canonical and carried) as stored in the parquet."""
    return [n for n in pq.read_schema(cleaned_path).names if n not in (SOURCE_ROW, REVENUE_PER_UNIT)]


def schema_problems(cleaned_path: Path, columns: tuple[str, ...]) -> list[str]:
    """What is wrong with ``cleaned.parquet``: its Arrow schema, or the first row group failing CleanSalesRows."""
    expected = cleaned_arrow_schema(columns)
    actual = pq.read_schema(cleaned_path)
    if actual.names != expected.names or actual.types != expected.types:
        return [f"schema is {actual.names} {actual.types}, expected {expected.names} {expected.types}"]
    # Only the columns the model checks: carried text would cost time and prove nothing.
    checked = [name for name in CleanSalesRows.to_schema().columns if name in actual.names]

    def problem_in(group: int) -> str | None:
        try:
            CleanSalesRows.validate(read_row_group(cleaned_path, group, checked).to_pandas())
        except Exception as error:  # pandera's SchemaError: report it, do not crash the step
            return str(error).splitlines()[0]
        return None

    groups = range(row_group_count(cleaned_path))
    return list(itertools.islice(filter(None, map_in_order(problem_in, groups)), 1))
