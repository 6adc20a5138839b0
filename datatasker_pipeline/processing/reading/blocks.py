"""The file cut into blocks of whole records for the fast reader (no parsing here).

Each block ends at a record boundary found by :func:`.boundary.record_boundary`,
so Arrow never splits anything itself (see :mod:`.fast`). The bytes are read
ahead on a thread, and every block is checked on the way: valid UTF-8, no
NUL byte, no byte-order mark at a record's start. Whatever the fast reader
cannot promise to read as the reference does raises
:class:`~.boundary.FastPathUnavailable`.
"""

from __future__ import annotations

import codecs
import contextlib
import queue
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa

from .boundary import FastPathUnavailable, record_boundary

# Reads of FAST_BLOCK_BYTES kept ready ahead of the parser (about 12 MiB more in memory).
READ_AHEAD_READS = 4
# A block that finds no record boundary grows; beyond this the reference path takes over.
MAX_PENDING_BYTES = 256 << 20
_BOM = codecs.BOM_UTF8


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


def record_blocks(path: Path, delimiter: int, block_bytes: int) -> Iterator[bytes]:
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
