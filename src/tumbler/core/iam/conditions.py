"""Condition operators (IAM User Guide, "IAM JSON policy elements: Condition operators" and "Conditions with
multiple context keys or values").

The rules, as AWS documents them:
- operators in a Condition block, and keys under one operator, are ANDed; the values listed for one key are ORed;
- a negated operator (StringNotEquals, NotIpAddress, ...) is true when the request value matches none of the values;
- a key missing from the request makes a condition false, a negated one true; ``...IfExists`` makes it true;
  ``Null`` tests presence; ``ForAnyValue:`` is false and ``ForAllValues:`` true on a missing or empty key;
- key names are case-insensitive; whether values are depends on the operator.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Protocol

from tumbler.core.iam.matching import ArnPattern, wildcard_regex
from tumbler.core.iam.request import Request
from tumbler.core.iam.variables import Template, compile_template

Compare = Callable[[Any, Any], bool]


class PolicyValueError(ValueError):
    """A condition value the operator cannot use (not a number, a date, a CIDR, base64, true/false)."""


class Qualifier(StrEnum):
    NONE = ""
    FOR_ANY_VALUE = "ForAnyValue"
    FOR_ALL_VALUES = "ForAllValues"


class ValueMatcher(Protocol):
    def matches(self, value: str, request: Request) -> bool:
        """Whether one request value matches any of the policy's values."""
        ...


@dataclass(frozen=True)
class StringMatcher:
    templates: tuple[Template, ...]
    ignore_case: bool
    like: bool
    regexes: tuple[re.Pattern[str] | None, ...]  # StringLike: precompiled where the value has no variables

    def matches(self, value: str, request: Request) -> bool:
        for template, regex in zip(self.templates, self.regexes, strict=True):
            if regex is not None:
                if regex.fullmatch(value):
                    return True
                continue
            resolved = template.resolve(request.single)
            if resolved is None:
                continue  # a variable with no value matches nothing
            if self.like:
                if wildcard_regex(resolved).fullmatch(value):
                    return True
            elif _equal("".join(part.text for part in resolved), value, ignore_case=self.ignore_case):
                return True
        return False


def _equal(policy: str, value: str, *, ignore_case: bool) -> bool:
    return policy.lower() == value.lower() if ignore_case else policy == value


@dataclass(frozen=True)
class ArnMatcher:
    patterns: tuple[ArnPattern, ...]

    def matches(self, value: str, request: Request) -> bool:
        return any(pattern.matches(value, request) for pattern in self.patterns)


@dataclass(frozen=True)
class OrderedMatcher:
    """Numeric and Date operators: the request value, parsed, compared with each policy value."""

    values: tuple[object, ...]
    compare: Compare
    parse: Callable[[str], object]

    def matches(self, value: str, request: Request) -> bool:
        try:
            parsed = self.parse(value)
        except PolicyValueError:
            return False
        return any(self.compare(parsed, policy) for policy in self.values)


@dataclass(frozen=True)
class BoolMatcher:
    templates: tuple[Template, ...]

    def matches(self, value: str, request: Request) -> bool:
        return any(_equal(text, value, ignore_case=True) for t in self.templates if (text := t.text(request.single)))


@dataclass(frozen=True)
class BinaryMatcher:
    values: frozenset[bytes]

    def matches(self, value: str, request: Request) -> bool:
        try:
            return _base64(value) in self.values
        except PolicyValueError:
            return False


@dataclass(frozen=True)
class IpMatcher:
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def matches(self, value: str, request: Request) -> bool:
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            return False
        return any(address in network for network in self.networks)


@dataclass(frozen=True)
class Condition:
    """One key under one operator, e.g. ``"ForAllValues:StringLike": {"aws:TagKeys": ["a*", "b*"]}``."""

    operator: str  # as written in the policy
    key: str  # lower-cased
    values: tuple[str, ...]  # as written, for explanations
    qualifier: Qualifier
    if_exists: bool
    negated: bool
    matcher: ValueMatcher | None  # None for Null

    def holds(self, request: Request) -> bool:
        found = request.values(self.key)
        if self.matcher is None:  # Null: "true" means the key is absent
            absent = not found
            return any((value.lower() == "true") == absent for value in self.values)
        if not found:
            if self.if_exists or self.qualifier is Qualifier.FOR_ALL_VALUES:
                return True
            if self.qualifier is Qualifier.FOR_ANY_VALUE:
                return False
            return self.negated
        matcher = self.matcher
        if self.qualifier is Qualifier.NONE:
            return any(matcher.matches(value, request) for value in found) != self.negated
        results = (matcher.matches(value, request) != self.negated for value in found)
        return all(results) if self.qualifier is Qualifier.FOR_ALL_VALUES else any(results)


@dataclass(frozen=True)
class _Operator:
    family: str
    negated: bool = False
    compare: Compare | None = None
    ignore_case: bool = False
    like: bool = False


