"""Function policies enforced for the rotation service: Secrets Manager invokes a rotation function only if its
policy (what `lambda add-permission` stores) allows secretsmanager.amazonaws.com, with aws:SourceAccount and
aws:SourceArn set to the secret's account and ARN. Real functions run out of process; permissions are added with
the real AWS CLI, as in AWS's rotation walkthrough.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import ACCOUNT, snapshot
from tests.api.rotation_helpers import ROLE, current_is, execution_role, wait_for, zip_of
from tests.conftest import LiveServer

CANNOT_INVOKE = (
    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access "
    "to the principal secretsmanager.amazonaws.com."
)
OTHER_ACCOUNT = "210987654321"


@pytest.fixture(scope="module")
def lam(server: LiveServer) -> Any:
    client = server.client("lambda")
    execution_role(client)  # ROLE exists and trusts Lambda
    return client


def bare_function(lam: Any, env: dict[str, str] | None = None) -> str:
    """A rotation function with no policy at all: the state before `add-permission`."""
    name = f"rot-{uuid.uuid4().hex[:10]}"
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="lambda_function.lambda_handler",
        Code={"ZipFile": zip_of("generic_rotation.py")}, Timeout=30, Environment={"Variables": env or {}},
    )  # fmt: skip
    return name


def add_permission(server: LiveServer, function: str, *condition: str) -> None:
    server.aws(
        "lambda", "add-permission", "--function-name", function, "--action", "lambda:InvokeFunction",
        "--statement-id", "SecretsManager", "--principal", "secretsmanager.amazonaws.com", *condition,
    )  # fmt: skip


def new_secret(sm: Any, name: str) -> str:
    return str(sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": "initial"}))["ARN"])


def arn_of(lam: Any, function: str) -> str:
    return str(lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"])


def assert_refused(sm: Any, name: str, function_arn: str) -> None:
    before = snapshot(sm, name)
    with pytest.raises(ClientError) as raised:
        sm.rotate_secret(SecretId=name, RotationLambdaARN=function_arn)
    assert raised.value.response["Error"] == {"Code": "AccessDeniedException", "Message": CANNOT_INVOKE}
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert snapshot(sm, name) == before  # nothing configured, no AWSPENDING version
    assert "RotationEnabled" not in sm.describe_secret(SecretId=name)


def rotates(sm: Any, name: str, function_arn: str) -> None:
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=function_arn)["VersionId"]
    wait_for(lambda: current_is(sm, name, token))


def history(server: LiveServer, secret_id: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "tumbler.cli", "rotations", secret_id, "--data-dir", str(server.data_dir), "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_a_function_without_the_permission_is_refused(server: LiveServer, sm: Any, lam: Any, name: str) -> None:
    new_secret(sm, name)
    function = bare_function(lam)
    assert_refused(sm, name, arn_of(lam, function))
    add_permission(server, function, "--source-account", ACCOUNT)  # the walkthrough's step
    rotates(sm, name, arn_of(lam, function))


def test_another_source_account_is_refused(server: LiveServer, sm: Any, lam: Any, name: str) -> None:
    new_secret(sm, name)
    function = bare_function(lam)
    add_permission(server, function, "--source-account", OTHER_ACCOUNT)
    assert_refused(sm, name, arn_of(lam, function))


def test_a_permission_for_another_service_is_refused(server: LiveServer, sm: Any, lam: Any, name: str) -> None:
    new_secret(sm, name)
    function = bare_function(lam)
    server.aws(
        "lambda", "add-permission", "--function-name", function, "--action", "lambda:InvokeFunction",
        "--statement-id", "Events", "--principal", "events.amazonaws.com", "--source-account", ACCOUNT,
    )  # fmt: skip
    assert_refused(sm, name, arn_of(lam, function))


def test_source_arn_names_the_one_secret(server: LiveServer, sm: Any, lam: Any, name: str) -> None:
    this = new_secret(sm, name)
    other = new_secret(sm, f"{name}-other")
    function = bare_function(lam)
    add_permission(server, function, "--source-arn", other)
    assert_refused(sm, name, arn_of(lam, function))
    server.aws("lambda", "remove-permission", "--function-name", function, "--statement-id", "SecretsManager")
    add_permission(server, function, "--source-arn", this, "--source-account", ACCOUNT)
    rotates(sm, name, arn_of(lam, function))


def test_a_permission_removed_mid_rotation_fails_it(
    server: LiveServer, sm: Any, lam: Any, name: str, tmp_path: Path
) -> None:
    new_secret(sm, name)
    events = tmp_path / "events.jsonl"
    function = bare_function(lam, {"SLEEP_STEP": "createSecret", "SLEEP_SECONDS": "2", "EVENTS_FILE": str(events)})
    add_permission(server, function, "--source-account", ACCOUNT)
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=arn_of(lam, function))["VersionId"]
    wait_for(events.exists)  # createSecret is running: the permission goes before setSecret is invoked
    server.aws("lambda", "remove-permission", "--function-name", function, "--statement-id", "SecretsManager")
    final = wait_for(lambda: (found := history(server, name)) and found[0]["state"] == "failed" and found[0], 60)
    assert final["token"] == token
    # Each attempt begins again with createSecret, as AWS does; every one is refused.
    assert final["last_error"] == f"createSecret: AccessDeniedException: {CANNOT_INVOKE}"
    audit = (server.data_dir / "audit.log").read_text()
    events = [json.loads(line) for line in audit.splitlines() if token in line]
    step_failures = [e["reason"] for e in events if e["event"] == "RotationStepFailed"]
    assert step_failures[0] == f"setSecret: AccessDeniedException: {CANNOT_INVOKE}"  # createSecret had run
    assert [e["reason"] for e in events if e["event"] == "RotationFailed"] == [final["last_error"]]


def test_builtins_carry_a_fixed_policy(server: LiveServer, lam: Any) -> None:
    builtin = "tumbler-postgresql-single-user"
    policy = json.loads(lam.get_policy(FunctionName=builtin)["Policy"])
    assert policy["Statement"] == [
        {
            "Sid": "SecretsManager",
            "Effect": "Allow",
            "Principal": {"Service": "secretsmanager.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{builtin}",
            "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT}},
        }
    ]
    with pytest.raises(ClientError) as raised:
        lam.remove_permission(FunctionName=builtin, StatementId="SecretsManager")
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"
