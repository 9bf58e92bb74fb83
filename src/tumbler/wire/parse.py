"""Requests off the wire: bytes -> (operation, validated params), driven by the botocore models.

Params come out as botocore's serializers take them in: model member names, ``bytes`` for blobs,
UTC-aware ``datetime`` for timestamps. Members the model does not know are dropped, as AWS ignores
them; a JSON ``null`` is the same as an absent member.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple
from urllib.parse import unquote

import orjson
from botocore.model import OperationModel, Shape, StructureShape
from botocore.utils import parse_timestamp

from tumbler.wire import errors, spec
from tumbler.wire.errors import WireError
from tumbler.wire.validate import Member, members, rules, type_message, validate

# --- JSON values -> Python values ----------------------------------------------------------------


_NOT_A_BLOB = "Value can not be converted to a Blob: "


def _blob(text: str, service: str) -> bytes:
    # Coral quotes the value here; we never do, as a blob may be a secret (SecretBinary).
    if len(text) % 4:
        reason = f"Base64 encoded length is expected a multiple of 4 bytes but found: {len(text)}"
        raise errors.error(service, "SerializationException", _NOT_A_BLOB + reason)
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except ValueError:  # binascii.Error, or a non-ASCII str
        raise errors.error(service, "SerializationException", _NOT_A_BLOB + "Invalid Base64 character") from None


def _epoch(value: float) -> datetime | float:
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return value  # left as a number, validate() answers "NUMBER_VALUE can not be converted"


def from_json(shape: Shape, value: Any, service: str) -> Any:
    """``value`` decoded from JSON into the Python form of ``shape``.

    A value of the wrong JSON type is returned as is, for ``validate`` to report the way Coral does.
    """
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            m.name: from_json(m.shape, value[m.wire], service)
            for m in members(service, shape)
            if value.get(m.wire) is not None
        }
    if kind == "list" and isinstance(value, list):
        return [from_json(shape.member, item, service) for item in value if item is not None]
    if kind == "map" and isinstance(value, dict):
        return {k: from_json(shape.value, v, service) for k, v in value.items() if v is not None}
    if kind == "blob" and isinstance(value, str):
        return _blob(value, service)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "timestamp" and is_number:
        return _epoch(value)
    if kind in ("integer", "long") and isinstance(value, float):
        return int(value)  # Coral truncates a decimal sent for an integer
    return value


def _json_object(service: str, body: bytes, malformed: str) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        message = "" if malformed == "SerializationException" else f"Could not parse request body into json: {exc}"
        raise errors.error(service, malformed, message) from None
    if isinstance(data, dict):
        return data
    # Measured on Athena (awsJson1.1): a top-level array gets a message, other scalars none.
    message = "Start of list found where not expected" if isinstance(data, list) else ""
    raise errors.error(service, "SerializationException", message)


# --- awsJson1.1 ------------------------------------------------------------------------------------


@cache
def _targets(service: str) -> dict[str, OperationModel]:
    model = spec.load(service)
    prefix = model.metadata["targetPrefix"]
    return {f"{prefix}.{name}": model.operation_model(name) for name in model.operation_names}


def parse_json(service: str, target: str | None, body: bytes) -> tuple[OperationModel, dict[str, Any]]:
    """The operation named by ``X-Amz-Target`` and its validated params from a JSON 1.1 body."""
    op = _targets(service).get(target or "")
    if op is None:  # AWS answers {"__type":"UnknownOperationException"}, no message, HTTP 400
        raise errors.error(service, "UnknownOperationException", "")
    shape = op.input_shape
    if shape is None:
        return op, {}
    data = _json_object(service, body, "SerializationException") if body else {}
    plan = _flat_plan(service, shape)
    if plan is not None:
        accepted = _accept_flat(plan, data)
        if accepted is not None:
            return op, accepted
    params: dict[str, Any] = from_json(shape, data, service)
    validate(shape, params, service)
    return op, params


class FlatPlan(NamedTuple):
    """A structure of strings only (GetSecretValue's, DescribeSecret's, ...): its members and their checks."""

    members: dict[str, tuple[str, tuple[Callable[[Any], bool], ...]]]  # wire name: (name, checks)
    required: tuple[str, ...]  # wire names


# One plan per input shape, made on first use. Kept for GetSecretValue's throughput target (≥ 10,000
# requests/s): its request is checked without the generic walk of the model (from_json, validate).
_FLAT: dict[tuple[str, str], FlatPlan | None] = {}


def _flat_plan(service: str, shape: StructureShape) -> FlatPlan | None:
    key = (service, shape.name)  # cached by name, as members() is: shape names are unique per service
    if key not in _FLAT:
        found = members(service, shape)
        flat = all(m.shape.type_name == "string" and not m.location for m in found)
        checks = {m.wire: (m.name, tuple(ok for ok, _ in rules(service, m.shape).checks)) for m in found}
        _FLAT[key] = FlatPlan(checks, tuple(m.wire for m in found if m.required)) if flat else None
    return _FLAT[key]


def _accept_flat(plan: FlatPlan, data: dict[str, Any]) -> dict[str, Any] | None:
    """The params, if the generic parse and validation would surely accept them, else None for those to
    report what is wrong: the same checks, without building Coral's messages along the way."""
    for wire in plan.required:
        if data.get(wire) is None:
            return None
    params = {}
    members = plan.members
    for wire, value in data.items():  # the members sent, usually fewer than the shape has
        member = members.get(wire)
        if member is None or value is None:  # not a member (ignored, as Coral does), or null (absent)
            continue
        if type(value) is not str:
            return None
        name, checks = member
        for ok in checks:  # a loop, not all(): no generator to build on every request
            if not ok(value):
                return None
        params[name] = value
    return params


