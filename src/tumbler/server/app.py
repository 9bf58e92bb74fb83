"""The ASGI application: bytes in, signature checked, operation dispatched, bytes out.

A plain ASGI callable rather than a framework: the hot path (GetSecretValue) is one
signature check, one parse, one store read and one decrypt, and nothing else should run.
Point reads run on the event loop (SQLite reads take microseconds); everything else runs in
a thread pool, because a durable commit waits for the disk.

Lambda's REST API shares the port: paths under ``/2015-03-31/functions`` (one string prefix
test, the only cost to the Secrets Manager path). Every Lambda operation runs in its own
thread pool: each read loads a code package and Invoke waits for the function, and neither
may hold up the event loop or Secrets Manager's writers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from botocore.model import OperationModel

from tumbler.core.errors import AccessDenied, DomainError
from tumbler.core.iam import Principal
from tumbler.ops import authorize
from tumbler.ops.context import Context, Operation, Params, Registered
from tumbler.ops.errors import to_wire
from tumbler.ops.iam import OPERATIONS as IAM
from tumbler.ops.lambda_ import OPERATIONS as LAMBDA
from tumbler.ops.secretsmanager import OPERATIONS as SECRETSMANAGER
from tumbler.ops.sts import OPERATIONS as STS
from tumbler.ports.services import Services
from tumbler.server import health
from tumbler.server.credentials import CredentialLookup
from tumbler.server.scans import Scans
from tumbler.wire import errors, parse, query, query_serialize, serialize
from tumbler.wire.errors import WireError
from tumbler.wire.sigv4 import Caller, Verifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Response = serialize.Response

log = logging.getLogger("tumbler.server")
MAX_BODY = 1 << 20  # far above the largest valid request (a 64 KiB value, JSON-escaped)
HEALTH_PATH = "/_tumbler/health"
LAMBDA_PREFIX = "/2015-03-31/functions"
# Lambda's front end limits: a whole request (a base64 ZipFile inside JSON), and an Invoke payload.
LAMBDA_MAX_BODY = 70_167_211
INVOKE_MAX_BODY = 6_291_456
# IAM and STS (query protocol) share the port too: told apart by the SigV4 credential scope's service.
QUERY_OPERATIONS: dict[str, dict[str, Registered]] = {"iam": IAM, "sts": STS}
QUERY_SERVICES = tuple(QUERY_OPERATIONS)


class App:
    """``identities`` resolves a verified key to its principal; without one (``--dev``) every caller is the root."""

    def __init__(
        self,
        services: Services,
        verifier: Verifier,
        *,
        access_log: bool = False,
        identities: CredentialLookup | None = None,
    ) -> None:
        self.services = services
        self.verifier = verifier
        self.identities = identities
        self.scans: Scans | None = None
        self.access_log = access_log
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tumbler-op")
        self.lambda_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="tumbler-lambda")
        self.background: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.on_shutdown: list[Callable[[], None]] = []  # before the Lambda pool drains: ends running Invokes
        self._tasks: list[asyncio.Task[None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(receive, send)
            return
        started = time.perf_counter()
        request_id = str(uuid.uuid4())  # the form of AWS's x-amzn-RequestId
        operation = "-"
        is_lambda = scope["path"].startswith(LAMBDA_PREFIX)
        try:
            limit, too_large = _lambda_limit(scope) if is_lambda else (MAX_BODY, _secretsmanager_too_large)
            body = await _read_body(receive, limit, too_large)
            if is_lambda:
                operation, (status, headers, payload) = await self._lambda(scope, body)
            elif scope["path"] == HEALTH_PATH and scope["method"] == "GET":
                status, headers, payload = 200, [(b"content-type", b"application/json")], b'{"status":"ok"}'
            elif scope["path"] == health.READY_PATH and scope["method"] == "GET":
                status, headers, payload = await health.ready(self.services.store)
            elif (query_service := _query_service(scope)) is not None:
                operation, (status, headers, payload) = await self._query(scope, body, query_service, request_id)
            else:
                op_model, registered, ctx, params = self._secretsmanager(scope, body)
                operation = op_model.name
                environment = _environment(scope)
                if registered.in_scan_process and self.scans is not None:
                    status, headers, payload = await self.scans.run(operation, ctx, params, environment)
                else:
                    call = _Call("secretsmanager", operation, registered.func, environment)
                    if registered.on_event_loop:  # a point read: answered here without a thread hand-off
                        result = call(ctx, params)
                    else:
                        result = await _in_pool(self.pool, call, ctx, params)
                    status, headers, payload = serialize.json_response(result)
        except ClientGone:
            log.info("%s: the client went away before its request was whole; nothing was run", request_id)
            return
        except WireError as err:
            status, headers, payload = _error_response(err, is_lambda)
        except Exception:
            log.exception("internal error in %s (request %s)", operation, request_id)
            status, headers, payload = _error_response(_internal(is_lambda), is_lambda)
        headers = [*headers, (b"x-amzn-requestid", request_id.encode()), (b"content-length", b"%d" % len(payload))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        if self.access_log:
            elapsed = (time.perf_counter() - started) * 1000
            log.info("%s %s %d %.1fms", request_id, operation, status, elapsed)

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
                for close in self.on_shutdown:
                    close()
                self.lambda_pool.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _secretsmanager(self, scope: Scope, body: bytes) -> tuple[OperationModel, Registered, Context, Params]:
        """The operation a signed Secrets Manager request asks for, its params and its context."""
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        caller = self.verifier.verify(
            scope["method"],
            scope.get("raw_path", b"/").decode("latin-1"),
            scope["query_string"].decode("latin-1"),
            headers,
            body,
            service="secretsmanager",
        )
        if scope["method"] != "POST":
            raise errors.error("secretsmanager", "UnknownOperationException", "Unknown operation.")
        target = dict(headers).get(b"x-amz-target")  # the ASGI server gives header names in lower case
        op_model, params = parse.parse_json(
            "secretsmanager", None if target is None else target.decode("latin-1"), body
        )
        registered = SECRETSMANAGER.get(op_model.name)
        if registered is None:
            raise errors.error("secretsmanager", "UnknownOperationException", f"Unknown operation {op_model.name}.")
        return op_model, registered, self._context(caller, "secretsmanager"), params

    def _context(self, caller: Caller, service: str) -> Context:
        """The request's context, with the principal its key stands for (see ``_identify``)."""
        now = self.services.clock.now()
        if self.identities is None:
            return Context(self.services, caller.region, now)
        principal = self._identify(caller, service, now)
        return Context(self.services, caller.region, now, principal, caller.access_key_id)

    def _identify(self, caller: Caller, service: str, now: datetime) -> Principal:
        """The principal of a verified request; a session's must carry its token, unexpired. Errors as each
        protocol words them: a wrong or missing token is an invalid one, an expired one is expired."""
        assert self.identities is not None
        identity = self.identities.identity(caller.access_key_id)
        if identity is None:  # removed between the signature check and here
            raise _invalid_token(service)
        if identity.token_hash is not None:
            given = hashlib.sha256((caller.session_token or "").encode()).digest()
            if caller.session_token is None or not hmac.compare_digest(given, identity.token_hash):
                raise _invalid_token(service)
            if identity.expires is not None and now >= identity.expires:
                raise _expired_token(service)
        return identity.principal

    async def _query(self, scope: Scope, body: bytes, service: str, request_id: str) -> tuple[str, Response]:
        """An IAM or STS request (query protocol: a form body, answered in XML), errors included."""
        operation, rid = "-", request_id
        try:
            headers: list[tuple[bytes, bytes]] = scope["headers"]
            raw_path = scope.get("raw_path", b"/").decode("latin-1")
            query_string = scope["query_string"].decode("latin-1")
            try:
                caller = self.verifier.verify(scope["method"], raw_path, query_string, headers, body, service=service)
            except WireError as err:
                raise query.from_json_error(service, err) from None
            ctx = self._context(caller, service)
            op_model, params = query.parse_query(service, query_string, body)
            operation = op_model.name
            registered = QUERY_OPERATIONS[service].get(op_model.name)
            if registered is None:
                raise query.error(service, "InvalidAction", f"Could not find operation {operation} for version "
                                  f"{op_model.metadata['apiVersion']}")  # fmt: skip
            call = _Call(service, operation, registered.func, _environment(scope))
            result = await _in_pool(self.pool, call, ctx, params)
            return operation, query_serialize.query_response(op_model, result, rid)
        except WireError as err:
            return operation, query_serialize.query_error(service, err, rid)
        except Exception:
            log.exception("internal error in %s (request %s)", operation, rid)
            failure = "ServiceFailure" if service == "iam" else "InternalFailure"
            message = "An error occurred on the server side."
            return operation, query_serialize.query_error(service, query.error(service, failure, message), rid)

    async def _lambda(self, scope: Scope, body: bytes) -> tuple[str, Response]:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        raw_path = scope.get("raw_path", b"/").decode("latin-1")
        query_string = scope["query_string"].decode("latin-1")
        caller = self.verifier.verify(scope["method"], raw_path, query_string, headers, body, service="lambda")
        query = parse_qs(query_string, keep_blank_values=True)
        header_map = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
        op_model, params = parse.parse_rest_json("lambda", scope["method"], raw_path, query, header_map, body)
        registered = LAMBDA.get(op_model.name)
        if registered is None:  # modelled, but not (yet) served: as for a path no operation owns
            raise WireError("UnknownOperationException", "", 404)
        ctx = self._context(caller, "lambda")
        call = _Call("lambda", op_model.name, registered.func, _environment(scope))
        result = await _in_pool(self.lambda_pool, call, ctx, params)
        return op_model.name, serialize.rest_json_response(op_model, result)


