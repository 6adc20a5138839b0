"""SPEC section 2: each record becomes one clean row or one rejected row."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from datatasker_pipeline.processing.cleaning import CleanedChunk, DuplicateTracker, clean_chunk
from datatasker_pipeline.processing.options import parse_options
from datatasker_pipeline.processing.reading import ColumnLayout, RecordChunk

LAYOUT = ColumnLayout(("region", "revenue", "quantity", "discount", "note"))


def clean(*records, options=None, layout=LAYOUT, duplicates=None):
    chunk = RecordChunk(1, [list(r) for r in records])
    parsed = parse_options(options)
    return clean_chunk(chunk, layout, parsed.options, duplicates)


def rejected(*records, **kwargs):
    result = clean(*records, **kwargs)
    return [tuple(r) for r in result.rejected.itertuples(index=False, name=None)]


def test_a_good_record_is_clean_with_revenue_per_unit():
    result = clean(["East", "100", "4", "0.5", "gift wrap"])
    row = result.clean.iloc[0].to_dict()
    assert row == {
        "source_row": 1,
        "region": "East",
        "revenue": 100.0,
        "quantity": 4.0,
        "discount": 0.5,
        "note": "gift wrap",
        "revenue_per_unit": 25.0,
    }
    assert result.rejected.empty


def test_field_count_rejects_with_empty_column_and_value():
    assert rejected(["East", "1", "1", "0"], ["East", "1", "1", "0", "x", "extra"], [" \t "]) == [
        (1, "field_count", "", ""),
        (2, "field_count", "", ""),
        (3, "field_count", "", ""),
    ]


def test_every_cell_is_trimmed_with_python_whitespace():
    result = clean(["\u3000East\xa0", " 1 ", "\t1\x1c", "\u20000\u2029", "\x85 note \u205f"])
    row = result.clean.iloc[0]
    assert (row["region"], row["note"], row["discount"]) == ("East", "note", 0.0)


def test_text_is_compared_exactly_after_trimming():
    result = clean(["East", "1", "1", "0", ""], ["east", "1", "1", "0", ""])
    assert result.clean["region"].tolist() == ["East", "east"]


@pytest.mark.parametrize("token", ["", "na", "NA", "n/a", "N/A", "nan", "NaN", "null", "NULL", "none", "None", "  none "])
def test_missing_value_tokens(token):
    assert rejected(["East", token, "1", "0", ""]) == [(1, "missing_value", "revenue", token.strip())]


def test_missing_is_checked_in_column_order_before_numbers():
    # discount is missing and revenue is not a number: rule 4 wins, on discount
    assert rejected(["East", "abc", "1", "n/a", ""]) == [(1, "missing_value", "discount", "n/a")]
    assert rejected(["", "", "", "", ""]) == [(1, "missing_value", "region", "")]
    assert rejected(["East", "1", "null", "", ""]) == [(1, "missing_value", "quantity", "null")]


@pytest.mark.parametrize("text, value", [("12", 12.0), ("-0", 0.0), ("+3.5", 3.5), (".5", 0.5), ("1.", 1.0),
                                          ("1e3", 1000.0), ("1E+2", 100.0), ("2e-1", 0.2), ("1e-400", 0.0), ("007", 7.0)])
def test_plain_decimal_numbers(text, value):
    result = clean(["East", text, "1", "0", ""])
    assert result.clean["revenue"].tolist() == [value]


@pytest.mark.parametrize("text", ["1,200", "$12", "15%", "inf", "-inf", "nan1", "Infinity", "0x1F", "1e309", "１２",
                                  "1_000", "1 000", "e5", ".", "+", "1e", "1.2.3", "٣", "12abc"])
def test_not_a_number(text):
    assert rejected(["East", text, "1", "0", ""]) == [(1, "not_a_number", "revenue", text)]


def test_not_a_number_in_column_order():
    assert rejected(["East", "1", "x", "y", ""]) == [(1, "not_a_number", "quantity", "x")]


@pytest.mark.parametrize("quantity", ["0", "-0", "0.0", "0e5", "+0", ".0", "1e-400"])
def test_zero_quantity(quantity):
    assert rejected(["East", "1", quantity, "0", ""]) == [(1, "zero_quantity", "quantity", quantity)]


def test_zero_quantity_comes_before_out_of_range():
    assert rejected(["East", "-5", "0", "7", ""]) == [(1, "zero_quantity", "quantity", "0")]


@pytest.mark.parametrize(
    "record, column, value",
    [
        (["East", "-0.01", "1", "0"], "revenue", "-0.01"),
        (["East", "1", "-2", "0"], "quantity", "-2"),
        (["East", "1", "1", "-0.1"], "discount", "-0.1"),
        (["East", "1", "1", "1.0001"], "discount", "1.0001"),
        (["East", "-1", "-1", "2"], "revenue", "-1"),
        (["East", "1", "-1", "2"], "quantity", "-1"),
    ],
)
def test_out_of_range_first_failing_column(record, column, value):
    assert rejected([*record, ""]) == [(1, "out_of_range", column, value)]


@pytest.mark.parametrize("record", [["East", "0", "1", "0"], ["East", "-0", "1", "1"], ["East", "5", "0.001", "-0"]])
def test_range_boundaries_are_clean(record):
    assert clean([*record, ""]).rejected.empty


def test_fill_missing_fills_then_checks_like_any_cell():
    options = {"fill_missing": {"discount": 0, "region": "Unknown", "note": "n/a", "quantity": "x"}}
    result = clean(["", "10", "2", "NA", ""], ["East", "10", "", "0", ""], options=options)
    assert result.clean[["region", "discount", "note"]].values.tolist() == [["Unknown", 0.0, "n/a"]]
    assert [tuple(r) for r in result.rejected.itertuples(index=False, name=None)] == [(2, "not_a_number", "quantity", "x")]


def test_fill_missing_leaves_present_cells_alone():
    result = clean(["East", "10", "2", "0.25", "kept"], options={"fill_missing": {"discount": 0, "note": "filled"}})
    assert result.clean[["discount", "note"]].values.tolist() == [[0.25, "kept"]]


def test_carried_missing_tokens_are_just_text():
    assert clean(["East", "1", "1", "0", "N/A"]).clean["note"].tolist() == ["N/A"]


def test_duplicates_are_rejected_when_asked_numbers_compared_as_numbers():
    records = [
        ["East", "10", "2", "0", "a"],
        [" East ", "10.0", "2e0", "-0", "a "],  # same row: numbers equal, text equal after trim
        ["East", "10", "2", "0", "b"],  # carried column differs
        ["east", "10", "2", "0", "a"],  # region differs (case)
    ]
    options = {"drop_duplicates": True}
    tracker = DuplicateTracker()
    result = clean(*records, options=options, duplicates=tracker)
    assert result.clean["source_row"].tolist() == [1, 3, 4]
    assert [tuple(r) for r in result.rejected.itertuples(index=False, name=None)] == [(2, "duplicate", "", "")]
    # the memory spans chunks
    again = clean_chunk(RecordChunk(5, [records[0]]), LAYOUT, parse_options(options).options, tracker)
    assert again.clean.empty and again.rejected["reason"].tolist() == ["duplicate"]


def test_only_rows_passing_rules_1_to_7_count_for_duplicates():
    result = clean(["East", "x", "1", "0", ""], ["East", "x", "1", "0", ""], options={"drop_duplicates": True},
                   duplicates=DuplicateTracker())
    assert result.rejected["reason"].tolist() == ["not_a_number", "not_a_number"]


def test_duplicates_kept_by_default():
    assert len(clean(["East", "1", "1", "0", ""], ["East", "1", "1", "0", ""]).clean) == 2


def test_every_record_is_accounted_for_once():
    records = [["East", "1", "1", "0", ""], ["x"], ["", "1", "1", "0", ""], ["East", "1", "0", "0", ""],
               ["East", "1", "1", "5", ""], ["East", "q", "1", "0", ""]]
    result = clean(*records)
    rows = sorted(result.clean["source_row"].tolist() + result.rejected["source_row"].tolist())
    assert rows == [1, 2, 3, 4, 5, 6]
    assert result.rejected["source_row"].tolist() == sorted(result.rejected["source_row"].tolist())


def test_numbering_a_chunk_from_a_row_moves_its_clean_and_rejected_rows_alike():
    chunk = CleanedChunk(
        table=pa.table({"source_row": pa.array([0, 2], pa.int64()), "region": ["a", "b"]}),
        rejected=pd.DataFrame({"source_row": pd.Series([1], dtype="int64"), "reason": ["not_a_number"]}),
    )
    moved = chunk.numbered_from(40)
    assert moved.table.column("source_row").to_pylist() == [40, 42]
    assert moved.table.column("region").to_pylist() == ["a", "b"]
    assert moved.rejected["source_row"].tolist() == [41] and moved.rejected["source_row"].dtype == "int64"
    assert chunk.numbered_from(0) is chunk
