"""The cyclic garbage collector around a short-lived process's start-up and exit (standard library only).

A process that runs a file (``datatasker process``, or the run worker
Dagster starts for each sensor run) creates a few hundred thousand
long-lived objects while it imports Dagster, pandas, pyarrow and pandera and
opens the instance. The collector walks all of them again each time its
counters fill up during start-up (0.2-0.3 s on the 2-core benchmark
machine), and once more when the interpreter exits (0.4-0.8 s), to find no
garbage among them. These two functions take them out of its reach;
collection stays on for the run itself, so the data path's memory behaves
as everywhere else.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
from typing import Iterator


@contextlib.contextmanager
def start_up_without_collection() -> Iterator[None]:
    """Pause collection while long-lived objects are made, then freeze them (``gc.freeze``) and resume."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


@functools.cache  # once per process
def skip_collection_at_exit() -> None:
    """Freeze what is alive when the interpreter exits (``gc.freeze``): its final full collection then has nothing to walk.

    Registered once per process, however often it is called, and it acts
    only at exit, so a long-lived process (a code server, a warm worker) may
    call it too: nothing is frozen while it runs.
    """
    atexit.register(gc.freeze)
