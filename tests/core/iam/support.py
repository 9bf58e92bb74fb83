"""Builders shared by the IAM tests: principals in one account, requests, and policies from plain dicts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tumbler.core.iam import (
    Decision,
    Policies,
    Policy,
    PolicyKind,
    Principal,
    PrincipalKind,
    Request,
    evaluate,
    parse_policy,
)
from tumbler.core.iam.request import ContextValue

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-AbCdEf"
V2012 = "2012-10-17"


def user(name: str = "alice", *, tags: Mapping[str, str] | None = None, account: str = ACCOUNT) -> Principal:
    return Principal(
        PrincipalKind.USER,
        f"arn:aws:iam::{account}:user/{name}",
        account,
        userid=f"AIDA{name.upper()}EXAMPLE",
        username=name,
        tags=dict(tags or {}),
    )


def session(
    role: str = "app", name: str = "s1", *, tags: Mapping[str, str] | None = None, account: str = ACCOUNT
) -> Principal:
    return Principal(
        PrincipalKind.ROLE_SESSION,
        f"arn:aws:sts::{account}:assumed-role/{role}/{name}",
        account,
        userid=f"AROA{role.upper()}EXAMPLE:{name}",
        role_arn=f"arn:aws:iam::{account}:role/{role}",
        tags=dict(tags or {}),
    )


def root(account: str = ACCOUNT) -> Principal:
    return Principal(PrincipalKind.ROOT, f"arn:aws:iam::{account}:root", account, userid=account)


def service(name: str = "secretsmanager.amazonaws.com") -> Principal:
    return Principal(PrincipalKind.SERVICE, name)


def request(
    principal: Principal | None = None,
    action: str = "secretsmanager:GetSecretValue",
    resource: str = SECRET,
    context: Mapping[str, ContextValue] | None = None,
    now: datetime = NOW,
) -> Request:
    return Request(principal or user(), action, resource, now, dict(context or {}))


def document(*statements: Mapping[str, Any], version: str | None = V2012) -> dict[str, Any]:
    doc: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        doc["Version"] = version
    return doc


def identity(*statements: Mapping[str, Any], version: str | None = V2012, name: str = "identity") -> Policy:
    return parse_policy(document(*statements, version=version), PolicyKind.IDENTITY, name)


def resource_policy(*statements: Mapping[str, Any], version: str | None = V2012, name: str = "secret") -> Policy:
    return parse_policy(document(*statements, version=version), PolicyKind.RESOURCE, name)


def trust(*statements: Mapping[str, Any], name: str = "trust") -> Policy:
    return parse_policy(document(*statements), PolicyKind.TRUST, name)


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(req: Request, **policies: Any) -> Decision:
    return evaluate(req, Policies(**policies))


def condition_holds(
    condition: Mapping[str, Any],
    context: Mapping[str, ContextValue] | None = None,
    *,
    principal: Principal | None = None,
    version: str | None = V2012,
) -> bool:
    """Whether an Allow-everything statement with this Condition block allows the request."""
    policy = identity(allow(Condition=condition), version=version)
    return evaluate(request(principal, context=context), Policies(identity=(policy,))).allowed
