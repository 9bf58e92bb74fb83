"""Query-protocol requests (IAM, STS): form-encoded pairs -> (operation, validated params).

A client sends ``Action=CreateUser&Version=2010-05-08&UserName=alice&Tags.member.1.Key=team&...`` as
the body of a POST (or the query string of a GET). The keys follow the operation's botocore input
shape: a structure's members by name, a list's items as ``Name.member.N`` (``Name.N`` when the list
is flattened), a map's entries as ``Name.entry.N.key`` and ``Name.entry.N.value``. Params come out
as parse.py's do: model member names, ints, bools, UTC-aware datetimes, bytes for blobs. Keys the
model does not know are ignored, as AWS ignores them.

Errors are the query protocol's: a model-declared error goes by its ``error.code`` (NoSuchEntity,
not NoSuchEntityException) with the model's status; framework errors are in ``COMMON``.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

from botocore.model import OperationModel, Shape, StructureShape
from botocore.utils import parse_timestamp

from tumbler.wire import spec
from tumbler.wire.errors import WireError
from tumbler.wire.validate import members, rules, validate

# Errors common to AWS query services ("Common Errors" of the IAM and STS API references), with
# AccessDenied, ExpiredToken and SignatureDoesNotMatch as IAM and STS send them.
COMMON: dict[str, int] = {
    "AccessDenied": 403, "ExpiredToken": 403, "IncompleteSignature": 400, "InternalFailure": 500,
    "InvalidAction": 400, "InvalidClientTokenId": 403, "InvalidParameterCombination": 400,
    "InvalidParameterValue": 400, "InvalidQueryParameter": 400, "MalformedQueryString": 404,
    "MissingAction": 400, "MissingAuthenticationToken": 403, "MissingParameter": 400, "OptInRequired": 403,
    "RequestExpired": 400, "ServiceUnavailable": 503, "SignatureDoesNotMatch": 403, "Throttling": 400,
    "ValidationError": 400,
}  # fmt: skip

# What the JSON services call the errors every service shares (as sigv4.py and validate.py raise
# them), and the query protocol's name for each.
_FROM_JSON = {
    "AccessDeniedException": "AccessDenied", "ExpiredTokenException": "ExpiredToken",
    "IncompleteSignatureException": "IncompleteSignature", "InvalidSignatureException": "SignatureDoesNotMatch",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "UnrecognizedClientException": "InvalidClientTokenId", "ThrottlingException": "Throttling",
    "ValidationException": "ValidationError",
}  # fmt: skip


@cache
def _declared(service: str) -> dict[str, int]:
    """The error codes ``service``'s model declares, with their HTTP statuses."""
    model = spec.load(service)
    found: dict[str, int] = {}
    for name in model.shape_names:
        shape = model.shape_for(name)
        if shape.metadata.get("exception"):
            trait = shape.metadata.get("error") or {}
            default = 500 if shape.metadata.get("fault") else 400
            found[trait.get("code", name)] = int(trait.get("httpStatusCode", default))
    return found


def error(service: str, code: str, message: str, **fields: Any) -> WireError:
    """A ``WireError`` for a query service: ``code`` as it goes on the wire (``NoSuchEntity``)."""
    status = _declared(service).get(code, COMMON.get(code))
    if status is None:
        raise KeyError(f"{code} is neither declared by {service} nor a common query-protocol error")
    return WireError(code, message, status, **fields)


def from_json_error(service: str, err: WireError) -> WireError:
    """``err`` as a query service answers it: ``InvalidSignatureException`` becomes ``SignatureDoesNotMatch``
    (403), and so on. A code the model declares (STS's own ExpiredTokenException) or the query protocol
    shares keeps its name and takes its status from there; any other passes through as it is."""
    code = err.code if err.code in _declared(service) else _FROM_JSON.get(err.code, err.code)
    if code not in COMMON and code not in _declared(service):
        return err
    return error(service, code, err.message, **err.fields)


# --- The pairs, as a tree --------------------------------------------------------------------------


@dataclass(slots=True)
class _Node:
    """One dotted key segment: ``Tags`` in ``Tags.member.1.Key``; its value if the key ends here."""

    value: str | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(pairs: list[tuple[str, str]]) -> _Node:
    root = _Node()
    for key, value in pairs:
        node = root
        for part in key.split("."):
            node = node.children.setdefault(part, _Node())
        if node.value is None:  # a key sent twice: the first value counts
            node.value = value
    return root


def _indexed(node: _Node) -> list[tuple[str, _Node]]:
    """The children numbered 1, 2, ... (list items, map entries) in numeric order, with their labels."""
    numbered = [(int(label), label, child) for label, child in node.children.items() if label.isdigit()]
    return [(label, child) for _, label, child in sorted(numbered, key=lambda item: item[0])]


# --- The tree -> params, by the input shape ---------------------------------------------------------

_INTEGER = re.compile(r"[-+]?[0-9]+")
_DECIMAL = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")
_EXPECTED = {
    "integer": "an integer", "long": "an integer", "float": "a number", "double": "a number",
    "boolean": "true or false", "timestamp": "an ISO 8601 timestamp", "blob": "base64-encoded",
}  # fmt: skip


