"""The validation rules, written as pandera models: the schema is the documentation.

``SalesRecordRules`` holds SPEC section 2, rules 4-7, as checks over the
trimmed text cells of the four required columns. Each check is named after the
reason a failing record is rejected with; the cleaner calls the model's checks
on each chunk and keeps, for each record, the first failure in rule order, then
column order.

``CleanSalesRows`` and ``RejectedRows`` describe what the pipeline writes and
are checked on every chunk before it is written.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pyarrow_
import pyarrow.compute as pc
from pandera.typing import Series

REQUIRED_COLUMNS = ("region", "revenue", "quantity", "discount")
NUMERIC_COLUMNS = ("revenue", "quantity", "discount")
MISSING_TOKENS = ("", "na", "n/a", "nan", "null", "none")
# SPEC section 2 rule 5; ASCII digits only ([0-9], not \d).
PLAIN_DECIMAL = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
# Exactly what Python's str.strip() removes (SPEC: "trim"): every c with c.isspace()
# (spelled out: scanning all of Unicode at import took 0.2-0.3 s; a test checks it).
PYTHON_WHITESPACE = "\u0009\u000a\u000b\u000c\u000d\u001c\u001d\u001e\u001f\u0020\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

# Rank order used to pick a record's first failure (SPEC section 2).
RULE_ORDER = ("missing_value", "not_a_number", "zero_quantity", "out_of_range")
REJECTION_REASONS = ("field_count", *RULE_ORDER, "duplicate")


def _case_variants(token: str) -> list[str]:
    variants = [""]
    for ch in token:
        variants = [v + c for v in variants for c in {ch, ch.upper()}]
    return variants


# Every spelling whose str.lower() is a missing token. Only ASCII letters
# lower-case to the tokens' letters (checked over all of Unicode when this
# was written: no other code point lowers into n, a, u, l, o, e or /), so
# exact matching against this set is the same as comparing lower() forms,
# without lower-casing every cell.
MISSING_SPELLINGS = tuple(sorted({v for token in MISSING_TOKENS for v in _case_variants(token)}))
_MISSING_SET = pyarrow_.array(MISSING_SPELLINGS, type=pyarrow_.string())
_PLAIN_DECIMAL_ANCHORED = f"^(?:{PLAIN_DECIMAL})$"


def _arrow_text(cells) -> pyarrow_.Array | pyarrow_.ChunkedArray:
    if isinstance(cells, (pyarrow_.Array, pyarrow_.ChunkedArray)):
        return cells
    if isinstance(cells, pd.Series):
        try:
            return pyarrow_.array(cells.array, type=pyarrow_.string()) if cells.dtype != object else pyarrow_.array(cells, type=pyarrow_.string())
        except (pyarrow_.ArrowInvalid, pyarrow_.ArrowTypeError, TypeError):
            pass
    return pyarrow_.array(pd.Series(cells, dtype="str"), type=pyarrow_.string())


def missing_mask(cells) -> np.ndarray:
    """Rule 4 as a numpy mask over trimmed text (Arrow array or pandas Series)."""
    text = _arrow_text(cells)
    return pc.is_in(text, value_set=_MISSING_SET).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def decimal_values(cells) -> np.ndarray:
    """Rule 5 as float64 values, NaN where the cell is not a plain finite decimal.

    Arrow's parser rounds exactly as Python's ``float`` does; overflow to
    infinity counts as not a number; underflow is the number 0.
    """
    text = _arrow_text(cells)
    plain = pc.match_substring_regex(text, _PLAIN_DECIMAL_ANCHORED)
    values = pc.cast(pc.if_else(plain, text, "0"), pyarrow_.float64())
    values = np.array(values, dtype="float64")  # a writable copy (no nulls: zero-copy view)
    if not values.flags.writeable:  # a ChunkedArray comes back read-only even so (pyarrow 26)
        values = values.copy()
    values[~np.asarray(plain, dtype=bool) | ~np.isfinite(values)] = np.nan
    return values


@dataclass(frozen=True)
class CellFacts:
    """What rules 4-7 need to know of one column of text cells, computed once."""

    missing: np.ndarray  # bool: rule 4
    values: np.ndarray  # float64, NaN unless a plain finite decimal: rule 5


# Facts computed ahead by the cleaner for the exact Series objects it hands to
# the model's checks (keyed by identity; the entry keeps the Series alive).
_PRECOMPUTED: dict[int, tuple[pd.Series, CellFacts]] = {}


@contextlib.contextmanager
def precomputed_facts(pairs: dict[str, tuple[pd.Series, CellFacts]]) -> Iterator[None]:
    """Let the model's checks read facts computed once per column instead of re-parsing."""
    keys = []
    for series, facts in pairs.values():
        _PRECOMPUTED[id(series)] = (series, facts)
        keys.append(id(series))
    try:
        yield
    finally:
        for key in keys:
            _PRECOMPUTED.pop(key, None)


