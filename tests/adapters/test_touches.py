"""The access-date batch: what a read on this node sees before, during and after a write of the batch."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from tumbler.adapters.store.touches import AccessBatcher, Touch

DAY = datetime(2026, 3, 1, tzinfo=UTC)
NEXT = datetime(2026, 3, 2, tzinfo=UTC)


def test_pending_days_are_seen_until_written() -> None:
    written: list[list[Touch]] = []
    batch = AccessBatcher(written.append, interval=3600)
    batch.add("arn:a", "v1", DAY)
    batch.add("arn:b", "v2", DAY)
    assert batch.pending("arn:a") == {"v1": DAY}
    batch.flush()
    assert written == [[("arn:a", "v1", DAY), ("arn:b", "v2", DAY)]]
    assert batch.pending("arn:a") == {}
    batch.close()


def test_a_batch_being_written_is_still_seen() -> None:
    writing, release = threading.Event(), threading.Event()
    seen: list[dict[str, datetime]] = []

    def slow_write(items: list[Touch]) -> None:
        writing.set()
        release.wait(5)

    batch = AccessBatcher(slow_write, interval=3600)
    batch.add("arn:a", "v1", DAY)
    flushing = threading.Thread(target=batch.flush)
    flushing.start()
    assert writing.wait(5)
    seen.append(batch.pending("arn:a"))
    release.set()
    flushing.join(5)
    assert seen == [{"v1": DAY}]
    assert batch.pending("arn:a") == {}
    batch.close()


def test_a_failed_write_keeps_the_days_for_the_next_round() -> None:
    def failing(items: list[Touch]) -> None:
        batch.add("arn:a", "v1", NEXT)  # a read recorded meanwhile: the newer day wins
        raise RuntimeError("store down")

    batch = AccessBatcher(failing, interval=3600)
    batch.add("arn:a", "v1", DAY)
    batch.add("arn:a", "v2", DAY)
    with pytest.raises(RuntimeError):
        batch.flush()
    assert batch.pending("arn:a") == {"v1": NEXT, "v2": DAY}
