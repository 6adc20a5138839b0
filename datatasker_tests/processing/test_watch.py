"""What the file-drop sensor decides on a tick, with the clock and the waiting driven explicitly.

File times are set with ``os.utime`` to chosen nanosecond values and the tick
gets a fake clock and a fake ``sleep`` that advances it, so no test waits on
the wall clock.
"""

from __future__ import annotations

import os

import pytest

from datatasker_pipeline.processing.intake import content_fingerprint, scan_incoming
from datatasker_pipeline.processing.watch import (
    MAX_SETTLE_WAIT_SECONDS,
    plan_tick,
    seconds_until_settled,
)

CSV = "region,revenue,quantity,discount\nEast,1,1,0\n"
SECOND = 1_000_000_000
T0 = 1_800_000_000 * SECOND  # the fake "now" every test starts from


class FakeClock:
    """``clock()`` returns fake nanoseconds; ``sleep(s)`` advances them and runs what happens meanwhile."""

    def __init__(self, now_ns: int = T0, during_sleep=None):
        self.now_ns = now_ns
        self.slept: list[float] = []
        self.during_sleep = during_sleep

    def clock(self) -> int:
        return self.now_ns

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now_ns += int(seconds * SECOND)
        if self.during_sleep:
            self.during_sleep(self)


def drop(folder, name: str, mtime_ns: int, content: str = CSV):
    path = folder / name
    path.write_text(content)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def tick(folder, clock: FakeClock, handled=None, settle_seconds=0.5, processed=None):
    """``processed`` maps (partition key, fingerprint) to (run ID, finished) as the run database answers."""
    processed = processed or {}
    return plan_tick(
        folder,
        handled or {},
        settle_seconds=settle_seconds,
        max_file_bytes=1 << 30,
        already_processed=lambda key, fingerprint: processed.get((key, fingerprint)),
        clock=clock.clock,
        sleep=clock.sleep,
    )


@pytest.fixture
def incoming(tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    return folder


def test_a_settled_file_is_taken_without_waiting(incoming):
    drop(incoming, "sales.csv", T0 - 5 * SECOND)
    clock = FakeClock()
    [new] = tick(incoming, clock).new
    assert (new.partition_key, new.file.name) == ("sales.csv", "sales.csv")
    assert new.fingerprint == content_fingerprint(incoming / "sales.csv")
    assert clock.slept == []


def test_a_file_dropped_just_before_a_tick_is_taken_by_that_tick_once_settled(incoming):
    drop(incoming, "sales.csv", T0 - SECOND // 5)  # 0.2 s old, settle time 0.5 s
    clock = FakeClock()
    [new] = tick(incoming, clock).new
    assert clock.slept == [pytest.approx(0.3)]  # waited out the rest instead of leaving it to the next tick
    assert new.file.name == "sales.csv"


def test_a_file_written_to_during_the_wait_is_left_to_a_later_tick(incoming):
    path = drop(incoming, "sales.csv", T0, content="region,revenue,quantity,discount\n")

    def keep_writing(clock: FakeClock) -> None:
        with path.open("a") as f:
            f.write("East,1,1,0\n")
        os.utime(path, ns=(clock.now_ns, clock.now_ns))  # written at the end of the wait

    clock = FakeClock(during_sleep=keep_writing)
    plan = tick(incoming, clock)
    assert plan.new == [] and clock.slept == [pytest.approx(0.5)]
    clock.during_sleep = None
    clock.now_ns += SECOND  # the next tick, a second later: settled now
    [new] = tick(incoming, clock, plan.handled).new
    assert new.fingerprint == content_fingerprint(path)  # the finished file's bytes
    assert path.read_text().count("\n") == 2


def test_a_settle_time_longer_than_a_tick_should_wait_is_left_to_later_ticks(incoming):
    drop(incoming, "sales.csv", T0)
    clock = FakeClock()
    assert tick(incoming, clock, settle_seconds=30).new == []
    assert clock.slept == []  # 30 s is more than MAX_SETTLE_WAIT_SECONDS: no waiting in the tick
    clock.now_ns += 31 * SECOND
    assert len(tick(incoming, clock, settle_seconds=30).new) == 1


def test_seconds_until_settled_counts_only_new_or_changed_files(incoming):
    drop(incoming, "old.csv", T0 - 60 * SECOND)
    drop(incoming, "young.csv", T0)
    old_file, young_file = sorted(scan_incoming(incoming), key=lambda f: f.name != "old.csv")
    assert seconds_until_settled([old_file], {}, T0, SECOND) == 0
    assert seconds_until_settled([old_file, young_file], {}, T0, SECOND) == 1.0
    handled = {"young.csv": [*young_file.signature, "fingerprint"]}
    assert seconds_until_settled([old_file, young_file], handled, T0, SECOND) == 0  # already handled
    assert MAX_SETTLE_WAIT_SECONDS < 5  # a tick never waits as long as the daemon's loop


def test_the_cursor_keeps_only_files_still_there_and_skips_what_it_saw(incoming):
    drop(incoming, "a.csv", T0 - 5 * SECOND)
    drop(incoming, "b.csv", T0 - 5 * SECOND)
    clock = FakeClock()
    first = tick(incoming, clock)
    assert sorted(n.file.name for n in first.new) == ["a.csv", "b.csv"]
    (incoming / "a.csv").unlink()
    second = tick(incoming, clock, first.handled)
    assert second.new == [] and list(second.handled) == ["b.csv"]


def test_bytes_a_finished_run_processed_are_a_duplicate(incoming):
    path = drop(incoming, "sales.csv", T0 - 5 * SECOND)
    plan = tick(incoming, FakeClock(), processed={("sales.csv", content_fingerprint(path)): ("run-1", True)})
    assert plan.new == [] and [(d.file.name, d.run_id) for d in plan.duplicates] == [("sales.csv", "run-1")]


def test_bytes_a_queued_run_will_take_are_left_to_it(incoming):
    path = drop(incoming, "sales.csv", T0 - 5 * SECOND)
    plan = tick(incoming, FakeClock(), processed={("sales.csv", content_fingerprint(path)): ("run-1", False)})
    assert plan.new == [] and plan.duplicates == [] and "sales.csv" in plan.handled


def test_bytes_re_dropped_before_a_tick_saw_the_first_copy_leave_are_still_a_duplicate(incoming):
    path = drop(incoming, "sales.csv", T0 - 10 * SECOND)
    clock = FakeClock()
    first = tick(incoming, clock)
    [new] = first.new
    path.unlink()  # its run took it ...
    drop(incoming, "sales.csv", T0 - 5 * SECOND)  # ... and the same bytes came back before the next tick
    processed = {("sales.csv", new.fingerprint): ("run-1", True)}
    plan = tick(incoming, clock, first.handled, processed=processed)
    assert plan.new == [] and [(d.file.name, d.run_id) for d in plan.duplicates] == [("sales.csv", "run-1")]
