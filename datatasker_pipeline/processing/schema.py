"""The validation rules and the outputs' rows, as pandera models: the schema is the documentation.

``SalesRecordRules`` states rules 4-7 as checks over the trimmed text cells of
the four required columns. Each check is named after the reason a failing
record is rejected with and calls the plain rule function of
:mod:`~datatasker_pipeline.processing.rules` that the cleaner applies to
every chunk, so the model and the cleaner cannot disagree (a test validates
frames with the model and compares).

``CleanSalesRows`` and ``RejectedRows`` describe what the pipeline writes;
every row is checked against them before the file holding it is placed
(in batches: :mod:`.validation`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from ..vocabulary import (
    MISSING_VALUE,
    NOT_A_NUMBER,
    NUMERIC_COLUMNS,
    OUT_OF_RANGE,
    REJECTION_REASONS,
    REQUIRED_COLUMNS,
    ZERO_QUANTITY,
)
from . import rules


def _passes(rule, cells: pd.Series, numeric: bool = True) -> pd.Series:
    return pd.Series(rule(rules.cell_facts(cells, numeric=numeric)), index=cells.index)


class SalesRecordRules(pa.DataFrameModel):
    """Rules 4-7 over trimmed (and filled) text cells; one row per record.

    A record failing several checks is rejected for the first rule in
    missing_value, not_a_number, zero_quantity, out_of_range order, and
    within a rule for the first column in region, revenue, quantity,
    discount order.
    """

    region: Series[str]
    revenue: Series[str]
    quantity: Series[str]
    discount: Series[str]

    @pa.check(*REQUIRED_COLUMNS, name=MISSING_VALUE)
    def present(cls, cells: Series[str]) -> Series[bool]:
        """Rule 4: a cell may not be empty or (case-insensitively) na, n/a, nan, null, none."""
        return _passes(rules.present, cells, numeric=False)

    @pa.check(*NUMERIC_COLUMNS, name=NOT_A_NUMBER)
    def plain_finite_decimal(cls, cells: Series[str]) -> Series[bool]:
        """Rule 5: an ASCII plain decimal number whose 64-bit float value is finite."""
        return _passes(rules.plain_finite_decimal, cells)

    @pa.check("quantity", name=ZERO_QUANTITY)
    def nonzero_quantity(cls, cells: Series[str]) -> Series[bool]:
        """Rule 6: quantity may not be 0 (revenue per unit would divide by zero)."""
        return _passes(rules.nonzero, cells)

    @pa.check("revenue", "quantity", name=OUT_OF_RANGE)
    def not_negative(cls, cells: Series[str]) -> Series[bool]:
        """Rule 7: revenue >= 0 and quantity > 0 (zero is rule 6's)."""
        return _passes(rules.not_negative, cells)

    @pa.check("discount", name=OUT_OF_RANGE)
    def discount_is_a_fraction(cls, cells: Series[str]) -> Series[bool]:
        """Rule 7: 0 <= discount <= 1."""
        return _passes(rules.within_zero_and_one, cells)

    class Config:
        strict = False  # carried columns pass through unchecked
        coerce = False


# Both outputs' rows are numbered in file order.
_SOURCE_ROW = "1-based data record number in the file, in file order"
_IN_FILE_ORDER = "in file order"


def _in_file_order(rows: Series[int]) -> Series[bool]:
    """Each row's number is above the one before it: the rows are in file order, so none repeats.

    (One comparison per row: ``unique=True`` hashed every number, a third of the validation time.)
    """
    numbers = rows.to_numpy()
    in_order = np.ones(len(numbers), dtype=bool)
    in_order[1:] = numbers[1:] > numbers[:-1]
    return pd.Series(in_order, index=rows.index)


class CleanSalesRows(pa.DataFrameModel):
    """A clean row as written to ``cleaned.parquet`` (carried text columns may follow)."""

    source_row: Series[int] = pa.Field(gt=0, description=_SOURCE_ROW)
    region: Series[str] = pa.Field(str_length={"min_value": 1}, description="region, trimmed, case kept")
    revenue: Series[float] = pa.Field(ge=0, description="revenue >= 0")
    quantity: Series[float] = pa.Field(gt=0, description="quantity > 0")
    discount: Series[float] = pa.Field(ge=0, le=1, description="discount in [0, 1]")
    # Finite revenue over a tiny quantity can overflow to +inf: still a clean row.
    revenue_per_unit: Series[float] = pa.Field(ge=0, description="revenue / quantity")

    @pa.check("source_row", name=_IN_FILE_ORDER)
    def in_file_order(cls, rows: Series[int]) -> Series[bool]:
        return _in_file_order(rows)

    @pa.dataframe_check(name="finite inputs")
    def finite(cls, frame: pd.DataFrame) -> bool:
        return bool(np.isfinite(frame[list(NUMERIC_COLUMNS)].to_numpy(dtype="float64")).all())

    class Config:
        strict = False
        coerce = False


class RejectedRows(pa.DataFrameModel):
    """A rejected record as written to ``rejected_rows.csv``."""

    source_row: Series[int] = pa.Field(gt=0, description=_SOURCE_ROW)
    reason: Series[str] = pa.Field(isin=list(REJECTION_REASONS))
    column: Series[str] = pa.Field(isin=["", *REQUIRED_COLUMNS])
    value: Series[str]

    @pa.check("source_row", name=_IN_FILE_ORDER)
    def in_file_order(cls, rows: Series[int]) -> Series[bool]:
        return _in_file_order(rows)

    class Config:
        strict = True
        coerce = False
