"""The decision for one request within one account, in AWS's order (IAM User Guide, "Policy evaluation logic" and
"How AWS enforcement code logic evaluates requests to allow or deny access"):

1. A matching Deny in any policy (identity-based, resource-based or trust, permissions boundary, session) denies.
2. The account root user is allowed everything else.
3. A resource-based policy that names the caller's user ARN or role-session ARN (or a service) allows on its own.
   One that names the role ARN, the account or everyone allows only where the permissions boundary and the session
   policies (when there are any) allow too.
4. An identity-based policy allows where the permissions boundary and the session policies allow too.
5. Anything else is an implicit deny.

A role's trust policy is the exception to 3-4: it must allow explicitly. When it names the account (or everyone)
rather than the caller, it delegates to the account, and the caller's identity-based policy must allow
sts:AssumeRole as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from tumbler.core.iam.document import Effect, Policy, PolicyKind, Statement
from tumbler.core.iam.matching import Grant
from tumbler.core.iam.request import PrincipalKind, Request


class Reason(StrEnum):
    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"


class PolicyType(StrEnum):
    """The policy types AWS names in its AccessDenied messages."""

    IDENTITY = "identity-based policy"
    RESOURCE = "resource-based policy"
    BOUNDARY = "permissions boundary"
    SESSION = "session policy"
    TRUST = "role trust policy"


@dataclass(frozen=True)
class StatementRef:
    policy: str  # Policy.name
    index: int
    sid: str | None

    def __str__(self) -> str:
        label = f"Sid {self.sid}" if self.sid else f"statement {self.index}"
        return f"{self.policy or 'policy'} ({label})"


@dataclass(frozen=True)
class Decision:
    """``policy_type`` is the type that decided: the one that allowed, denied explicitly, or failed to allow.
    ``statement`` is the deciding statement (None for an implicit deny, and for the root user)."""

    allowed: bool
    reason: Reason
    policy_type: PolicyType | None
    statement: StatementRef | None = None


@dataclass(frozen=True)
class Policies:
    """Everything that applies to one request.

    ``identity``: the caller's inline and attached policies (and its groups'). ``resource``: the resource's policy,
    or the role's trust policy when the request is sts:AssumeRole. ``boundary``: the caller's permissions boundary.
    ``session``: the session policies passed when the role session was created; None when none were passed.
    """

    identity: tuple[Policy, ...] = ()
    resource: Policy | None = None
    boundary: Policy | None = None
    session: tuple[Policy, ...] | None = None


def evaluate(request: Request, policies: Policies) -> Decision:
    has_boundary = policies.boundary is not None
    denied = _explicit_deny(request, policies, has_boundary=has_boundary)
    if denied is not None:
        return denied
    if request.principal.kind is PrincipalKind.ROOT:
        return Decision(True, Reason.ALLOWED, None)
    trust = policies.resource is not None and policies.resource.kind is PolicyKind.TRUST
    resource_type = PolicyType.TRUST if trust else PolicyType.RESOURCE
    grant, resource_allow = _resource_allow(request, policies.resource)
    identity_allow = _first_allow(request, policies.identity)
    boundary_ok = policies.boundary is None or _first_allow(request, (policies.boundary,)) is not None
    session_ok = policies.session is None or _first_allow(request, policies.session) is not None
    limits_ok = boundary_ok and session_ok
    if resource_allow is not None:
        delegated = trust and grant is Grant.ACCOUNT
        if grant is Grant.DIRECT or (limits_ok and (not delegated or identity_allow is not None)):
            return _allowed(resource_type, resource_allow)
    elif trust:
        return Decision(False, Reason.IMPLICIT_DENY, PolicyType.TRUST)
    if not trust and identity_allow is not None and limits_ok:
        return _allowed(PolicyType.IDENTITY, identity_allow)
    if request.principal.kind is PrincipalKind.SERVICE:
        return Decision(False, Reason.IMPLICIT_DENY, PolicyType.RESOURCE)
    needs_identity = resource_allow is None or (trust and grant is Grant.ACCOUNT)
    if identity_allow is None and needs_identity:
        return Decision(False, Reason.IMPLICIT_DENY, PolicyType.IDENTITY)
    failed = PolicyType.BOUNDARY if not boundary_ok else PolicyType.SESSION
    return Decision(False, Reason.IMPLICIT_DENY, failed)


def access_denied_message(decision: Decision, request: Request, resource: str | None) -> str:
    """AWS's AccessDenied text for a denial (IAM User Guide, "Troubleshooting access denied error messages").

    ``resource`` is what the caller named (a SecretId exactly as passed), or None for actions without a resource.
    """
    if decision.allowed or decision.policy_type is None:
        raise ValueError("only a denial has an AccessDenied message")
    action = request.action
    text = f"User: {request.principal.arn} is not authorized to perform: {action}"
    if resource is not None:
        text += f" on resource: {resource}"
    if decision.reason is Reason.EXPLICIT_DENY:
        article = "an" if decision.policy_type is PolicyType.IDENTITY else "a"
        return f"{text} with an explicit deny in {article} {decision.policy_type.value}"
    return f"{text} because no {decision.policy_type.value} allows the {action} action"


def _explicit_deny(request: Request, policies: Policies, *, has_boundary: bool) -> Decision | None:
    resource_type = PolicyType.RESOURCE
    if policies.resource is not None and policies.resource.kind is PolicyKind.TRUST:
        resource_type = PolicyType.TRUST
    groups: list[tuple[PolicyType, Iterable[Policy]]] = [
        (PolicyType.IDENTITY, policies.identity),
        (resource_type, () if policies.resource is None else (policies.resource,)),
        (PolicyType.BOUNDARY, () if policies.boundary is None else (policies.boundary,)),
        (PolicyType.SESSION, policies.session or ()),
    ]
    for policy_type, group in groups:
        for policy in group:
            for statement in policy.statements:
                if statement.effect is Effect.DENY and _applies(statement, request, has_boundary=has_boundary):
                    return Decision(False, Reason.EXPLICIT_DENY, policy_type, _ref(policy, statement))
    return None


def _applies(statement: Statement, request: Request, *, has_boundary: bool) -> bool:
    principals = statement.principals
    if principals is not None:
        # "NotPrincipal with Deny always denies a principal that has a permissions boundary" (IAM User Guide,
        # "Permissions boundaries for IAM entities").
        quirk = principals.negated and statement.effect is Effect.DENY and has_boundary
        if not quirk and principals.grant(request.principal) is None:
            return False
    return statement.covers(request)


def _first_allow(request: Request, policies: Iterable[Policy]) -> StatementRef | None:
    for policy in policies:
        for statement in policy.statements:
            if statement.effect is Effect.ALLOW and statement.covers(request):
                return _ref(policy, statement)
    return None


def _resource_allow(request: Request, policy: Policy | None) -> tuple[Grant | None, StatementRef | None]:
    """The allowing statement that names the caller most directly."""
    best: tuple[Grant | None, StatementRef | None] = (None, None)
    if policy is None:
        return best
    for statement in policy.statements:
        if statement.effect is not Effect.ALLOW or statement.principals is None:
            continue
        grant = statement.principals.grant(request.principal)
        if grant is None or (best[0] is not None and grant <= best[0]) or not statement.covers(request):
            continue
        best = (grant, _ref(policy, statement))
    return best


def _allowed(policy_type: PolicyType, statement: StatementRef) -> Decision:
    return Decision(True, Reason.ALLOWED, policy_type, statement)


def _ref(policy: Policy, statement: Statement) -> StatementRef:
    return StatementRef(policy.name, statement.index, statement.sid)
