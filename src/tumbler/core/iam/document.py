"""Policy documents parsed and checked once into plain frozen values that evaluate cheaply.

``parse_policy`` refuses what IAM refuses, with IAM's MalformedPolicyDocument wording where AWS has one. The kind
of policy decides the Principal rules: identity-based policies (including permissions boundaries and session
policies) must not name a principal; resource-based and trust policies must; trust policies have no Resource.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tumbler.core.errors import MalformedPolicy
from tumbler.core.iam.conditions import Condition, PolicyValueError, UnknownOperator, compile_condition
from tumbler.core.iam.matching import ActionMatcher, ArnPattern, PrincipalMatcher, ResourceMatcher
from tumbler.core.iam.request import Request
from tumbler.core.iam.variables import compile_template

VERSION_CURRENT = "2012-10-17"
VERSION_LEGACY = "2008-10-17"
TOP_LEVEL_KEYS = frozenset({"Version", "Id", "Statement"})
STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
PRINCIPAL_TYPES = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
_IDENTITY_SID = re.compile(r"[0-9A-Za-z]*")

# IAM's own MalformedPolicyDocument messages.
SYNTAX_ERROR = "Syntax errors in policy."
LEGACY_PARSING = "The policy failed legacy parsing"
NO_PRINCIPAL_ALLOWED = "Policy document should not specify a principal."
PRINCIPAL_REQUIRED = "Missing required field Principal"
ACTIONS_REQUIRED = "Policy statement must contain actions."
RESOURCES_REQUIRED = "Policy statement must contain resources."
RESOURCE_PROHIBITED = "Has prohibited field Resource"
VENDOR_REQUIRED = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
SID_NOT_UNIQUE = "Statement IDs (SID) in a single policy must be unique."
SID_NOT_ALPHANUMERIC = (
    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
)


class MalformedPolicyDocument(MalformedPolicy):
    """A policy document IAM would refuse; ``message`` is the text AWS returns (MalformedPolicyDocument)."""


class PolicyKind(StrEnum):
    IDENTITY = "identity"  # also permissions boundaries and session policies
    RESOURCE = "resource"
    TRUST = "trust"


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True)
class Statement:
    index: int  # position in the policy, from 0
    sid: str | None
    effect: Effect
    actions: ActionMatcher
    resources: ResourceMatcher | None  # None in trust policies: the role itself
    principals: PrincipalMatcher | None  # None in identity-based policies: the identity itself
    conditions: tuple[Condition, ...]

    def covers(self, request: Request) -> bool:
        """Whether Action, Resource and Condition all match (Principal is checked by the caller)."""
        return (
            self.actions.matches(request.action)
            and (self.resources is None or self.resources.matches(request))
            and all(condition.holds(request) for condition in self.conditions)
        )


@dataclass(frozen=True)
class Policy:
    """A parsed policy. ``name`` says where it came from (a policy ARN, ``user/alice/inline-name``, a secret ARN),
    for decisions and messages."""

    name: str
    kind: PolicyKind
    version: str
    id: str | None
    statements: tuple[Statement, ...]


def parse_policy(document: str | Mapping[str, Any], kind: PolicyKind, name: str = "") -> Policy:
    """Parse and check a policy document; raises MalformedPolicyDocument."""
    raw = _load(document) if isinstance(document, str) else document
    if not isinstance(raw, Mapping) or not set(raw) <= TOP_LEVEL_KEYS:
        raise MalformedPolicyDocument(SYNTAX_ERROR)
    version = raw.get("Version", VERSION_LEGACY)
    if version not in (VERSION_CURRENT, VERSION_LEGACY):
        raise MalformedPolicyDocument(LEGACY_PARSING)
    policy_id = raw.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise MalformedPolicyDocument(SYNTAX_ERROR)
    items = raw.get("Statement")
    items = [items] if isinstance(items, Mapping) else items
    if not isinstance(items, list) or not items:
        raise MalformedPolicyDocument(SYNTAX_ERROR)
    variables = version == VERSION_CURRENT
    statements = tuple(_statement(index, item, kind, variables=variables) for index, item in enumerate(items))
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise MalformedPolicyDocument(SID_NOT_UNIQUE)
    return Policy(name, kind, version, policy_id, statements)


def _load(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise MalformedPolicyDocument(SYNTAX_ERROR) from None


def _statement(index: int, raw: Any, kind: PolicyKind, *, variables: bool) -> Statement:
    if not isinstance(raw, Mapping) or not set(raw) <= STATEMENT_KEYS:
        raise MalformedPolicyDocument(SYNTAX_ERROR)
    return Statement(
        index=index,
        sid=_sid(raw.get("Sid"), kind),
        effect=_effect(raw.get("Effect")),
        actions=_actions(raw),
        resources=_resources(raw, kind, variables=variables),
        principals=_principals(raw, kind),
        conditions=_conditions(raw.get("Condition"), variables=variables),
    )


def _sid(sid: Any, kind: PolicyKind) -> str | None:
    if sid is None:
        return None
    if not isinstance(sid, str):
        raise MalformedPolicyDocument(SYNTAX_ERROR)
    if kind is PolicyKind.IDENTITY and not _IDENTITY_SID.fullmatch(sid):
        raise MalformedPolicyDocument(SID_NOT_ALPHANUMERIC)
    return sid


def _effect(effect: Any) -> Effect:
    if effect is None:
        raise MalformedPolicyDocument("Missing required field Effect")
    if effect not in (Effect.ALLOW.value, Effect.DENY.value):
        raise MalformedPolicyDocument(f"Invalid effect: {effect}")
    return Effect(effect)


def _strings(value: Any) -> tuple[str, ...]:
    """A string or a non-empty list of strings, as most elements take."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise MalformedPolicyDocument(SYNTAX_ERROR)
    return tuple(values)


