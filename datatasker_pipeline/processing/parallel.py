"""Running per-chunk work on threads, in order, in bounded memory (no Dagster here).

The heavy work of every stage is Arrow and numpy kernels, which release the
GIL, so plain threads use the machine's cores; results are consumed in file
order so the outputs are the same as with one thread. The allocator settings
that keep threaded runs' memory flat are process-wide: the code path that
processes a file applies them (:func:`keep_memory_flat_on_threads`), never
an import.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import platform
import queue
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator, Protocol, TypeVar

import pyarrow as pa

WORKER_THREADS = max(1, min(4, os.cpu_count() or 1))
M_ARENA_MAX = -8  # glibc's mallopt parameter number


def keep_memory_flat_on_threads() -> None:
    """Allocator settings under which worker threads do not grow peak memory (process-wide).

    Measured on clean + summary + anomalies + schema check of 10M rows in
    one process (docs/performance.md): with Arrow's bundled mimalloc and
    glibc's default of one malloc arena per thread, peak RSS was 420-457 MB;
    with Arrow on the system allocator and one arena, about 350 MB, at the
    same speed. Environment settings (ARROW_DEFAULT_MEMORY_POOL,
    MALLOC_ARENA_MAX) still decide when they are set. Idempotent.
    """
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        pa.set_memory_pool(pa.system_memory_pool())
    if os.environ.get("MALLOC_ARENA_MAX") or platform.libc_ver()[0] != "glibc":
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt(M_ARENA_MAX, 1)


In = TypeVar("In")
Out = TypeVar("Out")


def map_in_order(func: Callable[[In], Out], items: Iterable[In], threads: int = WORKER_THREADS) -> Iterator[Out]:
    """``map(func, items)`` on ``threads`` threads, results in input order.

    At most ``threads`` items are in flight, so memory stays bounded by the
    chunk size whatever the file's size. An exception from ``func`` or from
    ``items`` is raised here, in order, and nothing after it is yielded.
    """
    if threads <= 1:
        yield from map(func, items)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="datatasker-worker") as pool:
        pending: deque = deque()
        try:
            for item in items:
                pending.append(pool.submit(func, item))
                if len(pending) >= threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


class TableWriter(Protocol):
    def write(self, item: Any) -> None: ...

    def close(self) -> None: ...


_CLOSE = object()


class WriterThread:
    """One writer's ``write`` calls on a thread of their own, in order, at most ``depth`` items waiting.

    For a writer whose work lets go of the GIL (parquet encoding and
    compression): the thread that produces the items goes on with the next
    one meanwhile. A write error is raised by the next ``write`` or by
    ``close``; later items are dropped unwritten. ``close`` or ``abandon``
    always ends the thread and closes the writer.
    """

    def __init__(self, writer: TableWriter, depth: int = 2, name: str = "datatasker-write"):
        self._writer = writer
        self._waiting: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._waiting.get()) is not _CLOSE:
            if self._error is None:
                try:
                    self._writer.write(item)
                except BaseException as error:  # raised in the producing thread
                    self._error = error

    def write(self, item: Any) -> None:
        self._raise_if_failed()
        self._waiting.put(item)

    def close(self) -> None:
        """Write what is waiting, close the writer, raise the first write error."""
        self._finish()
        try:
            self._raise_if_failed()
        finally:
            self._writer.close()

    def abandon(self) -> None:
        """End the thread and close the writer without raising (the caller is failing already)."""
        self._finish()
        with contextlib.suppress(Exception):
            self._writer.close()

    def _finish(self) -> None:
        if self._thread.is_alive():
            self._waiting.put(_CLOSE)
            self._thread.join()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
