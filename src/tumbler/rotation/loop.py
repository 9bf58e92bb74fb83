"""The background loop that runs the rotation engine inside the server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from tumbler.ports.store import background_work
from tumbler.rotation.engine import RotationEngine
from tumbler.rotation.scheduler import Scheduler

log = logging.getLogger("tumbler.rotation")


class Waker:
    """Wakes the loop from any thread (operations run in a pool) as soon as work is enqueued."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._engine: RotationEngine | None = None
        self._lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event, engine: RotationEngine) -> None:
        with self._lock:
            self._loop, self._event, self._engine = loop, event, engine

    def __call__(self) -> None:
        with self._lock:
            loop, event, engine = self._loop, self._event, self._engine
        if engine is not None:
            engine.nudge()  # a run in progress takes the new work into a free slot
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)


async def run_engine(engine: RotationEngine, scheduler: Scheduler, waker: Waker, interval: float = 1.0) -> None:
    """Start scheduled rotations that are due and run due rotations; then sleep until woken or
    ``interval`` passes (retries and schedules fall due by time)."""
    wake = asyncio.Event()
    waker.bind(asyncio.get_running_loop(), wake, engine)
    while True:
        try:
            handled = await asyncio.to_thread(_once, engine, scheduler)
        except Exception:
            log.exception("the rotation engine failed; retrying")
            handled = 0
        if handled:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), interval)
        wake.clear()


def _once(engine: RotationEngine, scheduler: Scheduler) -> int:
    with background_work():
        scheduler.tick()
    return engine.run_due()
