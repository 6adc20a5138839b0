"""Cleaning records into clean rows and rejected rows: SPEC section 2.

Every record becomes exactly one clean row or one rejected row. The rules run
over a whole chunk at once; the rules themselves live in
:class:`~datatasker_pipeline.schema.SalesRecordRules`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa

from .options import ProcessingOptions
from .reading import ColumnLayout, RecordChunk
from .schema import (
    NUMERIC_COLUMNS,
    PYTHON_WHITESPACE,
    REQUIRED_COLUMNS,
    RULE_ORDER,
    CleanSalesRows,
    RejectedRows,
    SalesRecordRules,
    is_missing,
    parse_decimal,
)

REJECTED_COLUMNS = ["source_row", "reason", "column", "value"]
_RULE_RANK = {reason: rank for rank, reason in enumerate(RULE_ORDER)}
_COLUMN_RANK = {column: rank for rank, column in enumerate(REQUIRED_COLUMNS)}


@dataclass
class CleanedChunk:
    clean: pd.DataFrame
    rejected: pd.DataFrame


@dataclass
class DuplicateTracker:
    """Remembers every clean row seen so far (SPEC section 2, rule 8).

    Rows are kept as 16-byte digests so memory grows by a few dozen bytes per
    distinct row rather than by the row's size.
    """

    seen: set[bytes] = field(default_factory=set)

    def first_occurrences(self, clean: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
        keep = np.ones(len(clean), dtype=bool)
        parts = []
        for name in columns:
            if name in NUMERIC_COLUMNS:
                # Compared as numbers: 1 == 1.0 and -0 == 0.
                parts.append([repr(v + 0.0) for v in clean[name].to_numpy()])
            else:
                parts.append(clean[name].tolist())
        for i, cells in enumerate(zip(*parts)):
            # repr() of the tuple is unambiguous whatever characters the cells hold.
            digest = hashlib.blake2b(repr(cells).encode("utf-8", "backslashreplace"), digest_size=16).digest()
            if digest in self.seen:
                keep[i] = False
            else:
                self.seen.add(digest)
        return keep


def empty_rejected() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source_row": pd.Series([], dtype="int64"),
            "reason": pd.Series([], dtype="str"),
            "column": pd.Series([], dtype="str"),
            "value": pd.Series([], dtype="str"),
        }
    )


def _rejected(source_rows, reasons, columns, values) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source_row": pd.Series(source_rows, dtype="int64"),
            "reason": pd.Series(reasons, dtype="str"),
            "column": pd.Series(columns, dtype="str"),
            "value": pd.Series(values, dtype="str"),
        }
    )


def records_to_cells(chunk: RecordChunk, layout: ColumnLayout) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rules 1 and 2: drop ragged records, trim every cell of the rest.

    Returns the trimmed text cells (index ``source_row``, one column per
    output name) and the ``field_count`` rejections.
    """
    width = len(layout.names)
    rows = np.arange(chunk.first_source_row, chunk.first_source_row + len(chunk.records), dtype="int64")
    shaped = np.fromiter((len(r) == width for r in chunk.records), dtype=bool, count=len(chunk.records))
    ragged = rows[~shaped]
    rejected = _rejected(ragged, ["field_count"] * len(ragged), [""] * len(ragged), [""] * len(ragged))
    good = [r for r, ok in zip(chunk.records, shaped) if ok] if len(ragged) else chunk.records
    columns = list(zip(*good)) if good else [() for _ in layout.names]
    index = pd.Index(rows[shaped], name="source_row")
    cells = pd.DataFrame(
        {
            name: pd.Series(column, dtype="str", index=index).str.strip(PYTHON_WHITESPACE)
            for name, column in zip(layout.names, columns)
        },
        index=index,
    )
    return cells, rejected


def fill_missing_cells(cells: pd.DataFrame, fill: dict[str, str]) -> pd.DataFrame:
    """Rule 3: replace missing cells of the named columns with their constant."""
    for name, constant in fill.items():
        # The constant fills a cell, and every cell is trimmed (rule 2).
        cells[name] = cells[name].where(~is_missing(cells[name]), constant.strip())
    return cells


def first_rule_failures(cells: pd.DataFrame) -> pd.DataFrame:
    """Rules 4-7: for each failing record, its first failure (reason and column).

    Runs :class:`SalesRecordRules` lazily and ranks the failure cases.
    """
    try:
        SalesRecordRules.validate(cells[list(REQUIRED_COLUMNS)], lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return pd.DataFrame({"source_row": [], "reason": [], "column": []}).astype(
            {"source_row": "int64", "reason": "str", "column": "str"}
        )
    unexpected = cases[~cases["check"].isin(RULE_ORDER)]
    if len(unexpected):
        raise RuntimeError(f"record frame failed structural checks: {unexpected.head().to_dict('records')}")
    ranked = pd.DataFrame(
        {
            "source_row": cases["index"].astype("int64"),
            "reason": cases["check"].astype("str"),
            "column": cases["column"].astype("str"),
            "rank": cases["check"].map(_RULE_RANK) * 10 + cases["column"].map(_COLUMN_RANK),
        }
    )
    first = ranked.sort_values(["source_row", "rank"], kind="stable").drop_duplicates("source_row")
    return first.drop(columns="rank").reset_index(drop=True)


def clean_chunk(
    chunk: RecordChunk,
    layout: ColumnLayout,
    options: ProcessingOptions,
    duplicates: DuplicateTracker | None = None,
) -> CleanedChunk:
    """Apply SPEC section 2 to one chunk of records.

    ``duplicates`` carries rule 8's memory across chunks; pass one tracker for
    a whole file when ``drop_duplicates`` is on.
    """
    cells, ragged = records_to_cells(chunk, layout)
    cells = fill_missing_cells(cells, dict(options.fill_missing))

    failures = first_rule_failures(cells)
    failed_rows = failures["source_row"].to_numpy()
    failed_columns = failures["column"].to_numpy()
    failed_values = np.empty(len(failures), dtype=object)
    for column in REQUIRED_COLUMNS:
        on_column = failed_columns == column
        if on_column.any():
            failed_values[on_column] = cells.loc[failed_rows[on_column], column].to_numpy()
    rejected_parts = [ragged, _rejected(failed_rows, failures["reason"].to_numpy(), failed_columns, failed_values)]

    passing = cells.drop(index=failed_rows) if len(failed_rows) else cells
    clean = pd.DataFrame({"source_row": passing.index.to_numpy(dtype="int64")})
    for name in layout.output_names:
        column = passing[name]
        clean[name] = (parse_decimal(column) if name in NUMERIC_COLUMNS else column).reset_index(drop=True)
    clean["revenue_per_unit"] = clean["revenue"] / clean["quantity"]

    if duplicates is not None and len(clean):
        keep = duplicates.first_occurrences(clean, layout.output_names)
        if not keep.all():
            repeated = clean.loc[~keep, "source_row"].to_numpy()
            rejected_parts.append(_rejected(repeated, ["duplicate"] * len(repeated), [""] * len(repeated), [""] * len(repeated)))
            clean = clean.loc[keep].reset_index(drop=True)

    rejected = pd.concat([part for part in rejected_parts if len(part)] or [empty_rejected()], ignore_index=True)
    rejected = rejected.sort_values("source_row", kind="stable").reset_index(drop=True)
    CleanSalesRows.validate(clean)
    RejectedRows.validate(rejected)
    return CleanedChunk(clean=clean, rejected=rejected)
