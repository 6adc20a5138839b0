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
pyarrow 26). So Arrow never splits anything: :mod:`.blocks` reads the
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .blocks import record_blocks
from .boundary import FastPathUnavailable
from .layout import ColumnChunk, ColumnLayout, ReadLimits

# Bounds memory: each block in flight costs several times its size (Arrow columns, trimmed
# copies, the clean table). 3 MB with two cleaning threads stayed under the 4 MB single-thread
# figure in peak RSS at 10M rows (docs/performance.md).
FAST_BLOCK_BYTES = 3 << 20


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


def parsed_blocks(
    path: Path,
    names: list[str],
    delimiter: str,
    max_field_chars: int,
    block_bytes: int = FAST_BLOCK_BYTES,
    read_ahead: bool = True,
) -> Iterator[ParsedBlock]:
    """Parsed blocks in file order, one Arrow column per name; the first block's first record is the header.

    With ``read_ahead``, parsing runs one block ahead on a worker thread
    (Arrow releases the GIL), so it overlaps with a single-threaded caller's
    cleaning of the previous block. A caller that cleans on several threads
    takes the blocks unparsed instead (:class:`UnparsedBlock`).
    """
    blocks = record_blocks(path, ord(delimiter), block_bytes)
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


def _block_chunks(
    block: ParsedBlock, first_row: int, header: list[str] | None, chunk_records: int | None
) -> Iterator[ColumnChunk]:
    """A parsed block's data records as :class:`ColumnChunk` s, its first record numbered ``first_row``.

    ``header`` is given for the file's first block, whose first record is
    the header: the reference parser's reading of it must be Arrow's too.
    ``chunk_records`` None gives one chunk for the block.
    """
    valid = block.valid_numbers + first_row
    ragged = block.ragged_numbers + first_row
    columns = block.columns
    start = first_row
    end = first_row + block.records
    if header is not None:
        if not len(valid) or valid[0] != first_row or [c[0].as_py() for c in columns] != header:
            raise FastPathUnavailable("the header reads differently")
        valid = valid[1:]
        columns = [c.slice(1) for c in columns]
        start += 1
    # Chunks of chunk_records records, as the reference path makes them.
    for lo in range(start, end, chunk_records or max(end - start, 1)):
        hi = min(lo + (chunk_records or end), end)
        a, b = np.searchsorted(valid, [lo, hi])
        c, d = np.searchsorted(ragged, [lo, hi])
        yield ColumnChunk(source_rows=valid[a:b], columns=[col.slice(a, b - a) for col in columns], ragged_rows=ragged[c:d])


@dataclass(frozen=True)
class UnparsedBlock:
    """Whole records of the file, not parsed yet: parsing them is the work of a cleaning thread.

    Which number the block's first record has depends on how many records
    the blocks before it hold, known only once they are parsed. So
    :meth:`parse` numbers the records from 0 at the block's first, and the
    one who takes the blocks in file order adds the records of the blocks
    before (:func:`~datatasker_pipeline.processing.cleaning.CleanedChunk.numbered_from`).
    """

    data: bytes
    names: list[str]
    delimiter: str
    max_field_chars: int
    header: list[str] | None  # the first block's: its first record is the header
    chunk_records: int | None

    def parse(self) -> tuple[int, list[ColumnChunk]]:
        """The block's record count, and its data records numbered from 0 at the block's first record."""
        block = _parse_block(self.data, self.names, self.delimiter, self.max_field_chars)
        return block.records, list(_block_chunks(block, 0, self.header, self.chunk_records))


def fast_chunks(
    path: Path, layout: ColumnLayout, header: list[str], delimiter: str, limits: ReadLimits,
    chunk_records: int | None, block_bytes: int, read_ahead: bool, parse_later: bool = False,
) -> Iterator[ColumnChunk | UnparsedBlock]:
    """The file's data records as :class:`ColumnChunk` s, numbered as the reference numbers them.

    ``header`` is the reference parser's reading of the first record; Arrow
    must read it the same. ``chunk_records`` None gives one chunk per block.
    With ``parse_later``, the blocks come unparsed (:class:`UnparsedBlock`),
    for cleaning threads to parse beside their cleaning: on two cores,
    parsing on the thread that cuts the blocks left a core idle on quoted files.
    """
    names = [f"c{i}" for i in range(len(layout.names))]  # Arrow's column names; the layout names them
    if parse_later:
        for i, piece in enumerate(record_blocks(path, ord(delimiter), block_bytes)):
            yield UnparsedBlock(piece, names, delimiter, limits.max_field_chars, header if i == 0 else None, chunk_records)
        return
    next_row = 0  # source_row of the block's first record; the header is record 0
    for block in parsed_blocks(path, names, delimiter, limits.max_field_chars, block_bytes, read_ahead):
        yield from _block_chunks(block, next_row, header if next_row == 0 else None, chunk_records)
        next_row += block.records
