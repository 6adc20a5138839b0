"""The reference reader: Python's ``csv`` module over the decoded file (SPEC sections 1 and 5).

This path defines what a file means. Raw bytes are checked and decoded block
by block, split into lines, and parsed by the ``csv`` module (RFC 4180
quoting; quoted line breaks are kept as read). Records come out in batches,
so memory stays bounded whatever the file size. The fast path
(:mod:`.fast`) must give exactly the same records, and hands a file back to
this one whenever it cannot promise that.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
from pathlib import Path
from typing import Iterator

from ..errors import FileFailure, size_failure
from ..options import ParsedOptions, ProcessingOptions, is_wide_unicode
from .layout import (
    ColumnLayout,
    ReadLimits,
    RecordChunk,
    fill_missing_problems,
    resolve_layout,
)

READ_BLOCK_BYTES = 1 << 22
# The header alone needs only the start of the file: decoding and splitting a whole
# READ_BLOCK_BYTES into lines to take the first cost 25-30 ms per file. A longer header
# is read on, block by block.
HEADER_READ_BYTES = 64 << 10
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


@contextlib.contextmanager
def csv_field_limit(limit: int) -> Iterator[None]:
    """The ``csv`` module's cell length limit for one read, restored afterwards.

    The module keeps this limit process-wide; a read sets it for its own
    duration only.
    """
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def check_file_size(path: Path, limit: int) -> int:
    size = path.stat().st_size
    if size > limit:
        raise FileFailure(size_failure(size, limit))
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


def nul_failure(offset: int) -> FileFailure:
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
        raise nul_failure(text_offset + _wide_char_bytes(codec, text[:at]))


def decoded_blocks(path: Path, encoding: str, block_bytes: int | None = None) -> Iterator[str]:
    """Decode the file block by block, failing on the first undecodable byte.

    For UTF-16/32 a NUL character in the decoded text fails the file (their
    ASCII has NUL bytes, so the raw check does not apply).
    """
    wide = is_wide_unicode(encoding)
    block_bytes = block_bytes or READ_BLOCK_BYTES
    with path.open("rb") as f:
        head = f.read(block_bytes)
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
            block = f.read(block_bytes)
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


def record_batches(
    path: Path, options: ProcessingOptions, limits: ReadLimits, size: int, block_bytes: int | None = None
) -> Iterator[list[list[str]]]:
    """Non-empty records in file order, in lists of up to ``size``; the header comes first."""
    lines = _lines_with_end_marker(split_lines(decoded_blocks(path, options.encoding, block_bytes)))
    reader = csv.reader(lines, delimiter=options.delimiter, quotechar='"', doublequote=True, strict=False)
    with csv_field_limit(limits.max_field_chars):
        yield from _batches_of(reader, limits, size)


def _batches_of(reader, limits: ReadLimits, size: int) -> Iterator[list[list[str]]]:
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


def _chunked(batches: Iterator[list[list[str]]], first_source_row: int) -> Iterator[RecordChunk]:
    next_row = first_source_row
    for batch in batches:
        yield RecordChunk(next_row, batch)
        next_row += len(batch)


def raise_reading_problem(path: Path, parsed: ParsedOptions, limits: ReadLimits) -> None:
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
            batches = record_batches(path, parsed.options, limits, DEFAULT_CHUNK_RECORDS)
            if next(batches, None) is None:
                raise FileFailure("file is empty: no header row")
            for _ in batches:
                pass
    raise FileFailure(parsed.reading_problems[0])


def check_before_reading(path: Path, parsed: ParsedOptions, limits: ReadLimits, *, scan_for_nul: bool = True) -> None:
    """The whole-file checks that come before any record: size, NUL byte, unusable reading options.

    ``scan_for_nul`` False leaves the NUL byte to a reader that looks for it
    in its own pass (the fast path, which then hands over to this one).
    """
    check_file_size(path, limits.max_file_bytes)
    if scan_for_nul and not is_wide_unicode(parsed.options.encoding):
        nul = find_nul_byte(path)
        if nul is not None:
            raise nul_failure(nul)
    if parsed.reading_problems:
        raise_reading_problem(path, parsed, limits)


def read_header(path: Path, parsed: ParsedOptions, limits: ReadLimits) -> list[str] | None:
    """The header record alone (None for a file with no records)."""
    batches = record_batches(path, parsed.options, limits, 1, HEADER_READ_BYTES)
    try:
        first = next(batches, None)
    finally:
        batches.close()
    return first[0] if first else None


def reference_records(
    path: Path,
    parsed: ParsedOptions,
    limits: ReadLimits = ReadLimits(),
    chunk_records: int = DEFAULT_CHUNK_RECORDS,
) -> tuple[ColumnLayout, Iterator[RecordChunk]]:
    """The file's column layout and its data records in chunks, by the reference parser.

    Call after :func:`check_before_reading`. Raises :class:`FileFailure` for
    whole-file failures found in the header; the iterator raises those found
    later (undecodable bytes, an unterminated quote). Consume it to the end
    before treating results as final.
    """
    batches = record_batches(path, parsed.options, limits, chunk_records)
    first = next(batches, None)
    if first is None:
        raise FileFailure("file is empty: no header row")
    header, first_data = first[0], first[1:]
    try:
        layout = resolve_layout(header, dict(parsed.options.column_map))
        problems = list(parsed.problems) + fill_missing_problems(layout, parsed.options)
        if problems:
            raise FileFailure(problems[0])
    except FileFailure:
        # Problems that rank earlier in SPEC section 5 may still lie further on.
        for _ in batches:
            pass
        raise
    return layout, _chunked(itertools.chain([first_data] if first_data else [], batches), 1)