def _actions(raw: Mapping[str, Any]) -> ActionMatcher:
    negated = "NotAction" in raw
    if negated == ("Action" in raw):
        raise MalformedPolicyDocument(SYNTAX_ERROR if negated else ACTIONS_REQUIRED)
    actions = _strings(raw["NotAction" if negated else "Action"])
    for action in actions:
        vendor, colon, name = action.partition(":")
        if action != "*" and not (colon and vendor and name):
            raise MalformedPolicyDocument(VENDOR_REQUIRED)
    return ActionMatcher.compile(actions, negated=negated)


def _resources(raw: Mapping[str, Any], kind: PolicyKind, *, variables: bool) -> ResourceMatcher | None:
    negated = "NotResource" in raw
    present = negated or "Resource" in raw
    if kind is PolicyKind.TRUST:
        if present:
            raise MalformedPolicyDocument(RESOURCE_PROHIBITED)
        return None
    if not present:
        raise MalformedPolicyDocument(RESOURCES_REQUIRED)
    if negated and "Resource" in raw:
        raise MalformedPolicyDocument(SYNTAX_ERROR)
    resources = _strings(raw["NotResource" if negated else "Resource"])
    for resource in resources:
        if resource != "*" and not resource.startswith("arn:"):
            raise MalformedPolicyDocument(f'Resource {resource} must be in ARN format or "*".')
    patterns = tuple(ArnPattern.compile(compile_template(r, variables=variables)) for r in resources)
    return ResourceMatcher(patterns, negated)


def _principals(raw: Mapping[str, Any], kind: PolicyKind) -> PrincipalMatcher | None:
    negated = "NotPrincipal" in raw
    present = negated or "Principal" in raw
    if kind is PolicyKind.IDENTITY:
        if present:
            raise MalformedPolicyDocument(NO_PRINCIPAL_ALLOWED)
        return None
    if not present:
        raise MalformedPolicyDocument(PRINCIPAL_REQUIRED)
    if negated and ("Principal" in raw or kind is PolicyKind.TRUST):
        raise MalformedPolicyDocument(SYNTAX_ERROR)
    value = raw["NotPrincipal" if negated else "Principal"]
    if value == "*":
        return PrincipalMatcher(True, frozenset(), frozenset(), frozenset(), frozenset(), negated)
    if not isinstance(value, Mapping) or not value or not set(value) <= PRINCIPAL_TYPES:
        raise MalformedPolicyDocument(f"Invalid principal in policy: {json.dumps(value)}")
    lists = {key: _principal_values(key, value.get(key)) for key in PRINCIPAL_TYPES}
    aws = lists["AWS"]
    return PrincipalMatcher(
        everyone="*" in aws,
        aws=aws - {"*"},
        services=frozenset(s.lower() for s in lists["Service"]),
        federated=lists["Federated"],
        canonical=lists["CanonicalUser"],
        negated=negated,
    )


def _principal_values(key: str, value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    try:
        return frozenset(_strings(value))
    except MalformedPolicyDocument:
        raise MalformedPolicyDocument(f"Invalid principal in policy: {json.dumps({key: value})}") from None


def _conditions(raw: Any, *, variables: bool) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise MalformedPolicyDocument(SYNTAX_ERROR)
    conditions: list[Condition] = []
    for operator_name, block in raw.items():
        if not isinstance(block, Mapping) or not block:
            raise MalformedPolicyDocument(SYNTAX_ERROR)
        for key, value in block.items():
            if ":" not in key:
                raise MalformedPolicyDocument(VENDOR_REQUIRED)
            try:
                conditions.append(compile_condition(operator_name, key, _condition_values(value), variables=variables))
            except UnknownOperator:
                raise MalformedPolicyDocument(f"Invalid Condition type : {operator_name}.") from None
            except PolicyValueError as error:
                raise MalformedPolicyDocument(f"Invalid value for {operator_name} on {key}: {error}.") from None
    return tuple(conditions)


def _condition_values(value: Any) -> tuple[str, ...]:
    """Condition values may be strings, numbers or booleans, alone or in a list."""
    values = value if isinstance(value, list) else [value]
    if not values:
        raise MalformedPolicyDocument(SYNTAX_ERROR)
    texts: list[str] = []
    for item in values:
        if isinstance(item, bool):
            texts.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            texts.append(str(item))
        else:
            raise MalformedPolicyDocument(SYNTAX_ERROR)
    return tuple(texts)
