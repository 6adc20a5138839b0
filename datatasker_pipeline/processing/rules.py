"""The cleaning rules for cells, as plain functions over Arrow text arrays and numpy arrays.

Each rule of rules 4-7 is a function of one column's :class:`CellFacts`
(what the cell is: missing, and its decimal value), computed once per column
and passed in explicitly; it returns a boolean mask, True where the cell
passes. :data:`CELL_RULES` lists them in the order they are applied. The
pandera model :class:`~datatasker_pipeline.processing.schema.SalesRecordRules`
calls the same functions for its checks; the cleaner evaluates the table
directly on each chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..vocabulary import (
    CELL_RULE_ORDER,
    MISSING_VALUE,
    NOT_A_NUMBER,
    NUMERIC_COLUMNS,
    OUT_OF_RANGE,
    REQUIRED_COLUMNS,
    ZERO_QUANTITY,
)

# Rule 4's missing-value tokens (compared case-insensitively).
MISSING_TOKENS = ("", "na", "n/a", "nan", "null", "none")
# Rule 5's plain decimal number; ASCII digits only ([0-9], not \d).
PLAIN_DECIMAL = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
# The same language, written so that at every character only one branch can go on (the digits
# before a dot no longer also match "digits, no dot, digits"): RE2 matches it a third faster,
# and rule 5 was half of the cleaning's time. A test checks the two agree on every short string.
PLAIN_DECIMAL_UNAMBIGUOUS = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_PLAIN_DECIMAL_ANCHORED = f"^{PLAIN_DECIMAL_UNAMBIGUOUS}$"
_ASCII_DIGITS = "0123456789"
# Exactly what Python's str.strip() removes (rule 2's "trim"): every c with c.isspace()
# (spelled out: scanning all of Unicode at import took 0.2-0.3 s; a test checks it).
PYTHON_WHITESPACE = "\u0009\u000a\u000b\u000c\u000d\u001c\u001d\u001e\u001f\u0020\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


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
_MISSING_SET = pa.array(MISSING_SPELLINGS, type=pa.string())


def as_arrow_text(cells) -> pa.Array | pa.ChunkedArray:
    """Text cells as an Arrow string array, from Arrow or pandas."""
    if isinstance(cells, (pa.Array, pa.ChunkedArray)):
        return cells
    if isinstance(cells, pd.Series):
        try:
            data = cells.array if cells.dtype != object else cells
            return pa.array(data, type=pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            pass
    return pa.array(pd.Series(cells, dtype="str"), type=pa.string())


def trim(cells: pa.Array) -> pa.Array:
    """Rule 2: what Python's ``str.strip()`` removes, from both ends."""
    return pc.utf8_trim(cells, characters=PYTHON_WHITESPACE)


