"""Keeping the leases of the rotations running on this node alive while their steps run."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("tumbler.rotation")


class LeaseKeeper:
    """Renews the leases of the rotations running here, all in one call, every ``every`` seconds while a
    step (a function that may run for minutes) runs. Its thread runs only while some rotation is held."""

    def __init__(self, renew: Callable[[list[str]], None], every: float) -> None:
        self._renew, self._every = renew, every
        self._held: dict[str, int] = {}  # rotation id -> how many runs hold it
        self._lock = threading.Lock()
        self._running = False

    @contextmanager
    def held(self, rotation_id: str) -> Iterator[None]:
        with self._lock:
            self._held[rotation_id] = self._held.get(rotation_id, 0) + 1
            if not self._running:
                self._running = True
                threading.Thread(target=self._beat, name="rotation-leases", daemon=True).start()
        try:
            yield
        finally:
            with self._lock:
                self._held[rotation_id] -= 1
                if not self._held[rotation_id]:
                    del self._held[rotation_id]

    def _beat(self) -> None:
        while True:
            time.sleep(self._every)
            with self._lock:
                held = list(self._held)
                if not held:
                    self._running = False
                    return
            try:
                self._renew(held)
            except Exception:  # the store is unreachable: the next beat tries again
                log.warning("could not renew rotation leases", exc_info=True)
