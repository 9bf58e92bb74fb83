"""A request's values checked against its botocore input shape, worded as AWS's Coral framework does.

Coral reads the request first (the first value of the wrong JSON type is a SerializationException),
then reports up to ten broken constraints in one ValidationException: ``2 validation errors detected:
Value 'x' at 'secretId' failed to satisfy constraint: Member must ...; Value null at 'name' ...``.
A value of a ``sensitive`` shape, a blob, or a container holding one is never echoed:
``Value at 'secretString' failed to satisfy constraint: ...``.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from botocore.model import Shape, StructureShape

from tumbler.wire import errors

# Coral stops at ten violations and counts only those it reports.
MAX_REPORTED = 10
# Services whose validator lists "Member must not be null" among a list member's or map key's
# constraints, as Lambda does ("Value '[GET, POST, OPTIONS]' at 'cors.allowMethods' ... [Member
# must have length less than or equal to 6, ..., Member must not be null]"); ACM and EventBridge don't.
NULL_IN_SUMMARY = frozenset({"lambda"})
CONTAINERS = frozenset({"structure", "list", "map"})
_LENGTH_KINDS = frozenset({"string", "blob", "list", "map"})
_NUMBER_KINDS = frozenset({"integer", "long", "double", "float"})
NOT_NULL = "Member must not be null"


# --- Java regular expressions -------------------------------------------------------------------

_POSIX = {  # Java's POSIX classes are ASCII-only too
    "Lower": "a-z", "Upper": "A-Z", "ASCII": "\\x00-\\x7F", "Alpha": "a-zA-Z", "Digit": "0-9",
    "Alnum": "a-zA-Z0-9", "Punct": "!-/:-@\\[-`{-~", "Graph": "!-~", "Print": " -~", "Blank": " \\t",
    "Cntrl": "\\x00-\\x1F\\x7F", "XDigit": "0-9a-fA-F", "Space": " \\t\\n\\x0B\\f\\r",
}  # fmt: skip
# Java's '.' stops at every line terminator, Python's only at '\n'.
_JAVA_DOT = "[^\\n\\r\\x85\\u2028\\u2029]"


_CATEGORY = re.compile("[CLMNPSZ][a-z]?")


@cache
def _category(name: str) -> str:
    """Java's \\p{L}, \\p{Lu}, ... (IAM's tag patterns): the code points of a Unicode general category
    as a class body of ranges. Built on first use: it takes a pass over every code point."""
    ranges: list[str] = []
    start = None
    for code in range(sys.maxunicode + 2):
        inside = code <= sys.maxunicode and unicodedata.category(chr(code)).startswith(name)
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            ranges.append(f"\\U{start:08x}-\\U{code - 1:08x}")
            start = None
    return "".join(ranges)


def _escape(source: str, i: int, in_class: bool) -> tuple[str, int]:
    """The Python form of the escape starting at ``source[i]`` and the index after it."""
    letter = source[i + 1 : i + 2]
    if letter in ("p", "P") and source[i + 2 : i + 3] == "{":
        end = source.index("}", i)
        name = source[i + 3 : end]
        body = _POSIX.get(name) or (_category(name) if _CATEGORY.fullmatch(name) else None)
        if body is None or (in_class and letter == "P"):
            raise ValueError(f"unsupported Java class {source[i : end + 1]!r}")
        if in_class:
            return body, end + 1
        return f"[{'^' if letter == 'P' else ''}{body}]", end + 1
    if letter == "z" and not in_class:
        return "\\Z", i + 2
    if letter == "Z" and not in_class:
        return "(?=\\n?\\Z)", i + 2
    if letter in ("Q", "k", "G", "R", "X", "h", "e", "c"):
        raise ValueError(f"unsupported Java escape \\{letter}")
    return source[i : i + 2], i + 2


def java_regex(source: str) -> re.Pattern[str]:
    """Compile a Java regex (as AWS models write them) to an equivalent Python pattern.

    ASCII mode gives ``\\d``, ``\\s`` and ``\\w`` Java's ASCII-only meaning. Constructs with no
    Python equivalent raise ``ValueError``, so a new model pattern fails the tests, not a request.
    """
    out: list[str] = []
    i, in_class = 0, False
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            token, i = _escape(source, i, in_class)
            out.append(token)
            continue
        if ch == "[":
            if in_class:
                raise ValueError("nested Java character classes are not supported")
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        elif ch == "." and not in_class:
            ch = _JAVA_DOT
        elif ch == "(" and source.startswith("(?<", i) and source[i + 3 : i + 4] not in ("=", "!"):
            out.append("(?P<")  # Java's named group (?<name>...) is Python's (?P<name>...)
            i += 3
            continue
        out.append(ch)
        i += 1
    return re.compile("".join(out), re.ASCII)


# --- Per-shape plans, built once ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """A structure member as the wire layer needs it."""

    name: str  # key in params
    wire: str  # key in a JSON body, or header/query/label name for located members
    path: str  # Coral's path segment: the name in lowerCamelCase
    shape: Shape
    required: bool
    location: str | None


Check = tuple[Callable[[Any], bool], str]  # (does the value pass?, Coral's wording of the constraint)


@dataclass(frozen=True, slots=True)
class Rules:
    """The constraints of one shape, compiled, in the order Coral lists them inside ``[...]``."""

    checks: tuple[Check, ...]
    sensitive: bool  # the shape itself is marked sensitive: hide everything inside it
    opaque: bool  # its value may not be echoed: sensitive, a blob, or holding either

    def texts(self) -> list[str]:
        return [text for _, text in self.checks]

    def failures(self, value: Any) -> list[str]:
        """The constraints ``value`` (already of the right type) breaks."""
        return [text for passes, text in self.checks if not passes(value)]


_MEMBERS: dict[tuple[str, str], tuple[Member, ...]] = {}
_RULES: dict[tuple[str, str], Rules] = {}


def lower_camel(name: str) -> str:
    """Coral's path segment: only the first letter is lowered ('KMSKeyArn' -> 'kMSKeyArn')."""
    return name[:1].lower() + name[1:]


