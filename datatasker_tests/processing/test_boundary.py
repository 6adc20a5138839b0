"""The numpy record boundary gives the quote-following scanner's answer on any bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datatasker_pipeline.processing.reading.boundary import (
    FastPathUnavailable,
    record_boundary,
    record_boundary_by_scanning,
)

COMMA = ord(",")


def answer(function, data: bytes, at_eof: bool):
    try:
        return function(data, COMMA, at_eof)
    except FastPathUnavailable:
        return "unavailable"


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from([b"a", b",", b'"', b"\n", b"\r", b'""', b'"a,b"', b"\r\n"]), max_size=40), st.booleans())
def test_parity_agrees_with_the_scanner(pieces, at_eof):
    data = b"".join(pieces)
    assert answer(record_boundary, data, at_eof) == answer(record_boundary_by_scanning, data, at_eof)


@pytest.mark.parametrize("at_eof", [False, True])
def test_a_quoted_export_block(at_eof):
    rows = b"".join(b'%d,"Gute, Claire","a ""b""\r\nc",x\r\n' % i for i in range(2000))
    for cut in (len(rows), len(rows) - 3, len(rows) - 15):
        data = rows[:cut]
        assert answer(record_boundary, data, at_eof) == answer(record_boundary_by_scanning, data, at_eof)


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n", b"\r"])
def test_a_block_ending_inside_a_field_of_many_lines(line_end):
    # More line ends inside the last (open) quoted field than the backward walk takes: all are counted.
    data = b"a,b" + line_end + b"1,2" + line_end + b'3,"' + line_end.join([b"x"] * 100) + line_end
    expected = len(b"a,b" + line_end + b"1,2" + line_end)
    assert record_boundary(data, COMMA, False) == record_boundary_by_scanning(data, COMMA, False) == expected


def test_an_unquoted_block_is_cut_after_its_last_line_end():
    assert record_boundary(b"a,b\n1,2\n3,", COMMA, False) == len(b"a,b\n1,2\n")
    assert record_boundary(b"a,b\r\n1,2\r", COMMA, False) == len(b"a,b\r\n")  # the "\r" may be half of "\r\n"
    assert record_boundary(b"a,b", COMMA, False) == 0
    assert record_boundary(b"a,b", COMMA, True) == 3
