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
