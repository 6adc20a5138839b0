"""Reading ``cleaned.parquet`` back, a row group at a time, and checking it against its model.

The cleaner validates every clean row with ``CleanSalesRows`` (in batches,
:mod:`.validation`) before it places the file, and counts the rows it
validated. The schema check does not validate the rows again: it checks
the written file's Arrow schema, that it holds exactly the rows the cleaner
validated, and the model's bounds against the footer statistics of every row
group (minima and maxima, null counts, ``source_row`` increasing from group
to group). Only a file whose rows no cleaner vouched
for (or a row group without statistics) is read and validated row by row.

The summary, the anomaly report and the schema check all read the clean rows
from the parquet the cleaner wrote, row group by row group rather than with
``ParquetFile.iter_batches``: the batch reader reads ahead, and its memory
grew with the file (about +250 MB over a 30M-row file here); one row group
at a time stays flat (the cleaner writes one row group per chunk, a few MB).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from ..vocabulary import CLEANED_MODEL_COLUMNS, NUMERIC_COLUMNS, REVENUE_PER_UNIT, SOURCE_ROW
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


def read_rows(path: Path, start: int, count: int) -> pa.Table:
    """Rows ``start`` to ``start + count`` of the file, reading only the row groups that hold them."""
    parquet = pq.ParquetFile(path)
    parts, first = [], 0
    for group in range(parquet.num_row_groups):
        rows = parquet.metadata.row_group(group).num_rows
        if first < start + count and start < first + rows:
            table = parquet.read_row_group(group, use_threads=False)
            low = max(start - first, 0)
            parts.append(table.slice(low, min(start + count, first + rows) - first - low))
        first += rows
    return pa.concat_tables(parts) if parts else parquet.schema_arrow.empty_table()


def row_group_count(path: Path) -> int:
    return pq.ParquetFile(path).num_row_groups


def file_columns(cleaned_path: Path) -> list[str]:
    """The file's own columns (canonical and carried) as stored in the parquet."""
    return [n for n in pq.read_schema(cleaned_path).names if n not in (SOURCE_ROW, REVENUE_PER_UNIT)]


# Column -> (lowest allowed minimum, strictly above?, highest allowed maximum): CleanSalesRows' bounds.
STATISTICS_BOUNDS = {
    SOURCE_ROW: (0, True, math.inf),
    "revenue": (0.0, False, math.inf),
    "quantity": (0.0, True, math.inf),
    "discount": (0.0, False, 1.0),
    REVENUE_PER_UNIT: (0.0, False, math.inf),
}


def _statistics_problem(name: str, stats) -> str | None:
    if stats is None or not stats.has_min_max or stats.null_count is None:
        return "no statistics"
    if stats.null_count:
        return f"{name}: {stats.null_count} null value(s)"
    low, strictly, high = STATISTICS_BOUNDS.get(name, (None, False, None))
    if name == "region" and stats.min == "":
        return "region: an empty region"
    if low is not None and (stats.min < low or (strictly and stats.min == low) or stats.max > high):
        return f"{name}: values from {stats.min} to {stats.max} break its bounds"
    if name in NUMERIC_COLUMNS and not math.isfinite(stats.max):
        return f"{name}: a value that is not finite ({stats.max})"
    return None


def statistics_problems(cleaned_path: Path) -> tuple[list[str], list[int]]:
    """The model's bounds against each row group's footer statistics; also the groups without statistics."""
    metadata = pq.ParquetFile(cleaned_path).metadata
    index = {metadata.schema.column(i).name: i for i in range(metadata.num_columns)}
    problems: list[str] = []
    unchecked: list[int] = []
    last_row = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for name in CLEANED_MODEL_COLUMNS:
            problem = _statistics_problem(name, row_group.column(index[name]).statistics)
            if problem == "no statistics":
                unchecked.append(group)
                break
            if problem:
                return [f"row group {group}: {problem}"], unchecked
        else:
            rows = row_group.column(index[SOURCE_ROW]).statistics
            if rows.min <= last_row:  # unique across groups: each group after the one before
                problems.append(f"row group {group}: source_row {rows.min} repeats or goes back (after {last_row})")
                return problems, unchecked
            last_row = rows.max
    return problems, unchecked


def schema_problems(cleaned_path: Path, columns: tuple[str, ...], validated_rows: int | None = None) -> list[str]:
    """What is wrong with ``cleaned.parquet``: its Arrow schema, its rows against CleanSalesRows.

    ``validated_rows`` is the number of rows the cleaner validated with
    CleanSalesRows as it wrote them. When given, the rows are not validated
    again: the file must hold exactly that many, and every row group's
    statistics must lie within the model's bounds. Without it (a file of
    unknown origin) every row group is validated with the model.
    """
    expected = cleaned_arrow_schema(columns)
    actual = pq.read_schema(cleaned_path)
    if actual.names != expected.names or actual.types != expected.types:
        return [f"schema is {actual.names} {actual.types}, expected {expected.names} {expected.types}"]
    groups: list[int] | range = range(row_group_count(cleaned_path))
    if validated_rows is not None:
        written = pq.ParquetFile(cleaned_path).metadata.num_rows
        if written != validated_rows:
            return [f"the file holds {written} rows; the cleaner validated {validated_rows}"]
        problems, groups = statistics_problems(cleaned_path)
        if problems:
            return problems
    # Only the columns the model checks: carried text would cost time and prove nothing.
    checked = [name for name in CleanSalesRows.to_schema().columns if name in actual.names]

    def problem_in(group: int) -> str | None:
        try:
            CleanSalesRows.validate(read_row_group(cleaned_path, group, checked).to_pandas())
        except Exception as error:  # pandera's SchemaError: report it, do not crash the step
            return str(error).splitlines()[0]
        return None

    return list(itertools.islice(filter(None, map_in_order(problem_in, groups)), 1))
