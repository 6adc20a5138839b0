"""Streaming must not change results: chunk sizes, block sizes and the fast (pyarrow) reader.

The reference is the Python ``csv`` path with one chunk holding every record.
Every other way of running the same file (tiny chunks, tiny read blocks that
cut quoted multi-line fields, the fast reader) must write byte-identical CSV
outputs and an equal ``cleaned.parquet`` (same schema, same rows; only the
row-group layout differs).
"""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datatasker_pipeline.processing.errors import FileFailure
from datatasker_pipeline.processing.options import parse_options
from datatasker_pipeline.processing.pipeline import process_file
from datatasker_pipeline.processing.reading import UnparsedBlock, open_sales_file
from datatasker_pipeline.processing.reading.blocks import is_utf8
from datatasker_pipeline.processing.reading.boundary import FastPathUnavailable, record_boundary

CSV_OUTPUTS = ("region_summary.csv", "anomalies.csv", "rejected_rows.csv")


def messy_file(seed: int = 7, rows: int = 90, crlf: bool = False) -> bytes:
    """A file with most of what SPEC section 1-2 cares about, regions appearing late."""
    rnd = random.Random(seed)
    nl = "\r\n" if crlf else "\n"
    lines = [" Region ,Revenue,quantity , DISCOUNT,note,channel"]
    regions = ["East", " West", "west ", "Île-de-France", "東京"]
    for i in range(rows):
        if i == rows // 2:
            regions.append("Late Region")
        if i == rows - 5:
            regions.append("=Very Late")
        region = rnd.choice(regions)
        revenue = rnd.choice(["10", "12.5", " 3 ", "1e3", "-4", "n/a", "", "abc", "1,200", "0.5", ".5", "1."])
        quantity = rnd.choice(["1", "2", "4", "0", "-0", "0e5", "3", "NULL", "x", "1e-400"])
        discount = rnd.choice(["0", "0.1", "1", "1.5", "-0", "None", "0.25"])
        note = rnd.choice(["plain", '"multi\nline"', '"multi\r\nline, with comma"', '"say ""hi"""', "", " pad ",
                           '"cr\ronly"', "=cmd", "-5"])
        channel = rnd.choice(["web", "store", "\u00a0phone\u00a0"])
        record = [region, revenue, quantity, discount, note, channel]
        if rnd.random() < 0.05:
            record = record[:-1]  # ragged: one field too few
        elif rnd.random() < 0.03:
            record = record + ["extra"]  # ragged: one too many
        line = ",".join(f'"{c}"' if "," in c and not c.startswith('"') else c for c in record)
        lines.append(line)
        if rnd.random() < 0.05:
            lines.append("")  # an empty line: not a record
        if rnd.random() < 0.02:
            lines.append("   ")  # only spaces: a record of one field
        if rnd.random() < 0.02:
            lines.append(",,,,,")  # only delimiters: empty fields
    spikes = [f"East,{900 + i},1,0,spike,web" for i in range(3)]
    lines[40:40] = spikes
    return (nl.join(lines) + nl).encode("utf-8")


def run(tmp_path: Path, data: bytes, name: str, **kwargs) -> Path:
    src = tmp_path / "input.csv"
    if not src.exists():
        src.write_bytes(data)
    out = tmp_path / name
    out.mkdir()
    process_file(src, out, kwargs.pop("options", None), **kwargs)
    return out


def assert_same_outputs(expected: Path, actual: Path) -> None:
    for name in CSV_OUTPUTS:
        assert (actual / name).read_bytes() == (expected / name).read_bytes(), name
    a, b = pq.read_table(expected / "cleaned.parquet"), pq.read_table(actual / "cleaned.parquet")
    assert a.schema == b.schema
    assert a.equals(b)


