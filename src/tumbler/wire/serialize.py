"""Responses onto the wire: results and errors -> (status, headers, body).

Results are the dicts botocore's parsers produce: model member names, ``datetime`` for
timestamps, ``bytes`` for blobs. Header names are lower-case bytes, as ASGI wants them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from typing import Any

import orjson
from botocore.model import OperationModel, Shape

from tumbler.wire import spec
from tumbler.wire.errors import WireError
from tumbler.wire.validate import members

Headers = list[tuple[bytes, bytes]]
JSON_11 = b"application/x-amz-json-1.1"
Response = tuple[int, Headers, bytes]  # status, headers, body
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
APPLICATION_JSON = b"application/json"


def epoch_seconds(value: datetime) -> float:
    """Seconds since the epoch, cut to the millisecond as AWS's Java dates are (1.523477145713E9).

    A naive datetime is taken as UTC. Integer milliseconds first, so no float rounding creeps in.
    """
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return ((aware - _EPOCH) // _MILLISECOND) / 1000


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return epoch_seconds(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_body(result: dict[str, Any]) -> bytes:
    """``result`` as JSON: timestamps as epoch seconds, blobs as base64 (no shape walk: hot path)."""
    return orjson.dumps(result, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


def json_response(result: dict[str, Any]) -> Response:
    """A successful awsJson1.1 answer: status, headers and body."""
    return 200, [(b"content-type", JSON_11)], json_body(result)


def error_response(err: WireError) -> tuple[int, Headers, bytes]:
    """An awsJson1.1 error: ``{"__type": code, "Message": message, ...fields}``.

    An empty message is left out, as AWS does for UnknownOperationException and unreadable bodies.
    """
    body: dict[str, Any] = {"__type": err.code}
    if err.message:
        body["Message"] = err.message
    body.update(err.fields)
    return err.status, [(b"content-type", JSON_11)], json_body(body)


# --- restJson1 ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Placed:
    location: str  # header, headers, statusCode
    name: str  # header name or prefix
    shape: Shape


@dataclass(frozen=True, slots=True)
class _Plan:
    status: int
    placed: dict[str, _Placed]
    payload: str | None
    payload_kind: str
    has_body: bool  # the output has members that travel in the body


@cache
def _plan(service: str, operation: str) -> _Plan:
    op = spec.load(service).operation_model(operation)
    status = int(op.http.get("responseCode", 200))
    shape = op.output_shape
    if shape is None:
        return _Plan(status, {}, None, "", False)
    placed = {m.name: _Placed(m.location, m.wire, m.shape) for m in members(service, shape) if m.location}
    payload = shape.serialization.get("payload")
    kind = shape.members[payload].type_name if payload else ""
    has_body = payload is not None or len(placed) < len(shape.members)
    return _Plan(status, placed, payload, kind, has_body)


def _header_text(shape: Shape, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _header_timestamp(shape, value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return ",".join(_header_text(shape.member, item) for item in value)
    if shape.serialization.get("jsonvalue"):
        return base64.b64encode(orjson.dumps(value)).decode("ascii")
    return str(value)


def _header_timestamp(shape: Shape, value: datetime) -> str:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    style = shape.serialization.get("timestampFormat", "rfc822")  # botocore's default for headers
    if style == "iso8601":
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if style == "unixtimestamp":
        return str(epoch_seconds(aware))
    return format_datetime(aware.astimezone(UTC), usegmt=True)


def _raw_payload(value: Any) -> tuple[bytes, bytes]:
    if isinstance(value, str):
        return value.encode("utf-8"), b"text/plain"
    return bytes(value), b"application/octet-stream"


def rest_json_response(
    op: OperationModel, result: dict[str, Any], status: int | None = None
) -> tuple[int, Headers, bytes]:
    """A restJson1 response for ``op``: header/statusCode members placed, the payload or the rest as JSON."""
    plan = _plan(op.service_model.service_name, op.name)
    code = plan.status if status is None else status
    headers: Headers = []
    body_members: dict[str, Any] = {}
    for name, value in result.items():
        where = plan.placed.get(name)
        if value is None:
            continue
        if where is None:
            body_members[name] = value
        elif where.location == "header":
            headers.append((where.name.lower().encode(), _header_text(where.shape, value).encode()))
        elif where.location == "headers":
            headers.extend(((where.name + k).lower().encode(), str(v).encode()) for k, v in value.items())
        elif where.location == "statusCode":
            code = int(value)
    if plan.payload is not None:
        value = body_members.get(plan.payload)
        if value is None:
            return code, headers, b""
        if plan.payload_kind in ("blob", "string"):
            body, content_type = _raw_payload(value)
            return code, [*headers, (b"content-type", content_type)], body
        return code, [*headers, (b"content-type", APPLICATION_JSON)], json_body(value)
    if not plan.has_body and not body_members:
        return code, headers, b""
    return code, [*headers, (b"content-type", APPLICATION_JSON)], json_body(body_members)


@cache
def _error_traits(service: str, code: str) -> tuple[str, dict[str, str]]:
    """The message key the model declares for ``code`` ('message' or 'Message') and its header members."""
    model = spec.load(service)
    if code not in model.shape_names:
        return "message", {}  # framework errors (ValidationException, ...) use 'message'
    shape = model.shape_for(code)
    key = "Message" if "Message" in shape.members and "message" not in shape.members else "message"
    placed = {m.name: m.wire for m in members(service, shape) if m.location == "header"}
    return key, placed


def rest_json_error(err: WireError, service: str = "lambda") -> tuple[int, Headers, bytes]:
    """A restJson1 error as Lambda sends it: ``x-amzn-ErrorType`` and ``{"Type": ..., "message": ...}``.

    botocore takes the code from the header and the message from 'message' or 'Message'.
    """
    key, placed = _error_traits(service, err.code)
    body: dict[str, Any] = {"Type": "User" if err.status < 500 else "Server"}
    if err.message:
        body[key] = err.message
    headers: Headers = [(b"x-amzn-errortype", err.code.encode())]
    for name, value in err.fields.items():
        if name in placed:
            headers.append((placed[name].lower().encode(), str(value).encode()))
        else:
            body[name] = value
    return err.status, [*headers, (b"content-type", APPLICATION_JSON)], json_body(body)