_OPERATORS: dict[str, _Operator] = {
    "stringequals": _Operator("string"),
    "stringnotequals": _Operator("string", negated=True),
    "stringequalsignorecase": _Operator("string", ignore_case=True),
    "stringnotequalsignorecase": _Operator("string", negated=True, ignore_case=True),
    "stringlike": _Operator("string", like=True),
    "stringnotlike": _Operator("string", negated=True, like=True),
    "numericequals": _Operator("numeric", compare=operator.eq),
    "numericnotequals": _Operator("numeric", negated=True, compare=operator.eq),
    "numericlessthan": _Operator("numeric", compare=operator.lt),
    "numericlessthanequals": _Operator("numeric", compare=operator.le),
    "numericgreaterthan": _Operator("numeric", compare=operator.gt),
    "numericgreaterthanequals": _Operator("numeric", compare=operator.ge),
    "dateequals": _Operator("date", compare=operator.eq),
    "datenotequals": _Operator("date", negated=True, compare=operator.eq),
    "datelessthan": _Operator("date", compare=operator.lt),
    "datelessthanequals": _Operator("date", compare=operator.le),
    "dategreaterthan": _Operator("date", compare=operator.gt),
    "dategreaterthanequals": _Operator("date", compare=operator.ge),
    "bool": _Operator("bool"),
    "binaryequals": _Operator("binary"),
    "ipaddress": _Operator("ip"),
    "notipaddress": _Operator("ip", negated=True),
    "arnequals": _Operator("arn"),
    "arnlike": _Operator("arn"),
    "arnnotequals": _Operator("arn", negated=True),
    "arnnotlike": _Operator("arn", negated=True),
    "null": _Operator("null"),
}
_VARIABLE_FAMILIES = frozenset({"string", "arn", "bool"})
_IF_EXISTS = "ifexists"


class UnknownOperator(ValueError):
    pass


def compile_condition(name: str, key: str, values: tuple[str, ...], *, variables: bool) -> Condition:
    """Compile one operator/key pair; raises UnknownOperator or PolicyValueError."""
    qualifier, base = _split_qualifier(name)
    lowered = base.lower()
    if_exists = lowered.endswith(_IF_EXISTS) and lowered != _IF_EXISTS
    if if_exists:
        lowered = lowered[: -len(_IF_EXISTS)]
    spec = _OPERATORS.get(lowered)
    if spec is None or (spec.family == "null" and (if_exists or qualifier is not Qualifier.NONE)):
        raise UnknownOperator(name)
    if spec.family == "null" and any(v.lower() not in ("true", "false") for v in values):
        raise PolicyValueError(f"Null takes true or false, not {values}")
    templates = tuple(compile_template(v, variables=variables and spec.family in _VARIABLE_FAMILIES) for v in values)
    matcher = _matcher(spec, templates)
    return Condition(name, key.lower(), values, qualifier, if_exists, spec.negated, matcher)


def _split_qualifier(name: str) -> tuple[Qualifier, str]:
    prefix, colon, rest = name.partition(":")
    if not colon:
        return Qualifier.NONE, name
    for qualifier in (Qualifier.FOR_ANY_VALUE, Qualifier.FOR_ALL_VALUES):
        if prefix.lower() == qualifier.value.lower():
            return qualifier, rest
    raise UnknownOperator(name)


def _matcher(spec: _Operator, templates: tuple[Template, ...]) -> ValueMatcher | None:
    sources = [t.source for t in templates]
    match spec.family:
        case "string":
            regexes = tuple(
                wildcard_regex(t.resolve(lambda _k: None) or ()) if spec.like and not t.has_variables else None
                for t in templates
            )
            return StringMatcher(templates, spec.ignore_case, spec.like, regexes)
        case "arn":
            return ArnMatcher(tuple(ArnPattern.compile(t) for t in templates))
        case "numeric":
            assert spec.compare is not None
            return OrderedMatcher(tuple(_number(s) for s in sources), spec.compare, _number)
        case "date":
            assert spec.compare is not None
            return OrderedMatcher(tuple(_date(s) for s in sources), spec.compare, _date)
        case "bool":
            return BoolMatcher(templates)
        case "binary":
            return BinaryMatcher(frozenset(_base64(s) for s in sources))
        case "ip":
            return IpMatcher(tuple(_network(s) for s in sources))
    return None


def _number(text: str) -> Decimal:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise PolicyValueError(f"not a number: {text}") from None
    if not number.is_finite():
        raise PolicyValueError(f"not a number: {text}")
    return number


def _date(text: str) -> datetime:
    """ISO 8601 (W3C profile: a date, or a date and time with Z or an offset) or epoch seconds."""
    stripped = text.strip()
    try:
        return datetime.fromtimestamp(float(stripped), UTC)
    except (ValueError, OverflowError):
        pass
    try:
        parsed = datetime.fromisoformat(stripped)
    except ValueError:
        raise PolicyValueError(f"not a date: {text}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise PolicyValueError(f"not base64: {text}") from None


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise PolicyValueError(f"not an IP address or CIDR block: {text}") from None