@pytest.mark.parametrize(
    "crlf, options",
    [(False, None), (True, {"drop_duplicates": True, "fill_missing": {"discount": 0, "note": "?"}})],
)
def test_tiny_chunks_and_blocks_give_identical_outputs(tmp_path, crlf, options):
    data = messy_file(crlf=crlf)
    reference = run(tmp_path, data, "reference", options=options, chunk_records=10**6, fast=False, cleaning_threads=1)
    rejected = (reference / "rejected_rows.csv").read_text(encoding="utf-8")
    assert "field_count" in rejected and "not_a_number" in rejected  # the file is as messy as meant
    assert "Late Region" in (reference / "region_summary.csv").read_text(encoding="utf-8")
    blocks = (16, 37, 256, 1 << 20)
    for i, chunk_records in enumerate((1, 2, 3, 7, 10**6)):
        # the reference parser in small chunks; the fast reader in small chunks
        # and in read blocks that cut records (and quoted line breaks) anywhere
        for fast, block_bytes in ((False, 1 << 20), (True, blocks[i % 4]), (True, blocks[(i + 1) % 4])):
            if not fast and chunk_records == 10**6:
                continue
            # chunks cleaned one at a time, or several at once on threads, in turn
            threads = 3 if (i + block_bytes) % 2 else 1
            out = run(tmp_path, data, f"c{chunk_records}_{fast}_{block_bytes}_{threads}", options=options,
                      chunk_records=chunk_records, fast=fast, block_bytes=block_bytes, cleaning_threads=threads)
            assert_same_outputs(reference, out)


def test_fast_reader_is_really_used_on_the_messy_file(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(messy_file(crlf=True))
    # no FastPathUnavailable: the fast reader handles this file itself
    fast = _records(path, True, 23)
    slow = _records(path, False, 1 << 20)
    assert fast[0] == slow[0]
    assert fast == slow
    assert any(cells is None for _, cells in fast[1])  # ragged records, numbered like the reference


def test_quoted_crlf_on_a_block_boundary_keeps_its_line_feed(tmp_path):
    # pyarrow's own block splitting drops the "\n" of a quoted "\r\n" cut between
    # "\r" and "\n"; the fast reader never lets Arrow split, so it must not happen.
    head = "region,revenue,quantity,discount,note\n"
    for pad in range(0, 12):
        data = (head + "East,1,1,0,x\n" * (pad % 5) + f'East,1,1,0,"a{"a" * pad}\r\n\r\nb"\n' + "West,2,1,0,y\n").encode()
        d = tmp_path / f"p{pad}"
        d.mkdir()
        for block in (8, 17):
            out = run(d, data, f"b{block}", fast=True, block_bytes=block)
            note = pq.read_table(out / "cleaned.parquet").column("note").to_pylist()
            assert "a" * (pad + 1) + "\r\n\r\nb" in note  # (cells are trimmed: text on both sides)


def test_record_boundary_follows_the_csv_module():
    comma = ord(",")
    assert record_boundary(b'a,b\nc,"d\ne', comma, at_eof=False) == 4  # open quote: cut before it
    assert record_boundary(b'a,b\nc,"d\ne"\nf', comma, at_eof=False) == 12
    assert record_boundary(b'a,b"\nc', comma, at_eof=False) == 5  # a quote inside an unquoted field is text
    assert record_boundary(b'a,"b"x"\nc', comma, at_eof=False) == 8  # after the closing quote the field goes on
    assert record_boundary(b'a,b\r', comma, at_eof=False) == 0  # may be half of "\r\n"
    assert record_boundary(b'a,b\r\nc', comma, at_eof=False) == 5
    assert record_boundary(b'a,"b""', comma, at_eof=False) == 0  # undecided
    with pytest.raises(FastPathUnavailable):
        record_boundary(b'a,"b', comma, at_eof=True)


ALPHABET = ["a", "b", "1", ",", ",", '"', '"', "\n", "\r\n", "\r", " ", "\t", "é", "\ufeff", "n/a", "0"]


def _records(path: Path, fast: bool, block_bytes: int, parse_later: bool = False):
    try:
        layout, items = open_sales_file(
            path, parse_options(None), chunk_records=3, fast=fast, block_bytes=block_bytes, parse_later=parse_later
        )
        rows = []
        first_row = 0  # an unparsed block numbers its records from 0: add the records of the blocks before
        for item in items:
            records, chunks = item.parse() if isinstance(item, UnparsedBlock) else (0, [item])
            for c in chunks:
                cols = [col.to_pylist() for col in c.columns]
                rows += [(first_row + r, list(cells)) for r, cells in zip(c.source_rows.tolist(), zip(*cols))]
                rows += [(first_row + r, None) for r in c.ragged_rows.tolist()]
            first_row += records
        return layout, sorted(rows, key=lambda x: x[0])
    except FileFailure as failure:
        return "failure", failure.message


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    body=st.lists(st.sampled_from(ALPHABET), max_size=60).map("".join),
    header=st.sampled_from(["region,revenue,quantity,discount", '"region",revenue,"quan""tity",discount',
                            "region,revenue,quantity,discount,x", "\ufeffregion,revenue,quantity,discount"]),
    block_bytes=st.sampled_from([1, 2, 5, 16, 64, 1 << 20]),
)
def test_fast_reader_agrees_with_the_csv_module(tmp_path, body, header, block_bytes):
    path = tmp_path / "h.csv"
    path.write_bytes((header + "\n" + body).encode("utf-8"))
    expected = _records(path, False, block_bytes)
    for parse_later in (False, True):  # parsed as the blocks are cut, or later by cleaning threads
        try:
            actual = _records(path, True, block_bytes, parse_later)
        except FastPathUnavailable:
            continue  # the caller falls back to the reference path
        assert actual == expected


