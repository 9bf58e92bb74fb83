"""Staging labels (UpdateSecretVersionStage) and the version list (ListSecretVersionIds)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import NOT_FOUND, assert_error, versions


@pytest.fixture
def v1_v2(sm: Any, name: str) -> tuple[str, str]:
    """v1 (AWSPREVIOUS, "v1") and v2 (AWSCURRENT, "v2")."""
    first = sm.create_secret(Name=name, SecretString="v1")["VersionId"]
    second = sm.put_secret_value(SecretId=name, SecretString="v2")["VersionId"]
    return first, second


# --- UpdateSecretVersionStage ----------------------------------------------------------------------


def test_moving_current_requires_remove_from(sm: Any, name: str, v1_v2: tuple[str, str]) -> None:
    # MoveToVersionId: "If the staging label is already attached to a different version of the
    # secret, then you must also specify the RemoveFromVersionId parameter."
    v1, _ = v1_v2
    before = versions(sm, name)
    with pytest.raises(ClientError) as raised:
        sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v1)
    assert_error(raised, "InvalidParameterException")
    assert versions(sm, name) == before


def test_roll_back_current_and_previous_follows(sm: Any, name: str, v1_v2: tuple[str, str]) -> None:
    v1, v2 = v1_v2
    moved = sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v1, RemoveFromVersionId=v2
    )
    assert moved["Name"] == name
    # "Whenever you move AWSCURRENT, Secrets Manager automatically moves the label AWSPREVIOUS to
    # the version that AWSCURRENT was removed from."
    assert versions(sm, name) == {v1: ["AWSCURRENT"], v2: ["AWSPREVIOUS"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v2"


def test_remove_from_must_hold_the_label(sm: Any, name: str, v1_v2: tuple[str, str]) -> None:
    # RemoveFromVersionId: "If the label is attached and you either do not specify this
    # parameter, or the version ID does not match, then the operation fails."
    v1, _ = v1_v2
    before = versions(sm, name)
    with pytest.raises(ClientError) as raised:
        sm.update_secret_version_stage(
            SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=v1, RemoveFromVersionId=v1
        )
    assert_error(raised, "InvalidParameterException")
    assert versions(sm, name) == before


def test_custom_label_added_moved_and_removed(sm: Any, name: str, v1_v2: tuple[str, str]) -> None:
    v1, v2 = v1_v2
    sm.update_secret_version_stage(SecretId=name, VersionStage="blue", MoveToVersionId=v1)
    assert versions(sm, name) == {v1: ["AWSPREVIOUS", "blue"], v2: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=name, VersionStage="blue")["SecretString"] == "v1"

    with pytest.raises(ClientError) as raised:  # attached elsewhere: RemoveFromVersionId is required
        sm.update_secret_version_stage(SecretId=name, VersionStage="blue", MoveToVersionId=v2)
    assert_error(raised, "InvalidParameterException")

    sm.update_secret_version_stage(SecretId=name, VersionStage="blue", MoveToVersionId=v2, RemoveFromVersionId=v1)
    assert versions(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT", "blue"]}

    sm.update_secret_version_stage(SecretId=name, VersionStage="blue", RemoveFromVersionId=v2)
    assert versions(sm, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}
    with pytest.raises(ClientError) as raised:
        sm.get_secret_value(SecretId=name, VersionStage="blue")
    assert_error(
        raised,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: blue",
    )


def test_removing_the_last_label_deprecates_the_version(sm: Any, name: str, v1_v2: tuple[str, str]) -> None:
    v1, v2 = v1_v2
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPREVIOUS", RemoveFromVersionId=v1)
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == {v2: ["AWSCURRENT"]}
    listed = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert [v["VersionId"] for v in listed] == [v2]
    deprecated = [
        v for v in sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"] if v["VersionId"] == v1
    ]
    assert len(deprecated) == 1
    assert "VersionStages" not in deprecated[0]
    # a deprecated version is still readable by id until Secrets Manager removes it
    assert sm.get_secret_value(SecretId=name, VersionId=v1)["SecretString"] == "v1"


def test_update_stage_of_unknown_version(sm: Any, name: str, v1_v2: tuple[str, str]) -> None:
    before = versions(sm, name)
    with pytest.raises(ClientError) as raised:
        sm.update_secret_version_stage(
            SecretId=name, VersionStage="blue", MoveToVersionId="00000000-0000-0000-0000-000000000000"
        )
    # AWS documents no code for this case; either of the two it declares for the operation will do.
    assert raised.value.response["Error"]["Code"] in ("InvalidParameterException", "ResourceNotFoundException")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert versions(sm, name) == before


def test_update_stage_changes_last_changed_date(sm: Any, name: str, v1_v2: tuple[str, str]) -> None:
    before = sm.describe_secret(SecretId=name)["LastChangedDate"]
    sm.update_secret_version_stage(SecretId=name, VersionStage="blue", MoveToVersionId=v1_v2[0])
    assert sm.describe_secret(SecretId=name)["LastChangedDate"] >= before


def test_update_stage_on_missing_secret(sm: Any, name: str) -> None:
    with pytest.raises(ClientError) as raised:
        sm.update_secret_version_stage(SecretId=name, VersionStage="blue", RemoveFromVersionId="a" * 32)
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)


# --- ListSecretVersionIds --------------------------------------------------------------------------


def test_list_versions_fields(sm: Any, name: str, v1_v2: tuple[str, str]) -> None:
    listed = sm.list_secret_version_ids(SecretId=name)
    assert listed["Name"] == name
    assert listed["ARN"] == sm.describe_secret(SecretId=name)["ARN"]
    by_id = {v["VersionId"]: v for v in listed["Versions"]}
    assert set(by_id) == set(v1_v2)
    for entry in by_id.values():
        assert "CreatedDate" in entry
        assert entry["KmsKeyIds"] == ["DefaultEncryptionKey"]


def test_list_versions_with_and_without_deprecated(sm: Any, name: str) -> None:
    ids = [sm.create_secret(Name=name, SecretString="0")["VersionId"]]
    ids += [sm.put_secret_value(SecretId=name, SecretString=str(i))["VersionId"] for i in range(1, 4)]
    labelled = {v["VersionId"] for v in sm.list_secret_version_ids(SecretId=name)["Versions"]}
    assert labelled == set(ids[-2:])  # only AWSCURRENT and AWSPREVIOUS carry labels
    everything = {v["VersionId"] for v in sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]}
    assert everything == set(ids)


def test_list_versions_pages(sm: Any, name: str) -> None:
    ids = {sm.create_secret(Name=name, SecretString="0")["VersionId"]}
    ids |= {sm.put_secret_value(SecretId=name, SecretString=str(i))["VersionId"] for i in range(1, 7)}
    seen: list[str] = []
    kwargs: dict[str, Any] = {"SecretId": name, "IncludeDeprecated": True, "MaxResults": 3}
    pages = 0
    while True:
        page = sm.list_secret_version_ids(**kwargs)
        pages += 1
        assert len(page["Versions"]) <= 3
        seen += [v["VersionId"] for v in page["Versions"]]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
        assert pages < 20
    assert sorted(seen) == sorted(ids)  # each version exactly once
    assert pages >= 3


def test_list_versions_garbage_token(sm: Any, name: str, v1_v2: tuple[str, str]) -> None:
    with pytest.raises(ClientError) as raised:
        sm.list_secret_version_ids(SecretId=name, NextToken="not-a-token-we-ever-gave-out")
    assert_error(raised, "InvalidNextTokenException")


def test_list_versions_of_missing_secret(sm: Any, name: str) -> None:
    with pytest.raises(ClientError) as raised:
        sm.list_secret_version_ids(SecretId=name)
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)


def test_versions_younger_than_a_day_are_never_pruned(sm: Any, name: str) -> None:
    # PutSecretValue: "Secrets Manager keeps 100 of the most recent versions, but it keeps all
    # secret versions created in the last 24 hours."
    ids = [sm.create_secret(Name=name, SecretString="0")["VersionId"]]
    ids += [sm.put_secret_value(SecretId=name, SecretString=str(i))["VersionId"] for i in range(1, 105)]
    assert len(ids) == 105
    kept = versions(sm, name)
    assert set(kept) == set(ids)
    assert kept[ids[-1]] == ["AWSCURRENT"]
    assert kept[ids[-2]] == ["AWSPREVIOUS"]
    assert sm.get_secret_value(SecretId=name, VersionId=ids[0])["SecretString"] == "0"
