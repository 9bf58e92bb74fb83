"""Listings are served by a process of their own.

A page of ListSecrets is about a millisecond of Python per hundred secrets. Run in a thread of the
server, clients paging nonstop hold the interpreter lock so often that the event loop, where point
reads are answered, waits for it again and again (GetSecretValue p99 went from about 1 ms to 25-40 ms
under two listing clients). A process has its own lock: this keeps the target "GetSecretValue p99
≤ 5 ms while other clients page ListSecrets" (benchmarks/listing.py).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any

from tumbler.adapters.audit import JsonLinesAudit
from tumbler.adapters.clock import SystemClock
from tumbler.core.errors import DomainError
from tumbler.core.iam import Principal
from tumbler.ops import authorize
from tumbler.ops.authorize import Authorizer
from tumbler.ops.context import Context, Params
from tumbler.ops.errors import to_wire
from tumbler.ops.secretsmanager import OPERATIONS
from tumbler.ports.services import Services
from tumbler.server.config import Config
from tumbler.wire import serialize
from tumbler.wire.errors import WireError

WORKERS = 2  # one a core on the machines we measure: listings in parallel without starving the server
_services: Services | None = None  # the scan process's own store and keyring


class Scans:
    """Runs a Secrets Manager operation in the scan process and gives back its whole answer."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server has threads (and open connections) a forked child must not inherit
        return ProcessPoolExecutor(WORKERS, multiprocessing.get_context("spawn"), _open, (self._config,))

    async def run(
        self, operation: str, ctx: Context, params: Params, environment: dict[str, str]
    ) -> serialize.Response:
        """Authorized there, as in the server (``ops.authorize.run``), and answered whole, errors included."""
        loop = asyncio.get_running_loop()
        call = (operation, ctx.region, ctx.now, ctx.caller, ctx.access_key_id, params, environment)
        try:
            return await loop.run_in_executor(self._pool, _answer, *call)
        except BrokenProcessPool:  # a scan process died (killed, out of memory): start anew and answer once more
            self._pool = self._start()
            return await loop.run_in_executor(self._pool, _answer, *call)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _open(config: Config) -> None:
    from tumbler.server.runtime import open_keyring, open_store  # the assembly, in the child only

    global _services
    store = open_store(config)
    authorization = Authorizer(config.authorization)
    audit = JsonLinesAudit(config.data_dir / "audit.log")  # refusals are logged here as in the server
    _services = Services(
        store, open_keyring(config, store), SystemClock(), config.account_id, audit=audit, authorization=authorization
    )


def _answer(
    operation: str,
    region: str,
    now: datetime,
    caller: Principal,
    access_key_id: str,
    params: dict[str, Any],
    environment: dict[str, str],
) -> serialize.Response:
    assert _services is not None, "the scan process opens its services first"
    ctx = Context(_services, region, now, caller, access_key_id)
    try:
        try:
            result = authorize.run(ctx, "secretsmanager", operation, OPERATIONS[operation].func, params, environment)
        except DomainError as err:
            raise to_wire("secretsmanager", err) from None
    except WireError as err:
        return serialize.error_response(err)
    return serialize.json_response(result)
