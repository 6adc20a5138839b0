"""Running per-chunk work on threads, in order, in bounded memory (no Dagster here).

The heavy work of every stage is Arrow and numpy kernels, which release the
GIL, so plain threads use the machine's cores; results are consumed in file
order so the outputs are the same as with one thread.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

import pyarrow as pa

WORKER_THREADS = max(1, min(4, os.cpu_count() or 1))

# Arrow's bundled mimalloc kept more memory once two threads cleaned: peak RSS
# of clean_file at 10M rows was 361 MB with it and 315 MB with the system
# allocator, at the same speed (benchmarks/README.md). ARROW_DEFAULT_MEMORY_POOL
# still decides when it is set.
if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
    pa.set_memory_pool(pa.system_memory_pool())

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
