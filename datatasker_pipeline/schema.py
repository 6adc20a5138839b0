"""The validation rules, written as pandera models: the schema is the documentation.

``SalesRecordRules`` holds SPEC section 2, rules 4-7, as checks over the
trimmed text cells of the four required columns. Each check is named after the
reason a failing record is rejected with; the cleaner runs the model lazily and
keeps, for each record, the first failure in rule order, then column order.

``CleanSalesRows`` and ``RejectedRows`` describe what the pipeline writes and
are checked on every chunk before it is written.
"""

from __future__ import annotations

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
# Exactly what Python's str.strip() removes (SPEC: "trim").
PYTHON_WHITESPACE = "".join(c for c in map(chr, range(0x110000)) if c.isspace())

# Rank order used to pick a record's first failure (SPEC section 2).
RULE_ORDER = ("missing_value", "not_a_number", "zero_quantity", "out_of_range")
REJECTION_REASONS = ("field_count", *RULE_ORDER, "duplicate")


def is_missing(cells: pd.Series) -> pd.Series:
    """Empty, or case-insensitively one of na, n/a, nan, null, none (rule 4)."""
    return cells.str.lower().isin(MISSING_TOKENS)


def parse_decimal(cells: pd.Series) -> pd.Series:
    """Float value of plain decimal cells (rule 5); NaN for anything else.

    Overflow to infinity counts as not a number; underflow is the number 0.
    Arrow's parser rounds exactly as Python's ``float`` does.
    """
    text = pyarrow_.array(cells, type=pyarrow_.large_string())
    plain = pc.match_substring_regex(text, f"^(?:{PLAIN_DECIMAL})$")
    values = pc.cast(pc.if_else(plain, text, "0"), pyarrow_.float64())
    values = pc.if_else(pc.and_(plain, pc.is_finite(values)), values, None)
    return pd.Series(values.to_numpy(zero_copy_only=False), index=cells.index, dtype="float64")


def is_plain_decimal_text(text: str) -> bool:
    """Single-value form of rule 5, for output formatting."""
    return bool(parse_decimal(pd.Series([text], dtype="str")).notna().iloc[0])


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
        return ~is_missing(cells)

    @pa.check("revenue", "quantity", "discount", name="not_a_number")
    def plain_decimal(cls, cells: Series[str]) -> Series[bool]:
        """Rule 5: an ASCII plain decimal whose float value is finite."""
        return is_missing(cells) | parse_decimal(cells).notna()

    @pa.check("quantity", name="zero_quantity")
    def nonzero_quantity(cls, cells: Series[str]) -> Series[bool]:
        """Rule 6: revenue per unit would divide by zero."""
        return parse_decimal(cells) != 0

    @pa.check("revenue", name="out_of_range")
    def revenue_not_negative(cls, cells: Series[str]) -> Series[bool]:
        """Rule 7: revenue >= 0."""
        return ~(parse_decimal(cells) < 0)

    @pa.check("quantity", name="out_of_range")
    def quantity_positive(cls, cells: Series[str]) -> Series[bool]:
        """Rule 7: quantity > 0."""
        return ~(parse_decimal(cells) < 0)

    @pa.check("discount", name="out_of_range")
    def discount_is_a_fraction(cls, cells: Series[str]) -> Series[bool]:
        """Rule 7: 0 <= discount <= 1."""
        values = parse_decimal(cells)
        return ~((values < 0) | (values > 1))

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
