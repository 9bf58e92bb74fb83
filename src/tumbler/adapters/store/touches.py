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
        self._pending: dict[str, dict[str, datetime]] = {}  # arn -> version id -> day
        self._writing: dict[str, dict[str, datetime]] = {}  # the batch being written now
        self._lock = threading.Lock()
        self._one_flush = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, arn: str, version_id: str, day: datetime) -> None:
        with self._lock:
            self._pending.setdefault(arn, {})[version_id] = day
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="access-dates", daemon=True)
                self._thread.start()

    def pending(self, arn: str) -> dict[str, datetime]:
        """The days recorded for ``arn`` and not yet committed (version id -> day): a read on this node
        shows them at once, as AWS shows LastAccessedDate right after a GetSecretValue."""
        with self._lock:
            return {**self._writing.get(arn, {}), **self._pending.get(arn, {})}

    def flush(self) -> None:
        with self._one_flush:
            with self._lock:
                self._writing, self._pending = self._pending, {}
                batch = self._writing
            # sorted: one lock order for every writer
            items = sorted((arn, vid, day) for arn, days in batch.items() for vid, day in days.items())
            try:
                if items:
                    self._write(items)
            except Exception:
                with self._lock:  # kept for the next round; a newer day recorded meanwhile wins
                    for arn, days in batch.items():
                        self._pending[arn] = {**days, **self._pending.get(arn, {})}
                raise
            finally:
                with self._lock:
                    self._writing = {}

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
