"""Resource policy documents: the IAM JSON policy grammar, checked without evaluating it.

Enforcement comes with the permissions work; for now a policy must be well formed to be
stored, and ``is_public`` answers BlockPublicPolicy.
"""

from __future__ import annotations

import json
from typing import Any

VERSIONS = frozenset({"2012-10-17", "2008-10-17"})
TOP_LEVEL = frozenset({"Version", "Id", "Statement"})
STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)


def problems(document: str) -> list[str]:
    """Every reason ``document`` is not a valid resource policy; empty when it is."""
    try:
        policy = json.loads(document)
    except ValueError:
        return ["The policy document is not valid JSON."]
    if not isinstance(policy, dict):
        return ["The policy document must be a JSON object."]
    found = [f"Unknown policy element: {key}." for key in policy if key not in TOP_LEVEL]
    if "Version" in policy and policy["Version"] not in VERSIONS:
        found.append("The policy Version must be 2012-10-17 or 2008-10-17.")
    statements = _statements(policy)
    if statements is None:
        found.append("The policy must contain a Statement element with at least one statement.")
        return found
    for index, statement in enumerate(statements, start=1):
        found += [f"Statement {index}: {p}" for p in _statement_problems(statement)]
    return found


def _statements(policy: dict[str, Any]) -> list[Any] | None:
    raw = policy.get("Statement")
    statements = [raw] if isinstance(raw, dict) else raw
    return statements if isinstance(statements, list) and statements else None


def _statement_problems(statement: Any) -> list[str]:
    if not isinstance(statement, dict):
        return ["a statement must be a JSON object."]
    found = [f"unknown element {key}." for key in statement if key not in STATEMENT_KEYS]
    if statement.get("Effect") not in ("Allow", "Deny"):
        found.append("Effect must be Allow or Deny.")
    if ("Principal" in statement) == ("NotPrincipal" in statement):
        found.append("a resource policy statement needs exactly one of Principal and NotPrincipal.")
    if ("Action" in statement) == ("NotAction" in statement):
        found.append("a statement needs exactly one of Action and NotAction.")
    if "Resource" in statement and "NotResource" in statement:
        found.append("a statement can't have both Resource and NotResource.")
    for key in ("Action", "NotAction"):
        if key in statement and not _actions_ok(statement[key]):
            found.append(f"{key} must be '*' or 'service:action' strings.")
    if "Condition" in statement and not isinstance(statement["Condition"], dict):
        found.append("Condition must be a JSON object.")
    return found


def _actions_ok(value: Any) -> bool:
    actions = [value] if isinstance(value, str) else value
    return (
        isinstance(actions, list)
        and bool(actions)
        and all(isinstance(a, str) and (a == "*" or ":" in a) for a in actions)
    )


def _grants_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        values = [aws] if isinstance(aws, str) else aws or []
        return "*" in values
    return False


def is_public(document: str) -> bool:
    """True when an Allow statement without conditions names every principal."""
    policy = json.loads(document)
    return any(
        isinstance(s, dict)
        and s.get("Effect") == "Allow"
        and not s.get("Condition")
        and _grants_everyone(s.get("Principal"))
        for s in _statements(policy) or []
    )
