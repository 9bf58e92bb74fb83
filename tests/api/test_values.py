"""Secret values: GetSecretValue, PutSecretValue and BatchGetSecretValue."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import (
    NOT_FOUND,
    assert_error,
    letters,
    validation,
    versions,
    violation,
)

MAX_VALUE = 65536


@pytest.fixture
def two_versions(sm: Any, name: str) -> tuple[str, str]:
    """A secret with v1 (AWSPREVIOUS) and v2 (AWSCURRENT); returns their version ids."""
    first = sm.create_secret(Name=name, SecretString="v1")["VersionId"]
    second = sm.put_secret_value(SecretId=name, SecretString="v2")["VersionId"]
    return first, second


# --- GetSecretValue --------------------------------------------------------------------------------


def test_get_defaults_to_current(sm: Any, name: str, two_versions: tuple[str, str]) -> None:
    got = sm.get_secret_value(SecretId=name)
    assert (got["SecretString"], got["VersionId"], got["VersionStages"]) == ("v2", two_versions[1], ["AWSCURRENT"])
    assert "CreatedDate" in got


def test_get_by_stage(sm: Any, name: str, two_versions: tuple[str, str]) -> None:
    previous = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert (previous["SecretString"], previous["VersionId"]) == ("v1", two_versions[0])
    assert previous["VersionStages"] == ["AWSPREVIOUS"]


def test_get_by_version_id(sm: Any, name: str, two_versions: tuple[str, str]) -> None:
    got = sm.get_secret_value(SecretId=name, VersionId=two_versions[0])
    assert (got["SecretString"], got["VersionStages"]) == ("v1", ["AWSPREVIOUS"])


def test_get_by_matching_version_id_and_stage(sm: Any, name: str, two_versions: tuple[str, str]) -> None:
    got = sm.get_secret_value(SecretId=name, VersionId=two_versions[1], VersionStage="AWSCURRENT")
    assert got["SecretString"] == "v2"


def test_get_by_mismatched_version_id_and_stage(sm: Any, name: str, two_versions: tuple[str, str]) -> None:
    # "If you include both this parameter and VersionId, the two parameters must refer to the
    # same secret version." Recorded AWS response: InvalidRequestException with this message.
    with pytest.raises(ClientError) as raised:
        sm.get_secret_value(SecretId=name, VersionId=two_versions[0], VersionStage="AWSCURRENT")
    assert_error(
        raised,
        "InvalidRequestException",
        "You provided a VersionStage that is not associated to the provided VersionId.",
    )


def test_get_unknown_version_id(sm: Any, name: str, two_versions: tuple[str, str]) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(ClientError) as raised:
        sm.get_secret_value(SecretId=name, VersionId=missing)
    assert_error(
        raised,
        "ResourceNotFoundException",
        f"Secrets Manager can't find the specified secret value for VersionId: {missing}",
    )


def test_get_unknown_stage(sm: Any, name: str, two_versions: tuple[str, str]) -> None:
    with pytest.raises(ClientError) as raised:
        sm.get_secret_value(SecretId=name, VersionStage="AWSPENDING")
    assert_error(
        raised,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: AWSPENDING",
    )


def test_no_previous_before_the_second_version(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="only")
    with pytest.raises(ClientError) as raised:
        sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert_error(
        raised,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS",
    )


def test_a_read_records_the_day_it_was_accessed(sm: Any, name: str) -> None:
    # AWS keeps LastAccessedDate to the day, on the secret and on the version read; the dates are
    # written in the background about once a second.
    version = sm.create_secret(Name=name, SecretString="v1")["VersionId"]
    assert "LastAccessedDate" not in sm.describe_secret(SecretId=name)
    sm.get_secret_value(SecretId=name)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    deadline = time.monotonic() + 10
    while "LastAccessedDate" not in (described := sm.describe_secret(SecretId=name)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert described["LastAccessedDate"] == today
    listed = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert [(v["VersionId"], v["LastAccessedDate"]) for v in listed] == [(version, today)]


def test_get_missing_secret(sm: Any, name: str) -> None:
    with pytest.raises(ClientError) as raised:
        sm.get_secret_value(SecretId=name)
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)


@pytest.mark.parametrize(
    "value",
    [
        "p\u00e4ssw\u00f6rd \u2603 \U0001f511 \u4e2d\u6587 \u0645\u0631\u062d\u0628\u0627",
        "e\u0301 combining, \u200d zero width, \ufeff bom",
        '{"user": "admin", "pass": "q\\"uote\\\\ \\u0000"}',
        "line one\nline two\r\n\ttabbed \x00 nul \x7f",
    ],
    ids=["multilingual", "combining", "json", "control"],
)
def test_unicode_values_round_trip(sm: Any, name: str, value: str) -> None:
    sm.create_secret(Name=name, SecretString=value)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == value
    sm.put_secret_value(SecretId=name, SecretString=value + "!")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == value + "!"


# --- PutSecretValue --------------------------------------------------------------------------------


def test_put_moves_current_and_previous(sm: Any, name: str) -> None:
    first = sm.create_secret(Name=name, SecretString="v1")["VersionId"]
    second = sm.put_secret_value(SecretId=name, SecretString="v2")
    assert second["VersionStages"] == ["AWSCURRENT"]
    third = sm.put_secret_value(SecretId=name, SecretString="v3")["VersionId"]
    labels = versions(sm, name)
    assert labels[third] == ["AWSCURRENT"]
    assert labels[second["VersionId"]] == ["AWSPREVIOUS"]
    assert labels[first] == []  # deprecated: no label left
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v2"


def test_put_binary(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="text first")
    sm.put_secret_value(SecretId=name, SecretBinary=b"\x00\x01\x02\xff")
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretBinary"] == b"\x00\x01\x02\xff"
    assert "SecretString" not in got


def test_put_with_custom_stage_leaves_current_alone(sm: Any, name: str) -> None:
    current = sm.create_secret(Name=name, SecretString="live")["VersionId"]
    put = sm.put_secret_value(SecretId=name, SecretString="staged", VersionStages=["blue"])
    assert put["VersionStages"] == ["blue"]
    assert sm.get_secret_value(SecretId=name)["VersionId"] == current
    assert sm.get_secret_value(SecretId=name, VersionStage="blue")["SecretString"] == "staged"
    assert versions(sm, name) == {current: ["AWSCURRENT"], put["VersionId"]: ["blue"]}


def test_put_with_current_and_custom_stages(sm: Any, name: str) -> None:
    first = sm.create_secret(Name=name, SecretString="v1")["VersionId"]
    put = sm.put_secret_value(SecretId=name, SecretString="v2", VersionStages=["AWSCURRENT", "green"])
    assert sorted(put["VersionStages"]) == ["AWSCURRENT", "green"]
    assert versions(sm, name) == {first: ["AWSPREVIOUS"], put["VersionId"]: ["AWSCURRENT", "green"]}


def test_a_label_of_any_text_comes_back_whole(sm: Any, name: str) -> None:
    # VersionStage is any text of 1 to 256 characters: a comma, quotes or a control character are kept.
    odd = 'x,y "z" \x1f é'
    current = sm.create_secret(Name=name, SecretString="v")["VersionId"]
    put = sm.put_secret_value(SecretId=name, SecretString="w", VersionStages=[odd, "AWSCURRENT"])
    assert sorted(sm.get_secret_value(SecretId=name)["VersionStages"]) == sorted(["AWSCURRENT", odd])
    assert sm.get_secret_value(SecretId=name, VersionStage=odd)["VersionId"] == put["VersionId"]
    assert versions(sm, name) == {current: ["AWSPREVIOUS"], put["VersionId"]: sorted(["AWSCURRENT", odd])}


def test_put_moves_labels_from_other_versions(sm: Any, name: str) -> None:
    # "If you specify a staging label that's already associated with a different version of the
    # same secret, then Secrets Manager removes the label from the other version" (and only those).
    current = sm.create_secret(Name=name, SecretString="v")["VersionId"]
    a = sm.put_secret_value(SecretId=name, SecretString="a", VersionStages=["one", "two", "three"])["VersionId"]
    b = sm.put_secret_value(SecretId=name, SecretString="b", VersionStages=["one", "two", "four"])["VersionId"]
    assert versions(sm, name) == {current: ["AWSCURRENT"], a: ["three"], b: ["four", "one", "two"]}


def test_put_retry_with_same_token_and_value_is_ignored(sm: Any, name: str, token: str) -> None:
    sm.create_secret(Name=name, SecretString="v1")
    first = sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=token)
    before = versions(sm, name)
    again = sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=token)
    assert again["VersionId"] == first["VersionId"] == token
    assert versions(sm, name) == before


def test_put_retry_with_same_token_and_other_value_fails(sm: Any, name: str, token: str) -> None:
    sm.create_secret(Name=name, SecretString="v1")
    sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=token)
    before = versions(sm, name)
    with pytest.raises(ClientError) as raised:
        sm.put_secret_value(SecretId=name, SecretString="v3", ClientRequestToken=token)
    assert_error(raised, "ResourceExistsException")
    assert versions(sm, name) == before
    assert sm.get_secret_value(SecretId=name, VersionId=token)["SecretString"] == "v2"


def test_put_retry_with_same_token_string_then_binary_fails(sm: Any, name: str, token: str) -> None:
    sm.create_secret(Name=name, SecretString="v1")
    sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=token)
    with pytest.raises(ClientError) as raised:
        sm.put_secret_value(SecretId=name, SecretBinary=b"v2", ClientRequestToken=token)
    assert_error(raised, "ResourceExistsException")


def test_put_largest_value(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="small")
    big = letters(64) * (MAX_VALUE // 64)
    assert len(big) == MAX_VALUE
    sm.put_secret_value(SecretId=name, SecretString=big)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == big
    blob = bytes(range(256)) * (MAX_VALUE // 256)
    sm.put_secret_value(SecretId=name, SecretBinary=blob)
    assert sm.get_secret_value(SecretId=name)["SecretBinary"] == blob


def test_put_value_one_over_the_limit(sm: Any, name: str) -> None:
    # Coral validation of SecretStringType (max 65536); the value is sensitive, so not echoed.
    sm.create_secret(Name=name, SecretString="small")
    before = versions(sm, name)
    with pytest.raises(ClientError) as raised:
        sm.put_secret_value(SecretId=name, SecretString="x" * (MAX_VALUE + 1))
    assert_error(
        raised,
        "ValidationException",
        validation(
            violation("secretString", "Member must have length less than or equal to 65536", "hidden", shown=False)
        ),
    )
    with pytest.raises(ClientError) as raised:
        sm.put_secret_value(SecretId=name, SecretBinary=b"x" * (MAX_VALUE + 1))
    assert_error(
        raised,
        "ValidationException",
        validation(
            violation("secretBinary", "Member must have length less than or equal to 65536", "hidden", shown=False)
        ),
    )
    assert versions(sm, name) == before


def test_put_without_a_value(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    before = versions(sm, name)
    with pytest.raises(ClientError) as raised:
        sm.put_secret_value(SecretId=name)
    assert_error(raised, "InvalidRequestException")
    assert versions(sm, name) == before


def test_put_both_values(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    with pytest.raises(ClientError) as raised:
        sm.put_secret_value(SecretId=name, SecretString="s", SecretBinary=b"b")
    assert_error(
        raised,
        "InvalidParameterException",
        "You can't specify both a binary secret value and a string secret value in the same secret.",
    )


def test_put_to_missing_secret(sm: Any, name: str) -> None:
    with pytest.raises(ClientError) as raised:
        sm.put_secret_value(SecretId=name, SecretString="v")
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)


# --- BatchGetSecretValue ---------------------------------------------------------------------------


def test_batch_by_id_list_reports_the_missing_one(sm: Any) -> None:
    base = f"batch/{letters()}"
    arns = {f"{base}/{i}": sm.create_secret(Name=f"{base}/{i}", SecretString=f"value {i}")["ARN"] for i in range(3)}
    missing = f"{base}/missing"
    got = sm.batch_get_secret_value(SecretIdList=[*arns, missing])
    values = {v["Name"]: v for v in got["SecretValues"]}
    assert set(values) == set(arns)
    for secret_name, arn in arns.items():
        assert values[secret_name]["ARN"] == arn
        assert values[secret_name]["SecretString"] == f"value {secret_name[-1]}"
        assert values[secret_name]["VersionStages"] == ["AWSCURRENT"]
    assert got["Errors"] == [{"SecretId": missing, "ErrorCode": "ResourceNotFoundException", "Message": NOT_FOUND}]


def test_batch_by_filters_pages(sm: Any) -> None:
    base = f"batchf/{letters()}"
    wanted = {f"{base}/{i}": f"v{i}" for i in range(5)}
    for secret_name, value in wanted.items():
        sm.create_secret(Name=secret_name, SecretString=value)
    seen: dict[str, str] = {}
    kwargs: dict[str, Any] = {"Filters": [{"Key": "name", "Values": [base]}], "MaxResults": 2}
    pages = 0
    while True:
        page = sm.batch_get_secret_value(**kwargs)
        pages += 1
        assert len(page["SecretValues"]) <= 2
        for v in page["SecretValues"]:
            assert v["Name"] not in seen
            seen[v["Name"]] = v["SecretString"]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
        assert pages < 20
    assert seen == wanted
    assert pages >= 3


def test_batch_with_both_ids_and_filters(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    with pytest.raises(ClientError) as raised:
        sm.batch_get_secret_value(SecretIdList=[name], Filters=[{"Key": "name", "Values": [name]}])
    assert_error(raised, "InvalidParameterException")


def test_batch_with_neither_ids_nor_filters(sm: Any) -> None:
    with pytest.raises(ClientError) as raised:
        sm.batch_get_secret_value()
    assert_error(raised, "InvalidParameterException")


def test_batch_max_results_needs_filters(sm: Any, name: str) -> None:
    # MaxResults: "To use this parameter, you must also use the Filters parameter."
    sm.create_secret(Name=name, SecretString="v")
    with pytest.raises(ClientError) as raised:
        sm.batch_get_secret_value(SecretIdList=[name], MaxResults=5)
    assert_error(raised, "InvalidParameterException")


def test_batch_reports_a_deleted_secret_as_an_error(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    sm.delete_secret(SecretId=name)
    got = sm.batch_get_secret_value(SecretIdList=[name])
    assert got["SecretValues"] == []
    assert [(e["SecretId"], e["ErrorCode"]) for e in got["Errors"]] == [(name, "InvalidRequestException")]
