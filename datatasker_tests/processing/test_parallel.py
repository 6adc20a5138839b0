"""Per-chunk work on threads: input order, bounded memory, failures in order."""

from __future__ import annotations

import threading
import time

import pytest

from datatasker_pipeline.processing.errors import FileFailure
from datatasker_pipeline.processing.parallel import WriterThread, map_in_order


def test_map_in_order_keeps_input_order_when_later_items_finish_first():
    def slow_for_small(n: int) -> int:
        time.sleep(0.02 * (5 - n))  # item 0 takes longest
        return n * 10

    assert list(map_in_order(slow_for_small, range(5), threads=3)) == [0, 10, 20, 30, 40]


def test_map_in_order_holds_at_most_threads_items_at_once():
    pulled, finished, most = 0, 0, 0
    lock = threading.Lock()

    def items():
        nonlocal pulled, most
        for i in range(20):
            with lock:
                pulled += 1
                most = max(most, pulled - finished)
            yield i

    def work(i: int) -> int:
        return i

    for _ in map_in_order(work, items(), threads=2):
        with lock:
            finished += 1  # the consumer has taken the result: it is out of memory's way
    assert finished == 20
    assert most <= 2


def test_map_in_order_raises_the_first_failure_in_order_and_yields_nothing_after():
    def fails_at_three(n: int) -> int:
        if n == 3:
            raise ValueError("three")
        return n

    seen = []
    with pytest.raises(ValueError, match="three"):
        for value in map_in_order(fails_at_three, range(10), threads=2):
            seen.append(value)
    assert seen == [0, 1, 2]


def test_map_in_order_passes_on_a_failure_of_the_input():
    def items():
        yield 1
        raise FileFailure("line 2: bad")

    with pytest.raises(FileFailure, match="line 2"):
        list(map_in_order(lambda n: n, items(), threads=2))



class ListWriter:
    """Records what it was given and on which thread; fails on the item ``fail_on``."""

    def __init__(self, fail_on=None, delay=0.0):
        self.items, self.threads, self.closed = [], set(), 0
        self.fail_on, self.delay = fail_on, delay

    def write(self, item):
        time.sleep(self.delay)
        if item == self.fail_on:
            raise OSError(f"no space left writing {item}")
        self.items.append(item)
        self.threads.add(threading.current_thread().name)

    def close(self):
        self.closed += 1


def test_writer_thread_writes_every_item_in_order_on_its_own_thread():
    target = ListWriter(delay=0.001)
    writer = WriterThread(target, name="test-write")
    for i in range(50):
        writer.write(i)
    writer.close()
    assert target.items == list(range(50))
    assert target.threads == {"test-write"}
    assert target.closed == 1


def test_writer_thread_holds_at_most_depth_items_waiting():
    release = threading.Event()

    class Blocked(ListWriter):
        def write(self, item):
            release.wait()
            super().write(item)

    target = Blocked()
    writer = WriterThread(target, depth=2)
    writer.write(0)  # taken by the thread, which blocks on it
    time.sleep(0.05)
    writer.write(1)
    writer.write(2)  # the queue is full now
    third = threading.Thread(target=writer.write, args=(3,))
    third.start()
    third.join(0.2)
    assert third.is_alive(), "a fourth item must wait for room"
    release.set()
    third.join()
    writer.close()
    assert target.items == [0, 1, 2, 3]


def test_a_write_error_is_raised_by_close_and_nothing_after_it_is_written():
    target = ListWriter(fail_on=3)
    writer = WriterThread(target)
    for i in range(3):
        writer.write(i)
    writer.write(3)
    time.sleep(0.05)
    with pytest.raises(OSError, match="no space left writing 3"):
        writer.write(4)  # the next write reports it
    with pytest.raises(OSError, match="no space left writing 3"):
        writer.close()
    assert target.items == [0, 1, 2]
    assert target.closed == 1


def test_abandon_ends_the_thread_and_closes_the_writer_without_raising():
    target = ListWriter(fail_on=0)
    writer = WriterThread(target)
    writer.write(0)
    writer.abandon()
    assert target.closed == 1
    assert not [t for t in threading.enumerate() if t.name == "datatasker-write"]
