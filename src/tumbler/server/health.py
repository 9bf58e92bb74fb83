"""Probes for load balancers and orchestrators: is the process alive, and may it take traffic.

``/_tumbler/health`` answers while the process runs (a liveness probe: restart it if this fails).
``/_tumbler/ready`` answers 200 only while the node can reach its store and, on a shared store, has
caught up its change feed; else 503 with the reason (a readiness probe: send it no requests meanwhile).
"""

from __future__ import annotations

import asyncio

import orjson

from tumbler.ports.store import Readiness, Store

READY_PATH = "/_tumbler/ready"
PROBE_TIMEOUT = 3.0  # seconds: a store that answers slower than this is as good as unreachable to a client
JSON = [(b"content-type", b"application/json")]


async def ready(store: Store) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """200 ``{"status":"ready"}``, or 503 with why not. The store is asked in a thread: it may block."""
    try:
        reason = await asyncio.wait_for(asyncio.to_thread(_not_ready, store), PROBE_TIMEOUT)
    except TimeoutError:
        reason = "the store did not answer in time"
    if reason is None:
        return 200, JSON, b'{"status":"ready"}'
    return 503, JSON, orjson.dumps({"status": "unavailable", "reason": reason})


def _not_ready(store: Store) -> str | None:
    if isinstance(store, Readiness):
        return store.not_ready()
    try:
        with store.reader() as reader:
            reader.kms_keys()
    except Exception as err:  # the reason names the failure's kind only: never a URL or a value
        return f"the store cannot be read ({type(err).__name__})"
    return None
