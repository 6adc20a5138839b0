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
    """Shortest text that reads back to the same 64-bit float."""
    return repr(float(value))


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


def format_frame(frame: pd.DataFrame, integer_columns: Sequence[str], number_columns: Sequence[str]) -> pd.DataFrame:
    """Every cell as the text SPEC section 3 says it is written as."""
    text = {}
    for name in frame.columns:
        column = frame[name]
        if name in integer_columns:
            text[name] = column.astype("int64").astype("str")
        elif name in number_columns:
            text[name] = pd.Series([format_float(v) for v in column.to_numpy()], dtype="str", index=frame.index)
        else:
            text[name] = guard_formulas(column)
    return pd.DataFrame(text, index=frame.index)


class CsvTableWriter:
    """Streams formatted rows into one CSV file (UTF-8, no BOM, comma, header row)."""

    def __init__(self, path: Path, header: Sequence[str], integer_columns=(), number_columns=()):
        self._file = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(header)
        self._header = list(header)
        self._integers = tuple(integer_columns)
        self._numbers = tuple(number_columns)

    def write(self, frame: pd.DataFrame) -> None:
        if len(frame):
            cells = format_frame(frame[self._header], self._integers, self._numbers)
            # Whole columns to Python lists (one C call each), not rows through pandas:
            # itertuples over Arrow-backed text cost a Python call per cell.
            self._writer.writerows(zip(*(cells[name].tolist() for name in cells.columns)))

    def close(self) -> None:
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


def dictionary_columns(table: pa.Table) -> list[str]:
    """The columns of ``table`` whose values repeat enough for a dictionary page."""
    limit = DICTIONARY_MAX_DISTINCT_SHARE * table.num_rows
    return [name for name in table.column_names if pc.count_distinct(table.column(name)).as_py() <= limit]


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

