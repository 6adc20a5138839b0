"""What the file-drop sensor decides on one tick, as a plain function of the folder and the cursor.

No Dagster here: the sensor in ``defs/sales/sensors.py`` passes in its cursor,
a way to ask the run database whether bytes were already processed, and the
clock; it turns the new contents found into run requests. Tests drive the
clock and the waiting explicitly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..vocabulary import SIDECAR_SUFFIX
from .intake import (
    DroppedFile,
    fingerprint_from_etags,
    fingerprint_of,
    is_candidate,
    partition_key_for,
    scan_incoming,
    sha256_of,
)
from .options import sidecar_path
from .store import etag_of, list_page

# A tick must finish well inside the 60 s sensor timeout: hash at most this
# many bytes per tick and leave the rest for the next one.
HASH_BUDGET_BYTES = 4 * 1024**3
MAX_RUNS_PER_TICK = 500
# Dagster's sensor daemon ticks at most every 5 s. A file dropped just before
# a tick would otherwise wait a whole extra loop for the settle time to pass;
# instead the tick waits (at most this long) and looks again.
MAX_SETTLE_WAIT_SECONDS = 2.0
# An object store is listed in pages of 1,000 keys: at most this many per tick
# (a few hundred milliseconds), the next tick going on where this one stopped.
STORE_PAGES_PER_TICK = 5

# The cursor's record of one file: [size, mtime_ns, sidecar_mtime_ns, fingerprint].
Handled = dict[str, list]


@dataclass(frozen=True)
class NewContent:
    """A file whose bytes (with its sidecar) have not been processed: it needs a run."""

    file: DroppedFile
    partition_key: str
    sha256: str
    fingerprint: str


@dataclass(frozen=True)
class Duplicate:
    """A file whose bytes (with its sidecar) a run has already processed: it needs no run."""

    file: DroppedFile
    run_id: str  # the run that processed these bytes


@dataclass
class TickPlan:
    new: list[NewContent] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    handled: Handled = field(default_factory=dict)  # the cursor to keep
    # Name of the last file looked at, when the tick stopped before the end of its listing.
    stopped_after: str | None = None


def scan_store_window(folder, start_after: str, pages: int = STORE_PAGES_PER_TICK) -> tuple[list[DroppedFile], str]:
    """The candidate objects of up to ``pages`` listing pages of a store's inbox after name ``start_after``.

    Also returns where the next window starts ("" once the listing ended:
    the next tick starts from the beginning). An object store writes an
    object whole, so there is nothing to let settle; the ETag stands for the
    bytes.
    """
    seen = {}
    after = start_after
    for _ in range(pages):
        objects, more = list_page(folder, after)
        seen.update((o.name, o) for o in objects)
        after = objects[-1].name if objects else after
        if not more:
            after = ""
            break
    listing = []
    for name, found in seen.items():
        if not is_candidate(name):
            continue
        sidecar_name = name + SIDECAR_SUFFIX
        sidecar = seen.get(sidecar_name)
        if sidecar is not None:
            sidecar_etag = sidecar.etag
        elif after and sidecar_name > after:  # it may lie beyond this window
            sidecar_etag = etag_of(folder / sidecar_name) or ""
        else:
            sidecar_etag = ""
        listing.append(DroppedFile(name, folder / name, found.size, 0, 0, found.etag, sidecar_etag, found.modified))
    return listing, after

class StoreWindow:
    """The part of a store's inbox one tick looks at, and where the next tick's part starts.

    ``scan`` is what :func:`plan_tick` takes to list the folder; after the
    plan, :meth:`next_start` is the name to keep in the cursor: where this
    window's listing ended, or the last file the plan reached when it
    stopped early (so the files it did not reach come first next time).
    """

    def __init__(self, start_after: str = "", pages: int = STORE_PAGES_PER_TICK):
        self.start_after, self.pages, self.listed_until = start_after, pages, ""

    def scan(self, folder) -> list[DroppedFile]:
        listing, self.listed_until = scan_store_window(folder, self.start_after, self.pages)
        return listing

    def next_start(self, plan: TickPlan) -> str:
        return plan.stopped_after if plan.stopped_after is not None else self.listed_until


def seen_unchanged(dropped: DroppedFile, handled: Handled) -> bool:
    """The cursor already has this file with this size and these mtimes: nothing to do."""
    previous = handled.get(dropped.name)
    return previous is not None and previous[:3] == dropped.signature


def seconds_until_settled(listing: list[DroppedFile], handled: Handled, now_ns: int, settle_ns: int) -> float:
    """How long until every new or changed file in ``listing`` has gone unmodified for the settle time.

    0 when none is still within it. A file written to during the wait gets a
    new mtime, so a second look after the wait still tells it apart.
    """
    youngest = max(
        (max(f.mtime_ns, f.sidecar_mtime_ns) for f in listing if not seen_unchanged(f, handled)),
        default=None,
    )
    if youngest is None:
        return 0.0
    return max(0.0, (youngest + settle_ns - now_ns) / 1e9)


def run_key_for(partition_key: str, fingerprint: str) -> str:
    """Dagster launches a run key once: a new key exactly when the bytes change."""
    return f"{partition_key}:{fingerprint}"


def _identify(dropped: DroppedFile, max_file_bytes: int) -> tuple[str, str]:
    """(sha256, fingerprint) of a dropped file and its sidecar; no sha256 in a store (its ETag stands in)."""
    if dropped.etag:
        return "", fingerprint_from_etags(dropped.etag, dropped.sidecar_etag)
    if dropped.size > max_file_bytes:
        # Not hashed (it could take minutes): its run fails at once with the size message.
        marker = f"oversize-{dropped.size}-{dropped.mtime_ns}"
        return marker, marker
    sha256 = sha256_of(dropped.path)
    return sha256, fingerprint_of(sha256, sidecar_path(dropped.path))


def plan_tick(
    folder: Path,
    handled: Handled,
    *,
    settle_seconds: float,
    max_file_bytes: int,
    already_processed: Callable[[str, str], tuple[str, bool] | None],
    clock: Callable[[], int] = time.time_ns,
    sleep: Callable[[float], None] = time.sleep,
    scan: Callable[[Path], list[DroppedFile]] = scan_incoming,
) -> TickPlan:
    """The files in ``folder`` whose bytes need a run, and the cursor to keep.

    ``handled`` is the cursor of the previous tick. A file is taken once it
    has gone unmodified for ``settle_seconds``; a tick that finds a younger
    one waits for it (at most MAX_SETTLE_WAIT_SECONDS) and looks again.
    ``already_processed(partition_key, fingerprint)`` asks the run database
    for a run of these bytes (an earlier drop, ``datatasker process``, ``submit``)
    and gives its ID and whether it has finished: then the file is a
    duplicate; while that run has yet to take it, it is simply left alone. The cursor
    keeps only files still in the folder, so its size follows the files
    waiting there, not the history. ``scan`` lists the folder (a local scan,
    or one window of a store's listing).
    """
    settle_ns = int(settle_seconds * 1e9)
    listing, now_ns = scan(folder), clock()
    wait = seconds_until_settled(listing, handled, now_ns, settle_ns)
    if 0 < wait <= MAX_SETTLE_WAIT_SECONDS:
        sleep(wait)
        listing, now_ns = scan(folder), clock()

    plan = TickPlan()
    hashed_bytes = 0
    for position, dropped in enumerate(listing):
        previous = handled.get(dropped.name)
        if previous is not None:
            plan.handled[dropped.name] = previous
        if seen_unchanged(dropped, handled):
            continue
        if now_ns - max(dropped.mtime_ns, dropped.sidecar_mtime_ns) < settle_ns:
            continue  # possibly still being written; look again next tick
        if hashed_bytes > HASH_BUDGET_BYTES or len(plan.new) >= MAX_RUNS_PER_TICK:
            plan.stopped_after = listing[position - 1].name if position else ""
            break
        sha256, fingerprint = _identify(dropped, max_file_bytes)
        hashed_bytes += 0 if dropped.etag else dropped.size
        plan.handled[dropped.name] = [*dropped.signature, fingerprint]
        key = partition_key_for(dropped.name)
        # Asked even when the cursor saw these bytes under this name: re-dropped
        # before a tick noticed that the first copy left, they are still a duplicate.
        earlier_run = already_processed(key, fingerprint)
        if earlier_run:
            run_id, finished = earlier_run
            if finished:
                plan.duplicates.append(Duplicate(dropped, run_id))
            continue
        if previous is not None and previous[3] == fingerprint:
            continue  # touched with the same bytes, its run not created yet: no second request
        plan.new.append(NewContent(dropped, key, sha256, fingerprint))
    return plan
