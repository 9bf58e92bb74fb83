"""Action, Resource and Principal matching (IAM User Guide, "IAM JSON policy elements": Action, NotAction,
Resource, NotResource, Principal, NotPrincipal)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.iam.support import (
    ACCOUNT,
    OTHER_ACCOUNT,
    SECRET,
    allow,
    decide,
    deny,
    identity,
    request,
    resource_policy,
    root,
    service,
    session,
    user,
)
from tumbler.core.iam import Principal, PrincipalKind
from tumbler.core.iam.matching import Grant

ACTIONS: list[tuple[Any, str, bool]] = [
    ("iam:ListAccessKeys", "iam:ListAccessKeys", True),
    ("iam:ListAccessKeys", "IAM:listaccesskeys", True),  # prefix and name are case-insensitive
    ("IAM:LISTACCESSKEYS", "iam:ListAccessKeys", True),
    ("iam:*AccessKey*", "iam:CreateAccessKey", True),
    ("iam:*AccessKey*", "iam:ListAccessKeys", True),
    ("iam:*AccessKey*", "iam:GetUser", False),
    ("iam:*", "iam:GetUser", True),
    ("iam:*", "sts:GetCallerIdentity", False),
    ("*", "sts:GetCallerIdentity", True),
    ("secretsmanager:Get*", "secretsmanager:GetSecretValue", True),
    ("secretsmanager:Get*", "secretsmanager:GetRandomPassword", True),
    ("secretsmanager:Get*", "secretsmanager:PutSecretValue", False),
    ("secretsmanager:Get?ecretValue", "secretsmanager:GetSecretValue", True),
    ("secretsmanager:Get?ecretValue", "secretsmanager:GetSSecretValue", False),
    ("secretsmanager:GetSecretValue", "secretsmanager:GetSecretValueX", False),  # whole name only
    ("secretsmanager:GetSecretValue", "secrets:GetSecretValue", False),
    (["sqs:SendMessage", "sqs:ReceiveMessage"], "sqs:ReceiveMessage", True),
    (["sqs:SendMessage", "sqs:ReceiveMessage"], "sqs:DeleteMessage", False),
    ("s3:Get*Acl", "s3:GetObjectAcl", True),
    ("s3:Get*Acl", "s3:GetObject", False),
    ("lambda:Invoke*", "lambda:InvokeFunction", True),
    ("ec2:Describe.*", "ec2:DescribeX", False),  # regex characters are literal
]


@pytest.mark.parametrize(("patterns", "action", "expected"), ACTIONS)
def test_action(patterns: Any, action: str, expected: bool) -> None:
    assert decide(request(action=action), identity=(identity(allow(patterns)),)).allowed is expected


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        # NotAction with Allow grants every action except those listed, in every service.
        ("iam:CreateUser", False),
        ("iam:GetUser", True),
        ("s3:GetObject", True),
        ("secretsmanager:GetSecretValue", True),
        ("IAM:createuser", False),
    ],
)
def test_not_action(action: str, expected: bool) -> None:
    policy = identity({"Effect": "Allow", "NotAction": ["iam:Create*", "iam:Delete*"], "Resource": "*"})
    assert decide(request(action=action), identity=(policy,)).allowed is expected


S = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret"
RESOURCES: list[tuple[Any, str, bool]] = [
    ("*", SECRET, True),
    ("*", "*", True),
    (SECRET, SECRET, True),
    (SECRET, SECRET.upper(), False),  # case-sensitive
    (f"{S}:prod/*", f"{S}:prod/db-AbCdEf", True),
    (f"{S}:prod/*", f"{S}:prod/a/b/c-AbCdEf", True),  # * crosses slashes
    (f"{S}:prod/*", f"{S}:prod:x-AbCdEf", False),
    (f"{S}:*", f"{S}:a:b:c", True),  # colons in the resource part are ordinary characters
    (f"{S}:name-??????", f"{S}:name-AbCdEf", True),  # the documented pattern for a future secret
    (f"{S}:name-??????", f"{S}:name-AbCdE", False),
    (f"{S}:name-??????", f"{S}:name-x-AbCdEf", False),
    (f"{S}:name-*", f"{S}:name-x-AbCdEf", True),
    ("arn:aws:secretsmanager:*:*:secret:prod/*", SECRET, True),
    ("arn:aws:secretsmanager:*:*:secret:dev/*", SECRET, False),
    (f"arn:aws:secretsmanager:us-*:{ACCOUNT}:secret:*", SECRET, True),
    (f"arn:aws:secretsmanager:eu-*:{ACCOUNT}:secret:*", SECRET, False),
    (f"arn:aws:secretsmanager:*:{OTHER_ACCOUNT}:secret:*", SECRET, False),
    ("arn:aws:secretsmanager:*:*:*", SECRET, True),
    ("arn:aws:secretsmanager:*", SECRET, True),  # a short pattern's last segment takes the rest
    ("arn:aws:s3:::*", SECRET, False),
    ("arn:aws:*:us-east-1:*:secret:prod/*", SECRET, True),
    ("arn:aws:secretsmanager:us-east-1:*:*", SECRET, True),
    ("arn:aws:secretsmanager:us-east-?:*:secret:*", SECRET, True),
    ("arn:aws:secretsmanager:*:111122223333:secret:prod/db-AbCdEf", SECRET, True),
    ("arn:aws:secretsmanager:*east-1:111122223333:*", SECRET, True),
    (SECRET, "*", False),  # an action without a resource needs "*"
    ([f"{S}:dev/*", f"{S}:prod/*"], SECRET, True),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/key:with:colons", True),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", False),
    ("arn:aws:s3:::bucket*", "arn:aws:s3:::bucket", True),
    ("arn:aws:iam::*:user/${aws:username}", f"arn:aws:iam::{ACCOUNT}:user/alice", True),
    ("arn:aws:iam::*:user/${aws:username}", f"arn:aws:iam::{ACCOUNT}:user/bob", False),
]


@pytest.mark.parametrize(("patterns", "resource", "expected"), RESOURCES)
def test_resource(patterns: Any, resource: str, expected: bool) -> None:
    req = request(user("alice"), resource=resource)
    assert decide(req, identity=(identity(allow("*", patterns)),)).allowed is expected


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (SECRET, True),
        (f"{S}:admin/root-AbCdEf", False),
        ("arn:aws:s3:::bucket", True),
        ("*", True),
    ],
)
def test_not_resource(resource: str, expected: bool) -> None:
    policy = identity({"Effect": "Allow", "Action": "*", "NotResource": f"{S}:admin/*"})
    assert decide(request(resource=resource), identity=(policy,)).allowed is expected


def grant_of(principal_element: Any, caller: Principal, key: str = "Principal") -> Grant | None:
    policy = resource_policy({"Effect": "Allow", key: principal_element, "Action": "*", "Resource": "*"})
    matcher = policy.statements[0].principals
    assert matcher is not None
    return matcher.grant(caller)


ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1"
PRINCIPALS: list[tuple[Any, Principal, Grant | None]] = [
    ("*", user(), Grant.ACCOUNT),
    ({"AWS": "*"}, user(), Grant.ACCOUNT),
    ({"AWS": "*"}, service(), Grant.ACCOUNT),
    ({"AWS": ACCOUNT}, user(), Grant.ACCOUNT),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, user(), Grant.ACCOUNT),  # the whole account, not only root
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, session(), Grant.ACCOUNT),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, root(), Grant.ACCOUNT),
    ({"AWS": OTHER_ACCOUNT}, user(), None),
    ({"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}, user(), None),
    ({"AWS": ALICE}, user("alice"), Grant.DIRECT),
    ({"AWS": ALICE}, user("bob"), None),
    ({"AWS": ALICE.upper()}, user("alice"), None),
    ({"AWS": [ACCOUNT, ALICE]}, user("alice"), Grant.DIRECT),  # the most direct name wins
    ({"AWS": ROLE}, session("app"), Grant.ROLE),
    ({"AWS": ROLE}, session("other"), None),
    ({"AWS": SESSION}, session("app", "s1"), Grant.DIRECT),
    ({"AWS": SESSION}, session("app", "s2"), None),
    ({"AWS": [ROLE, SESSION]}, session("app", "s1"), Grant.DIRECT),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:user/*"}, user("alice"), None),  # no partial wildcards in Principal
    ({"Service": "secretsmanager.amazonaws.com"}, service("secretsmanager.amazonaws.com"), Grant.DIRECT),
    ({"Service": ["lambda.amazonaws.com", "secretsmanager.amazonaws.com"]}, service(), Grant.DIRECT),
    ({"Service": "lambda.amazonaws.com"}, service("secretsmanager.amazonaws.com"), None),
    ({"Service": "secretsmanager.amazonaws.com"}, user(), None),
    ({"AWS": "secretsmanager.amazonaws.com"}, service(), None),
    ({"Federated": "cognito-identity.amazonaws.com"}, user(), None),
    ({"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}, user(), None),
]


@pytest.mark.parametrize(("element", "caller", "expected"), PRINCIPALS)
def test_principal(element: Any, caller: Principal, expected: Grant | None) -> None:
    assert grant_of(element, caller) is expected


NOT_PRINCIPALS: list[tuple[Any, Principal, bool]] = [
    # (NotPrincipal, caller, does the statement apply?) - a caller is exempt only when every identity it acts as
    # is listed: the user and its account; the session, its role and its account.
    ({"AWS": ALICE}, user("bob"), True),
    ({"AWS": ALICE}, user("alice"), True),  # the account is not exempt
    ({"AWS": [ALICE, f"arn:aws:iam::{ACCOUNT}:root"]}, user("alice"), False),
    ({"AWS": [ALICE, ACCOUNT]}, user("alice"), False),
    ({"AWS": [ALICE, ACCOUNT]}, user("bob"), True),
    ({"AWS": [SESSION, ACCOUNT]}, session("app", "s1"), True),  # the role is not exempt
    ({"AWS": [ROLE, ACCOUNT]}, session("app", "s1"), True),  # the session is not exempt
    ({"AWS": [SESSION, ROLE, ACCOUNT]}, session("app", "s1"), False),
    ({"AWS": [SESSION, ROLE, ACCOUNT]}, session("app", "s2"), True),
    ({"AWS": "*"}, user(), False),
    ({"AWS": ACCOUNT}, root(), False),
    ({"Service": "secretsmanager.amazonaws.com"}, service(), False),
    ({"Service": "lambda.amazonaws.com"}, service(), True),
]


@pytest.mark.parametrize(("element", "caller", "applies"), NOT_PRINCIPALS)
def test_not_principal(element: Any, caller: Principal, applies: bool) -> None:
    assert (grant_of(element, caller, key="NotPrincipal") is not None) is applies


def test_not_principal_deny_in_a_resource_policy() -> None:
    policy = resource_policy(deny("secretsmanager:*", NotPrincipal={"AWS": [ALICE, ACCOUNT]}))
    # an identity allow, and the resource policy's Deny for everyone but alice
    everything = identity(allow())
    assert decide(request(user("alice")), identity=(everything,), resource=policy).allowed
    assert not decide(request(user("bob")), identity=(everything,), resource=policy).allowed


def test_service_principal_has_no_account_identity() -> None:
    caller = Principal(PrincipalKind.SERVICE, "lambda.amazonaws.com")
    assert grant_of({"AWS": ACCOUNT}, caller) is None
