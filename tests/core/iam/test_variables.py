"""Policy variables (IAM User Guide, "IAM policy elements: Variables and tags")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.iam.support import ACCOUNT, allow, decide, identity, request, session, user
from tumbler.core.iam import MalformedPolicyDocument
from tumbler.core.iam.variables import Literal, Pattern, Variable, compile_template

BUCKET = "arn:aws:s3:::amzn-s3-demo-bucket"


@pytest.mark.parametrize(
    ("source", "parts"),
    [
        ("plain", (Pattern("plain"),)),
        ("home/${aws:username}/*", (Pattern("home/"), Variable("aws:username", None), Pattern("/*"))),
        ("${aws:PrincipalTag/Team}", (Variable("aws:principaltag/team", None),)),
        ("${ aws:PrincipalTag/Team }", (Variable("aws:principaltag/team", None),)),
        ("${aws:PrincipalTag/team, 'company-wide'}", (Variable("aws:principaltag/team", "company-wide"),)),
        ("${aws:username,'x'}", (Variable("aws:username", "x"),)),
        ("${aws:username, ''}", (Variable("aws:username", ""),)),
        (
            "a${*}b${?}c${$}d",
            (Pattern("a"), Literal("*"), Pattern("b"), Literal("?"), Pattern("c"), Literal("$"), Pattern("d")),
        ),
        ("${}", (Pattern("${}"),)),  # not a variable: kept as text
        ("${unclosed", (Pattern("${unclosed"),)),
        ("$aws:username", (Pattern("$aws:username"),)),
    ],
)
def test_templates(source: str, parts: tuple[Any, ...]) -> None:
    assert compile_template(source, variables=True).parts == parts


def test_variables_off_keeps_text() -> None:
    assert compile_template("${aws:username}", variables=False).parts == (Pattern("${aws:username}"),)


def own_home(version: str | None) -> Any:
    return identity(
        allow("s3:*", [f"{BUCKET}/home/${{aws:username}}", f"{BUCKET}/home/${{aws:username}}/*"]), version=version
    )


@pytest.mark.parametrize(
    ("resource", "version", "expected"),
    [
        # "IAM policy elements: Variables and tags", the per-user home folder example.
        (f"{BUCKET}/home/alice", "2012-10-17", True),
        (f"{BUCKET}/home/alice/notes.txt", "2012-10-17", True),
        (f"{BUCKET}/home/bob/notes.txt", "2012-10-17", False),
        # Version 2008-10-17 (or none) treats ${aws:username} as literal text.
        (f"{BUCKET}/home/alice/notes.txt", "2008-10-17", False),
        (f"{BUCKET}/home/alice/notes.txt", None, False),
        (f"{BUCKET}/home/${{aws:username}}/notes.txt", "2008-10-17", True),
        (f"{BUCKET}/home/${{aws:username}}/notes.txt", "2012-10-17", False),
    ],
)
def test_resource_variable(resource: str, version: str | None, expected: bool) -> None:
    req = request(user("alice"), "s3:GetObject", resource)
    assert decide(req, identity=(own_home(version),)).allowed is expected


def test_unresolved_variable_in_resource_matches_nothing() -> None:
    # A role session has no aws:username, so the per-user statement matches no resource.
    req = request(session(), "s3:GetObject", f"{BUCKET}/home//notes.txt")
    assert not decide(req, identity=(own_home("2012-10-17"),)).allowed


@pytest.mark.parametrize(
    ("tags", "resource", "expected"),
    [
        ({"team": "blue"}, f"{BUCKET}/blue/x", True),
        ({"team": "red"}, f"{BUCKET}/blue/x", False),
        ({}, f"{BUCKET}/company-wide/x", True),  # the default stands in for a missing tag
        ({}, f"{BUCKET}/blue/x", False),
    ],
)
def test_default_value(tags: dict[str, str], resource: str, expected: bool) -> None:
    policy = identity(allow("s3:GetObject", f"{BUCKET}/${{aws:PrincipalTag/team, 'company-wide'}}/*"))
    assert decide(request(user(tags=tags), "s3:GetObject", resource), identity=(policy,)).allowed is expected


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (f"{BUCKET}/literal*star", True),
        (f"{BUCKET}/literalXstar", False),  # ${*} is a literal asterisk, not a wildcard
        (f"{BUCKET}/q?mark$", True),
        (f"{BUCKET}/qXmark$", False),
    ],
)
def test_escapes(resource: str, expected: bool) -> None:
    policy = identity(allow("s3:GetObject", [f"{BUCKET}/literal${{*}}star", f"{BUCKET}/q${{?}}mark${{$}}"]))
    assert decide(request(user(), "s3:GetObject", resource), identity=(policy,)).allowed is expected


CONDITION_VARIABLES: list[tuple[dict[str, Any], dict[str, Any], dict[str, str], bool]] = [
    # (condition, request context, principal tags, expected)
    (
        {"StringEquals": {"aws:ResourceTag/project": "${aws:PrincipalTag/project}"}},
        {"aws:ResourceTag/project": "p1"},
        {"project": "p1"},
        True,
    ),
    (
        {"StringEquals": {"aws:ResourceTag/project": "${aws:PrincipalTag/project}"}},
        {"aws:ResourceTag/project": "p1"},
        {"project": "p2"},
        False,
    ),
    (
        {"StringEquals": {"aws:ResourceTag/project": "${aws:PrincipalTag/project}"}},
        {"aws:ResourceTag/project": "p1"},
        {},
        False,
    ),
    (
        {"StringEquals": {"aws:ResourceTag/project": "${aws:PrincipalTag/project, 'p1'}"}},
        {"aws:ResourceTag/project": "p1"},
        {},
        True,
    ),
    ({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}, {"s3:prefix": "home/alice/docs"}, {}, True),
    ({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}, {"s3:prefix": "home/bob/docs"}, {}, False),
    ({"StringLike": {"s3:prefix": "${aws:PrincipalTag/p}*"}}, {"s3:prefix": "a*b-rest"}, {"p": "a*b"}, True),
    (
        {"StringLike": {"s3:prefix": "${aws:PrincipalTag/p}*"}},
        {"s3:prefix": "aXb-rest"},
        {"p": "a*b"},
        False,
    ),  # value is literal
    ({"StringEquals": {"s3:prefix": "${*}"}}, {"s3:prefix": "*"}, {}, True),
    ({"StringLike": {"s3:prefix": "${*}"}}, {"s3:prefix": "x"}, {}, False),
    (
        {"StringNotEquals": {"aws:ResourceTag/project": "${aws:PrincipalTag/project}"}},
        {"aws:ResourceTag/project": "p1"},
        {"project": "p1"},
        False,
    ),
    (
        {"StringNotEquals": {"aws:ResourceTag/project": "${aws:PrincipalTag/project}"}},
        {"aws:ResourceTag/project": "p1"},
        {"project": "p2"},
        True,
    ),
    ({"StringEqualsIgnoreCase": {"ex:owner": "${aws:username}"}}, {"ex:owner": "ALICE"}, {}, True),
    (
        {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{ACCOUNT}:${{aws:username}}-*"}},
        {"aws:SourceArn": f"arn:aws:sns:r:{ACCOUNT}:alice-t"},
        {},
        True,
    ),
    (
        {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{ACCOUNT}:${{aws:username}}-*"}},
        {"aws:SourceArn": f"arn:aws:sns:r:{ACCOUNT}:bob-t"},
        {},
        False,
    ),
    ({"Bool": {"ex:flag": "${aws:PrincipalTag/flag}"}}, {"ex:flag": "true"}, {"flag": "true"}, True),
    (
        {"StringEquals": {"ex:multi": "${aws:TagKeys}"}},
        {"ex:multi": "a", "aws:TagKeys": ["a", "b"]},
        {},
        False,
    ),  # multivalued keys are no variables
    ({"StringEquals": {"ex:when": "${aws:CurrentTime}"}}, {"ex:when": "2024-06-01T12:00:00Z"}, {}, True),
    ({"StringEquals": {"ex:id": "${aws:userid}"}}, {"ex:id": "AIDAALICEEXAMPLE"}, {}, True),
    ({"StringEquals": {"ex:acct": "${aws:PrincipalAccount}"}}, {"ex:acct": ACCOUNT}, {}, True),
]


@pytest.mark.parametrize(("condition", "context", "tags", "expected"), CONDITION_VARIABLES)
def test_condition_variables(
    condition: dict[str, Any], context: dict[str, Any], tags: dict[str, str], expected: bool
) -> None:
    policy = identity(allow(Condition=condition))
    assert decide(request(user("alice", tags=tags), context=context), identity=(policy,)).allowed is expected


@pytest.mark.parametrize(
    "condition",
    [
        {"NumericEquals": {"ex:n": "1"}},
        {"DateEquals": {"ex:d": "2024-01-01"}},
        {"IpAddress": {"ex:ip": "10.0.0.0/8"}},
    ],
)
def test_variables_only_in_string_arn_bool(condition: dict[str, Any]) -> None:
    # Numeric, Date, IP, Binary and Null values take no variables: a ${...} there is refused like any bad value.
    operator, block = next(iter(condition.items()))
    key = next(iter(block))
    with pytest.raises(MalformedPolicyDocument, match="Invalid value"):
        identity(allow(Condition={operator: {key: "${aws:username}"}}))


def test_legacy_version_condition_values_are_literal() -> None:
    policy = identity(allow(Condition={"StringEquals": {"ex:v": "${aws:username}"}}), version="2008-10-17")
    assert decide(request(user("alice"), context={"ex:v": "${aws:username}"}), identity=(policy,)).allowed
    assert not decide(request(user("alice"), context={"ex:v": "alice"}), identity=(policy,)).allowed
