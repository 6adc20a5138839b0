"""SPEC section 3's formatting rules and atomic placement of result files."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datatasker_pipeline.processing import outputs
from datatasker_pipeline.processing.files import atomic_path
from datatasker_pipeline.processing.outputs import (
    CsvTableWriter,
    ParquetTableWriter,
    cleaned_arrow_schema,
    format_float,
    format_floats,
    guard_formulas,
    write_csv,
)


@pytest.mark.parametrize(
    "text, written",
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+cmd", "'+cmd"),
        ("-bad", "'-bad"),
        ("@home", "'@home"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-5", "-5"),
        ("+1e3", "+1e3"),
        ("-.5", "-.5"),
        ("-1e309", "-1e309"),  # shaped like a plain decimal number: the shape decides, not the value
        ("-1e3e", "'-1e3e"),
        ("-", "'-"),
        ("a=b", "a=b"),
        ("", ""),
        ("East", "East"),
    ],
)
def test_formula_guard(text, written):
    assert guard_formulas(pd.Series([text], dtype="str")).tolist() == [written]


@pytest.mark.parametrize("value", [0.1, 1 / 3, 1e-300, 123456789.123456789, 2.0**60, -0.0, 5e-324])
def test_floats_read_back_to_the_same_double(value):
    assert float(format_float(value)) == value


def _edges() -> list[float]:
    edges = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 480.0, -480.0,
             float("inf"), -float("inf"), float("nan"), 2.0**53, 2.0**53 + 2, 1e-4 * 3, 123456789.123]
    for bound in (1e-4, 1e15, 1e16, 1e-5):
        edges += [bound, -bound, float(np.nextafter(bound, 0)), float(np.nextafter(bound, np.inf))]
    return edges


def test_floats_are_written_as_python_writes_them_whatever_the_value():
    """Arrow writes most of them: on any bit pattern, price-like decimal and edge value, the text is repr's."""
    rng = np.random.default_rng(2026)
    any_bits = rng.integers(0, 2**64, size=200_000, dtype=np.uint64).view(np.float64)
    scales = 10.0 ** rng.integers(-8, 18, size=200_000)
    decimals = np.round(rng.random(200_000) * scales * 100) / 100
    fractions = rng.integers(-10**6, 10**6, size=200_000) / rng.choice([1, 2, 3, 7, 8, 10, 1000], size=200_000)
    for values in (any_bits, decimals, fractions, np.array(_edges())):
        assert format_floats(values) == [repr(v) for v in values.tolist()]


def test_csv_has_no_bom_comma_header_and_integers_without_fraction(tmp_path):
    frame = pd.DataFrame({"source_row": [3], "region": ["=x"], "revenue": [2.5], "note": ["a,b\r\nc"]})
    path = write_csv(tmp_path / "t.csv", frame, integer_columns=("source_row",), number_columns=("revenue",))
    assert path.read_bytes() == b'source_row,region,revenue,note\n3,\'=x,2.5,"a,b\r\nc"\n'


def test_a_bare_carriage_return_in_a_cell_reads_back_as_written(tmp_path):
    """Python's csv writer leaves a lone \\r unquoted (a reader ends the record there): such rows are quoted."""
    frame = pd.DataFrame({
        "source_row": [1, 2, 3],
        "note": pd.Series(["plain", "c\rr", "a,b"], dtype="str"),
        "revenue": [1.5, 2.0, 3.0],
    })
    path = write_csv(tmp_path / "t.csv", frame, integer_columns=("source_row",), number_columns=("revenue",))
    assert path.read_bytes() == b'source_row,note,revenue\n1,plain,1.5\n"2","c\rr","2.0"\n3,"a,b",3.0\n'
    with path.open(newline="") as f:
        assert list(csv.reader(f)) == [["source_row", "note", "revenue"], ["1", "plain", "1.5"], ["2", "c\rr", "2.0"],
                                       ["3", "a,b", "3.0"]]
    header = write_csv(tmp_path / "h.csv", pd.DataFrame({"a\rb": pd.Series(["x"], dtype="str")}))
    assert header.read_bytes() == b'"a\rb"\nx\n'


def rejected_like(first_row: int, values: list[str]) -> pd.DataFrame:
    rows = len(values)
    return pd.DataFrame({
        "source_row": list(range(first_row, first_row + rows)),
        "reason": pd.Series(["not_a_number"] * rows, dtype="str"),
        "value": pd.Series(values, dtype="str"),
    })


HEADER = ["source_row", "reason", "value"]


@pytest.fixture
def formatted_rows(monkeypatch) -> list[int]:
    """The number of rows of each formatting call (one per batch written)."""
    calls: list[int] = []
    real = outputs.format_columns

    def counting(frame, *args):
        calls.append(len(frame))
        return real(frame, *args)

    monkeypatch.setattr(outputs, "format_columns", counting)
    return calls


