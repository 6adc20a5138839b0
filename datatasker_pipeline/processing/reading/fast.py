"""The fast reader: pyarrow's CSV parser over blocks cut at record boundaries.

Python's ``csv`` module (:mod:`.reference`) is the reference for what a file
means. This module parses the same bytes with Arrow's C++ CSV parser and
must give exactly the same records, numbered the same way. It only runs when
that is known to hold, and otherwise raises :class:`FastPathUnavailable` so
the caller starts again on the reference path:

- UTF-8 files (a leading byte-order mark is dropped, as the reference does)
  and a one-byte ASCII delimiter;
- every block is valid UTF-8 (otherwise the reference reports the exact
  offset of the bad byte), and no later block starts with a byte-order mark
  (Arrow would drop it; the reference keeps it as data);
- the file does not end inside a quoted field (the reference fails it);
- no field comes near the field-size limit (the reference fails the file).

Arrow splits its input into blocks itself and, when a block boundary falls
between the ``\\r`` and ``\\n`` of a line break *inside* a quoted field,
drops the ``\\n`` (found by differential fuzzing against the ``csv`` module,
pyarrow 26). So this module never lets Arrow split anything: it reads the
file in blocks, finds the last record boundary in each with a small state
machine over the (rare) quote characters that follows the ``csv`` module's
rules (a quote opens a quoted field only at the start of a field; ``""``
inside one is a quote; after the closing quote the field goes on unquoted),
and hands Arrow exactly whole records, one independent parse per block, with
Arrow's block size larger than the block.

Ragged records (field count differs from the header's) come back through
Arrow's invalid-row handler with their 1-based row number within the block,
which counts records the way SPEC section 1 does (empty lines not counted, a
multi-line record once): verified against the ``csv`` module by the tests.
"""

from __future__ import annotations

import codecs
import contextlib
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .boundary import FastPathUnavailable, record_boundary
from .layout import ColumnChunk, ColumnLayout, ReadLimits

# Bounds memory: each block in flight costs several times its size (Arrow columns, trimmed
# copies, the clean table). 3 MB with two cleaning threads stayed under the 4 MB single-thread
# figure in peak RSS at 10M rows (docs/performance.md).
FAST_BLOCK_BYTES = 3 << 20
# Reads of FAST_BLOCK_BYTES kept ready ahead of the parser (about 12 MiB more in memory).
READ_AHEAD_READS = 4
# A block that finds no record boundary grows; beyond this the reference path takes over.
MAX_PENDING_BYTES = 256 << 20
_BOM = codecs.BOM_UTF8


def fast_path_possible(encoding: str, delimiter: str) -> bool:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return False
    return name in ("utf-8", "utf-8-sig") and len(delimiter) == 1 and ord(delimiter) < 128 and delimiter not in '"\r\n'


@dataclass
class ParsedBlock:
    """One block's records: the well-shaped ones as columns, and the numbers of ragged ones."""

    columns: list[pa.Array]
    valid_numbers: np.ndarray  # 0-based record index within the block, well-shaped records
    ragged_numbers: np.ndarray  # 0-based record index within the block, ragged records
    records: int


def _parse_block(data: bytes, names: list[str], delimiter: str, max_field_bytes: int) -> ParsedBlock:
    ragged: list[int] = []
    too_long: list[int] = []

    def on_invalid(row) -> str:
        if row.number is None:
            too_long.append(-1)  # cannot place it: let the reference path do the file
        else:
            ragged.append(row.number - 1)
        if row.text is not None and len(row.text) >= max_field_bytes:
            too_long.append(row.number or -1)
        return "skip"

    table = pacsv.read_csv(
        pa.py_buffer(data),
        read_options=pacsv.ReadOptions(column_names=names, block_size=len(data) + 64, use_threads=False),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
            ignore_empty_lines=True,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            check_utf8=True,
        ),
    )
    if too_long:
        raise FastPathUnavailable("a ragged record the fast path cannot place")
    columns = [table.column(i).combine_chunks() if table.num_rows else pa.array([], pa.string()) for i in range(len(names))]
    for column in columns:
        if len(column) and max(pc.max(pc.binary_length(column)).as_py() or 0, 0) >= max_field_bytes:
            raise FastPathUnavailable("a field near the field-size limit")
    records = table.num_rows + len(ragged)
    ragged_numbers = np.array(sorted(ragged), dtype="int64")
    if len(ragged_numbers):
        keep = np.ones(records, dtype=bool)
        keep[ragged_numbers] = False
        valid_numbers = np.flatnonzero(keep).astype("int64")
    else:
        valid_numbers = np.arange(records, dtype="int64")
    return ParsedBlock(columns, valid_numbers, ragged_numbers, records)


