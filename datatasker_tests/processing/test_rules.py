"""Rules 4-7 as plain functions, and the pandera model that states the same rules.

The cleaner applies ``rules.CELL_RULES`` to each chunk; ``SalesRecordRules``
calls the same functions for its checks. These tests hold the two together:
the model has exactly the table's checks, and validating a frame with the
model finds exactly the cells the table rejects.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pandera.errors
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datatasker_pipeline.processing import rules
from datatasker_pipeline.processing.schema import SalesRecordRules
from datatasker_pipeline.vocabulary import CELL_RULE_ORDER, REQUIRED_COLUMNS


def text(*cells: str) -> pa.Array:
    return pa.array(cells, type=pa.string())


@pytest.mark.parametrize(
    "cell, missing",
    [("", True), ("na", True), ("N/A", True), ("nAn", True), ("NULL", True), ("None", True),
     ("n.a.", False), ("0", False), ("-", False), ("nil", False)],
)
def test_missing_cells(cell, missing):
    assert rules.missing_mask(text(cell)).tolist() == [missing]


@pytest.mark.parametrize(
    "cell, value",
    [("12", 12.0), ("-3.5", -3.5), (".5", 0.5), ("1.", 1.0), ("1e3", 1000.0), ("+0", 0.0), ("1e-400", 0.0),
     ("1,200", None), ("$12", None), ("15%", None), ("inf", None), ("0x1F", None), ("1e309", None),
     ("１２", None), ("1e", None), ("", None), (" 1", None)],
)
def test_decimal_values(cell, value):
    [parsed] = rules.decimal_values(text(cell)).tolist()
    assert (np.isnan(parsed) if value is None else parsed == value), parsed


def test_the_pattern_matched_is_rule_5s_on_every_short_string():
    """The unambiguous spelling the cleaner matches with accepts exactly the strings SPEC's pattern does."""
    spec = re.compile(rules.PLAIN_DECIMAL)
    unambiguous = re.compile(rules.PLAIN_DECIMAL_UNAMBIGUOUS)
    alphabet = "01+-.eEx"
    strings = ["".join(p) for n in range(7) for p in itertools.product(alphabet, repeat=n)]
    assert [bool(spec.fullmatch(s)) for s in strings] == [bool(unambiguous.fullmatch(s)) for s in strings]
    # and Arrow's RE2 agrees with Python's re on them
    assert rules.plain_decimal_mask(text(*strings)).tolist() == [bool(spec.fullmatch(s)) for s in strings]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("0123456789.+-eE x\u0660\uff11"), max_size=8), min_size=1, max_size=40))
def test_the_shortcut_for_digits_and_a_dot_agrees_with_the_pattern(cells):
    """Cells told by trimming digits and the rest told by the pattern: together exactly SPEC's pattern."""
    spec = re.compile(rules.PLAIN_DECIMAL)
    assert rules.plain_decimal_mask(text(*cells)).tolist() == [bool(spec.fullmatch(c)) for c in cells]


def test_the_pattern_mask_takes_chunked_text_and_nulls():
    chunked = pa.chunked_array([text("12.5", "1.2.3"), text(".", "7", "-4e2")])
    assert rules.plain_decimal_mask(chunked).tolist() == [True, False, False, True, True]
    assert rules.plain_decimal_mask(pa.array(["3", None], type=pa.string())).tolist() == [True, False]
    assert np.isnan(rules.decimal_values(pa.array([None, "2"], type=pa.string()))).tolist() == [True, False]


def test_the_formula_guard_follows_the_pattern_only():
    assert rules.plain_decimal_mask(text("-1e309", "-5", "-x", "1e309e")).tolist() == [True, True, False, False]


def test_trim_removes_what_str_strip_removes():
    cells = ["\u00a0 East\t\u3000", "\u200bWest", " \n"]
    assert rules.trim(text(*cells)).to_pylist() == [c.strip() for c in cells]


def test_each_record_is_rejected_for_its_first_failure_in_rule_then_column_order():
    cells = {
        #              missing   not a number  zero qty    out of range  two rules: missing wins  clean
        "region":   text("",       "East",       "East",     "East",       "East",                  "East"),
        "revenue":  text("1",      "abc",        "1",        "-1",         "x",                     "1"),
        "quantity": text("1",      "1",          "0",        "1",          "n/a",                   "2"),
        "discount": text("1",      "2",          "5",        "0",          "0",                     "0.5"),
    }
    rule, column = rules.first_failures(rules.column_facts(cells))
    reasons = [CELL_RULE_ORDER[r] if r >= 0 else None for r in rule]
    columns = [REQUIRED_COLUMNS[c] if c >= 0 else None for c in column]
    assert list(zip(reasons, columns)) == [
        ("missing_value", "region"),
        ("not_a_number", "revenue"),
        ("zero_quantity", "quantity"),
        ("out_of_range", "revenue"),
        ("missing_value", "quantity"),
        (None, None),
    ]


def test_the_model_has_exactly_the_checks_of_the_rule_table():
    columns = SalesRecordRules.to_schema().columns
    for name in REQUIRED_COLUMNS:
        from_table = sorted(rule.reason for rule in rules.CELL_RULES if name in rule.columns)
        assert sorted(check.name for check in columns[name].checks) == from_table, name


CELLS = st.sampled_from(["", "NA", "none", "East", "0", "-0", "1", "2.5", "-3", "1e309", "abc", "0.5", "1.5", "$1"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(CELLS, CELLS, CELLS, CELLS), min_size=1, max_size=12))
def test_validating_with_the_model_finds_exactly_the_cells_the_rule_table_rejects(rows):
    frame = pd.DataFrame(rows, columns=list(REQUIRED_COLUMNS), dtype="str")
    facts = rules.column_facts({name: text(*frame[name]) for name in REQUIRED_COLUMNS})
    expected = {
        (name, rule.reason, int(i))
        for rule in rules.CELL_RULES
        for name in rule.columns
        for i in np.flatnonzero(~rule.passes(facts[name]))
    }
    try:
        SalesRecordRules.validate(frame, lazy=True)
        found = set()
    except pandera.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        found = {(row.column, row.check, int(row.index)) for row in cases.itertuples()}
    assert found == expected