# --- restJson1: routing ----------------------------------------------------------------------------

_LABEL = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True, slots=True)
class Route:
    """One operation's ``requestUri``, compiled."""

    op: OperationModel
    path: re.Pattern[str]
    labels: dict[str, str]  # regex group -> label name
    query: tuple[tuple[str, str | None], ...]  # literals the query string must carry
    rank: tuple[int, int, int]  # more literal text, more query literals, fewer greedy labels first


def compile_route(op: OperationModel) -> Route:
    """Compile ``op``'s ``requestUri``: ``{Label}`` is one segment, ``{Label+}`` the rest of the path."""
    template, _, literals = op.http["requestUri"].partition("?")
    template = template.rstrip("/")  # a trailing slash is optional, as on AWS
    parts: list[str] = []
    labels: dict[str, str] = {}
    literal_chars = greedy = position = 0
    for index, match in enumerate(_LABEL.finditer(template)):
        literal = template[position : match.start()]
        parts.append(re.escape(literal))
        literal_chars += len(literal)
        name, group = match.group(1), f"g{index}"
        if name.endswith("+"):
            name, greedy = name[:-1], greedy + 1
            parts.append(f"(?P<{group}>.+)")
        else:
            parts.append(f"(?P<{group}>[^/]+)")
        labels[group] = name
        position = match.end()
    parts.append(re.escape(template[position:]) + "/?")
    literal_chars += len(template) - position
    query = tuple((k, v if sep else None) for k, sep, v in (p.partition("=") for p in literals.split("&") if p))
    return Route(op, re.compile("".join(parts)), labels, query, (literal_chars, len(query), -greedy))


@cache
def _routes(service: str) -> dict[str, tuple[Route, ...]]:
    """Routes by HTTP method, most specific first."""
    model = spec.load(service)
    by_method: dict[str, list[Route]] = {}
    for name in model.operation_names:
        op = model.operation_model(name)
        by_method.setdefault(op.http["method"], []).append(compile_route(op))
    return {method: tuple(sorted(rs, key=lambda r: r.rank, reverse=True)) for method, rs in by_method.items()}


def _has(query: dict[str, list[str]], key: str, value: str | None) -> bool:
    return key in query and (value is None or value in query[key])


def route(service: str, method: str, path: str, query: dict[str, list[str]]) -> tuple[OperationModel, dict[str, str]]:
    """The operation for a request and its url-decoded path labels."""
    for candidate in _routes(service).get(method.upper(), ()):
        found = candidate.path.fullmatch(path)
        if found and all(_has(query, k, v) for k, v in candidate.query):
            return candidate.op, {candidate.labels[g]: unquote(text) for g, text in found.groupdict().items()}
    # AWS's REST front ends answer a path no operation owns with 404 <UnknownOperationException/>.
    raise WireError("UnknownOperationException", "", 404)


# --- restJson1: strings from the URI, query string and headers -----------------------------------

_INTEGER = re.compile(r"[-+]?[0-9]+")
_DECIMAL = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")


