"""Reading a dropped file into records: SPEC sections 1 and 5.

The file is streamed: raw bytes are checked and decoded block by block, split
into lines, and parsed by Python's ``csv`` module (RFC 4180 quoting; quoted
line breaks are kept as read). Records come out in chunks, so memory stays
bounded whatever the file size.

Whole-file failures are raised in SPEC order (size, NUL byte, undecodable
bytes, unterminated quote, no header, missing columns, duplicate columns, bad
option): problems found in the header or options are held back until the rest
of the file has been read, so an earlier-ranked problem later in the file wins.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa

from .errors import FileFailure
from .fastcsv import FAST_BLOCK_BYTES, FastPathUnavailable, fast_path_possible, parsed_blocks
from .options import ParsedOptions, ProcessingOptions, is_wide_unicode

REQUIRED_COLUMNS = ("region", "revenue", "quantity", "discount")
# Names the outputs add beside the file's own columns.
RESERVED_COLUMNS = ("source_row", "revenue_per_unit", "z_score", "threshold")
READ_BLOCK_BYTES = 1 << 22
DEFAULT_CHUNK_RECORDS = 100_000

# A NUL character fails the file before parsing, so a line holding only NUL
# can never be data: fed after the last line, it shows whether the file ended
# inside a quoted field (the parser swallows it into that field).
_END_SENTINEL = "\x00"
_UTF8_BOM = codecs.BOM_UTF8
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True)
class ReadLimits:
    """Guards against files that would exhaust the machine; each is a clear failure."""

    max_file_bytes: int = 2 * 1024**3
    max_columns: int = 10_000
    max_field_chars: int = 16 * 1024**2


@dataclass(frozen=True)
class ColumnLayout:
    """How the file's columns map to output columns (SPEC section 1).

    ``names`` are the file's columns in file order, renamed: the four required
    columns under their canonical lower-case names, every other column under
    its trimmed header name.
    """

    names: tuple[str, ...]

    @property
    def output_names(self) -> tuple[str, ...]:
        """Output column order: the four required columns, then carried ones in file order."""
        return (*REQUIRED_COLUMNS, *self.carried)

    @property
    def carried(self) -> tuple[str, ...]:
        return tuple(n for n in self.names if n not in REQUIRED_COLUMNS)


@dataclass
class RecordChunk:
    """Consecutive data records; ``first_source_row`` is the 1-based number of the first."""

    first_source_row: int
    records: list[list[str]]


@dataclass
class ColumnChunk:
    """Consecutive data records as columns of raw (untrimmed) text.

    ``source_rows`` numbers the well-shaped records, whose cells are in
    ``columns`` (one Arrow string array per file column); ``ragged_rows``
    numbers the records whose field count differs from the header's.
    """

    source_rows: np.ndarray
    columns: list[pa.Array]
    ragged_rows: np.ndarray

    @property
    def records(self) -> int:
        return len(self.source_rows) + len(self.ragged_rows)


def columns_of(chunk: RecordChunk, width: int) -> ColumnChunk:
    """The reference path's record lists, as a :class:`ColumnChunk`."""
    rows = np.arange(chunk.first_source_row, chunk.first_source_row + len(chunk.records), dtype="int64")
    shaped = np.fromiter((len(r) == width for r in chunk.records), dtype=bool, count=len(chunk.records))
    good = chunk.records if shaped.all() else [r for r, ok in zip(chunk.records, shaped) if ok]
    cells = list(zip(*good)) if good else [() for _ in range(width)]
    return ColumnChunk(
        source_rows=rows[shaped],
        columns=[pa.array(column, type=pa.string()) for column in cells],
        ragged_rows=rows[~shaped],
    )


def check_file_size(path: Path, limit: int) -> int:
    size = path.stat().st_size
    if size > limit:
        raise FileFailure(f"file is {size} bytes; the limit is {limit}")
    return size


def find_nul_byte(path: Path) -> int | None:
    """Offset of the first NUL byte in the raw file, if any."""
    offset = 0
    with path.open("rb") as f:
        while block := f.read(READ_BLOCK_BYTES):
            found = block.find(b"\x00")
            if found >= 0:
                return offset + found
            offset += len(block)
    return None


