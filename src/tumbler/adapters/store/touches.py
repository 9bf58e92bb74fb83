"""LastAccessedDate writes, batched: reads never wait for the write lock to record them.

AWS keeps the date to the day, so a read records (secret, version, day) here and a background
thread writes every pending one in a single transaction about once a second (and on flush or
close). Under load this turns one durable commit per first-read-of-the-day into one per second.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

log = logging.getLogger("tumbler.store")

Touch = tuple[str, str, datetime]  # (arn, version id, day)


class AccessBatcher:
    def __init__(self, write: Callable[[list[Touch]], None], interval: float = 1.0) -> None:
        self._write = write
        self._interval = interval
        self._pending: dict[tuple[str, str], datetime] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, arn: str, version_id: str, day: datetime) -> None:
        with self._lock:
            self._pending[(arn, version_id)] = day
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="access-dates", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        with self._lock:
            items = sorted((arn, vid, day) for (arn, vid), day in self._pending.items())  # one lock order
            self._pending.clear()
        if items:
            self._write(items)

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            try:
                self.flush()
            except Exception:  # the store is busy or down: the dates are written on a later round
                log.warning("could not record access dates; will retry", exc_info=True)