def members(service: str, shape: StructureShape) -> tuple[Member, ...]:
    """The members of ``shape``, in model order (cached: shape names are unique per service)."""
    key = (service, shape.name)
    plan = _MEMBERS.get(key)
    if plan is None:
        required = set(shape.required_members)
        plan = tuple(
            Member(
                name,
                sub.serialization.get("name", name),
                lower_camel(name),
                sub,
                name in required,
                sub.serialization.get("location"),
            )
            for name, sub in shape.members.items()
        )
        _MEMBERS[key] = plan
    return plan


def _is_opaque(shape: Shape, seen: frozenset[str] = frozenset()) -> bool:
    """Sensitive, a blob, or holding one anywhere below (a recursive shape stops at its second visit)."""
    if shape.metadata.get("sensitive") or shape.type_name == "blob":
        return True
    kind = shape.type_name
    children = (shape.members.values() if kind == "structure" else [shape.member] if kind == "list"
                else [shape.key, shape.value] if kind == "map" else [])  # fmt: skip
    return shape.name not in seen and any(_is_opaque(child, seen | {shape.name}) for child in children)


def rules(service: str, shape: Shape) -> Rules:
    """The compiled constraints of ``shape`` (cached)."""
    key = (service, shape.name)
    found = _RULES.get(key)
    if found is None:
        found = _RULES[key] = _build_rules(shape)
    return found


def _bound(noun: str, limit: Any, upper: bool) -> Callable[[Any], bool]:
    # one lambda per case, calling len() directly: these run for every member of every request
    if noun == "length":
        return (lambda value: len(value) <= limit) if upper else (lambda value: len(value) >= limit)
    return (lambda value: value <= limit) if upper else (lambda value: value >= limit)