def _nul_failure(offset: int) -> FileFailure:
    return FileFailure(f"file contains a NUL byte at offset {offset}: binary data, not CSV")


def _choose_decoder(encoding: str, head: bytes) -> tuple[str, int]:
    """The codec to decode with and how many leading BOM bytes to skip.

    BOMs are handled here rather than by the ``-sig``/BOM-sniffing codecs so
    that error offsets count from the first byte of the file.
    """
    name = codecs.lookup(encoding).name
    if name in ("utf-8", "utf-8-sig"):
        return "utf-8", len(_UTF8_BOM) if head.startswith(_UTF8_BOM) else 0
    if name in ("utf-16", "utf-32"):
        for bom, codec in _WIDE_BOMS:
            if head.startswith(bom) and codec.startswith(name):
                return codec, len(bom)
        return name + "-le", 0
    return encoding, 0


def _wide_char_bytes(codec: str, text: str) -> int:
    return 4 * len(text) if "32" in codec else len(text.encode("utf-16-le"))


def _check_wide_nul(codec: str, text: str, text_offset: int) -> None:
    at = text.find("\x00")
    if at >= 0:
        raise _nul_failure(text_offset + _wide_char_bytes(codec, text[:at]))


def decoded_blocks(path: Path, encoding: str) -> Iterator[str]:
    """Decode the file block by block, failing on the first undecodable byte.

    For UTF-16/32 a NUL character in the decoded text fails the file (their
    ASCII has NUL bytes, so the raw check does not apply).
    """
    wide = is_wide_unicode(encoding)
    with path.open("rb") as f:
        head = f.read(READ_BLOCK_BYTES)
        codec, skip = _choose_decoder(encoding, head)
        decoder = codecs.getincrementaldecoder(codec)(errors="strict")
        consumed = skip  # bytes handed to the decoder so far, BOM included
        block, final = head[skip:], False
        while True:
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(block, final=final)
            except UnicodeDecodeError as exc:
                if wide:  # a NUL before the bad unit ranks first (SPEC section 5 order)
                    _check_wide_nul(codec, exc.object[: exc.start].decode(codec, "replace"), consumed - pending)
                offset = consumed - pending + exc.start
                raise FileFailure(f"undecodable byte at offset {offset} for encoding {encoding}") from None
            if wide:
                _check_wide_nul(codec, text, consumed - pending)
            consumed += len(block)
            if text:
                yield text
            if final:
                return
            block = f.read(READ_BLOCK_BYTES)
            final = not block


def split_lines(blocks: Iterator[str]) -> Iterator[str]:
    """Lines ending in ``\\n``, ``\\r\\n`` or ``\\r`` (kept), as ``open(newline="")`` gives.

    The csv module treats the end of each string it is handed as a line end,
    so a line is only passed on once it is known to be whole.
    """
    carry = ""
    for block in blocks:
        lines = io.StringIO(carry + block, newline="").readlines()
        # A trailing "\r" may be the first half of a "\r\n" split across blocks.
        carry = "" if lines[-1].endswith("\n") else lines.pop()
        yield from lines
    if carry:
        yield carry


def _lines_with_end_marker(lines: Iterator[str]) -> Iterator[str]:
    yield from lines
    yield "\n"
    yield _END_SENTINEL + "\n"


def _record_batches(path: Path, options: ProcessingOptions, limits: ReadLimits, size: int) -> Iterator[list[list[str]]]:
    """Non-empty records in file order, in lists of up to ``size``; the header comes first."""
    lines = _lines_with_end_marker(split_lines(decoded_blocks(path, options.encoding)))
    reader = csv.reader(lines, delimiter=options.delimiter, quotechar='"', doublequote=True, strict=False)
    # The csv module enforces the cell limit itself (a process-wide setting).
    csv.field_size_limit(limits.max_field_chars)
    number = 0  # records so far, header included
    while True:
        try:
            raw = list(itertools.islice(reader, size))
        except csv.Error:  # non-strict mode raises only for the field size limit
            raise FileFailure(
                f"a field near line {reader.line_num} is longer than the limit of {limits.max_field_chars} characters"
            ) from None
        if not raw:
            return
        batch = [record for record in raw if record]  # a line with no characters is not a record
        # Only the end marker holds a NUL (a real one failed the file already),
        # and it is always the last record read.
        if batch and _END_SENTINEL in batch[-1][-1]:
            if batch[-1] != [_END_SENTINEL]:
                raise FileFailure(f"unterminated quoted field starting in record {number + len(batch)}")
            batch.pop()
        if number == 0 and batch and len(batch[0]) > limits.max_columns:
            raise FileFailure(f"the header has {len(batch[0])} fields; the limit is {limits.max_columns}")
        number += len(batch)
        if batch:
            yield batch


