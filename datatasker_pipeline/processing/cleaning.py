"""Cleaning records into clean rows and rejected rows.

Every record becomes exactly one clean row or one rejected row. The rules run
over a whole chunk at once, column by column on Arrow arrays: rule 1 (field
count) comes from the reader, rule 2 trims, rule 3 fills, rules 4-7 are the
plain functions of :mod:`.rules` (the pandera model ``SalesRecordRules``
states the same rules), rule 8 is :class:`DuplicateTracker`. Each record's
first failure in rule order, then column order, decides its reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..vocabulary import (
    CELL_RULE_ORDER,
    DUPLICATE,
    FIELD_COUNT,
    NUMERIC_COLUMNS,
    REJECTED_COLUMNS,
    REQUIRED_COLUMNS,
    REVENUE_PER_UNIT,
    SOURCE_ROW,
)
from .options import ProcessingOptions
from .reading import ColumnChunk, ColumnLayout, RecordChunk
from .reading.layout import columns_of
from .rules import column_facts, first_failures, missing_mask, trim


@dataclass
class CleanedChunk:
    """One chunk's clean rows (an Arrow table, as written to parquet) and rejected rows."""

    table: pa.Table
    rejected: pd.DataFrame

    @property
    def clean(self) -> pd.DataFrame:
        return self.table.to_pandas()

    def numbered_from(self, first_row: int) -> CleanedChunk:
        """The same rows with ``first_row`` added to their numbers (a block parsed on its own counts from 0)."""
        if not first_row:
            return self
        at = self.table.schema.get_field_index(SOURCE_ROW)
        table = self.table.set_column(at, SOURCE_ROW, pc.add(self.table.column(at), first_row))
        rejected = self.rejected.assign(**{SOURCE_ROW: self.rejected[SOURCE_ROW] + first_row})
        return CleanedChunk(table=table, rejected=rejected)


@dataclass
class DuplicateTracker:
    """Remembers every clean row seen so far (SPEC section 2, rule 8).

    Rows are kept as 16-byte digests, so memory grows by a few dozen bytes per
    *distinct* clean row (about 100 bytes with the set's overhead): this is
    the one part of the pipeline whose memory grows with the file, and only
    when ``drop_duplicates`` is on.
    """

    seen: set[bytes] = field(default_factory=set)

    def first_occurrences(self, clean: pa.Table, columns: tuple[str, ...]) -> np.ndarray:
        keep = np.ones(clean.num_rows, dtype=bool)
        parts = []
        for name in columns:
            column = clean.column(name)
            if name in NUMERIC_COLUMNS:
                # Compared as numbers: 1 == 1.0 and -0 == 0.
                parts.append([repr(v + 0.0) for v in column.to_numpy()])
            else:
                parts.append(column.to_pylist())
        for i, cells in enumerate(zip(*parts)):
            # repr() of the tuple is unambiguous whatever characters the cells hold.
            digest = hashlib.blake2b(repr(cells).encode("utf-8", "backslashreplace"), digest_size=16).digest()
            if digest in self.seen:
                keep[i] = False
            else:
                self.seen.add(digest)
        return keep


def empty_rejected() -> pd.DataFrame:
    return _rejected([], [], [], [])


def _rejected(source_rows, reasons, columns, values) -> pd.DataFrame:
    source_row, reason, column, value = REJECTED_COLUMNS
    return pd.DataFrame(
        {
            source_row: pd.Series(np.asarray(source_rows, dtype="int64"), dtype="int64"),
            reason: pd.Series(reasons, dtype="str"),
            column: pd.Series(columns, dtype="str"),
            value: pd.Series(values, dtype="str"),
        }
    )


def clean_chunk(
    chunk: ColumnChunk | RecordChunk,
    layout: ColumnLayout,
    options: ProcessingOptions,
    duplicates: DuplicateTracker | None = None,
) -> CleanedChunk:
    """Apply SPEC section 2 to one chunk of records.

    ``duplicates`` carries rule 8's memory across chunks; pass one tracker for
    a whole file when ``drop_duplicates`` is on.
    """
    if isinstance(chunk, RecordChunk):
        chunk = columns_of(chunk, len(layout.names))
    rows = chunk.source_rows
    rejected_parts = []
    if len(chunk.ragged_rows):  # rule 1
        blank = [""] * len(chunk.ragged_rows)
        rejected_parts.append(_rejected(chunk.ragged_rows, [FIELD_COUNT] * len(blank), blank, blank))

    cells = {name: trim(column) for name, column in zip(layout.names, chunk.columns)}  # rule 2
    for name, constant in options.fill_missing.items():  # rule 3
        cells[name] = pc.if_else(missing_mask(cells[name]), constant.strip(), cells[name])

    facts = column_facts(cells)  # rules 4-7
    rule, column = first_failures(facts)
    failed = rule >= 0
    if failed.any():
        at = np.flatnonzero(failed)
        values = np.empty(len(at), dtype=object)
        for c, name in enumerate(REQUIRED_COLUMNS):
            here = column[at] == c
            if here.any():
                values[here] = cells[name].take(pa.array(at[here])).to_pylist()
        rejected_parts.append(
            _rejected(rows[at], np.asarray(CELL_RULE_ORDER, dtype=object)[rule[at]],
                      np.asarray(REQUIRED_COLUMNS, dtype=object)[column[at]], values)
        )

    keep = ~failed
    keep_arrow = pa.array(keep)
    data = {SOURCE_ROW: pa.array(rows[keep], type=pa.int64())}
    for name in layout.output_names:
        if name in NUMERIC_COLUMNS:
            data[name] = pa.array(facts[name].values[keep], type=pa.float64())
        else:
            data[name] = cells[name].filter(keep_arrow)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        per_unit = facts["revenue"].values[keep] / facts["quantity"].values[keep]
    data[REVENUE_PER_UNIT] = pa.array(per_unit, type=pa.float64())
    table = pa.table(data)

    if duplicates is not None and table.num_rows:  # rule 8
        first = duplicates.first_occurrences(table, layout.output_names)
        if not first.all():
            repeated = table.column(SOURCE_ROW).to_numpy()[~first]
            blank = [""] * len(repeated)
            rejected_parts.append(_rejected(repeated, [DUPLICATE] * len(blank), blank, blank))
            table = table.filter(pa.array(first))

    rejected = pd.concat([part for part in rejected_parts if len(part)] or [empty_rejected()], ignore_index=True)
    if len(rejected_parts) > 1:
        rejected = rejected.sort_values(SOURCE_ROW, kind="stable").reset_index(drop=True)
    # Validated against CleanSalesRows and RejectedRows by the caller, in batches (validation.py).
    return CleanedChunk(table=table, rejected=rejected)