def cell_facts(cells: pd.Series, numeric: bool = True) -> CellFacts:
    hit = _PRECOMPUTED.get(id(cells))
    if hit is not None and hit[0] is cells:
        return hit[1]
    text = _arrow_text(cells)
    return CellFacts(
        missing=missing_mask(text),
        values=decimal_values(text) if numeric else np.full(len(text), np.nan),
    )


def is_missing(cells: pd.Series) -> pd.Series:
    """Empty, or case-insensitively one of na, n/a, nan, null, none (rule 4)."""
    return pd.Series(cell_facts(cells, numeric=False).missing, index=cells.index)


def parse_decimal(cells: pd.Series) -> pd.Series:
    """Float value of plain decimal cells (rule 5); NaN for anything else."""
    return pd.Series(cell_facts(cells).values, index=cells.index, dtype="float64")


def is_plain_decimal_text(text: str) -> bool:
    """Single-value form of rule 5, for output formatting."""
    return bool(np.isfinite(decimal_values(pyarrow_.array([text], type=pyarrow_.string()))[0]))


class SalesRecordRules(pa.DataFrameModel):
    """SPEC section 2, rules 4-7, over trimmed (and filled) text cells.

    The index is ``source_row``. Every check is named after the rejection
    reason it stands for; a record failing several is rejected for the first
    rule in ``RULE_ORDER``, and within a rule for the first column in
    region, revenue, quantity, discount order.
    """

    region: Series[str]
    revenue: Series[str]
    quantity: Series[str]
    discount: Series[str]

    @pa.check("region", "revenue", "quantity", "discount", name="missing_value")
    def present(cls, cells: Series[str]) -> Series[bool]:
        """Rule 4: a cell may not be empty or a missing-value token."""
        return pd.Series(~cell_facts(cells, numeric=False).missing, index=cells.index)

    @pa.check("revenue", "quantity", "discount", name="not_a_number")
    def plain_decimal(cls, cells: Series[str]) -> Series[bool]:
        """Rule 5: an ASCII plain decimal whose float value is finite."""
        facts = cell_facts(cells)
        return pd.Series(facts.missing | ~np.isnan(facts.values), index=cells.index)

    @pa.check("quantity", name="zero_quantity")
    def nonzero_quantity(cls, cells: Series[str]) -> Series[bool]:
        """Rule 6: revenue per unit would divide by zero."""
        return pd.Series(cell_facts(cells).values != 0, index=cells.index)

    @pa.check("revenue", name="out_of_range")
    def revenue_not_negative(cls, cells: Series[str]) -> Series[bool]:
        """Rule 7: revenue >= 0."""
        return pd.Series(~(cell_facts(cells).values < 0), index=cells.index)

    @pa.check("quantity", name="out_of_range")
    def quantity_positive(cls, cells: Series[str]) -> Series[bool]:
        """Rule 7: quantity > 0 (zero is rule 6's)."""
        return pd.Series(~(cell_facts(cells).values < 0), index=cells.index)

    @pa.check("discount", name="out_of_range")
    def discount_is_a_fraction(cls, cells: Series[str]) -> Series[bool]:
        """Rule 7: 0 <= discount <= 1."""
        values = cell_facts(cells).values
        return pd.Series(~((values < 0) | (values > 1)), index=cells.index)

    class Config:
        strict = False  # carried columns pass through unchecked
        coerce = False


class CleanSalesRows(pa.DataFrameModel):
    """A clean row as written to ``cleaned.parquet`` (carried text columns may follow)."""

    source_row: Series[int] = pa.Field(gt=0, unique=True, description="1-based data record number in the file")
    region: Series[str] = pa.Field(str_length={"min_value": 1}, description="region, trimmed, case kept")
    revenue: Series[float] = pa.Field(ge=0, description="revenue >= 0")
    quantity: Series[float] = pa.Field(gt=0, description="quantity > 0")
    discount: Series[float] = pa.Field(ge=0, le=1, description="discount in [0, 1]")
    # Finite revenue over a tiny quantity can overflow to +inf: still a clean row.
    revenue_per_unit: Series[float] = pa.Field(ge=0, description="revenue / quantity")

    @pa.dataframe_check(name="finite inputs")
    def finite(cls, frame: pd.DataFrame) -> bool:
        numbers = frame[["revenue", "quantity", "discount"]].to_numpy(dtype="float64")
        return bool(np.isfinite(numbers).all())

    class Config:
        strict = False
        coerce = False


class RejectedRows(pa.DataFrameModel):
    """A rejected record as written to ``rejected_rows.csv``."""

    source_row: Series[int] = pa.Field(gt=0, unique=True)
    reason: Series[str] = pa.Field(isin=list(REJECTION_REASONS))
    column: Series[str] = pa.Field(isin=["", *REQUIRED_COLUMNS])
    value: Series[str]

    class Config:
        strict = True
        coerce = False