def resolve_layout(header: list[str], column_map: dict[str, str]) -> ColumnLayout:
    """Apply ``column_map`` and find the required columns (SPEC section 1)."""
    by_lower: dict[str, str] = {}
    for key, value in column_map.items():
        by_lower.setdefault(key.lower(), value)  # the first matching key wins
    names: list[str] = []
    for raw in header:
        name = raw.strip()
        name = by_lower.get(name.lower(), name)
        names.append(name.lower() if name.lower() in REQUIRED_COLUMNS else name)
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise FileFailure(f"missing required column(s): {', '.join(missing)}; found: {', '.join(names)}")
    seen: set[str] = set()
    duplicated: list[str] = []
    for name in names:
        if name in seen and name not in duplicated:
            duplicated.append(name)
        seen.add(name)
    if duplicated:
        raise FileFailure(f"duplicate column name(s) after mapping: {', '.join(duplicated)}")
    reserved = [name for name in names if name in RESERVED_COLUMNS]
    if reserved:
        raise FileFailure(
            f"column name(s) reserved for the outputs: {', '.join(reserved)}; rename them with column_map"
        )
    return ColumnLayout(tuple(names))


def _fill_missing_problems(layout: ColumnLayout, options: ProcessingOptions) -> list[str]:
    unknown = [key for key in options.fill_missing if key not in layout.names]
    return [
        f"option fill_missing names no column of the file: {key!r}; the columns are: {', '.join(layout.names)}"
        for key in unknown
    ]


def _chunked(batches: Iterator[list[list[str]]], first_source_row: int) -> Iterator[RecordChunk]:
    next_row = first_source_row
    for batch in batches:
        yield RecordChunk(next_row, batch)
        next_row += len(batch)


def _raise_reading_problem(path: Path, parsed: ParsedOptions, limits: ReadLimits) -> None:
    """Fail on an unusable encoding/delimiter/column_map option, in SPEC section 5 order.

    What the valid options still allow is checked first: undecodable bytes
    (when the encoding is usable), an unterminated quote and an empty file
    (when the delimiter is usable too), since those rank before a bad option.
    """
    bad = " ".join(parsed.reading_problems)
    if "option encoding" not in bad:
        if "option delimiter" in bad:
            for _ in decoded_blocks(path, parsed.options.encoding):
                pass
        else:
            batches = _record_batches(path, parsed.options, limits, DEFAULT_CHUNK_RECORDS)
            if next(batches, None) is None:
                raise FileFailure("file is empty: no header row")
            for _ in batches:
                pass
    raise FileFailure(parsed.reading_problems[0])


def read_sales_csv(
    path: Path,
    parsed: ParsedOptions,
    limits: ReadLimits = ReadLimits(),
    chunk_records: int = DEFAULT_CHUNK_RECORDS,
) -> tuple[ColumnLayout, Iterator[RecordChunk]]:
    """Open a dropped file: its column layout and an iterator of data-record chunks.

    Raises :class:`FileFailure` for whole-file failures found up to the header;
    the iterator raises those found later (undecodable bytes, an unterminated
    quote). Consume the iterator to the end before treating results as final.
    """
    check_file_size(path, limits.max_file_bytes)
    if not is_wide_unicode(parsed.options.encoding):
        nul = find_nul_byte(path)
        if nul is not None:
            raise _nul_failure(nul)
    if parsed.reading_problems:
        _raise_reading_problem(path, parsed, limits)

    batches = _record_batches(path, parsed.options, limits, chunk_records)
    first = next(batches, None)
    if first is None:
        raise FileFailure("file is empty: no header row")
    header, first_data = first[0], first[1:]
    try:
        layout = resolve_layout(header, dict(parsed.options.column_map))
        problems = list(parsed.problems) + _fill_missing_problems(layout, parsed.options)
        if problems:
            raise FileFailure(problems[0])
    except FileFailure:
        # Problems that rank earlier in SPEC section 5 may still lie further on.
        for _ in batches:
            pass
        raise
    return layout, _chunked(itertools.chain([first_data] if first_data else [], batches), 1)


