"""Writing result files: how numbers and text are written, and atomic placement.

Every file is written under a temporary name in its final folder and renamed
into place only when complete (:func:`~.files.atomic_path`), so a reader never
sees half a result and a failed run leaves nothing that looks like one.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..vocabulary import CLEANED_MODEL_COLUMNS, NUMERIC_COLUMNS, REVENUE_PER_UNIT, SOURCE_ROW
from .files import atomic_path
from .reading.reference import csv_field_limit
from .rules import plain_decimal_mask

# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def format_float(value: float) -> str:
    """Shortest text that reads back to the same 64-bit float (Python's ``repr``)."""
    return repr(float(value))


# Where Arrow's float-to-text cast lays numbers out as Python's repr does (fixed notation, the same
# shortest digits, checked on 15 million values by the tests' differential run); outside it, repr.
_ARROW_LAYOUT_MIN, _ARROW_LAYOUT_MAX = 1e-4, 1e15


def format_floats(values) -> list[str]:
    """:func:`format_float` of every value, made by Arrow in C++ where its text is the same.

    ``repr`` per value was most of the time spent writing ``anomalies.csv``
    (six numbers a row). Arrow writes ``480`` where Python writes ``480.0``
    (the ``.0`` is added here) and lays out very small and very large
    numbers differently: those, and infinities, are left to ``repr``.
    """
    numbers = np.asarray(values, dtype="float64")
    text = pc.cast(pa.array(numbers), pa.string())
    magnitude = np.abs(numbers)
    with np.errstate(invalid="ignore"):
        same_layout = ((magnitude >= _ARROW_LAYOUT_MIN) & (magnitude < _ARROW_LAYOUT_MAX)) | (numbers == 0)
    same_layout &= ~np.asarray(pc.match_substring(text, "e"), dtype=bool)
    pointed = pc.if_else(pc.match_substring(text, "."), text, pc.binary_join_element_wise(text, ".0", ""))
    cells = pointed.to_pylist()
    for i in np.flatnonzero(~same_layout):
        cells[i] = format_float(numbers[i])
    return cells


def guard_formulas(cells: pd.Series) -> pd.Series:
    """Prefix ``'`` to text that a spreadsheet would run as a formula.

    Text shaped like a plain decimal number (``-5``, ``+1e3``, also ``-1e309``:
    the shape decides, not the value) is data, not a formula, and stays as it is.
    """
    cells = cells.astype("str")
    risky = cells.str.startswith(FORMULA_PREFIXES)
    if not risky.any():
        return cells
    risky &= ~plain_decimal_mask(cells)
    return cells.where(~risky, "'" + cells)


def format_columns(
    frame: pd.DataFrame, integer_columns: Sequence[str], number_columns: Sequence[str]
) -> tuple[list[list[str | int]], np.ndarray]:
    """Every column's cells as SPEC section 3 writes them, as Python lists (what ``csv.writer`` takes).

    Also which rows hold a text cell with a carriage return that ``csv`` would not quote (see
    :class:`CsvTableWriter`).
    """
    columns = []
    carriage_returns = np.zeros(len(frame), dtype=bool)
    for name in frame.columns:
        column = frame[name]
        if name in integer_columns:
            columns.append(column.to_numpy(dtype="int64").tolist())  # an int is written as its digits
        elif name in number_columns:
            columns.append(format_floats(column.to_numpy(dtype="float64")))
        else:
            text = guard_formulas(column)
            carriage_returns |= _unquoted_carriage_return(text)
            columns.append(text.tolist())
    return columns, carriage_returns


def _unquoted_carriage_return(text: pd.Series) -> np.ndarray:
    """Cells holding a ``\\r`` but no comma, quote or ``\\n`` (which get them quoted anyway)."""
    found = text.str.contains("\r", regex=False).to_numpy(dtype=bool)
    if found.any():
        return found & ~text.str.contains('[\n,"]', regex=True).to_numpy(dtype=bool)
    return found


class CsvTableWriter:
    """Streams formatted rows into one CSV file (UTF-8, no BOM, comma, header row).

    A field is quoted when it holds a comma, a quote or a line break. Python's
    ``csv`` writer quotes a ``\n`` (the line terminator) but not a bare ``\r``,
    which a reader then takes for the end of the record: a row (or header)
    with such a cell is written with every field quoted, so it reads back as written.

    Formatting costs per call as much as per row (a few pandas calls per
    column), so a writer given ``batch_rows`` holds small frames until that
    many rows, or ``batch_bytes`` of them, wait and formats them as one.
    ``close`` writes what waits; ``abandon`` (the file will be thrown away) does not.
    """

    def __init__(
        self, path: Path, header: Sequence[str], integer_columns=(), number_columns=(),
        *, batch_rows: int = 0, batch_bytes: int = 0,
    ):
        self._file = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._quoting_all = csv.writer(self._file, lineterminator="\n", quoting=csv.QUOTE_ALL)
        names = pd.Series(list(header), dtype="str")
        (self._quoting_all if _unquoted_carriage_return(names).any() else self._writer).writerow(header)
        self._header = list(header)
        self._integers = tuple(integer_columns)
        self._numbers = tuple(number_columns)
        self._batch_rows, self._batch_bytes = batch_rows, batch_bytes
        self._waiting: list[pd.DataFrame] = []
        self._waiting_rows = self._waiting_bytes = 0

    def write(self, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        if not self._batch_rows:
            self._write_now(frame)
            return
        self._waiting.append(frame)
        self._waiting_rows += len(frame)
        if self._batch_bytes:
            self._waiting_bytes += int(frame.memory_usage(index=False, deep=True).sum())
        if self._waiting_rows >= self._batch_rows or (self._batch_bytes and self._waiting_bytes >= self._batch_bytes):
            self.flush()

    def flush(self) -> None:
        """Write the rows waiting in the batch."""
        if self._waiting:
            waiting = self._waiting
            self._waiting, self._waiting_rows, self._waiting_bytes = [], 0, 0
            self._write_now(pd.concat(waiting, ignore_index=True) if len(waiting) > 1 else waiting[0])

    def _write_now(self, frame: pd.DataFrame) -> None:
        # Whole columns to Python lists (one C call each), not rows through pandas:
        # itertuples over Arrow-backed text cost a Python call per cell.
        columns, carriage_returns = format_columns(frame[self._header], self._integers, self._numbers)
        if not carriage_returns.any():
            self._writer.writerows(zip(*columns))
            return
        rows = list(zip(*columns))
        start = 0
        for quoted in np.flatnonzero(carriage_returns):
            self._writer.writerows(rows[start:quoted])
            self._quoting_all.writerow(rows[quoted])
            start = quoted + 1
        self._writer.writerows(rows[start:])

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._file.close()

    def abandon(self) -> None:
        """Close without writing what waits: the file is being discarded."""
        self._waiting = []
        self._file.close()


def count_csv_records(path: Path) -> int:
    """Data records of a CSV result file (the header not counted), whatever its cells' length."""
    with path.open(encoding="utf-8", newline="") as f, csv_field_limit(sys.maxsize):
        return max(sum(1 for _ in csv.reader(f)) - 1, 0)


def write_csv(path: Path, frame: pd.DataFrame, integer_columns=(), number_columns=()) -> Path:
    """Write one whole CSV result atomically."""
    with atomic_path(path) as partial:
        writer = CsvTableWriter(partial, list(frame.columns), integer_columns, number_columns)
        try:
            writer.write(frame)
        finally:
            writer.close()
    return path


def cleaned_arrow_schema(names: Iterable[str]) -> pa.Schema:
    fields = [pa.field(SOURCE_ROW, pa.int64(), nullable=False)]
    for name in names:
        fields.append(pa.field(name, pa.float64() if name in NUMERIC_COLUMNS else pa.string(), nullable=False))
    fields.append(pa.field(REVENUE_PER_UNIT, pa.float64(), nullable=False))
    return pa.schema(fields)


# A dictionary page pays only for a column whose values repeat (regions, dates, categories); for one of
# nearly all-different values (IDs, names, amounts) it is built and thrown away in every row group.
# Decided from the first chunk written: a dictionary where at most this share of its values differ.
DICTIONARY_MAX_DISTINCT_SHARE = 0.5
# Row-group statistics only where the schema check reads them (cleaned.statistics_problems, the
# model's columns): on a 21-column export, minima and maxima of the carried text columns were a
# quarter of the writing time.
# zstd's level 1 wrote the wide benchmark export's clean rows in 1.7 s instead of 3.0 s, no larger.
ZSTD_LEVEL = 1


# Rows of the first chunk the decision looks at: counting the distinct values of every column of a
# whole first chunk (100,000 rows of a narrow file) took 20-70 ms of a 1M-row run.
DICTIONARY_SAMPLE_ROWS = 16_384


def dictionary_columns(table: pa.Table) -> list[str]:
    """The columns of ``table`` whose values repeat enough for a dictionary page (judged on its first rows)."""
    sample = table.slice(0, DICTIONARY_SAMPLE_ROWS)
    limit = DICTIONARY_MAX_DISTINCT_SHARE * sample.num_rows
    return [name for name in sample.column_names if pc.count_distinct(sample.column(name)).as_py() <= limit]


def parquet_writer(path: Path, schema: pa.Schema, dictionary: list[str]) -> pq.ParquetWriter:
    """The writer of cleaned rows (and of the rows set aside for the anomaly report)."""
    return pq.ParquetWriter(
        path,
        schema,
        compression="zstd",
        compression_level=ZSTD_LEVEL,
        use_dictionary=dictionary,
        write_statistics=[name for name in schema.names if name in CLEANED_MODEL_COLUMNS],
    )


class ParquetTableWriter:
    """Appends clean-row chunks to one parquet file as row groups; the first chunk sets the encodings."""

    def __init__(self, path: Path, schema: pa.Schema):
        self._path = path
        self._schema = schema
        self._writer: pq.ParquetWriter | None = None

    def write(self, frame: pd.DataFrame | pa.Table) -> None:
        if len(frame):
            if isinstance(frame, pa.Table):
                table = frame.select(self._schema.names).cast(self._schema)
            else:
                table = pa.Table.from_pandas(frame[self._schema.names], schema=self._schema, preserve_index=False)
            if self._writer is None:
                self._writer = parquet_writer(self._path, self._schema, dictionary_columns(table))
            self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is None:  # no rows: still a valid file, with the schema
            self._writer = parquet_writer(self._path, self._schema, [])
        self._writer.close()

