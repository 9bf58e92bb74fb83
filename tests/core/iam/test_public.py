"""Broad access and lock-out: the checks behind BlockPublicPolicy and ValidateResourcePolicy.

The cases are AWS's documented examples (Secrets Manager User Guide, "Managing a resource-based policy for a
secret" and "Permissions policy examples"; S3's "The meaning of public"), each with AWS's verdict.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.iam.support import ACCOUNT, NOW, OTHER_ACCOUNT, SECRET, allow, deny, resource_policy, root, user
from tumbler.core.iam.public import broad_statements, grants_broad_access, locks_out

GET = "secretsmanager:GetSecretValue"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"


def statement(principal: Any, condition: dict[str, Any] | None = None, *, effect: str = "Allow") -> dict[str, Any]:
    made: dict[str, Any] = (allow if effect == "Allow" else deny)(GET, "*", Principal=principal)
    if condition is not None:
        made["Condition"] = condition
    return made


BROAD: list[tuple[str, dict[str, Any]]] = [
    # The User Guide's "Broad Access JSON": everyone, every action.
    ("wildcard principal", allow("secretsmanager:*", "*", Principal="*")),
    ("AWS wildcard", statement({"AWS": "*"})),
    ("AWS wildcard among accounts", statement({"AWS": ["*", f"arn:aws:iam::{ACCOUNT}:root"]})),
    ("NotPrincipal with Allow", allow(GET, "*", NotPrincipal={"AWS": ROLE})),
    ("a condition on an unrelated key", statement("*", {"StringEquals": {"aws:ResourceTag/team": "a"}})),
    ("a wildcard source account", statement("*", {"StringLike": {"aws:SourceAccount": "*"}})),
    ("a partial wildcard source ARN", statement("*", {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:topic"}})),
    ("a policy variable", statement("*", {"StringEquals": {"aws:PrincipalAccount": "${aws:PrincipalAccount}"}})),
    ("a negated operator", statement("*", {"StringNotEquals": {"aws:SourceAccount": OTHER_ACCOUNT}})),
    ("IfExists can be skipped", statement("*", {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}})),
    ("ForAllValues holds on a missing key", statement("*", {"ForAllValues:StringEquals": {"aws:SourceVpc": "v"}})),
    ("every IPv4 address", statement("*", {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})),
    ("Null tests presence only", statement("*", {"Null": {"aws:SourceVpce": "false"}})),
    ("every principal, one action", allow(GET, "*", Principal="*")),
]

NOT_BROAD: list[tuple[str, dict[str, Any]]] = [
    # The User Guide's acceptable example: one named user.
    ("a named user", statement({"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"})),
    ("an account", statement({"AWS": OTHER_ACCOUNT})),
    ("a service", statement({"Service": "secretsmanager.amazonaws.com"})),
    ("a Deny for everyone", statement("*", effect="Deny")),
    ("a fixed source account", statement("*", {"StringEquals": {"aws:SourceAccount": ACCOUNT}})),
    ("a fixed source ARN", statement("*", {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:t"}})),
    ("a fixed VPC", statement("*", {"StringEquals": {"aws:SourceVpc": "vpc-1a2b3c4d"}})),
    ("fixed VPC endpoints", statement("*", {"StringEquals": {"aws:sourcevpce": ["vpce-1", "vpce-2"]}})),
    ("a fixed organization", statement("*", {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})),
    ("a fixed principal ARN", statement({"AWS": "*"}, {"ArnEquals": {"aws:PrincipalArn": ROLE}})),
    ("a fixed principal account", statement("*", {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}})),
    ("a fixed user id", statement("*", {"StringEquals": {"aws:userid": "AIDAEXAMPLE"}})),
    ("a set of CIDRs", statement("*", {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}})),
    (
        "one pinning condition among others",
        statement("*", {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "StringLike": {"aws:ResourceTag/t": "*"}}),
    ),
]


@pytest.mark.parametrize(("label", "case"), BROAD, ids=[label for label, _ in BROAD])
def test_broad(label: str, case: dict[str, Any]) -> None:
    policy = resource_policy(case)
    assert grants_broad_access(policy), label
    assert broad_statements(policy) == policy.statements


@pytest.mark.parametrize(("label", "case"), NOT_BROAD, ids=[label for label, _ in NOT_BROAD])
def test_not_broad(label: str, case: dict[str, Any]) -> None:
    assert not grants_broad_access(resource_policy(case)), label


def test_only_the_broad_statements_are_named() -> None:
    named = statement({"AWS": ROLE})
    policy = resource_policy({**named, "Sid": "Role"}, {**statement("*"), "Sid": "Everyone"})
    assert [s.sid for s in broad_statements(policy)] == ["Everyone"]


LOCKOUT: list[tuple[str, dict[str, Any], bool]] = [
    # The User Guide's "Lockout JSON": deny everyone everything.
    ("deny everyone everything", deny("secretsmanager:*", "*", Principal="*"), True),
    ("deny the account PutResourcePolicy", deny("secretsmanager:PutResourcePolicy", "*", Principal="*"), True),
    ("deny the root DeleteResourcePolicy", deny("secretsmanager:Delete*", "*", Principal={"AWS": ACCOUNT}), True),
    ("deny only reads", deny(GET, "*", Principal="*"), False),
    ("deny another account", deny("secretsmanager:*", "*", Principal={"AWS": OTHER_ACCOUNT}), False),
    ("deny another secret", deny("secretsmanager:*", SECRET + "x", Principal="*"), False),
    ("allow everything", allow("secretsmanager:*", "*", Principal="*"), False),
]


@pytest.mark.parametrize(("label", "case", "expected"), LOCKOUT, ids=[label for label, _, _ in LOCKOUT])
def test_lockout(label: str, case: dict[str, Any], expected: bool) -> None:
    assert locks_out(resource_policy(case), root(), SECRET, NOW) is expected, label


def test_lockout_is_about_the_caller() -> None:
    policy = resource_policy(deny("secretsmanager:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}))
    assert locks_out(policy, user("bob"), SECRET, NOW)
    assert not locks_out(policy, user("alice"), SECRET, NOW)
