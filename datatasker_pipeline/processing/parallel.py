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
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

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
