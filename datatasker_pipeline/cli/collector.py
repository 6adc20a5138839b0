"""The cyclic garbage collector around a short-lived command's start-up and exit.

A cold ``datatasker process`` creates a few million long-lived objects while
it imports Dagster, pandas, pyarrow and pandera and opens the instance. The
collector walks all of them again each time its counters fill up during
start-up (0.2-0.3 s on the 2-core benchmark machine), and once more when the
interpreter exits (0.6-0.8 s), to find no garbage among them. These two
functions take them out of its reach; collection stays on for the run itself,
so the data path's memory behaves as everywhere else.
"""

from __future__ import annotations

import contextlib
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


def skip_collection_at_exit() -> None:
    """Freeze what is alive just before a command exits: the exit's full collection then has nothing to walk."""
    gc.freeze()
