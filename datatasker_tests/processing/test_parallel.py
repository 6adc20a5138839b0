"""Per-chunk work on threads: input order, bounded memory, failures in order."""

from __future__ import annotations

import threading
import time

import pytest

from datatasker_pipeline.processing.errors import FileFailure
from datatasker_pipeline.processing.parallel import map_in_order


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