def missing_mask(cells) -> np.ndarray:
    """Rule 4's test of trimmed cells: empty or a missing-value token."""
    found = pc.is_in(as_arrow_text(cells), value_set=_MISSING_SET)
    return found.to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _bool_mask(result: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return pc.fill_null(result, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _lengths(cells: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return pc.fill_null(pc.binary_length(cells), 0).to_numpy(zero_copy_only=False)


def plain_decimal_mask(cells) -> np.ndarray:
    """Rule 5's pattern alone, whatever the value (the formula guard's test of a number).

    RE2 costs about the same per cell whatever the pattern (3.4 ms per
    100,000 cells), and rule 5 was the cleaning's largest cost. Most cells are
    told without it: trimming ASCII digits from both ends of a cell leaves
    ``""`` exactly when the cell is digits, and ``"."`` exactly when it is
    digits, a dot and digits; with at least one digit, both are plain
    decimals. Only the other cells (signs, exponents, and all that is not a
    number) go through the pattern. A test compares this with the pattern
    alone on every short string.
    """
    text = as_arrow_text(cells)
    lengths = _lengths(text)
    middle = pc.ascii_trim(text, _ASCII_DIGITS)
    plain = ((_lengths(middle) == 0) & (lengths >= 1)) | (_bool_mask(pc.equal(middle, ".")) & (lengths >= 2))
    others = np.flatnonzero(~plain)
    if len(others):
        plain[others] = _bool_mask(pc.match_substring_regex(text.take(pa.array(others)), _PLAIN_DECIMAL_ANCHORED))
    return plain


def decimal_values(cells) -> np.ndarray:
    """Rule 5 as float64 values, NaN where the cell is not a plain finite decimal.

    Arrow's parser rounds exactly as Python's ``float`` does; overflow to
    infinity counts as not a number; underflow is the number 0.
    """
    text = as_arrow_text(cells)
    plain = plain_decimal_mask(text)
    values = np.array(pc.cast(pc.if_else(pa.array(plain), text, "0"), pa.float64()), dtype="float64")
    if not values.flags.writeable:  # a ChunkedArray comes back read-only (pyarrow 26)
        values = values.copy()
    values[~plain | ~np.isfinite(values)] = np.nan
    return values


@dataclass(frozen=True)
class CellFacts:
    """What rules 4-7 need to know of one column of trimmed cells, computed once."""

    missing: np.ndarray  # bool: rule 4
    values: np.ndarray  # float64, NaN unless a plain finite decimal: rule 5


def cell_facts(cells, numeric: bool = True) -> CellFacts:
    """The facts of one column; ``values`` is all NaN for a text column (``region``)."""
    text = as_arrow_text(cells)
    return CellFacts(
        missing=missing_mask(text),
        values=decimal_values(text) if numeric else np.full(len(text), np.nan),
    )


# --- The rules: True where the cell passes ----------------------------------------


def present(facts: CellFacts) -> np.ndarray:
    """Rule 4: a cell may not be empty or a missing-value token."""
    return ~facts.missing


def plain_finite_decimal(facts: CellFacts) -> np.ndarray:
    """Rule 5: an ASCII plain decimal whose float value is finite (missing cells are rule 4's)."""
    return facts.missing | ~np.isnan(facts.values)


def nonzero(facts: CellFacts) -> np.ndarray:
    """Rule 6: revenue per unit would divide by zero."""
    return facts.values != 0


def not_negative(facts: CellFacts) -> np.ndarray:
    """Rule 7: revenue >= 0; quantity > 0 (zero is rule 6's)."""
    return ~(facts.values < 0)


def within_zero_and_one(facts: CellFacts) -> np.ndarray:
    """Rule 7: 0 <= discount <= 1."""
    return ~((facts.values < 0) | (facts.values > 1))


@dataclass(frozen=True)
class CellRule:
    """One rule over one or more required columns, rejecting with ``reason``."""

    reason: str
    columns: tuple[str, ...]
    passes: Callable[[CellFacts], np.ndarray]


# In the order the rules are applied; within a rule, columns in REQUIRED_COLUMNS order.
CELL_RULES = (
    CellRule(MISSING_VALUE, REQUIRED_COLUMNS, present),
    CellRule(NOT_A_NUMBER, NUMERIC_COLUMNS, plain_finite_decimal),
    CellRule(ZERO_QUANTITY, ("quantity",), nonzero),
    CellRule(OUT_OF_RANGE, ("revenue", "quantity"), not_negative),
    CellRule(OUT_OF_RANGE, ("discount",), within_zero_and_one),
)


def column_facts(cells: Mapping[str, pa.Array]) -> dict[str, CellFacts]:
    """The facts of each required column of a chunk of trimmed (and filled) cells."""
    return {name: cell_facts(cells[name], numeric=name in NUMERIC_COLUMNS) for name in REQUIRED_COLUMNS}


def first_failures(facts: Mapping[str, CellFacts]) -> tuple[np.ndarray, np.ndarray]:
    """Each record's first failure as (index into CELL_RULE_ORDER or -1, index into REQUIRED_COLUMNS).

    A record failing several rules is rejected for the first rule in
    CELL_RULE_ORDER, and within a rule for the first column.
    """
    n = len(next(iter(facts.values())).missing)
    failing: dict[tuple[str, str], np.ndarray] = {}
    for rule in CELL_RULES:
        for name in rule.columns:
            fails = ~np.asarray(rule.passes(facts[name]), dtype=bool)
            key = (rule.reason, name)
            failing[key] = failing[key] | fails if key in failing else fails
    rule_index = np.full(n, -1, dtype=np.int8)
    column_index = np.full(n, -1, dtype=np.int8)
    for r, reason in enumerate(CELL_RULE_ORDER):
        for c, name in enumerate(REQUIRED_COLUMNS):
            fails = failing.get((reason, name))
            if fails is None:
                continue
            new = fails & (rule_index < 0)
            rule_index[new] = r
            column_index[new] = c
    return rule_index, column_index
