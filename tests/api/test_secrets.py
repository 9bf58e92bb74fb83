"""A secret's life: CreateSecret, DescribeSecret, UpdateSecret, DeleteSecret and RestoreSecret.

Expected behaviour is AWS's: the Secrets Manager API reference (botocore's service model carries
its text) and the responses AWS recorded for LocalStack's AWS-validated snapshots, which give
the exact error messages.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import (
    ACCOUNT,
    INVALID_NAME,
    MARKED_FOR_DELETION,
    NOT_FOUND,
    assert_error,
    now,
)

SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


def arn_pattern(name: str, region: str = "us-east-1") -> re.Pattern[str]:
    """The documented ARN: the name, a hyphen and six random characters."""
    return re.compile(rf"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{re.escape(name)}-[A-Za-z0-9]{{6}}")


def close_to_now(moment: datetime, slack: timedelta = timedelta(minutes=2)) -> bool:
    return abs(moment - now()) < slack


# --- CreateSecret ------------------------------------------------------------------------------


def test_create_string_secret(sm: Any, name: str) -> None:
    created = sm.create_secret(Name=name, SecretString="hunter2")
    assert created["Name"] == name
    assert arn_pattern(name).fullmatch(created["ARN"])
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretString"] == "hunter2"
    assert "SecretBinary" not in got
    assert got["VersionId"] == created["VersionId"]
    assert got["VersionStages"] == ["AWSCURRENT"]
    assert got["ARN"] == created["ARN"]


def test_create_binary_secret_keeps_every_byte(sm: Any, name: str) -> None:
    payload = bytes(range(256)) + b"\x00\xff\xfe"
    created = sm.create_secret(Name=name, SecretBinary=payload)
    got = sm.get_secret_value(SecretId=name)
    assert got["SecretBinary"] == payload
    assert "SecretString" not in got
    assert got["VersionId"] == created["VersionId"]


def test_create_without_a_value_makes_no_version(sm: Any, name: str) -> None:
    created = sm.create_secret(Name=name, Description="empty for now")
    assert "VersionId" not in created
    described = sm.describe_secret(SecretId=name)
    # AWS omits VersionIdsToStages for a secret with no versions (recorded AWS response).
    assert "VersionIdsToStages" not in described
    assert sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"] == []
    with pytest.raises(ClientError) as raised:
        sm.get_secret_value(SecretId=name)
    assert_error(
        raised,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
    )


def test_first_put_on_an_empty_secret_becomes_current(sm: Any, name: str) -> None:
    sm.create_secret(Name=name)
    put = sm.put_secret_value(SecretId=name, SecretString="first")
    assert put["VersionStages"] == ["AWSCURRENT"]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "first"


def test_create_with_description_and_tags(sm: Any, name: str) -> None:
    tags = [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "payments"}]
    sm.create_secret(Name=name, SecretString="v", Description="db creds", Tags=tags)
    described = sm.describe_secret(SecretId=name)
    assert described["Description"] == "db creds"
    assert sorted(described["Tags"], key=lambda t: t["Key"]) == tags


def test_default_kms_key_is_the_aws_managed_one(sm: Any, name: str) -> None:
    # DescribeSecret: "If the secret is encrypted with the AWS managed key aws/secretsmanager,
    # this field is omitted." ListSecretVersionIds names it DefaultEncryptionKey (recorded AWS).
    sm.create_secret(Name=name, SecretString="v")
    assert "KmsKeyId" not in sm.describe_secret(SecretId=name)
    listed = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert [v["KmsKeyIds"] for v in listed] == [["DefaultEncryptionKey"]]


def test_explicit_default_kms_alias_is_accepted(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v", KmsKeyId="alias/aws/secretsmanager")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"


def test_create_duplicate_name(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="one")
    with pytest.raises(ClientError) as raised:
        sm.create_secret(Name=name, SecretString="two")
    assert_error(raised, "ResourceExistsException", f"The operation failed because the secret {name} already exists.")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "one"


def test_create_name_scheduled_for_deletion(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="one")
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    with pytest.raises(ClientError) as raised:
        sm.create_secret(Name=name, SecretString="two")
    assert_error(
        raised,
        "InvalidRequestException",
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
    )


@pytest.mark.parametrize("bad", ["Inv Name", " Inv*Name? ", "Inv *?!]Name\\-", "tab\tname", "emoji-\u2603"])
def test_create_invalid_name_characters(sm: Any, bad: str) -> None:
    # Recorded AWS responses: ValidationException with this message, HTTP 400.
    with pytest.raises(ClientError) as raised:
        sm.create_secret(Name=bad, SecretString="v")
    assert_error(raised, "ValidationException", INVALID_NAME)


def test_create_name_with_every_allowed_punctuation(sm: Any, name: str) -> None:
    allowed = f"{name}/_+=.@-x"
    created = sm.create_secret(Name=allowed, SecretString="v")
    assert arn_pattern(allowed).fullmatch(created["ARN"])
    assert sm.get_secret_value(SecretId=allowed)["SecretString"] == "v"


def test_create_with_both_values(sm: Any, name: str) -> None:
    with pytest.raises(ClientError) as raised:
        sm.create_secret(Name=name, SecretString="s", SecretBinary=b"b")
    assert_error(
        raised,
        "InvalidParameterException",
        "You can't specify both a binary secret value and a string secret value in the same secret.",
    )
    with pytest.raises(ClientError) as raised:
        sm.describe_secret(SecretId=name)
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)


def test_create_retry_with_same_token_and_value_is_ignored(sm: Any, name: str, token: str) -> None:
    first = sm.create_secret(Name=name, SecretString="v", ClientRequestToken=token)
    again = sm.create_secret(Name=name, SecretString="v", ClientRequestToken=token)
    assert again["ARN"] == first["ARN"]
    assert again["VersionId"] == first["VersionId"] == token
    assert list(sm.describe_secret(SecretId=name)["VersionIdsToStages"]) == [token]


def test_create_retry_with_same_token_and_other_value_fails(sm: Any, name: str, token: str) -> None:
    sm.create_secret(Name=name, SecretString="v", ClientRequestToken=token)
    with pytest.raises(ClientError) as raised:
        sm.create_secret(Name=name, SecretString="other", ClientRequestToken=token)
    assert_error(raised, "ResourceExistsException")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"


def test_client_request_token_becomes_the_version_id(sm: Any, name: str, token: str) -> None:
    created = sm.create_secret(Name=name, SecretString="v", ClientRequestToken=token)
    assert created["VersionId"] == token


# --- DescribeSecret and lookups --------------------------------------------------------------------


def test_describe_fields(sm: Any, name: str) -> None:
    created = sm.create_secret(Name=name, SecretString="v", Tags=[{"Key": "k", "Value": "v"}])
    described = sm.describe_secret(SecretId=name)
    assert described["ARN"] == created["ARN"]
    assert described["Name"] == name
    assert described["VersionIdsToStages"] == {created["VersionId"]: ["AWSCURRENT"]}
    assert close_to_now(described["CreatedDate"])
    assert close_to_now(described["LastChangedDate"])
    assert described["Tags"] == [{"Key": "k", "Value": "v"}]
    assert "DeletedDate" not in described
    assert "Description" not in described


def test_arn_suffix_is_random_per_secret(sm: Any, name: str) -> None:
    first = sm.create_secret(Name=name, SecretString="v")["ARN"]
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    second = sm.create_secret(Name=name, SecretString="v")["ARN"]
    assert SUFFIX.search(first)
    assert SUFFIX.search(second)
    assert first != second  # a new secret of the same name is a different resource


@pytest.mark.parametrize("how", ["name", "full-arn", "partial-arn"])
def test_lookup_by_name_full_arn_and_partial_arn(sm: Any, name: str, how: str) -> None:
    arn = sm.create_secret(Name=name, SecretString="found me")["ARN"]
    secret_id = {"name": name, "full-arn": arn, "partial-arn": SUFFIX.sub("", arn)}[how]
    assert sm.describe_secret(SecretId=secret_id)["ARN"] == arn
    assert sm.get_secret_value(SecretId=secret_id)["SecretString"] == "found me"


def test_describe_missing_secret(sm: Any, name: str) -> None:
    with pytest.raises(ClientError) as raised:
        sm.describe_secret(SecretId=name)
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)


# --- UpdateSecret ----------------------------------------------------------------------------------


def test_update_description_only_makes_no_version(sm: Any, name: str) -> None:
    created = sm.create_secret(Name=name, SecretString="v", Description="old")
    updated = sm.update_secret(SecretId=name, Description="new")
    assert "VersionId" not in updated
    assert updated["ARN"] == created["ARN"]
    described = sm.describe_secret(SecretId=name)
    assert described["Description"] == "new"
    assert described["VersionIdsToStages"] == {created["VersionId"]: ["AWSCURRENT"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"


def test_update_value_moves_current_and_previous(sm: Any, name: str) -> None:
    first = sm.create_secret(Name=name, SecretString="v1")["VersionId"]
    updated = sm.update_secret(SecretId=name, SecretString="v2")
    second = updated["VersionId"]
    assert second != first
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == {
        second: ["AWSCURRENT"], first: ["AWSPREVIOUS"],
    }  # fmt: skip
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v2"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v1"


def test_update_changes_last_changed_date(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    before = sm.describe_secret(SecretId=name)["LastChangedDate"]
    sm.update_secret(SecretId=name, Description="touched")
    assert sm.describe_secret(SecretId=name)["LastChangedDate"] >= before


def test_update_missing_secret(sm: Any, name: str) -> None:
    with pytest.raises(ClientError) as raised:
        sm.update_secret(SecretId=name, Description="x")
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)


def test_update_deleted_secret(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    sm.delete_secret(SecretId=name)
    with pytest.raises(ClientError) as raised:
        sm.update_secret(SecretId=name, SecretString="v2")
    assert_error(raised, "InvalidRequestException", MARKED_FOR_DELETION)


# --- DeleteSecret ----------------------------------------------------------------------------------


def test_delete_defaults_to_a_30_day_window(sm: Any, name: str) -> None:
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    deleted = sm.delete_secret(SecretId=name)
    assert deleted["ARN"] == arn
    assert deleted["Name"] == name
    assert abs(deleted["DeletionDate"] - (now() + timedelta(days=30))) < timedelta(minutes=2)
    described = sm.describe_secret(SecretId=name)  # still there, in its recovery window
    assert "DeletedDate" in described


@pytest.mark.parametrize("days", [7, 30])
def test_delete_window_bounds_are_accepted(sm: Any, name: str, days: int) -> None:
    sm.create_secret(Name=name, SecretString="v")
    deleted = sm.delete_secret(SecretId=name, RecoveryWindowInDays=days)
    assert abs(deleted["DeletionDate"] - (now() + timedelta(days=days))) < timedelta(minutes=2)


@pytest.mark.parametrize("days", [0, 6, 31])
def test_delete_window_out_of_bounds(sm: Any, name: str, days: int) -> None:
    sm.create_secret(Name=name, SecretString="v")
    with pytest.raises(ClientError) as raised:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=days)
    assert_error(
        raised, "InvalidParameterException", "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
    )
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)


def test_delete_with_both_window_and_force(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    with pytest.raises(ClientError) as raised:
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert_error(
        raised,
        "InvalidParameterException",
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
    )
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"


def test_force_delete_removes_immediately(sm: Any, name: str) -> None:
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    deleted = sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert deleted["ARN"] == arn
    assert close_to_now(deleted["DeletionDate"])
    with pytest.raises(ClientError) as raised:
        sm.describe_secret(SecretId=name)
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)
    sm.create_secret(Name=name, SecretString="reborn")  # the name is free again
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "reborn"


def test_force_delete_of_a_missing_secret_succeeds(sm: Any, name: str) -> None:
    # "If you forcibly delete an already deleted or nonexistent secret, the operation does not
    # return ResourceNotFoundException."
    deleted = sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_force_delete_of_a_scheduled_secret(sm: Any, name: str) -> None:
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    sm.delete_secret(SecretId=name)
    assert sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)["ARN"] == arn
    with pytest.raises(ClientError) as raised:
        sm.describe_secret(SecretId=name)
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)


def test_delete_missing_secret_without_force(sm: Any, name: str) -> None:
    with pytest.raises(ClientError) as raised:
        sm.delete_secret(SecretId=name)
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)


def test_delete_twice(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    sm.delete_secret(SecretId=name)
    deleted_at = sm.describe_secret(SecretId=name)["DeletedDate"]
    with pytest.raises(ClientError) as raised:
        sm.delete_secret(SecretId=name)
    assert_error(raised, "InvalidRequestException")
    assert sm.describe_secret(SecretId=name)["DeletedDate"] == deleted_at


def test_get_value_of_a_deleted_secret(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    sm.delete_secret(SecretId=name)
    with pytest.raises(ClientError) as raised:
        sm.get_secret_value(SecretId=name)
    assert_error(raised, "InvalidRequestException", MARKED_FOR_DELETION)


def test_list_hides_deleted_secrets_unless_asked(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    sm.delete_secret(SecretId=name)
    only_mine = [{"Key": "name", "Values": [name]}]
    assert sm.list_secrets(Filters=only_mine)["SecretList"] == []
    listed = sm.list_secrets(Filters=only_mine, IncludePlannedDeletion=True)["SecretList"]
    assert [s["Name"] for s in listed] == [name]
    assert "DeletedDate" in listed[0]


# --- RestoreSecret ---------------------------------------------------------------------------------


def test_restore_cancels_the_deletion(sm: Any, name: str) -> None:
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    sm.delete_secret(SecretId=name)
    restored = sm.restore_secret(SecretId=name)
    assert (restored["ARN"], restored["Name"]) == (arn, name)
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"
    assert [s["Name"] for s in sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]] == [name]


def test_restore_missing_secret(sm: Any, name: str) -> None:
    with pytest.raises(ClientError) as raised:
        sm.restore_secret(SecretId=name)
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)


def test_restore_after_force_delete_is_not_found(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as raised:
        sm.restore_secret(SecretId=name)
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)
