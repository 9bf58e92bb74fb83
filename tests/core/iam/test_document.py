"""Parsing and checking policy documents (IAM User Guide, "IAM JSON policy element reference"); messages are IAM's
MalformedPolicyDocument texts where AWS has one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tumbler.core.errors import MalformedPolicy
from tumbler.core.iam import Effect, MalformedPolicyDocument, PolicyKind, parse_policy

ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}
TRUSTED = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}


def doc(*statements: Any, **top: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements), **top}


REFUSED: list[tuple[Any, PolicyKind, str]] = [
    ("{not json", PolicyKind.IDENTITY, "Syntax errors in policy."),
    ("[]", PolicyKind.IDENTITY, "Syntax errors in policy."),
    ('"text"', PolicyKind.IDENTITY, "Syntax errors in policy."),
    ({"Version": "2012-10-17"}, PolicyKind.IDENTITY, "Syntax errors in policy."),
    (doc(), PolicyKind.IDENTITY, "Syntax errors in policy."),
    ({"Version": "2012-10-17", "Statement": "x"}, PolicyKind.IDENTITY, "Syntax errors in policy."),
    (doc(ALLOW_ALL, Extra=1), PolicyKind.IDENTITY, "Syntax errors in policy."),
    (doc(ALLOW_ALL, Id=5), PolicyKind.IDENTITY, "Syntax errors in policy."),
    ({"Version": "2012-10-18", "Statement": [ALLOW_ALL]}, PolicyKind.IDENTITY, "The policy failed legacy parsing"),
    ({"Version": 2012, "Statement": [ALLOW_ALL]}, PolicyKind.IDENTITY, "The policy failed legacy parsing"),
    (doc("statement"), PolicyKind.IDENTITY, "Syntax errors in policy."),
    (doc(ALLOW_ALL | {"Colour": "red"}), PolicyKind.IDENTITY, "Syntax errors in policy."),
    (doc(ALLOW_ALL | {"effect": "Allow"}), PolicyKind.IDENTITY, "Syntax errors in policy."),  # names are case-sensitive
    (doc({"Action": "*", "Resource": "*"}), PolicyKind.IDENTITY, "Missing required field Effect"),
    (doc(ALLOW_ALL | {"Effect": "Permit"}), PolicyKind.IDENTITY, "Invalid effect: Permit"),
    (doc(ALLOW_ALL | {"Effect": "allow"}), PolicyKind.IDENTITY, "Invalid effect: allow"),
    (doc({"Effect": "Allow", "Resource": "*"}), PolicyKind.IDENTITY, "Policy statement must contain actions."),
    (doc(ALLOW_ALL | {"NotAction": "s3:*"}), PolicyKind.IDENTITY, "Syntax errors in policy."),
    (doc(ALLOW_ALL | {"Action": []}), PolicyKind.IDENTITY, "Syntax errors in policy."),
    (doc(ALLOW_ALL | {"Action": ["s3:GetObject", 5]}), PolicyKind.IDENTITY, "Syntax errors in policy."),
    (doc(ALLOW_ALL | {"Action": "GetObject"}), PolicyKind.IDENTITY, "Actions/Conditions must be prefaced by a vendor"),
    (doc(ALLOW_ALL | {"Action": "s3:"}), PolicyKind.IDENTITY, "Actions/Conditions must be prefaced by a vendor"),
    (doc({"Effect": "Allow", "Action": "*"}), PolicyKind.IDENTITY, "Policy statement must contain resources."),
    (doc(ALLOW_ALL | {"NotResource": "*"}), PolicyKind.IDENTITY, "Syntax errors in policy."),
    (doc(ALLOW_ALL | {"Resource": "bucket"}), PolicyKind.IDENTITY, 'Resource bucket must be in ARN format or "*".'),
    (doc(ALLOW_ALL | {"Principal": "*"}), PolicyKind.IDENTITY, "Policy document should not specify a principal."),
    (doc(ALLOW_ALL | {"NotPrincipal": "*"}), PolicyKind.IDENTITY, "Policy document should not specify a principal."),
    (doc(ALLOW_ALL), PolicyKind.RESOURCE, "Missing required field Principal"),
    (doc({"Effect": "Allow", "Action": "sts:AssumeRole"}), PolicyKind.TRUST, "Missing required field Principal"),
    (doc(TRUSTED | {"Resource": "*"}), PolicyKind.TRUST, "Has prohibited field Resource"),
    (doc({"Effect": "Allow", "NotPrincipal": {"AWS": "1"}, "Action": "sts:AssumeRole"}), PolicyKind.TRUST, "Syntax"),
    (doc(ALLOW_ALL | {"Principal": "*", "NotPrincipal": "*"}), PolicyKind.RESOURCE, "Syntax errors in policy."),
    (doc(ALLOW_ALL | {"Principal": "everyone"}), PolicyKind.RESOURCE, 'Invalid principal in policy: "everyone"'),
    (doc(ALLOW_ALL | {"Principal": {"User": "x"}}), PolicyKind.RESOURCE, "Invalid principal in policy"),
    (doc(ALLOW_ALL | {"Principal": {}}), PolicyKind.RESOURCE, "Invalid principal in policy"),
    (doc(ALLOW_ALL | {"Principal": {"AWS": 123456789012}}), PolicyKind.RESOURCE, "Invalid principal in policy"),
    (doc(ALLOW_ALL | {"Principal": {"AWS": []}}), PolicyKind.RESOURCE, "Invalid principal in policy"),
    (doc(ALLOW_ALL | {"Sid": "a"}, ALLOW_ALL | {"Sid": "a"}), PolicyKind.IDENTITY, "must be unique"),
    (doc(ALLOW_ALL | {"Sid": "has space"}), PolicyKind.IDENTITY, "must be alpha-numeric"),
    (doc(ALLOW_ALL | {"Sid": 7}), PolicyKind.IDENTITY, "Syntax errors in policy."),
    (doc(ALLOW_ALL | {"Condition": []}), PolicyKind.IDENTITY, "Syntax errors in policy."),
]


@pytest.mark.parametrize(("document", "kind", "message"), REFUSED)
def test_refused(document: Any, kind: PolicyKind, message: str) -> None:
    with pytest.raises(MalformedPolicyDocument) as refused:
        parse_policy(document, kind)
    assert message in refused.value.message


def test_is_the_domain_malformed_policy_error() -> None:
    # ops/ already maps core.errors.MalformedPolicy to MalformedPolicyDocumentException for Secrets Manager.
    with pytest.raises(MalformedPolicy):
        parse_policy("{", PolicyKind.RESOURCE)


ACCEPTED: list[tuple[Any, PolicyKind]] = [
    (doc(ALLOW_ALL), PolicyKind.IDENTITY),
    ({"Version": "2012-10-17", "Statement": ALLOW_ALL}, PolicyKind.IDENTITY),  # one statement, no list
    ({"Version": "2008-10-17", "Statement": [ALLOW_ALL]}, PolicyKind.IDENTITY),
    ({"Statement": [ALLOW_ALL]}, PolicyKind.IDENTITY),  # no Version
    (doc(ALLOW_ALL, Id="example-policy-1"), PolicyKind.IDENTITY),
    (doc(ALLOW_ALL | {"Sid": ""}), PolicyKind.IDENTITY),
    (doc(ALLOW_ALL | {"Sid": "Allow access, for now", "Principal": "*"}), PolicyKind.RESOURCE),
    (doc(TRUSTED), PolicyKind.TRUST),
    (doc(ALLOW_ALL | {"Principal": {"AWS": ["123456789012", "arn:aws:iam::123456789012:root"]}}), PolicyKind.RESOURCE),
    (doc(ALLOW_ALL | {"NotPrincipal": {"AWS": "123456789012"}}), PolicyKind.RESOURCE),
    (doc(ALLOW_ALL | {"Condition": {"StringEquals": {"a:b": ["x", 1, True, 2.5]}}}), PolicyKind.IDENTITY),
    (json.dumps(doc(ALLOW_ALL)), PolicyKind.IDENTITY),
]


@pytest.mark.parametrize(("document", "kind"), ACCEPTED)
def test_accepted(document: Any, kind: PolicyKind) -> None:
    assert parse_policy(document, kind).statements


def test_parsed_values() -> None:
    policy = parse_policy(
        doc(
            {"Sid": "One", "Effect": "Deny", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:iam::*:*"},
            Id="p",
        ),
        PolicyKind.IDENTITY,
        "arn:aws:iam::111122223333:policy/p",
    )
    first, second = policy.statements
    assert (policy.name, policy.version, policy.id) == ("arn:aws:iam::111122223333:policy/p", "2012-10-17", "p")
    assert (first.index, first.sid, first.effect) == (0, "One", Effect.DENY)
    assert (second.index, second.sid, second.effect) == (1, None, Effect.ALLOW)
    assert second.actions.negated
    assert second.resources is not None
    assert second.resources.negated
    assert first.principals is None


def test_trust_policy_has_no_resource() -> None:
    (statement,) = parse_policy(doc(TRUSTED), PolicyKind.TRUST).statements
    assert statement.resources is None
