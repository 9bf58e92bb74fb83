"""The decision across policy types within one account (IAM User Guide, "Policy evaluation logic", "How AWS
enforcement code logic evaluates requests to allow or deny access", "Permissions boundaries for IAM entities",
"Session policies"), and the AccessDenied wording ("Troubleshooting access denied error messages")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.iam.support import (
    ACCOUNT,
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
    trust,
    user,
)
from tumbler.core.iam import Decision, PolicyType, Principal, Reason, StatementRef, access_denied_message

GET = "secretsmanager:GetSecretValue"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1"

ID_ALLOW = identity(allow(GET, Sid="IdAllow"), name="id")
ID_DENY = identity(deny(GET, Sid="IdDeny"), name="id-deny")
ID_OTHER = identity(allow("s3:*"), name="id-other")
BOUNDARY_ALLOW = identity(allow("secretsmanager:*"), name="boundary")
BOUNDARY_OTHER = identity(allow("s3:*"), name="boundary-other")
BOUNDARY_DENY = identity(allow("*"), deny(GET, Sid="BDeny"), name="boundary-deny")
SESSION_ALLOW = identity(allow(GET), name="session")
SESSION_OTHER = identity(allow("s3:*"), name="session-other")
SESSION_DENY = identity(allow("*"), deny(GET), name="session-deny")


def rp(principal: Any, effect: str = "Allow", sid: str = "RP") -> Any:
    return resource_policy({"Sid": sid, "Effect": effect, "Principal": principal, "Action": GET, "Resource": "*"})


def verdict(decision: Decision) -> tuple[bool, Reason, PolicyType | None]:
    return decision.allowed, decision.reason, decision.policy_type


A, E, I = Reason.ALLOWED, Reason.EXPLICIT_DENY, Reason.IMPLICIT_DENY  # noqa: E741
IDT, RES, BND, SES, TRU = (
    PolicyType.IDENTITY,
    PolicyType.RESOURCE,
    PolicyType.BOUNDARY,
    PolicyType.SESSION,
    PolicyType.TRUST,
)

CASES: list[tuple[str, Principal, dict[str, Any], tuple[bool, Reason, PolicyType | None]]] = [
    ("nothing applies", user(), {}, (False, I, IDT)),
    ("identity allows", user(), {"identity": (ID_ALLOW,)}, (True, A, IDT)),
    ("identity allows another action", user(), {"identity": (ID_OTHER,)}, (False, I, IDT)),
    ("explicit deny wins", user(), {"identity": (ID_ALLOW, ID_DENY)}, (False, E, IDT)),
    ("deny in any identity policy", user(), {"identity": (ID_DENY, ID_ALLOW)}, (False, E, IDT)),
    # Identity or resource policy: either allows within one account.
    ("resource names the user", user(), {"resource": rp({"AWS": ALICE})}, (True, A, RES)),
    ("resource names another user", user("bob"), {"resource": rp({"AWS": ALICE})}, (False, I, IDT)),
    ("resource names the account", user(), {"resource": rp({"AWS": ACCOUNT})}, (True, A, RES)),
    ("resource names everyone", user(), {"resource": rp("*")}, (True, A, RES)),
    (
        "resource denies, identity allows",
        user(),
        {"identity": (ID_ALLOW,), "resource": rp("*", "Deny")},
        (False, E, RES),
    ),
    (
        "identity denies, resource allows",
        user(),
        {"identity": (ID_DENY,), "resource": rp({"AWS": ALICE})},
        (False, E, IDT),
    ),
    # Permissions boundaries.
    ("boundary allows too", user(), {"identity": (ID_ALLOW,), "boundary": BOUNDARY_ALLOW}, (True, A, IDT)),
    ("boundary does not allow", user(), {"identity": (ID_ALLOW,), "boundary": BOUNDARY_OTHER}, (False, I, BND)),
    ("boundary alone grants nothing", user(), {"boundary": BOUNDARY_ALLOW}, (False, I, IDT)),
    ("boundary denies", user(), {"identity": (ID_ALLOW,), "boundary": BOUNDARY_DENY}, (False, E, BND)),
    (
        "user ARN in resource policy passes the boundary",
        user(),
        {"resource": rp({"AWS": ALICE}), "boundary": BOUNDARY_OTHER},
        (True, A, RES),
    ),
    (
        "account in resource policy is held by the boundary",
        user(),
        {"resource": rp({"AWS": ACCOUNT}), "boundary": BOUNDARY_OTHER},
        (False, I, BND),
    ),
    (
        "account in resource policy within the boundary",
        user(),
        {"resource": rp({"AWS": ACCOUNT}), "boundary": BOUNDARY_ALLOW},
        (True, A, RES),
    ),
    (
        "boundary deny beats a direct resource grant",
        user(),
        {"resource": rp({"AWS": ALICE}), "boundary": BOUNDARY_DENY},
        (False, E, BND),
    ),
    # Role sessions and session policies.
    ("role identity allows", session(), {"identity": (ID_ALLOW,)}, (True, A, IDT)),
    ("session policy allows too", session(), {"identity": (ID_ALLOW,), "session": (SESSION_ALLOW,)}, (True, A, IDT)),
    (
        "session policy does not allow",
        session(),
        {"identity": (ID_ALLOW,), "session": (SESSION_OTHER,)},
        (False, I, SES),
    ),
    (
        "any session policy allows",
        session(),
        {"identity": (ID_ALLOW,), "session": (SESSION_OTHER, SESSION_ALLOW)},
        (True, A, IDT),
    ),
    ("empty session policy list allows nothing", session(), {"identity": (ID_ALLOW,), "session": ()}, (False, I, SES)),
    ("session policy denies", session(), {"identity": (ID_ALLOW,), "session": (SESSION_DENY,)}, (False, E, SES)),
    ("session policy alone grants nothing", session(), {"session": (SESSION_ALLOW,)}, (False, I, IDT)),
    (
        "boundary and session both",
        session(),
        {"identity": (ID_ALLOW,), "boundary": BOUNDARY_ALLOW, "session": (SESSION_ALLOW,)},
        (True, A, IDT),
    ),
    (
        "boundary fails before session",
        session(),
        {"identity": (ID_ALLOW,), "boundary": BOUNDARY_OTHER, "session": (SESSION_OTHER,)},
        (False, I, BND),
    ),
    (
        "session ARN in resource policy passes the session policy",
        session(),
        {"resource": rp({"AWS": SESSION}), "session": (SESSION_OTHER,)},
        (True, A, RES),
    ),
    (
        "session ARN in resource policy passes the boundary",
        session(),
        {"resource": rp({"AWS": SESSION}), "boundary": BOUNDARY_OTHER},
        (True, A, RES),
    ),
    ("role ARN in resource policy alone", session(), {"resource": rp({"AWS": ROLE})}, (True, A, RES)),
    (
        "role ARN in resource policy is held by the session policy",
        session(),
        {"resource": rp({"AWS": ROLE}), "session": (SESSION_OTHER,)},
        (False, I, SES),
    ),
    (
        "role ARN in resource policy is held by the boundary",
        session(),
        {"resource": rp({"AWS": ROLE}), "boundary": BOUNDARY_OTHER},
        (False, I, BND),
    ),
    (
        "role ARN in resource policy within both",
        session(),
        {"resource": rp({"AWS": ROLE}), "boundary": BOUNDARY_ALLOW, "session": (SESSION_ALLOW,)},
        (True, A, RES),
    ),
    (
        "the most direct grant counts",
        session(),
        {
            "resource": resource_policy(
                {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": GET, "Resource": "*"},
                {"Effect": "Allow", "Principal": {"AWS": SESSION}, "Action": GET, "Resource": "*"},
            ),
            "session": (SESSION_OTHER,),
        },
        (True, A, RES),
    ),
    # NotPrincipal with Deny always denies a principal that has a permissions boundary.
    (
        "NotPrincipal deny exempts alice",
        user(),
        {"identity": (ID_ALLOW,), "resource": resource_policy(deny(GET, NotPrincipal={"AWS": [ALICE, ACCOUNT]}))},
        (True, A, IDT),
    ),
    (
        "NotPrincipal deny with a boundary",
        user(),
        {
            "identity": (ID_ALLOW,),
            "boundary": BOUNDARY_ALLOW,
            "resource": resource_policy(deny(GET, NotPrincipal={"AWS": [ALICE, ACCOUNT]})),
        },
        (False, E, RES),
    ),
    # The root user: everything but an explicit deny.
    ("root without policies", root(), {}, (True, A, None)),
    ("root denied by a resource policy", root(), {"resource": rp("*", "Deny")}, (False, E, RES)),
    # Services have no identity policies: only a resource policy allows them.
    (
        "service named by the resource policy",
        service(),
        {"resource": rp({"Service": "secretsmanager.amazonaws.com"})},
        (True, A, RES),
    ),
    ("service not named", service(), {"resource": rp({"Service": "lambda.amazonaws.com"})}, (False, I, RES)),
    ("service, no resource policy", service(), {}, (False, I, RES)),
]


@pytest.mark.parametrize(("caller", "policies", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decision(
    caller: Principal, policies: dict[str, Any], expected: tuple[bool, Reason, PolicyType | None]
) -> None:
    assert verdict(decide(request(caller, GET), **policies)) == expected


ASSUME = "sts:AssumeRole"
TARGET = f"arn:aws:iam::{ACCOUNT}:role/target"
ID_ASSUME = identity(allow(ASSUME, TARGET), name="id-assume")


def tp(principal: Any, effect: str = "Allow") -> Any:
    return trust({"Effect": effect, "Principal": principal, "Action": ASSUME})


TRUST_CASES: list[tuple[str, Principal, dict[str, Any], tuple[bool, Reason, PolicyType | None]]] = [
    ("trust names the user", user(), {"resource": tp({"AWS": ALICE})}, (True, A, TRU)),
    (
        "trust names the user, identity silent",
        user(),
        {"resource": tp({"AWS": ALICE}), "identity": (ID_OTHER,)},
        (True, A, TRU),
    ),
    (
        "trust names another user",
        user("bob"),
        {"resource": tp({"AWS": ALICE}), "identity": (ID_ASSUME,)},
        (False, I, TRU),
    ),
    (
        "identity alone cannot assume",
        user(),
        {"resource": tp({"Service": "lambda.amazonaws.com"}), "identity": (ID_ASSUME,)},
        (False, I, TRU),
    ),
    ("trust names the account: identity must allow", user(), {"resource": tp({"AWS": ACCOUNT})}, (False, I, IDT)),
    (
        "trust names the account and identity allows",
        user(),
        {"resource": tp({"AWS": ACCOUNT}), "identity": (ID_ASSUME,)},
        (True, A, TRU),
    ),
    (
        "trust names the root ARN and identity allows",
        user(),
        {"resource": tp({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), "identity": (ID_ASSUME,)},
        (True, A, TRU),
    ),
    (
        "account trust, identity allows, boundary does not",
        user(),
        {"resource": tp({"AWS": ACCOUNT}), "identity": (ID_ASSUME,), "boundary": BOUNDARY_OTHER},
        (False, I, BND),
    ),
    ("trust denies", user(), {"resource": tp({"AWS": ALICE}, "Deny"), "identity": (ID_ASSUME,)}, (False, E, TRU)),
    ("role chaining: trust names the role", session(), {"resource": tp({"AWS": ROLE})}, (True, A, TRU)),
    (
        "role chaining held by the session policy",
        session(),
        {"resource": tp({"AWS": ROLE}), "session": (SESSION_OTHER,)},
        (False, I, SES),
    ),
    (
        "lambda may assume its execution role",
        service("lambda.amazonaws.com"),
        {"resource": tp({"Service": "lambda.amazonaws.com"})},
        (True, A, TRU),
    ),
    (
        "another service may not",
        service("ec2.amazonaws.com"),
        {"resource": tp({"Service": "lambda.amazonaws.com"})},
        (False, I, TRU),
    ),
]


@pytest.mark.parametrize(
    ("caller", "policies", "expected"), [c[1:] for c in TRUST_CASES], ids=[c[0] for c in TRUST_CASES]
)
def test_trust(caller: Principal, policies: dict[str, Any], expected: tuple[bool, Reason, PolicyType | None]) -> None:
    assert verdict(decide(request(caller, ASSUME, TARGET), **policies)) == expected


def test_statement_reference() -> None:
    decision = decide(request(user(), GET), identity=(ID_OTHER, ID_ALLOW, ID_DENY))
    assert decision.statement == StatementRef("id-deny", 0, "IdDeny")
    assert str(decision.statement) == "id-deny (Sid IdDeny)"
    allowed = decide(request(user(), GET), identity=(ID_OTHER, identity(allow("s3:*"), allow(GET), name="p2")))
    assert allowed.statement == StatementRef("p2", 1, None)
    assert str(allowed.statement) == "p2 (statement 1)"
    assert decide(request(user(), GET), identity=(ID_OTHER,)).statement is None


MESSAGES: list[tuple[Principal, dict[str, Any], str | None, str]] = [
    (
        user(),
        {},
        "prod/db",
        f"User: {ALICE} is not authorized to perform: {GET} on resource: prod/db "
        f"because no identity-based policy allows the {GET} action",
    ),
    (
        user(),
        {"identity": (ID_DENY,)},
        SECRET,
        f"User: {ALICE} is not authorized to perform: {GET} on resource: {SECRET} "
        "with an explicit deny in an identity-based policy",
    ),
    (
        user(),
        {"identity": (ID_ALLOW,), "resource": rp("*", "Deny")},
        "prod/db",
        f"User: {ALICE} is not authorized to perform: {GET} on resource: prod/db "
        "with an explicit deny in a resource-based policy",
    ),
    (
        session(),
        {"identity": (ID_ALLOW,), "boundary": BOUNDARY_OTHER},
        "prod/db",
        f"User: {SESSION} is not authorized to perform: {GET} on resource: prod/db "
        f"because no permissions boundary allows the {GET} action",
    ),
    (
        session(),
        {"identity": (ID_ALLOW,), "session": (SESSION_OTHER,)},
        "prod/db",
        f"User: {SESSION} is not authorized to perform: {GET} on resource: prod/db "
        f"because no session policy allows the {GET} action",
    ),
    (
        session(),
        {"identity": (ID_ALLOW,), "boundary": BOUNDARY_DENY},
        "prod/db",
        f"User: {SESSION} is not authorized to perform: {GET} on resource: prod/db "
        "with an explicit deny in a permissions boundary",
    ),
    (
        session(),
        {"identity": (ID_ALLOW,), "session": (SESSION_DENY,)},
        "prod/db",
        f"User: {SESSION} is not authorized to perform: {GET} on resource: prod/db "
        "with an explicit deny in a session policy",
    ),
]


@pytest.mark.parametrize(("caller", "policies", "shown", "message"), MESSAGES)
def test_access_denied_message(caller: Principal, policies: dict[str, Any], shown: str | None, message: str) -> None:
    req = request(caller, GET)
    assert access_denied_message(decide(req, **policies), req, shown) == message


def test_message_without_resource() -> None:
    # Actions without a resource have no "on resource:" part.
    req = request(user(), "secretsmanager:ListSecrets", "*")
    assert access_denied_message(decide(req), req, None) == (
        f"User: {ALICE} is not authorized to perform: secretsmanager:ListSecrets "
        "because no identity-based policy allows the secretsmanager:ListSecrets action"
    )


def test_no_message_for_an_allow() -> None:
    req = request(user(), GET)
    with pytest.raises(ValueError, match="denial"):
        access_denied_message(decide(req, identity=(ID_ALLOW,)), req, "x")