def test_python_whitespace_is_exactly_what_str_strip_removes():
    from datatasker_pipeline.processing.rules import PYTHON_WHITESPACE

    assert PYTHON_WHITESPACE == "".join(c for c in map(chr, range(0x110000)) if c.isspace())


def test_anomalies_written_in_small_batches_are_the_same_file(tmp_path, monkeypatch):
    import datatasker_pipeline.processing.anomalies as anomalies

    lines = ["region,revenue,quantity,discount"] + [f"R{i % 3},{10 + i % 5},1,0" for i in range(400)]
    lines[50:50] = [f"East,{900 + i},1,0" for i in range(7)]  # spikes spread over row groups
    lines[300:300] = [f"West,{950 + i},1,0" for i in range(5)]
    data = ("\n".join(lines) + "\n").encode()
    reference = run(tmp_path, data, "reference", block_bytes=1 << 20)
    monkeypatch.setattr(anomalies, "ANOMALY_WRITE_ROWS", 2)
    batched = run(tmp_path, data, "batched", block_bytes=512)  # many row groups, a write every 2 rows
    assert pq.ParquetFile(batched / "cleaned.parquet").num_row_groups > 5
    assert_same_outputs(reference, batched)
    assert (reference / "anomalies.csv").read_text().count("\n") == 1 + 12


@pytest.mark.parametrize("bad_before", [b"", b"\xff"])
def test_a_nul_byte_late_in_the_file_is_reported_where_the_fast_pass_finds_it(tmp_path, bad_before):
    # The fast reader looks for NUL bytes in its own pass (no pass before it);
    # finding one, it hands over, and the file fails with the NUL's offset even
    # when an undecodable byte comes first (section 5 order).
    head = ("region,revenue,quantity,discount\n" + "East,10,2,0.1\n" * 2_000).encode()
    content = head + b"West," + bad_before + b"1,1,0\n" + b"North,1,1,0\n" * 500 + b"Ea\x00st,1,1,0\n"
    source = tmp_path / "late-nul.csv"
    source.write_bytes(content)
    with pytest.raises(FileFailure) as caught:
        process_file(source, tmp_path / "out", block_bytes=4096)
    offset = content.index(b"\x00")
    assert caught.value.message == f"file contains a NUL byte at offset {offset}: binary data, not CSV"
    assert not (tmp_path / "out" / "cleaned.parquet").exists()


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@settings(max_examples=3000, deadline=None)
@given(st.one_of(
    st.binary(max_size=40),
    # valid text with one byte changed: truncated sequences, stray continuation bytes, surrogates
    st.tuples(st.text(max_size=20), st.integers(0, 60), st.integers(0, 255)).map(
        lambda t: (lambda b: b[:t[1] % (len(b) + 1)] + bytes([t[2]]) + b[t[1] % (len(b) + 1) + 1:])(t[0].encode())),
))
def test_the_utf8_check_is_the_decoders(data):
    assert is_utf8(data) == _decodes(data)


@pytest.mark.parametrize("data", [b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80", b"a\xe2\x82", b"\xef\xbf\xbe", b""])
def test_the_utf8_check_on_edge_sequences(data):
    assert is_utf8(data) == _decodes(data)