def _fast_chunks(
    path: Path, layout: ColumnLayout, header: list[str], options: ProcessingOptions, limits: ReadLimits,
    chunk_records: int | None, block_bytes: int, read_ahead: bool,
) -> Iterator[ColumnChunk]:
    width = len(layout.names)
    next_row = 0  # source_row of the block's first record; the header is record 0
    for block in parsed_blocks(path, width, options.delimiter, limits.max_field_chars, block_bytes, read_ahead):
        valid = block.valid_numbers + next_row
        ragged = block.ragged_numbers + next_row
        columns = block.columns
        start = next_row
        next_row += block.records
        if start == 0:
            # The header: the reference parser's reading of it must be Arrow's too.
            if not len(valid) or valid[0] != 0 or [c[0].as_py() for c in columns] != header:
                raise FastPathUnavailable("the header reads differently")
            valid = valid[1:]
            columns = [c.slice(1) for c in columns]
            start = 1
        # Chunks of chunk_records records, as the reference path makes them
        # (by default one chunk per block: the block size bounds memory).
        for lo in range(start, next_row, chunk_records or max(next_row - start, 1)):
            hi = min(lo + (chunk_records or next_row), next_row)
            a, b = np.searchsorted(valid, [lo, hi])
            c, d = np.searchsorted(ragged, [lo, hi])
            yield ColumnChunk(
                source_rows=valid[a:b],
                columns=[col.slice(a, b - a) for col in columns],
                ragged_rows=ragged[c:d],
            )


def read_sales_columns(
    path: Path,
    parsed: ParsedOptions,
    limits: ReadLimits = ReadLimits(),
    chunk_records: int | None = None,
    *,
    fast: bool = True,
    block_bytes: int = FAST_BLOCK_BYTES,
    read_ahead: bool = True,
) -> tuple[ColumnLayout, Iterator[ColumnChunk]]:
    """Like :func:`read_sales_csv`, but chunks come as columns, read by the fast path when it can.

    With ``fast``, the layout comes from the reference parser (header only)
    and the records from :mod:`.fastcsv`; its iterator may raise
    :class:`FastPathUnavailable` at any point, after which the caller must
    start again with ``fast=False`` (discarding what it wrote). Whole-file
    failures are always reported by the reference path. ``chunk_records``
    None means DEFAULT_CHUNK_RECORDS on the reference path and one chunk per
    read block (``block_bytes`` of the file) on the fast path, which parses
    one block ahead on a thread when ``read_ahead``.
    """
    if not (fast and fast_path_possible(parsed.options.encoding, parsed.options.delimiter)):
        layout, chunks = read_sales_csv(path, parsed, limits, chunk_records or DEFAULT_CHUNK_RECORDS)
        width = len(layout.names)
        return layout, (columns_of(chunk, width) for chunk in chunks)
    check_file_size(path, limits.max_file_bytes)
    nul = find_nul_byte(path)
    if nul is not None:
        raise _nul_failure(nul)
    if parsed.reading_problems:
        _raise_reading_problem(path, parsed, limits)
    batches = _record_batches(path, parsed.options, limits, 1)
    try:
        first = next(batches, None)
    finally:
        batches.close()
    if first is None or parsed.problems:
        raise FastPathUnavailable("no header or option problems: the reference path reports them")
    header = first[0]
    try:
        layout = resolve_layout(header, dict(parsed.options.column_map))
    except FileFailure:
        raise FastPathUnavailable("header problems: the reference path reports them in SPEC order") from None
    if _fill_missing_problems(layout, parsed.options):
        raise FastPathUnavailable("option problems: the reference path reports them")
    return layout, _fast_chunks(path, layout, header, parsed.options, limits, chunk_records, block_bytes, read_ahead)
