"""Matching a statement's Action, Resource and Principal against a request.

- Actions: ``service:Action``, case-insensitive, ``*`` and ``?`` anywhere.
- ARNs (Resource, ArnLike): case-sensitive and per segment. In the first five colon-separated segments (partition,
  service, region, account) a wildcard stays inside its segment; in the resource part, where colons are ordinary
  characters, ``*`` runs to the end. ``"*"`` alone matches every resource.
- Principals: exact values only, as AWS allows no partial wildcards there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from tumbler.core.iam.request import Principal, PrincipalKind, Request
from tumbler.core.iam.variables import Literal, Pattern, Resolved, Template

ARN_PREFIX_SEGMENTS = 5  # arn:partition:service:region:account, then the resource part


def wildcard_regex(parts: Resolved, *, arn: bool = False, ignore_case: bool = False) -> re.Pattern[str]:
    """One regex for a (resolved) pattern; ``arn`` keeps wildcards inside the ARN's first five segments."""
    colons = sum(part.text.count(":") for part in parts)
    segment = 0
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, Literal):
            segment += part.text.count(":")
            pieces.append(re.escape(part.text))
            continue
        for char in part.text:
            bounded = arn and segment < ARN_PREFIX_SEGMENTS and segment < colons
            if char == "*":
                pieces.append("[^:]*" if bounded else ".*")
            elif char == "?":
                pieces.append("[^:]" if bounded else ".")
            else:
                segment += char == ":"
                pieces.append(re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(pieces), flags)


@dataclass(frozen=True)
class ActionMatcher:
    """Action or NotAction: every pattern of the statement in one case-insensitive regex."""

    patterns: tuple[str, ...]
    negated: bool
    regex: re.Pattern[str]

    @classmethod
    def compile(cls, patterns: tuple[str, ...], *, negated: bool) -> ActionMatcher:
        alternatives = "|".join(f"(?:{wildcard_regex((Pattern(p),), ignore_case=True).pattern})" for p in patterns)
        return cls(patterns, negated, re.compile(alternatives, re.DOTALL | re.IGNORECASE))

    def matches(self, action: str) -> bool:
        return (self.regex.fullmatch(action) is not None) != self.negated


@dataclass(frozen=True)
class ArnPattern:
    """One Resource entry or ARN condition value; precompiled unless it holds policy variables."""

    template: Template
    regex: re.Pattern[str] | None

    @classmethod
    def compile(cls, template: Template) -> ArnPattern:
        fixed = template.resolve(lambda _key: None) if not template.has_variables else None
        return cls(template, wildcard_regex(fixed, arn=True) if fixed is not None else None)

    def matches(self, arn: str, request: Request) -> bool:
        regex = self.regex
        if regex is None:
            resolved = self.template.resolve(request.single)
            if resolved is None:
                return False  # a variable with no value matches nothing
            regex = wildcard_regex(resolved, arn=True)
        return regex.fullmatch(arn) is not None


@dataclass(frozen=True)
class ResourceMatcher:
    """Resource or NotResource."""

    patterns: tuple[ArnPattern, ...]
    negated: bool

    def matches(self, request: Request) -> bool:
        found = any(pattern.matches(request.resource, request) for pattern in self.patterns)
        return found != self.negated


class Grant(IntEnum):
    """How a resource-based or trust policy statement names the caller, weakest first.

    AWS treats these differently within one account: a statement naming the user or role-session ARN (or the
    service) allows on its own; one naming the role ARN is still limited by the permissions boundary and the
    session policy; one naming the account (or everyone) is limited the same way, and in a trust policy it only
    delegates to the caller's identity-based policies.
    """

    ACCOUNT = 1
    ROLE = 2
    DIRECT = 3


@dataclass(frozen=True)
class PrincipalMatcher:
    """Principal or NotPrincipal. ``everyone`` is ``"*"`` or ``{"AWS": "*"}``."""

    everyone: bool
    aws: frozenset[str]
    services: frozenset[str]  # lower-cased
    federated: frozenset[str]
    canonical: frozenset[str]
    negated: bool

    def grant(self, principal: Principal) -> Grant | None:
        """How this element names ``principal``; None when the statement does not apply to it."""
        if self.negated:
            return None if self._excludes(principal) else Grant.ACCOUNT
        named = [grant for identifier, grant in _identities(principal) if self._lists(principal, identifier)]
        if named:
            return max(named)
        return Grant.ACCOUNT if self.everyone else None

    def _lists(self, principal: Principal, identifier: str) -> bool:
        if principal.kind is PrincipalKind.SERVICE:
            return identifier.lower() in self.services
        return identifier in self.aws

    def _excludes(self, principal: Principal) -> bool:
        # NotPrincipal exempts a caller only when every identity it acts as is listed: a user and its account,
        # a role session, its role and its account (IAM User Guide, "NotPrincipal").
        if self.everyone:
            return True
        groups: dict[Grant, list[str]] = {}
        for identifier, grant in _identities(principal):
            groups.setdefault(grant, []).append(identifier)
        return all(any(self._lists(principal, identifier) for identifier in group) for group in groups.values())


def _identities(principal: Principal) -> list[tuple[str, Grant]]:
    if principal.kind is PrincipalKind.SERVICE:
        return [(principal.arn, Grant.DIRECT)]
    account = [(principal.account, Grant.ACCOUNT), (principal.root_arn, Grant.ACCOUNT)] if principal.account else []
    if principal.kind is PrincipalKind.ROOT:
        return account
    if principal.kind is PrincipalKind.ROLE_SESSION and principal.role_arn:
        return [(principal.arn, Grant.DIRECT), (principal.role_arn, Grant.ROLE), *account]
    return [(principal.arn, Grant.DIRECT), *account]
