"""The ASGI application: bytes in, signature checked, operation dispatched, bytes out.

A plain ASGI callable rather than a framework: the hot path (GetSecretValue) is one
signature check, one parse, one store read and one decrypt, and nothing else should run.
Read-only operations run on the event loop (SQLite reads take microseconds); writers run in
a thread pool, because a durable commit waits for the disk.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tumbler.core.errors import DomainError
from tumbler.ops.context import Context, Registered, Services
from tumbler.ops.errors import to_wire
from tumbler.ops.secretsmanager import OPERATIONS as SECRETSMANAGER
from tumbler.wire import errors, parse, serialize
from tumbler.wire.errors import WireError
from tumbler.wire.sigv4 import Verifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("tumbler.server")
MAX_BODY = 1 << 20  # far above the largest valid request (a 64 KiB value, JSON-escaped)
JSON_TYPE = b"application/x-amz-json-1.1"
HEALTH_PATH = "/_tumbler/health"


class App:
    def __init__(self, services: Services, verifier: Verifier, *, access_log: bool = False) -> None:
        self.services = services
        self.verifier = verifier
        self.access_log = access_log
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tumbler-op")
        self.background: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._tasks = [asyncio.create_task(job()) for job in self.background]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self._tasks:
                    task.cancel()
                self.pool.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        operation = "-"
        try:
            body = await _read_body(receive)
            if scope["path"] == HEALTH_PATH and scope["method"] == "GET":
                status, headers, payload = 200, [(b"content-type", b"application/json")], b'{"status":"ok"}'
            else:
                operation, (status, headers, payload) = await self._secretsmanager(scope, body)
        except WireError as err:
            status, headers, payload = serialize.error_response(err)
        except Exception:
            log.exception("internal error in %s (request %s)", operation, request_id)
            internal = errors.error("secretsmanager", "InternalServiceError", "An error occurred on the server side.")
            status, headers, payload = serialize.error_response(internal)
        headers = [
            *headers,
            (b"x-amzn-requestid", request_id.encode()),
            (b"content-length", str(len(payload)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        if self.access_log:
            log.info("%s %s %d %.1fms", request_id, operation, status, (time.perf_counter() - started) * 1000)

    async def _secretsmanager(
        self, scope: Scope, body: bytes
    ) -> tuple[str, tuple[int, list[tuple[bytes, bytes]], bytes]]:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        caller = self.verifier.verify(
            scope["method"],
            scope.get("raw_path", b"/").decode("latin-1"),
            scope["query_string"].decode("latin-1"),
            headers,
            body,
        )
        if scope["method"] != "POST":
            raise errors.error("secretsmanager", "UnknownOperationException", "Unknown operation.")
        target = next((v.decode("latin-1") for k, v in headers if k == b"x-amz-target"), None)
        op_model, params = parse.parse_json("secretsmanager", target, body)
        registered = SECRETSMANAGER.get(op_model.name)
        if registered is None:
            raise errors.error("secretsmanager", "UnknownOperationException", f"Unknown operation {op_model.name}.")
        ctx = Context(self.services, caller.region, self.services.clock.now())
        result = await self._run(registered, ctx, params)
        return op_model.name, (200, [(b"content-type", JSON_TYPE)], serialize.json_body(result))

    async def _run(self, registered: Registered, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        try:
            if registered.readonly:
                return registered.func(ctx, params)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.pool, registered.func, ctx, params)
        except DomainError as err:
            raise to_wire("secretsmanager", err) from None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise errors.error(
                "secretsmanager", "RequestEntityTooLargeException", "Request body is larger than the service allows."
            )
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)