def _checks(shape: Shape) -> list[Check]:
    meta, kind = shape.metadata, shape.type_name
    out: list[Check] = []
    noun = "length" if kind in _LENGTH_KINDS else "value" if kind in _NUMBER_KINDS else None
    if noun is not None:
        if "max" in meta:
            text = f"Member must have {noun} less than or equal to {meta['max']}"
            out.append((_bound(noun, meta["max"], upper=True), text))
        if "min" in meta:
            text = f"Member must have {noun} greater than or equal to {meta['min']}"
            out.append((_bound(noun, meta["min"], upper=False), text))
    if meta.get("pattern"):
        compiled = java_regex(meta["pattern"])
        text = f"Member must satisfy regular expression pattern: {meta['pattern']}"
        out.append((lambda value: compiled.fullmatch(value) is not None, text))
    if meta.get("enum"):
        allowed = frozenset(meta["enum"])
        out.append((allowed.__contains__, f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]"))
    return out


def _build_rules(shape: Shape) -> Rules:
    return Rules(tuple(_checks(shape)), bool(shape.metadata.get("sensitive")), _is_opaque(shape))


# --- Types: what Coral's deserializer says --------------------------------------------------------

_ACCEPTS: dict[str, tuple[type, ...]] = {
    "string": (str,), "boolean": (bool,), "integer": (int,), "long": (int,), "double": (int, float),
    "float": (int, float), "blob": (bytes, bytearray), "timestamp": (datetime,),
    "structure": (dict,), "map": (dict,), "list": (list,),
}  # fmt: skip
_TARGETS = {
    "string": "a String", "boolean": "a Boolean", "integer": "an Integer", "long": "a Long",
    "double": "a Double", "float": "a Float", "blob": "a Blob", "timestamp": "a Date",
}  # fmt: skip
_INT_BITS = {"integer": 32, "long": 64}
_START_OF_LIST = "Start of list found where not expected"
_START_OF_MAP = "Start of structure or map found where not expected."


def _token(value: Any) -> str:
    """The name of the JSON token ``value`` came from, as Jackson (inside Coral) calls it."""
    if value is True:
        return "TRUE_VALUE"
    if value is False:
        return "FALSE_VALUE"
    if isinstance(value, int | float):
        return "NUMBER_VALUE"
    if isinstance(value, str):
        return "STRING_VALUE"
    return "VALUE_EMBEDDED_OBJECT"


def type_message(kind: str, value: Any) -> str:
    """Coral's SerializationException message for ``value`` where a ``kind`` is expected."""
    if kind == "list":
        return _START_OF_MAP if isinstance(value, dict) else "Expected list or null"
    if kind in ("map", "structure"):
        if isinstance(value, list):
            return _START_OF_LIST
        return "Expected map or null" if kind == "map" else "Expected null"
    if isinstance(value, list):
        return _START_OF_LIST
    if isinstance(value, dict):
        return _START_OF_MAP
    token = _token(value)
    # Sic: AWS answers a string for a boolean with "an Boolean" (but "a Boolean" for a number).
    target = "an Boolean" if token == "STRING_VALUE" and kind == "boolean" else _TARGETS[kind]
    return f"{token} can not be converted to {target}"


def type_ok(kind: str, value: Any) -> bool:
    accepted = _ACCEPTS.get(kind)
    if accepted is None:  # document or an unknown kind: nothing to check
        return True
    if isinstance(value, bool):  # bool is an int in Python, never a number on the wire
        return kind == "boolean"
    if isinstance(value, int) and kind in _INT_BITS:  # Java's int and long: a larger number does not convert
        bound = 1 << (_INT_BITS[kind] - 1)
        return -bound <= value < bound
    return isinstance(value, accepted)


# --- The walk ------------------------------------------------------------------------------------


def _render(value: Any) -> str:
    """``value`` as Java's toString prints it in Coral's messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_render(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_render(item)}" for key, item in value.items()) + "}"
    return str(value)


def _entry(value: Any, path: str, text: str, hidden: bool) -> str:
    if hidden:
        return f"Value at '{path}' failed to satisfy constraint: {text}"
    return f"Value '{_render(value)}' at '{path}' failed to satisfy constraint: {text}"


def _null_entry(path: str) -> str:
    return f"Value null at '{path}' failed to satisfy constraint: {NOT_NULL}"


class _Walk:
    __slots__ = ("entries", "null_in_summary", "service")

    def __init__(self, service: str) -> None:
        self.service = service
        self.null_in_summary = service in NULL_IN_SUMMARY
        self.entries: list[str] = []

    def report(self, entry: str) -> None:
        if len(self.entries) < MAX_REPORTED:
            self.entries.append(entry)

    def expect(self, shape: Shape, value: Any) -> None:
        if not type_ok(shape.type_name, value):
            raise errors.error(self.service, "SerializationException", type_message(shape.type_name, value))

    def check(self, shape: Shape, value: Any, path: str, hidden: bool) -> None:
        self.expect(shape, value)
        kind = shape.type_name
        if kind == "structure":
            self.walk_structure(shape, value, path, hidden)
        elif kind == "list":
            self.walk_list(shape, value, path, hidden)
        elif kind == "map":
            self.walk_map(shape, value, path, hidden)
        elif kind in _ACCEPTS:
            found = rules(self.service, shape)
            for text in found.failures(value):
                self.report(_entry(value, path, text, hidden or found.opaque))

    def walk_structure(self, shape: StructureShape, value: dict[str, Any], path: str, hidden: bool) -> None:
        hidden = hidden or rules(self.service, shape).sensitive
        for member in members(self.service, shape):
            item = value.get(member.name)
            if item is not None:  # the path is only built for a member that is there or missing
                self.check(member.shape, item, _within(path, member.path), hidden)
            elif member.required:
                self.report(_null_entry(_within(path, member.path)))

    def container(self, shape: Shape, value: Any, path: str, hidden: bool) -> tuple[bool, bool]:
        """Check a list's or map's own length; return (hide its items, hide the whole value)."""
        found = rules(self.service, shape)
        hidden = hidden or found.sensitive
        for text in found.failures(value):
            self.report(_entry(value, path, text, hidden or found.opaque))
        return hidden, hidden or found.opaque

    def items(self, shape: Shape, pairs: Iterable[tuple[str, Any]], hidden: bool) -> None:
        """Structured items are checked one by one, each at its own path."""
        for where, item in pairs:
            if item is None:
                self.report(_null_entry(where))
            else:
                self.check(shape, item, where, hidden)

    def walk_list(self, shape: Shape, value: list[Any], path: str, hidden: bool) -> None:
        hidden, whole = self.container(shape, value, path, hidden)
        if shape.member.type_name in CONTAINERS:
            self.items(shape.member, ((f"{path}.{i}.member", item) for i, item in enumerate(value, 1)), hidden)
        else:
            self.summary(shape.member, value, value, path, "Member must satisfy constraint", whole)

    def walk_map(self, shape: Shape, value: dict[str, Any], path: str, hidden: bool) -> None:
        hidden, whole = self.container(shape, value, path, hidden)
        self.summary(shape.key, value.keys(), value, path, "Map keys must satisfy constraint", whole)
        if shape.value.type_name in CONTAINERS:  # Coral's path for these is unverified; key-named
            self.items(shape.value, ((f"{path}.{k}", item) for k, item in value.items()), hidden)
        else:
            self.summary(shape.value, value.values(), value, path, "Map value must satisfy constraint", whole)

    def summary(self, shape: Shape, items: Iterable[Any], whole: Any, path: str, label: str, hidden: bool) -> None:
        """Coral reports scalar list members, map keys and map values once, for the whole container."""
        found = rules(self.service, shape)
        broken = False
        for item in items:
            if item is None:
                broken = True
                continue
            self.expect(shape, item)  # every item, so a type error anywhere still wins
            broken = broken or bool(found.failures(item))
        if broken:
            texts = found.texts() + ([NOT_NULL] if self.null_in_summary else [])
            self.report(_entry(whole, path, f"{label}: [{', '.join(texts)}]", hidden))


def validate(shape: StructureShape, params: dict[str, Any], service: str) -> None:
    """Raise the WireError AWS would answer for ``params``; return if they satisfy ``shape``.

    Values are the parsed Python ones: ``bytes`` for blobs, aware ``datetime`` for timestamps.
    """
    walk = _Walk(service)
    walk.check(shape, params, "", False)
    if walk.entries:
        count = len(walk.entries)
        noun = "validation error" if count == 1 else "validation errors"
        message = f"{count} {noun} detected: {'; '.join(walk.entries)}"
        raise errors.error(service, "ValidationException", message)


def _within(path: str, member_path: str) -> str:
    return f"{path}.{member_path}" if path else member_path