def _query_service(scope: Scope) -> str | None:
    """``iam`` or ``sts`` when the request's SigV4 credential scope names one (header or presigned)."""
    if scope["method"] != "POST" and not scope["query_string"]:
        return None
    for name, value in scope["headers"]:
        if name == b"authorization":
            return _scoped(value)
    return _scoped(scope["query_string"]) if b"X-Amz-Credential" in scope["query_string"] else None


def _scoped(text: bytes) -> str | None:
    for service in QUERY_SERVICES:
        if b"/%s/aws4_request" % service.encode() in text or b"%%2F%s%%2Faws4_request" % service.encode() in text:
            return service
    return None


def _invalid_token(service: str) -> WireError:
    message = "The security token included in the request is invalid."
    if service in QUERY_SERVICES:
        return query.error(service, "InvalidClientTokenId", message)
    return WireError("UnrecognizedClientException", message, 403 if service == "lambda" else 400)


def _expired_token(service: str) -> WireError:
    message = "The security token included in the request is expired"
    if service in QUERY_SERVICES:
        return query.error(service, "ExpiredToken", message)
    return WireError("ExpiredTokenException", message, 403 if service == "lambda" else 400)


@dataclass(frozen=True, slots=True)
class _Call:
    """One operation of one service, run through ``ops.authorize.run`` (authorized first), with its errors as the
    service's protocol words them."""

    service: str
    operation: str
    func: Operation
    environment: dict[str, str]

    def __call__(self, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return authorize.run(ctx, self.service, self.operation, self.func, params, self.environment)
        except AccessDenied as err:
            raise _access_denied(self.service, err.message) from None
        except DomainError as err:
            raise to_wire(self.service, err) from None


async def _in_pool(pool: ThreadPoolExecutor, call: _Call, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.get_running_loop().run_in_executor(pool, call, ctx, params)


def _environment(scope: Scope) -> dict[str, str]:
    """The request keys only the transport knows: aws:SourceIp and aws:SecureTransport."""
    client = scope.get("client")
    keys = {"aws:SecureTransport": "true" if scope.get("scheme") == "https" else "false"}
    if client:
        keys["aws:SourceIp"] = str(client[0])
    return keys


def _access_denied(service: str, message: str) -> WireError:
    """AccessDenied as each protocol sends it: Secrets Manager's AccessDeniedException (400), IAM's and STS's
    XML AccessDenied (403), Lambda's 403 with x-amzn-ErrorType AccessDeniedException (its model declares none)."""
    if service in QUERY_SERVICES:
        return query.error(service, "AccessDenied", message)
    if service == "lambda":
        return WireError("AccessDeniedException", message, 403)
    return errors.error(service, "AccessDeniedException", message)


def _error_response(err: WireError, is_lambda: bool) -> Response:
    return serialize.rest_json_error(err, "lambda") if is_lambda else serialize.error_response(err)


def _internal(is_lambda: bool) -> WireError:
    if is_lambda:
        return errors.error("lambda", "ServiceException", "An error occurred on the server side.")
    return errors.error("secretsmanager", "InternalServiceError", "An error occurred on the server side.")


def _secretsmanager_too_large() -> WireError:
    return errors.error(
        "secretsmanager", "RequestEntityTooLargeException", "Request body is larger than the service allows."
    )


def _lambda_limit(scope: Scope) -> tuple[int, Callable[[], WireError]]:
    """The body limit of a Lambda request and its error, named after the operation as Lambda names it."""
    path, method = scope["path"].rstrip("/"), scope["method"]
    if path.endswith("/invocations"):
        limit, operation = INVOKE_MAX_BODY, "InvokeFunction"
    else:
        limit, operation = LAMBDA_MAX_BODY, "UpdateFunctionCode" if method == "PUT" else "CreateFunction"
    message = f"Request must be smaller than {limit} bytes for the {operation} operation"
    return limit, lambda: errors.error("lambda", "RequestEntityTooLargeException", message)


class ClientGone(Exception):
    """The client closed the connection before its request's body was whole."""


async def _read_body(receive: Receive, limit: int, too_large: Callable[[], WireError]) -> bytes:
    """The whole body, up to ``limit`` bytes. A body cut short by a disconnect is never taken for a whole one:
    an operation must not run on part of what was signed and sent."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