class _Reader:
    __slots__ = ("service",)

    def __init__(self, service: str) -> None:
        self.service = service

    def read(self, shape: Shape, node: _Node, key: str) -> Any:
        """The Python value of ``node`` (the pair or pairs under ``key``), or None if there is none."""
        kind = shape.type_name
        if kind == "structure":
            return self.read_structure(shape, node, key) if node.children else None
        if kind == "list":
            return self.read_list(shape, node, key)
        if kind == "map":
            return self.read_map(shape, node, key)
        return None if node.value is None else self.read_scalar(shape, node.value, key)

    def read_structure(self, shape: StructureShape, node: _Node, key: str) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for member in members(self.service, shape):
            name = _pair_name(member.shape, member.wire)
            child = node.children.get(name)
            if child is not None:
                value = self.read(member.shape, child, f"{key}.{name}" if key else name)
                if value is not None:
                    params[member.name] = value
        return params

    def read_list(self, shape: Shape, node: _Node, key: str) -> list[Any] | None:
        if shape.serialization.get("flattened"):
            items, prefix = node, key
        else:
            label = shape.member.serialization.get("name", "member")
            found = node.children.get(label)
            if found is None:  # botocore sends an empty list as "Name=" with nothing under it
                return [] if node.value == "" else None
            items, prefix = found, f"{key}.{label}"
        return [self.read(shape.member, item, f"{prefix}.{i}") for i, item in _indexed(items)]

    def read_map(self, shape: Shape, node: _Node, key: str) -> dict[str, Any] | None:
        flat = shape.serialization.get("flattened")
        entries = node if flat else node.children.get("entry")
        if entries is None:
            return {} if node.value == "" else None
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        found: dict[str, Any] = {}
        for i, entry in _indexed(entries):
            where = f"{key}.{i}" if flat else f"{key}.entry.{i}"
            key_node, value_node = entry.children.get(key_name), entry.children.get(value_name)
            if key_node is None or key_node.value is None or value_node is None:
                continue
            value = self.read(shape.value, value_node, f"{where}.{value_name}")
            if value is not None:
                found[key_node.value] = value
        return found

    def read_scalar(self, shape: Shape, text: str, key: str) -> Any:
        kind = shape.type_name
        if kind in ("integer", "long") and _INTEGER.fullmatch(text):
            return int(text)
        if kind in ("float", "double") and _DECIMAL.fullmatch(text):
            return float(text)
        if kind == "boolean" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "timestamp":
            return self.read_timestamp(shape, text, key)
        if kind == "blob":
            return self.read_blob(shape, text, key)
        if kind not in _EXPECTED:  # a string, or a kind with nothing to convert
            return text
        raise self.invalid(shape, text, key)

    def read_timestamp(self, shape: Shape, text: str, key: str) -> datetime:
        try:
            parsed: datetime = parse_timestamp(text)
        except (ValueError, TypeError, OverflowError):
            raise self.invalid(shape, text, key) from None
        return parsed.astimezone(UTC)

    def read_blob(self, shape: Shape, text: str, key: str) -> bytes:
        try:
            return binascii.a2b_base64(text, strict_mode=True)
        except ValueError:  # binascii.Error, or a non-ASCII str
            raise self.invalid(shape, text, key) from None

    def invalid(self, shape: Shape, text: str, key: str) -> WireError:
        # The code is AWS's documented one for a value of the wrong form; the wording is ours, as
        # we found none of AWS's. A sensitive value is never echoed.
        shown = "" if rules(self.service, shape).opaque else f" '{text}'"
        message = f"Value{shown} for parameter {key} is invalid: expected {_EXPECTED[shape.type_name]}."
        return error(self.service, "InvalidParameterValue", message)


def _pair_name(shape: Shape, name: str) -> str:
    """A member's key segment; a flattened list with a named member goes by the member's name."""
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        return str(shape.member.serialization.get("name", name))
    return name


# --- The request ------------------------------------------------------------------------------------


def _pairs(query_string: str, body: bytes, service: str) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
        return [
            *parse_qsl(query_string, keep_blank_values=True, errors="strict"),
            *parse_qsl(text, keep_blank_values=True, errors="strict"),
        ]
    except UnicodeDecodeError:
        raise error(service, "MalformedQueryString", "The request is not valid UTF-8.") from None


@cache
def _operations(service: str) -> dict[str, OperationModel]:
    model = spec.load(service)
    return {name: model.operation_model(name) for name in model.operation_names}


def operation(service: str, action: str | None, version: str | None) -> OperationModel:
    """The operation an ``Action`` and ``Version`` name, or AWS's InvalidAction (MissingAction without one)."""
    if not action:
        raise error(service, "MissingAction", "Missing Action")
    op = _operations(service).get(action)
    if op is None or version != op.metadata["apiVersion"]:
        # Coral's wording; NO_VERSION_SPECIFIED is what it names a request without a Version.
        shown = version or "NO_VERSION_SPECIFIED"
        raise error(service, "InvalidAction", f"Could not find operation {action} for version {shown}")
    return op


def _value_of(tree: _Node, key: str) -> str | None:
    node = tree.children.get(key)
    return None if node is None else node.value


def parse_query(service: str, query_string: str, body: bytes) -> tuple[OperationModel, dict[str, Any]]:
    """The operation and validated params of a query-protocol request.

    ``query_string`` is the raw (still percent-encoded) query string, ``body`` the raw body: a POST
    carries its pairs in a form-encoded body, a GET in the query string; both are read.
    """
    tree = _tree(_pairs(query_string, body, service))
    op = operation(service, _value_of(tree, "Action"), _value_of(tree, "Version"))
    shape = op.input_shape
    if shape is None:
        return op, {}
    params = _Reader(service).read_structure(shape, tree, "")
    try:
        validate(shape, params, service)
    except WireError as err:
        raise from_json_error(service, err) from None
    return op, params
