"""Reading a dropped file into columns of records (SPEC sections 1 and 5).

One entry point, :func:`open_sales_file`. The whole-file checks that come
before any record (size, NUL byte, unusable reading options) run once; then
the header gives the :class:`ColumnLayout`, and the records come in
:class:`ColumnChunk` s, from the fast reader (:mod:`.fast`, pyarrow) when it
can promise the reference reader's result (:mod:`.reference`, Python's
``csv`` module), else from the reference reader.

Whole-file failures are raised in SPEC order: problems found in the header or
the options are held back until the rest of the file has been read, so an
earlier-ranked problem further on in the file wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..errors import FileFailure
from ..options import ParsedOptions
from .fast import FAST_BLOCK_BYTES, FastPathUnavailable, UnparsedBlock, fast_chunks, fast_path_possible
from .layout import (
    ColumnChunk,
    ColumnLayout,
    ReadLimits,
    RecordChunk,
    columns_of,
    fill_missing_problems,
    resolve_layout,
)
from .reference import (
    DEFAULT_CHUNK_RECORDS,
    check_before_reading,
    read_header,
    reference_records,
)

__all__ = [
    "ColumnChunk",
    "ColumnLayout",
    "FastPathUnavailable",
    "ReadLimits",
    "RecordChunk",
    "UnparsedBlock",
    "open_sales_file",
]


def open_sales_file(
    path: Path,
    parsed: ParsedOptions,
    limits: ReadLimits = ReadLimits(),
    chunk_records: int | None = None,
    *,
    fast: bool = True,
    block_bytes: int = FAST_BLOCK_BYTES,
    read_ahead: bool = True,
    parse_later: bool = False,
) -> tuple[ColumnLayout, Iterator[ColumnChunk | UnparsedBlock]]:
    """The file's column layout and its data records as column chunks.

    Raises :class:`FileFailure` for whole-file failures found up to the
    header; the iterator raises those found later. With ``fast``, the
    iterator may raise :class:`FastPathUnavailable` at any point, after which
    the caller must start again with ``fast=False``, discarding what it
    wrote; whole-file failures are always reported by the reference reader.
    ``chunk_records`` None means DEFAULT_CHUNK_RECORDS on the reference path
    and one chunk per read block (``block_bytes`` of the file) on the fast
    path, which parses one block ahead on a thread when ``read_ahead``. With
    ``parse_later`` the fast path gives its blocks unparsed instead
    (:class:`UnparsedBlock`), for the caller's threads to parse.
    """
    options = parsed.options
    fast = fast and fast_path_possible(options.encoding, options.delimiter)
    # The fast reader gives up on a NUL byte, and the reference path then reports it.
    check_before_reading(path, parsed, limits, scan_for_nul=not fast or bool(parsed.reading_problems))
    if not fast:
        layout, chunks = reference_records(path, parsed, limits, chunk_records or DEFAULT_CHUNK_RECORDS)
        width = len(layout.names)
        return layout, (columns_of(chunk, width) for chunk in chunks)
    try:
        header = read_header(path, parsed, limits)
    except FileFailure:
        raise FastPathUnavailable("a whole-file failure: the reference path reports the first, in SPEC order") from None
    if header is None or parsed.problems:
        raise FastPathUnavailable("no header, or option problems: the reference path reports them")
    try:
        layout = resolve_layout(header, dict(options.column_map))
    except FileFailure:
        raise FastPathUnavailable("header problems: the reference path reports them in SPEC order") from None
    if fill_missing_problems(layout, options):
        raise FastPathUnavailable("option problems: the reference path reports them")
    return layout, fast_chunks(
        path, layout, header, options.delimiter, limits, chunk_records, block_bytes, read_ahead, parse_later
    )
