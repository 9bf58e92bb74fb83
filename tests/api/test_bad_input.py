"""Bad input as users send it, and what AWS answers.

AWS checks a request against the service model before Secrets Manager sees it (its Coral
framework): a value of the wrong JSON type is a ``SerializationException``; a missing required
member, a too-long string or an out-of-range number is a ``ValidationException`` worded
``1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member
must have value greater than or equal to 1``. A sensitive value (SecretString, SecretBinary) is
never echoed: ``Value at 'secretString' ...``. Each refused request must leave the secret it
named exactly as it was.

boto3 sends the first kind with ``parameter_validation=False``; what boto3 cannot send at all
goes out as a hand-signed HTTP request.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.loaders import Loader

from tests.api.helpers import (
    INVALID_NAME,
    assert_error,
    error_of,
    letters,
    post,
    raw_client,
    snapshot,
    validation,
    violation,
)
from tests.conftest import LiveServer

POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                   "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
})  # fmt: skip
MODEL = Loader().load_service_model("secretsmanager", "service-2")


def coral(member: str) -> str:
    """The member name as Coral writes it in a message: lower camel case."""
    return member[0].lower() + member[1:]


@pytest.fixture(scope="module")
def raw(server: LiveServer) -> Any:
    return raw_client(server)


@pytest.fixture
def victim(sm: Any, name: str) -> str:
    """A secret with something of everything: two versions, a custom label, tags, a policy."""
    sm.create_secret(Name=name, SecretString="v1", Description="before", Tags=[{"Key": "t", "Value": "1"}])
    sm.put_secret_value(SecretId=name, SecretString="v2", VersionStages=["AWSCURRENT", "custom"])
    sm.put_resource_policy(SecretId=name, ResourcePolicy=POLICY)
    return name


# --- the cases ---------------------------------------------------------------------------------------


def required_values(victim: str) -> dict[str, Any]:
    """A valid value for every member some operation requires."""
    return {
        "SecretId": victim, "Name": f"{victim}-new", "ResourcePolicy": POLICY,
        "Tags": [{"Key": "bad-input", "Value": "x"}], "TagKeys": ["t"], "VersionStage": "custom",
        "RemoveReplicaRegions": ["us-west-2"], "AddReplicaRegions": [{"Region": "us-west-2"}],
        "CrossAccountReplicaARN": f"arn:aws:secretsmanager:us-east-1:210987654321:secret:{victim}-AbCdEf",
    }  # fmt: skip


@dataclass
class Case:
    id: str
    operation: str
    params: Callable[[str], dict[str, Any]]
    code: str = "ValidationException"
    message: str | None = None
    contains: list[str] = field(default_factory=list)  # for messages whose violation order AWS leaves open


def missing_required_cases() -> list[Case]:
    cases = []
    for op_name, op in MODEL["operations"].items():
        if op_name in ("RotateSecret", "CancelRotateSecret"):
            continue  # rotation has its own suite
        required = MODEL["shapes"][op["input"]["shape"]].get("required", [])
        for member in required:
            others = [m for m in required if m != member]

            def params(victim: str, others: list[str] = others) -> dict[str, Any]:
                values = required_values(victim)
                return {m: values[m] for m in others}

            message = validation(violation(coral(member), "Member must not be null"))
            cases.append(Case(f"{op_name}-no-{member}", op_name, params, message=message))
    return cases


def too_long(member: str, limit: int, value: str) -> str:
    return validation(violation(member, f"Member must have length less than or equal to {limit}", value))


def too_short(member: str, limit: int, value: str) -> str:
    return validation(violation(member, f"Member must have length greater than or equal to {limit}", value))


def above(member: str, limit: int, value: int) -> str:
    return validation(violation(member, f"Member must have value less than or equal to {limit}", value))


def below(member: str, limit: int, value: int) -> str:
    return validation(violation(member, f"Member must have value greater than or equal to {limit}", value))


LONG_ID = "a" * 2049
LONG_NAME = "n" * 513
LONG_TEXT = "d" * 2049
LONG_TOKEN = "t" * 65
SHORT_TOKEN = "t" * 31
LONG_STAGE = "s" * 257
RECOVERY = "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
FILTERS = [{"Key": "name", "Values": ["bad-input"]}]


def secret_id_too_long_cases() -> list[Case]:
    cases = []
    for op_name, op in MODEL["operations"].items():
        members = MODEL["shapes"][op["input"]["shape"]]["members"]
        if "SecretId" not in members or op_name in ("RotateSecret", "CancelRotateSecret"):
            continue
        required = MODEL["shapes"][op["input"]["shape"]].get("required", [])

        def params(victim: str, required: list[str] = required) -> dict[str, Any]:
            values = required_values(victim)
            return {**{m: values[m] for m in required}, "SecretId": LONG_ID}

        cases.append(Case(f"{op_name}-long-SecretId", op_name, params, message=too_long("secretId", 2048, LONG_ID)))
    return cases


CASES: list[Case] = [
    *missing_required_cases(),
    *secret_id_too_long_cases(),
    # strings too long or too short
    Case(
        "CreateSecret-long-Name",
        "CreateSecret",
        lambda v: {"Name": LONG_NAME, "SecretString": "x"},
        message=too_long("name", 512, LONG_NAME),
    ),
    Case(
        "CreateSecret-long-Description",
        "CreateSecret",
        lambda v: {"Name": f"{v}-new", "Description": LONG_TEXT},
        message=too_long("description", 2048, LONG_TEXT),
    ),
    Case(
        "CreateSecret-long-token",
        "CreateSecret",
        lambda v: {"Name": f"{v}-new", "SecretString": "x", "ClientRequestToken": LONG_TOKEN},
        message=too_long("clientRequestToken", 64, LONG_TOKEN),
    ),
    Case(
        "CreateSecret-short-token",
        "CreateSecret",
        lambda v: {"Name": f"{v}-new", "SecretString": "x", "ClientRequestToken": SHORT_TOKEN},
        message=too_short("clientRequestToken", 32, SHORT_TOKEN),
    ),
    Case(
        "CreateSecret-empty-SecretString",
        "CreateSecret",
        lambda v: {"Name": f"{v}-new", "SecretString": ""},
        message=validation(
            violation("secretString", "Member must have length greater than or equal to 1", "", shown=False)
        ),
    ),
    Case(
        "CreateSecret-empty-Name",
        "CreateSecret",
        lambda v: {"Name": "", "SecretString": "x"},
        message=too_short("name", 1, ""),
    ),
    Case(
        "CreateSecret-long-KmsKeyId",
        "CreateSecret",
        lambda v: {"Name": f"{v}-new", "SecretString": "x", "KmsKeyId": LONG_TEXT},
        message=too_long("kmsKeyId", 2048, LONG_TEXT),
    ),
    Case(
        "UpdateSecret-long-Description",
        "UpdateSecret",
        lambda v: {"SecretId": v, "Description": LONG_TEXT},
        message=too_long("description", 2048, LONG_TEXT),
    ),
    Case(
        "UpdateSecret-short-token",
        "UpdateSecret",
        lambda v: {"SecretId": v, "SecretString": "x", "ClientRequestToken": SHORT_TOKEN},
        message=too_short("clientRequestToken", 32, SHORT_TOKEN),
    ),
    Case(
        "GetSecretValue-empty-SecretId",
        "GetSecretValue",
        lambda v: {"SecretId": ""},
        message=too_short("secretId", 1, ""),
    ),
    Case(
        "GetSecretValue-long-VersionId",
        "GetSecretValue",
        lambda v: {"SecretId": v, "VersionId": LONG_TOKEN},
        message=too_long("versionId", 64, LONG_TOKEN),
    ),
    Case(
        "GetSecretValue-short-VersionId",
        "GetSecretValue",
        lambda v: {"SecretId": v, "VersionId": SHORT_TOKEN},
        message=too_short("versionId", 32, SHORT_TOKEN),
    ),
    Case(
        "GetSecretValue-long-VersionStage",
        "GetSecretValue",
        lambda v: {"SecretId": v, "VersionStage": LONG_STAGE},
        message=too_long("versionStage", 256, LONG_STAGE),
    ),
    Case(
        "PutSecretValue-long-token",
        "PutSecretValue",
        lambda v: {"SecretId": v, "SecretString": "x", "ClientRequestToken": LONG_TOKEN},
        message=too_long("clientRequestToken", 64, LONG_TOKEN),
    ),
    Case(
        "PutSecretValue-too-many-stages",
        "PutSecretValue",
        lambda v: {"SecretId": v, "SecretString": "x", "VersionStages": [f"s{i}" for i in range(21)]},
    ),
    Case(
        "PutSecretValue-empty-stages",
        "PutSecretValue",
        lambda v: {"SecretId": v, "SecretString": "x", "VersionStages": []},
    ),
    Case(
        "UpdateSecretVersionStage-long-VersionStage",
        "UpdateSecretVersionStage",
        lambda v: {"SecretId": v, "VersionStage": LONG_STAGE, "RemoveFromVersionId": "a" * 32},
        message=too_long("versionStage", 256, LONG_STAGE),
    ),
    Case(
        "UpdateSecretVersionStage-short-MoveTo",
        "UpdateSecretVersionStage",
        lambda v: {"SecretId": v, "VersionStage": "custom", "MoveToVersionId": SHORT_TOKEN},
        message=too_short("moveToVersionId", 32, SHORT_TOKEN),
    ),
    Case(
        "PutResourcePolicy-long-policy",
        "PutResourcePolicy",
        lambda v: {"SecretId": v, "ResourcePolicy": "p" * 20481},
        message=too_long("resourcePolicy", 20480, "p" * 20481),
    ),
    Case(
        "ValidateResourcePolicy-empty-policy",
        "ValidateResourcePolicy",
        lambda v: {"ResourcePolicy": ""},
        message=too_short("resourcePolicy", 1, ""),
    ),
    Case(
        "GetRandomPassword-long-exclude",
        "GetRandomPassword",
        lambda v: {"ExcludeCharacters": "x" * 4097},
        message=too_long("excludeCharacters", 4096, "x" * 4097),
    ),
    Case("UntagResource-long-key", "UntagResource", lambda v: {"SecretId": v, "TagKeys": ["k" * 129]}),
    Case(
        "ListSecrets-empty-NextToken", "ListSecrets", lambda v: {"NextToken": ""}, message=too_short("nextToken", 1, "")
    ),
    Case(
        "ListSecrets-too-many-filters",
        "ListSecrets",
        lambda v: {"Filters": [{"Key": "name", "Values": [str(i)]} for i in range(11)]},
    ),
    # numbers out of range
    Case("ListSecrets-MaxResults-0", "ListSecrets", lambda v: {"MaxResults": 0}, message=below("maxResults", 1, 0)),
    Case(
        "ListSecrets-MaxResults-101",
        "ListSecrets",
        lambda v: {"MaxResults": 101},
        message=above("maxResults", 100, 101),
    ),
    Case(
        "ListSecretVersionIds-MaxResults-0",
        "ListSecretVersionIds",
        lambda v: {"SecretId": v, "MaxResults": 0},
        message=below("maxResults", 1, 0),
    ),
    Case(
        "ListSecretVersionIds-MaxResults-101",
        "ListSecretVersionIds",
        lambda v: {"SecretId": v, "MaxResults": 101},
        message=above("maxResults", 100, 101),
    ),
    Case(
        "BatchGetSecretValue-MaxResults-21",
        "BatchGetSecretValue",
        lambda v: {"Filters": FILTERS, "MaxResults": 21},
        message=above("maxResults", 20, 21),
    ),
    Case(
        "BatchGetSecretValue-MaxResults-0",
        "BatchGetSecretValue",
        lambda v: {"Filters": FILTERS, "MaxResults": 0},
        message=below("maxResults", 1, 0),
    ),
    Case("BatchGetSecretValue-21-ids", "BatchGetSecretValue", lambda v: {"SecretIdList": [v] * 21}),
    Case(
        "GetRandomPassword-length-0",
        "GetRandomPassword",
        lambda v: {"PasswordLength": 0},
        message=below("passwordLength", 1, 0),
    ),
    Case(
        "GetRandomPassword-length-4097",
        "GetRandomPassword",
        lambda v: {"PasswordLength": 4097},
        message=above("passwordLength", 4096, 4097),
    ),
    Case(
        "DeleteSecret-window-6",
        "DeleteSecret",
        lambda v: {"SecretId": v, "RecoveryWindowInDays": 6},
        code="InvalidParameterException",
        message=RECOVERY,
    ),
    Case(
        "DeleteSecret-window-31",
        "DeleteSecret",
        lambda v: {"SecretId": v, "RecoveryWindowInDays": 31},
        code="InvalidParameterException",
        message=RECOVERY,
    ),
    Case(
        "DeleteSecret-window-and-force",
        "DeleteSecret",
        lambda v: {"SecretId": v, "RecoveryWindowInDays": 7, "ForceDeleteWithoutRecovery": True},
        code="InvalidParameterException",
        message="You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
    ),
    # enums and patterns
    Case(
        "ListSecrets-bad-SortOrder",
        "ListSecrets",
        lambda v: {"SortOrder": "sideways"},
        message=validation(violation("sortOrder", "Member must satisfy enum value set: [asc, desc]", "sideways")),
    ),
    Case("ListSecrets-bad-filter-key", "ListSecrets", lambda v: {"Filters": [{"Key": "colour", "Values": ["x"]}]}),
    Case(
        "RemoveRegions-bad-region",
        "RemoveRegionsFromReplication",
        lambda v: {"SecretId": v, "RemoveReplicaRegions": ["US_WEST_2"]},
    ),
    Case(
        "CreateSecret-bad-name",
        "CreateSecret",
        lambda v: {"Name": f"{v} with spaces", "SecretString": "x"},
        message=INVALID_NAME,
    ),
    # more than one violation: all reported in one answer
    Case(
        "ListSecrets-two-violations",
        "ListSecrets",
        lambda v: {"MaxResults": 0, "SortOrder": "sideways"},
        contains=[
            "2 validation errors detected: ",
            violation("maxResults", "Member must have value greater than or equal to 1", 0),
            violation("sortOrder", "Member must satisfy enum value set: [asc, desc]", "sideways"),
        ],
    ),
    Case(
        "PutResourcePolicy-nothing",
        "PutResourcePolicy",
        lambda v: {},
        contains=[
            "2 validation errors detected: ",
            violation("secretId", "Member must not be null"),
            violation("resourcePolicy", "Member must not be null"),
        ],
    ),
]


def _unchanged_name(case: Case, victim: str) -> str | None:
    created = case.params(victim).get("Name")
    return created if case.operation == "CreateSecret" and isinstance(created, str) and created else None


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_refused_and_nothing_changed(sm: Any, raw: Any, victim: str, case: Case) -> None:
    before = snapshot(sm, victim)
    with pytest.raises(ClientError) as raised:
        getattr(raw, xform_name(case.operation))(**case.params(victim))
    message = assert_error(raised, case.code, case.message)
    for part in case.contains:
        assert part in message
    assert snapshot(sm, victim) == before
    created = _unchanged_name(case, victim)
    if created and len(created) <= 512:
        with pytest.raises(ClientError) as raised:
            sm.describe_secret(SecretId=created)
        # a name that could never be created is refused as a SecretId too (ValidationException)
        assert raised.value.response["Error"]["Code"] in ("ResourceNotFoundException", "ValidationException")


@pytest.mark.parametrize("bad", ["Inv Name", " Inv*Name? ", "Inv *?!]Name\\-"], ids=["space", "star", "brackets"])
def test_invalid_characters_in_secret_id(sm: Any, raw: Any, victim: str, bad: str) -> None:
    # Recorded AWS responses: every operation that takes a SecretId answers an id with characters
    # no name may hold with this ValidationException, even a forced DeleteSecret.
    before = snapshot(sm, victim)
    calls: dict[str, Callable[[], Any]] = {
        "DescribeSecret": lambda: raw.describe_secret(SecretId=bad),
        "GetSecretValue": lambda: raw.get_secret_value(SecretId=bad),
        "PutSecretValue": lambda: raw.put_secret_value(SecretId=bad, SecretString="x"),
        "UpdateSecret": lambda: raw.update_secret(SecretId=bad, Description="x"),
        "DeleteSecret": lambda: raw.delete_secret(SecretId=bad, ForceDeleteWithoutRecovery=True),
        "ListSecretVersionIds": lambda: raw.list_secret_version_ids(SecretId=bad, IncludeDeprecated=True),
        "TagResource": lambda: raw.tag_resource(SecretId=bad, Tags=[{"Key": "k", "Value": "v"}]),
        "UntagResource": lambda: raw.untag_resource(SecretId=bad, TagKeys=["k"]),
        "ValidateResourcePolicy": lambda: raw.validate_resource_policy(SecretId=bad, ResourcePolicy=POLICY),
    }
    answers: dict[str, tuple[Any, ...]] = {}
    for operation, call in calls.items():
        try:
            call()
            answers[operation] = ("accepted",)
        except ClientError as err:
            answers[operation] = error_of(err)
    assert answers == dict.fromkeys(calls, ("ValidationException", INVALID_NAME, 400))
    assert snapshot(sm, victim) == before


# --- what boto3 cannot send: raw HTTP ----------------------------------------------------------------


def test_malformed_json(server: LiveServer, sm: Any, victim: str) -> None:
    before = snapshot(sm, victim)
    for body in ('{"SecretId": ', '{"SecretId": "x",}', "not json at all", "\xff\xfe"):
        answer = post(server, body.encode("latin-1"), "PutSecretValue")
        assert (answer.status, answer.code) == (400, "SerializationException"), body
        assert answer.headers["content-type"].startswith("application/x-amz-json-1.1")
        assert answer.headers.get("x-amzn-requestid")
    assert snapshot(sm, victim) == before


def test_top_level_json_that_is_not_an_object(server: LiveServer) -> None:
    for body in ("[]", '"text"', "42"):
        answer = post(server, body, "ListSecrets")
        assert (answer.status, answer.code) == (400, "SerializationException"), body


def test_unknown_operation(server: LiveServer) -> None:
    for target in ("secretsmanager.DoMagic", "AmazonSSM.GetParameter", "secretsmanager.", "getsecretvalue"):
        answer = post(server, "{}", None, target=target)
        assert (answer.status, answer.code) == (400, "UnknownOperationException"), target
    answer = post(server, "{}", None)  # no X-Amz-Target at all
    assert (answer.status, answer.code) == (400, "UnknownOperationException")


WRONG_TYPES: list[tuple[str, str, dict[str, Any]]] = [
    ("SecretId-number", "GetSecretValue", {"SecretId": 12345}),
    ("SecretId-list", "DescribeSecret", {"SecretId": ["a"]}),
    ("Force-string", "DeleteSecret", {"ForceDeleteWithoutRecovery": "yes"}),
    ("Window-string", "DeleteSecret", {"RecoveryWindowInDays": "seven"}),
    ("Tags-object", "TagResource", {"Tags": {"k": "v"}}),
    ("TagKeys-string", "UntagResource", {"TagKeys": "t"}),
    ("Stages-string", "PutSecretValue", {"SecretString": "x", "VersionStages": "AWSCURRENT"}),
    ("Binary-not-base64", "PutSecretValue", {"SecretBinary": "not base64!"}),
    ("Binary-number", "PutSecretValue", {"SecretBinary": 7}),
    ("Description-object", "UpdateSecret", {"Description": {"a": 1}}),
]


@pytest.mark.parametrize(("operation", "extra"), [c[1:] for c in WRONG_TYPES], ids=[c[0] for c in WRONG_TYPES])
def test_wrong_json_types(server: LiveServer, sm: Any, victim: str, operation: str, extra: dict[str, Any]) -> None:
    before = snapshot(sm, victim)
    answer = post(server, {"SecretId": victim, **extra}, operation)
    assert (answer.status, answer.code) == (400, "SerializationException"), answer.body
    assert snapshot(sm, victim) == before


def test_string_for_an_integer(server: LiveServer) -> None:
    # The wording AWS's JSON services use (aws/aws-cdk#27087).
    answer = post(server, {"MaxResults": "ten"}, "ListSecrets")
    assert (answer.status, answer.code, answer.message) == (
        400,
        "SerializationException",
        "STRING_VALUE can not be converted to an Integer",
    )


def test_unknown_members_are_ignored(server: LiveServer, sm: Any, victim: str) -> None:
    answer = post(server, {"SecretId": victim, "NoSuchMember": {"deep": [1, 2]}}, "GetSecretValue")
    assert answer.status == 200
    assert answer.json()["SecretString"] == "v2"


def test_null_is_the_same_as_absent(server: LiveServer, victim: str) -> None:
    answer = post(server, {"SecretId": victim, "VersionId": None, "VersionStage": None}, "GetSecretValue")
    assert answer.status == 200
    assert answer.json()["SecretString"] == "v2"


# --- a secret value never comes back in an error -----------------------------------------------------


def test_secret_values_never_appear_in_errors(server: LiveServer, sm: Any, victim: str) -> None:
    marker = f"MARKER{letters(20)}"
    token = str(uuid.uuid4())
    sm.put_secret_value(
        SecretId=victim, SecretString=f"{marker}-original", ClientRequestToken=token, VersionStages=["kept"]
    )
    blob = base64.b64encode(marker.encode()).decode()
    requests: list[tuple[str, dict[str, Any]]] = [
        ("PutSecretValue", {"SecretId": victim, "SecretString": marker * (65536 // len(marker) + 1)}),
        ("CreateSecret", {"Name": f"{victim}-new", "SecretString": marker * (65536 // len(marker) + 1)}),
        ("CreateSecret", {"Name": "bad name *", "SecretString": marker}),
        ("CreateSecret", {"Name": victim, "SecretString": marker}),
        ("PutSecretValue", {"SecretId": victim, "SecretString": marker, "SecretBinary": blob}),
        ("PutSecretValue", {"SecretId": victim, "SecretString": f"{marker}-changed", "ClientRequestToken": token}),
        ("PutSecretValue", {"SecretId": victim, "SecretString": {"value": marker}}),
        ("PutSecretValue", {"SecretId": victim, "SecretString": [marker]}),
        ("PutSecretValue", {"SecretId": victim, "SecretBinary": f"!!{marker}"}),
        ("PutSecretValue", {"SecretId": victim, "SecretBinary": f"{marker}="}),
        ("PutSecretValue", {"SecretId": "missing-" + letters(), "SecretString": marker}),
        ("UpdateSecret", {"SecretId": victim, "SecretString": marker, "ClientRequestToken": "short"}),
        ("UpdateSecret", {"SecretId": victim, "SecretString": marker, "KmsKeyId": "alias/no-such-key-" + letters()}),
    ]
    for operation, body in requests:
        answer = post(server, body, operation)
        assert answer.status == 400, (operation, answer.body[:300])
        assert marker.encode() not in answer.body, (operation, answer.code)
        assert blob.encode() not in answer.body, (operation, answer.code)
    log = (server.data_dir.parent / f"server-{server.port}.log").read_bytes()
    assert marker.encode() not in log


def test_an_oversized_body_is_refused_and_changes_nothing(server: LiveServer, sm: Any, victim: str) -> None:
    before = snapshot(sm, victim)
    value = "x" * (2 << 20)  # 2 MiB: far above any valid request
    answer = post(server, {"SecretId": victim, "SecretString": value}, "PutSecretValue")
    assert (answer.status, answer.code) == (413, "RequestEntityTooLargeException")
    assert "xxxx" not in answer.message
    assert snapshot(sm, victim) == before
