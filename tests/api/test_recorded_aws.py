"""Answers recorded from AWS Secrets Manager that Tumbler must give the same (issue 25, "Recorded AWS behaviour").

SDKs fill ClientRequestToken in, so the requests that must lack it go out hand-signed (helpers.post).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import post
from tests.api.rotation_helpers import create_function, stages
from tests.conftest import LiveServer

NO_TOKEN = "You must provide a ClientRequestToken value. We recommend a UUID-type value."
CANNOT_INVOKE = (
    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access "
    "to the principal secretsmanager.amazonaws.com."
)


@pytest.fixture(scope="module")
def lam(server: LiveServer) -> Any:
    return server.client("lambda")


def today() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def error(call: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return dict(raised.value.response["Error"])


# -- 1. LastAccessedDate right after a read ------------------------------------------------------------


def test_last_accessed_date_is_shown_right_after_a_read(sm: Any, name: str) -> None:
    version = sm.create_secret(Name=name, SecretString="v")["VersionId"]
    assert "LastAccessedDate" not in sm.describe_secret(SecretId=name)
    sm.get_secret_value(SecretId=name)
    assert sm.describe_secret(SecretId=name)["LastAccessedDate"] == today()
    listed = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert [(v["VersionId"], v.get("LastAccessedDate")) for v in listed] == [(version, today())]


# -- 2. a raw request without ClientRequestToken -------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "body", "code"),
    [
        ("PutSecretValue", {"SecretString": "v"}, "InvalidRequestException"),
        ("UpdateSecret", {"SecretString": "v"}, "InvalidRequestException"),
        ("RotateSecret", {}, "InvalidParameterException"),
    ],
)
def test_a_missing_token_is_refused_before_the_secret_is_looked_up(
    server: LiveServer, operation: str, body: dict[str, Any], code: str
) -> None:
    answer = post(server, {"SecretId": f"test/missing-{uuid.uuid4().hex[:8]}", **body}, operation)
    assert (answer.status, answer.code, answer.message) == (400, code, NO_TOKEN)


def test_create_secret_with_a_value_needs_a_token(server: LiveServer, sm: Any, name: str) -> None:
    answer = post(server, {"Name": name, "SecretString": "v"}, "CreateSecret")
    assert (answer.status, answer.code, answer.message) == (400, "InvalidRequestException", NO_TOKEN)
    assert error(sm.describe_secret, SecretId=name)["Code"] == "ResourceNotFoundException"
    without_value = post(server, {"Name": name}, "CreateSecret")  # nothing to make idempotent: no token needed
    assert without_value.status == 200, without_value.body
    assert "VersionIdsToStages" not in sm.describe_secret(SecretId=name)


def test_an_existing_secret_still_needs_the_token(server: LiveServer, sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v1")
    before = stages(sm, name)
    for operation in ("PutSecretValue", "UpdateSecret"):
        answer = post(server, {"SecretId": name, "SecretString": "v2"}, operation)
        assert (answer.status, answer.code, answer.message) == (400, "InvalidRequestException", NO_TOKEN)
    assert stages(sm, name) == before


# -- 3. a token reused with another value ---------------------------------------------------------------


def test_a_reused_token_with_another_value(sm: Any, name: str, token: str) -> None:
    arn = sm.create_secret(Name=name, SecretString="v1", ClientRequestToken=token)["ARN"]
    expected = {
        "Code": "ResourceExistsException",
        "Message": f"You can't use ClientRequestToken {token} because that value is already in use for a version "
        f"of secret {arn}.",
    }
    assert error(sm.put_secret_value, SecretId=name, SecretString="v2", ClientRequestToken=token) == expected
    assert error(sm.update_secret, SecretId=name, SecretString="v2", ClientRequestToken=token) == expected
    assert error(sm.create_secret, Name=name, SecretString="v2", ClientRequestToken=token) == expected
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"
    again = sm.put_secret_value(SecretId=name, SecretString="v1", ClientRequestToken=token)  # a retry still succeeds
    assert again["VersionId"] == token


# -- 4. a stale AWSPENDING on the old current version ---------------------------------------------------


def test_a_new_current_version_takes_awspending_off_the_old_one(sm: Any, name: str) -> None:
    old = sm.create_secret(Name=name, SecretString="v1")["VersionId"]
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", MoveToVersionId=old)
    assert sorted(stages(sm, name)[old]) == ["AWSCURRENT", "AWSPENDING"]
    new = sm.put_secret_value(SecretId=name, SecretString="v2")["VersionId"]
    assert stages(sm, name) == {old: ["AWSPREVIOUS"], new: ["AWSCURRENT"]}


# -- 5. versions oldest first ---------------------------------------------------------------------------


def test_versions_are_listed_oldest_first(sm: Any, name: str) -> None:
    first = sm.create_secret(Name=name, SecretString="v1")["VersionId"]
    time.sleep(0.01)
    second = sm.put_secret_value(SecretId=name, SecretString="v2")["VersionId"]
    time.sleep(0.01)
    third = sm.put_secret_value(SecretId=name, SecretString="v3", VersionStages=["custom"])["VersionId"]
    assert list(stages(sm, name)) == [first, second, third]
    listed = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert [v["VersionId"] for v in listed] == [first, second, third]


# -- 6. a forced delete of a secret that does not exist -------------------------------------------------


def test_forced_delete_of_a_missing_secret_answers_as_if_it_existed(sm: Any, name: str) -> None:
    answer = sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert answer["Name"] == name
    assert answer["ARN"].startswith(f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-")
    assert abs((answer["DeletionDate"] - datetime.now(UTC)).total_seconds()) < 60


# -- 7. an empty Description ----------------------------------------------------------------------------


def test_an_empty_description_is_not_shown(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v", Description="")
    assert "Description" not in sm.describe_secret(SecretId=name)
    sm.update_secret(SecretId=name, Description="set")
    assert sm.describe_secret(SecretId=name)["Description"] == "set"
    sm.update_secret(SecretId=name, Description="")
    assert "Description" not in sm.describe_secret(SecretId=name)


# -- 8. a rotation function that does not exist --------------------------------------------------------


def test_rotating_with_a_missing_function_is_access_denied(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    missing = f"arn:aws:lambda:us-east-1:123456789012:function:missing-{uuid.uuid4().hex[:8]}"
    assert error(sm.rotate_secret, SecretId=name, RotationLambdaARN=missing) == {
        "Code": "AccessDeniedException",
        "Message": CANNOT_INVOKE,
    }
    assert "RotationEnabled" not in sm.describe_secret(SecretId=name)


# -- 9. changing the schedule while the first RotateSecret's test still runs ----------------------------


def test_a_schedule_change_right_after_setting_one_succeeds(sm: Any, lam: Any, name: str) -> None:
    fn = create_function(lam, "generic_rotation.py", {"SLEEP_STEP": "testSecret", "SLEEP_SECONDS": "3"})
    sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": "initial"}))
    sm.rotate_secret(
        SecretId=name, RotationLambdaARN=fn, RotationRules={"AutomaticallyAfterDays": 10}, RotateImmediately=False
    )
    sm.rotate_secret(SecretId=name, RotationRules={"AutomaticallyAfterDays": 20}, RotateImmediately=False)
    described = sm.describe_secret(SecretId=name)
    assert described["RotationRules"] == {"AutomaticallyAfterDays": 20}
    assert described["RotationEnabled"] is True