def test_a_batching_writer_writes_the_same_bytes_as_one_writing_each_frame(tmp_path, formatted_rows):
    frames = [rejected_like(2, ["x", "=1"]), rejected_like(4, []), rejected_like(4, ["c\rr", "a,b", "ok"]),
              rejected_like(7, ["-", "y"])]
    each = CsvTableWriter(tmp_path / "each.csv", HEADER, ("source_row",))
    for frame in frames:
        each.write(frame)
    each.close()
    assert formatted_rows == [2, 3, 2]
    batched = CsvTableWriter(tmp_path / "batched.csv", HEADER, ("source_row",), batch_rows=4)
    for frame in frames:
        batched.write(frame)
    assert formatted_rows[3:] == [5]  # the third frame filled the batch
    batched.close()
    assert formatted_rows[3:] == [5, 2]  # the rest, at close
    assert (tmp_path / "batched.csv").read_bytes() == (tmp_path / "each.csv").read_bytes()
    assert (tmp_path / "each.csv").read_bytes() == (
        b"source_row,reason,value\n2,not_a_number,x\n3,not_a_number,'=1\n"
        b'"4","not_a_number","c\rr"\n5,not_a_number,"a,b"\n6,not_a_number,ok\n7,not_a_number,\'-\n8,not_a_number,y\n'
    )


def test_a_batching_writer_holds_at_most_its_bytes_of_rows(tmp_path, formatted_rows):
    writer = CsvTableWriter(tmp_path / "t.csv", HEADER, batch_rows=1_000_000, batch_bytes=100_000)
    writer.write(rejected_like(1, ["long text " * 2_000]))  # about 20 KB of text waits
    assert formatted_rows == []
    writer.write(rejected_like(2, ["long text " * 10_000]))  # past 100 KB: written
    assert formatted_rows == [2]
    writer.close()
    assert formatted_rows == [2]
    assert (tmp_path / "t.csv").read_text().count("\n") == 3


def test_an_abandoned_batching_writer_writes_nothing_that_waits(tmp_path, formatted_rows):
    writer = CsvTableWriter(tmp_path / "t.csv", HEADER, batch_rows=100)
    writer.write(rejected_like(1, ["a", "b"]))
    writer.abandon()
    assert formatted_rows == [] and (tmp_path / "t.csv").read_text() == "source_row,reason,value\n"


def test_header_names_are_never_guarded(tmp_path):
    frame = pd.DataFrame({"=odd": pd.Series(["-x"], dtype="str")})
    assert write_csv(tmp_path / "t.csv", frame).read_text() == "=odd\n'-x\n"


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    final = tmp_path / "out" / "result.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(final) as partial:
            partial.write_text("half")
            raise RuntimeError("boom")
    assert not final.exists()
    assert list(final.parent.iterdir()) == []


def test_atomic_path_places_the_file_on_success(tmp_path):
    final = tmp_path / "result.csv"
    with atomic_path(final) as partial:
        assert partial.parent == final.parent and partial.name.startswith(".")
        partial.write_text("whole")
    assert final.read_text() == "whole" and len(list(tmp_path.iterdir())) == 1


def clean_rows(first_row: int, rows: int) -> pa.Table:
    """Clean rows with a repeating region and category, and an order ID that never repeats."""
    return pa.table({
        "source_row": list(range(first_row, first_row + rows)),
        "region": ["north", "south"] * (rows // 2),
        "revenue": [float(i) for i in range(rows)],
        "quantity": [2.0] * rows,
        "discount": [0.1] * rows,
        "Order ID": [f"ORD-{first_row + i}" for i in range(rows)],
        "Category": ["Furniture", "Technology"] * (rows // 2),
        "revenue_per_unit": [i / 2 for i in range(rows)],
    })


def test_clean_rows_get_dictionaries_where_values_repeat_and_statistics_where_the_check_reads_them(tmp_path):
    path = tmp_path / "cleaned.parquet"
    writer = ParquetTableWriter(path, cleaned_arrow_schema(["region", "revenue", "quantity", "discount", "Order ID", "Category"]))
    writer.write(clean_rows(2, 100))
    writer.write(clean_rows(102, 100))
    writer.close()
    group = pq.ParquetFile(path).metadata.row_group(1)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    dictionary = {name for name, column in columns.items() if column.dictionary_page_offset is not None}
    assert dictionary == {"region", "quantity", "discount", "Category"}
    with_statistics = {name for name, column in columns.items() if column.is_stats_set}
    assert with_statistics == {"source_row", "region", "revenue", "quantity", "discount", "revenue_per_unit"}
    assert pq.read_table(path).to_pylist() == clean_rows(2, 100).to_pylist() + clean_rows(102, 100).to_pylist()


def test_the_dictionary_decision_looks_at_the_first_rows_only(monkeypatch):
    monkeypatch.setattr(outputs, "DICTIONARY_SAMPLE_ROWS", 50)
    # "late" is all different in the first 50 rows and one value after; "early" the other way round.
    table = pa.table({"late": [str(i) for i in range(50)] + ["x"] * 950, "early": ["y"] * 50 + [str(i) for i in range(950)]})
    assert outputs.dictionary_columns(table) == ["early"]


def test_a_file_without_clean_rows_is_still_a_parquet_file_with_the_schema(tmp_path):
    path = tmp_path / "cleaned.parquet"
    schema = cleaned_arrow_schema(["region", "revenue", "quantity", "discount"])
    ParquetTableWriter(path, schema).close()
    assert pq.read_table(path).schema == schema and pq.read_table(path).num_rows == 0