def _from_text(shape: Shape, text: str, service: str) -> Any:
    """A string from outside the body as the Python form of ``shape``."""
    kind = shape.type_name
    if kind in ("integer", "long") and _INTEGER.fullmatch(text):
        return int(text)
    if kind in ("double", "float") and _DECIMAL.fullmatch(text):
        return float(text)
    if kind == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if kind == "timestamp":
        return _timestamp_text(text, service)
    if kind == "blob":
        return _blob(text, service)
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return _json_value(text, service)
    if kind in ("string", "list", "map", "structure"):
        return text
    raise errors.error(service, "SerializationException", type_message(kind, text))


def _timestamp_text(text: str, service: str) -> datetime:
    try:
        parsed: datetime = parse_timestamp(text)
    except (ValueError, TypeError, OverflowError):
        raise errors.error(service, "SerializationException", type_message("timestamp", text)) from None
    return parsed.astimezone(UTC)


def _json_value(text: str, service: str) -> Any:
    try:
        return orjson.loads(base64.b64decode(text, validate=True))
    except ValueError:  # binascii.Error and orjson.JSONDecodeError are ValueErrors
        raise errors.error(service, "SerializationException", "Could not parse the JSON value header") from None


def _located(member: Member, raw: str | list[str], service: str) -> Any:
    if member.shape.type_name == "list":
        items = raw if isinstance(raw, list) else [part.strip() for part in raw.split(",")]
        return [_from_text(member.shape.member, item, service) for item in items]
    return _from_text(member.shape, raw if isinstance(raw, str) else raw[0], service)


def _outside_body(
    service: str, shape: StructureShape, labels: dict[str, str], query: dict[str, list[str]],
    headers: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    """Members bound to the URI, the query string and the headers."""
    lowered = {k.lower(): v for k, v in headers.items()}
    claimed = {m.wire for m in members(service, shape) if m.location == "querystring"}
    params: dict[str, Any] = {}
    for m in members(service, shape):
        if m.location == "uri" and m.wire in labels:
            params[m.name] = _located(m, labels[m.wire], service)
        elif m.location == "querystring" and m.shape.type_name == "map":
            rest = {k: v for k, v in query.items() if k not in claimed}
            if rest:
                multi = m.shape.value.type_name == "list"
                params[m.name] = {k: v if multi else v[0] for k, v in rest.items()}
        elif m.location == "querystring" and query.get(m.wire):
            params[m.name] = _located(m, query[m.wire], service)
        elif m.location == "header" and m.wire.lower() in lowered:
            params[m.name] = _located(m, lowered[m.wire.lower()], service)
        elif m.location == "headers":
            prefix = m.wire.lower()
            found = {k[len(prefix) :]: v for k, v in lowered.items() if k.startswith(prefix)}
            if found:
                params[m.name] = found
    return params


# --- restJson1: the body ---------------------------------------------------------------------------


@cache
def _malformed_code(service: str) -> str:
    # Lambda answers a body that is not JSON with its own InvalidRequestContentException.
    declared = "InvalidRequestContentException" in spec.load(service).shape_names
    return "InvalidRequestContentException" if declared else "SerializationException"


def _body(service: str, shape: StructureShape, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    payload = shape.serialization.get("payload")
    if payload is None:
        data = from_json(shape, _json_object(service, body, _malformed_code(service)), service)
        located = {m.name for m in members(service, shape) if m.location}
        return {k: v for k, v in data.items() if k not in located}
    target = shape.members[payload]
    if target.type_name == "blob":
        return {payload: bytes(body)}
    if target.type_name == "string":
        try:
            return {payload: body.decode("utf-8")}
        except UnicodeDecodeError:
            raise errors.error(service, "SerializationException", "Invalid UTF-8 in the request body") from None
    return {payload: from_json(target, _json_object(service, body, _malformed_code(service)), service)}


def parse_rest_json(
    service: str, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
) -> tuple[OperationModel, dict[str, Any]]:
    """The operation and validated params of a restJson1 request.

    ``path`` is the raw, still percent-encoded path (labels are decoded after the split on '/');
    ``query`` is the decoded query string, every key with all its values.
    """
    op, labels = route(service, method, path, query)
    shape = op.input_shape
    if shape is None:
        return op, {}
    params = _body(service, shape, body)
    params.update(_outside_body(service, shape, labels, query, headers))
    validate(shape, params, service)
    return op, params
