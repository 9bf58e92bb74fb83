"""This process's writers to the embedded store, one at a time, requests' writers first.

SQLite has one write lock for the whole file. Writers queue here rather than in SQLite's busy
handler, which sleeps 1, 2, 5, 10... ms between tries: with rotations, requests and the
access-date batcher writing at once, those sleeps were most of a write's time. Among those
waiting, a request's writer goes ahead of the server's own background work (rotation steps,
schedules, access dates; ``ports.store.background_work``): with eight rotations in flight a
RotateSecret call otherwise queued behind all of their journal writes. Background work only waits
while requests are writing, and is never dropped.

The turn is handed straight to the next writer in line (first come, first served within each
kind), so a release wakes one thread, not every waiter.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class WriterQueue:
    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._depth = 0  # re-entrant: a nested transaction fails in SQLite, not here
        self._requests: deque[tuple[int, threading.Lock]] = deque()
        self._background: deque[tuple[int, threading.Lock]] = deque()

    @contextmanager
    def turn(self, *, background: bool) -> Iterator[None]:
        self._acquire(background)
        try:
            yield
        finally:
            self._release()

    def _acquire(self, background: bool) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None and not self._requests and not self._background:
                self._owner, self._depth = me, 1
                return
            handed = threading.Lock()
            handed.acquire()
            (self._background if background else self._requests).append((me, handed))
        handed.acquire()  # released by the writer before us, who made us the owner

    def _release(self) -> None:
        with self._mutex:
            self._depth -= 1
            if self._depth:
                return
            line = self._requests or self._background
            if not line:
                self._owner = None
                return
            self._owner, handed = line.popleft()
            self._depth = 1
        handed.release()
