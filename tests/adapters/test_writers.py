"""The embedded store's queue of writers: one at a time, requests ahead of background work."""

from __future__ import annotations

import threading
import time

from tumbler.adapters.store.writers import WriterQueue


def _queue_up(queue: WriterQueue, name: str, background: bool, order: list[str]) -> threading.Thread:
    def write() -> None:
        with queue.turn(background=background):
            order.append(name)

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def _wait_until_waiting(queue: WriterQueue, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(queue._requests) + len(queue._background) < count:
        assert time.monotonic() < deadline
        time.sleep(0.001)


def test_requests_go_first_and_each_kind_in_arrival_order() -> None:
    queue, order = WriterQueue(), list[str]()
    with queue.turn(background=True):  # a rotation step is writing
        threads = []
        for i, (name, background) in enumerate(
            [("step-1", True), ("request-1", False), ("step-2", True), ("request-2", False)]
        ):
            threads.append(_queue_up(queue, name, background, order))
            _wait_until_waiting(queue, i + 1)
    for thread in threads:
        thread.join()
    assert order == ["request-1", "request-2", "step-1", "step-2"]


def test_a_thread_may_nest_its_turns() -> None:
    queue, order = WriterQueue(), list[str]()
    with queue.turn(background=False), queue.turn(background=True):
        waiting = _queue_up(queue, "other", False, order)
        _wait_until_waiting(queue, 1)
        order.append("nested")
    waiting.join()
    assert order == ["nested", "other"]  # the inner exit did not hand the turn over


def test_an_idle_queue_is_taken_at_once_by_either_kind() -> None:
    queue = WriterQueue()
    for background in (True, False):
        with queue.turn(background=background):
            assert queue._owner == threading.get_ident()
    assert queue._owner is None
