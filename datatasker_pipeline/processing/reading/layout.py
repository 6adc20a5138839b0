"""What a file's columns are, and the shapes records travel in (SPEC section 1).

The header decides the :class:`ColumnLayout`: the four required columns under
their canonical names, every other column carried under its trimmed name.
Records then travel in chunks: :class:`RecordChunk` (lists of cells, as the
reference parser gives them) or :class:`ColumnChunk` (one Arrow array per
column, as the cleaner takes them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ...vocabulary import (
    ADDED_COLUMNS,
    DEFAULT_MAX_COLUMNS,
    DEFAULT_MAX_FIELD_CHARS,
    DEFAULT_MAX_FILE_BYTES,
    REQUIRED_COLUMNS,
)
from ..errors import FileFailure
from ..options import ProcessingOptions


@dataclass(frozen=True)
class ReadLimits:
    """Guards against files that would exhaust the machine; each is a clear failure."""

    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_columns: int = DEFAULT_MAX_COLUMNS
    max_field_chars: int = DEFAULT_MAX_FIELD_CHARS


@dataclass(frozen=True)
class ColumnLayout:
    """How the file's columns map to output columns.

    ``names`` are the file's columns in file order, renamed: the four required
    columns under their canonical lower-case names, every other column under
    its trimmed header name.
    """

    names: tuple[str, ...]

    @property
    def output_names(self) -> tuple[str, ...]:
        """Output column order: the four required columns, then carried ones in file order."""
        return (*REQUIRED_COLUMNS, *self.carried)

    @property
    def carried(self) -> tuple[str, ...]:
        return tuple(n for n in self.names if n not in REQUIRED_COLUMNS)


def resolve_layout(header: list[str], column_map: dict[str, str]) -> ColumnLayout:
    """Apply ``column_map`` and find the required columns, failing in SPEC section 5 order.

    Missing required columns first, then duplicate names, then carried
    columns named like a column the outputs add.
    """
    by_lower: dict[str, str] = {}
    for key, value in column_map.items():
        by_lower.setdefault(key.lower(), value)  # the first matching key wins
    names: list[str] = []
    for raw in header:
        name = raw.strip()
        name = by_lower.get(name.lower(), name)
        names.append(name.lower() if name.lower() in REQUIRED_COLUMNS else name)
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise FileFailure(f"missing required column(s): {', '.join(missing)}; found: {', '.join(names)}")
    seen: set[str] = set()
    duplicated: list[str] = []
    for name in names:
        if name in seen and name not in duplicated:
            duplicated.append(name)
        seen.add(name)
    if duplicated:
        raise FileFailure(f"duplicate column name(s) after mapping: {', '.join(duplicated)}")
    reserved = [name for name in names if name in ADDED_COLUMNS]
    if reserved:
        raise FileFailure(
            f"column name(s) reserved for the outputs: {', '.join(reserved)}; rename them with column_map"
        )
    return ColumnLayout(tuple(names))


def fill_missing_problems(layout: ColumnLayout, options: ProcessingOptions) -> list[str]:
    """A ``fill_missing`` key must name a column of this file."""
    return [
        f"option fill_missing names no column of the file: {key!r}; the columns are: {', '.join(layout.names)}"
        for key in options.fill_missing
        if key not in layout.names
    ]


@dataclass
class RecordChunk:
    """Consecutive data records; ``first_source_row`` is the 1-based number of the first."""

    first_source_row: int
    records: list[list[str]]


@dataclass
class ColumnChunk:
    """Consecutive data records as columns of raw (untrimmed) text.

    ``source_rows`` numbers the well-shaped records, whose cells are in
    ``columns`` (one Arrow string array per file column); ``ragged_rows``
    numbers the records whose field count differs from the header's.
    """

    source_rows: np.ndarray
    columns: list[pa.Array]
    ragged_rows: np.ndarray

    @property
    def records(self) -> int:
        return len(self.source_rows) + len(self.ragged_rows)


def columns_of(chunk: RecordChunk, width: int) -> ColumnChunk:
    """The reference path's record lists, as a :class:`ColumnChunk`."""
    rows = np.arange(chunk.first_source_row, chunk.first_source_row + len(chunk.records), dtype="int64")
    shaped = np.fromiter((len(r) == width for r in chunk.records), dtype=bool, count=len(chunk.records))
    good = chunk.records if shaped.all() else [r for r, ok in zip(chunk.records, shaped) if ok]
    cells = list(zip(*good)) if good else [() for _ in range(width)]
    return ColumnChunk(
        source_rows=rows[shaped],
        columns=[pa.array(column, type=pa.string()) for column in cells],
        ragged_rows=rows[~shaped],
    )
