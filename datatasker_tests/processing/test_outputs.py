"""SPEC section 3's formatting rules and atomic placement of result files."""

from __future__ import annotations

import pandas as pd
import pytest

from datatasker_pipeline.processing.files import atomic_path
from datatasker_pipeline.processing.outputs import (
    format_float,
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


def test_csv_has_no_bom_comma_header_and_integers_without_fraction(tmp_path):
    frame = pd.DataFrame({"source_row": [3], "region": ["=x"], "revenue": [2.5], "note": ["a,b\r\nc"]})
    path = write_csv(tmp_path / "t.csv", frame, integer_columns=("source_row",), number_columns=("revenue",))
    assert path.read_bytes() == b'source_row,region,revenue,note\n3,\'=x,2.5,"a,b\r\nc"\n'


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