def is_utf8(data: bytes) -> bool:
    """Whether ``data.decode("utf-8")`` would succeed, checked by Arrow without making a ``str``.

    Decoding a 3 MiB block only to check it took 3-4 ms of the main thread
    (0.3 s for a 300 MB file with accented text); Arrow's check takes 0.6 ms.
    """
    text = pa.Array.from_buffers(
        pa.large_string(), 1, [None, pa.py_buffer(np.array([0, len(data)], dtype=np.int64)), pa.py_buffer(data)]
    )
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _reads_ahead(f, block_bytes: int, depth: int = READ_AHEAD_READS) -> Iterator[bytes]:
    """``f.read(block_bytes)`` results in order, up to ``depth`` of them read ahead on a thread.

    An object store's reader fetches tens of MiB at once: reading ahead lets
    that wait overlap with the parsing of what came before (a local file
    costs nothing more). Ends with b"" at the end of the file.
    """
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                block = f.read(block_bytes)
                while not stop.is_set():
                    try:
                        ready.put(block, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if not block:
                    return
        except BaseException as error:  # handed to the reader, raised there
            ready.put(error)

    reader = threading.Thread(target=read, name="datatasker-read", daemon=True)
    reader.start()
    try:
        while True:
            block = ready.get()
            if isinstance(block, BaseException):
                raise block
            yield block
            if not block:
                return
    finally:
        stop.set()
        reader.join()


def _blocks(path: Path, delimiter: int, block_bytes: int) -> Iterator[bytes]:
    """The file's bytes (BOM dropped), in pieces of whole records, validated as UTF-8 and free of NUL bytes.

    Checking for NUL here, in the one pass that reads the file, saves a whole
    pass before it (a second download of the file from an object store).
    """
    # The reader thread stops (closing) before the file closes.
    with path.open("rb") as f, contextlib.closing(_reads_ahead(f, block_bytes)) as reads:
        pending = next(reads)
        if pending.startswith(_BOM):
            pending = pending[len(_BOM):]
        at_eof = False
        while True:
            cut = record_boundary(pending, delimiter, at_eof)
            if cut == 0 and not at_eof:
                if len(pending) > MAX_PENDING_BYTES:
                    raise FastPathUnavailable("no record boundary within the block limit")
                more = next(reads, b"")
                at_eof = not more
                pending += more
                continue
            piece, pending = pending[:cut], pending[cut:]
            if not at_eof:
                more = next(reads, b"")
                at_eof = not more
                pending += more
            if piece:
                if piece.startswith(_BOM):  # Arrow would drop it; after the first it is data
                    raise FastPathUnavailable("a record starts with a byte-order mark")
                if b"\x00" in piece:  # the reference path finds and reports it, in SPEC order
                    raise FastPathUnavailable("a NUL byte")
                if not piece.isascii() and not is_utf8(piece):
                    raise FastPathUnavailable("undecodable bytes")
                yield piece
            if at_eof and not pending:
                return


def parsed_blocks(
    path: Path,
    width: int,
    delimiter: str,
    max_field_chars: int,
    block_bytes: int = FAST_BLOCK_BYTES,
    read_ahead: bool = True,
) -> Iterator[ParsedBlock]:
    """Parsed blocks in file order; the first block's first record is the header.

    With ``read_ahead``, parsing runs one block ahead on a worker thread
    (Arrow releases the GIL), so it overlaps with a single-threaded caller's
    cleaning of the previous block. A caller that cleans on several threads
    keeps the cores busy itself, and one more block in memory buys nothing.
    """
    names = [f"c{i}" for i in range(width)]
    blocks = _blocks(path, ord(delimiter), block_bytes)
    if not read_ahead:
        for piece in blocks:
            yield _parse_block(piece, names, delimiter, max_field_chars)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="datatasker-csv") as pool:
        ahead = None
        for piece in blocks:
            future = pool.submit(_parse_block, piece, names, delimiter, max_field_chars)
            if ahead is not None:
                yield ahead.result()
            ahead = future
        if ahead is not None:
            yield ahead.result()


def fast_chunks(
    path: Path, layout: ColumnLayout, header: list[str], delimiter: str, limits: ReadLimits,
    chunk_records: int | None, block_bytes: int, read_ahead: bool,
) -> Iterator[ColumnChunk]:
    """The file's data records as :class:`ColumnChunk` s, numbered as the reference numbers them.

    ``header`` is the reference parser's reading of the first record; Arrow
    must read it the same. ``chunk_records`` None gives one chunk per block.
    """
    width = len(layout.names)
    next_row = 0  # source_row of the block's first record; the header is record 0
    for block in parsed_blocks(path, width, delimiter, limits.max_field_chars, block_bytes, read_ahead):
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
