"""AWS's "Set up automatic rotation using the AWS CLI" tutorial (Secrets Manager User Guide), typed as a user would
with the real AWS CLI against a live server, rotating a real PostgreSQL user (a private scram cluster, so a wrong
password really fails to log in).

The steps: store the secret; write the execution role's trust policy to a file and `iam create-role` with it; give
the role AWS's documented single-user rotation policy (`iam put-role-policy`) and Lambda's basic execution policy
(`iam attach-role-policy`); `lambda create-function --role` from a zip file; `lambda add-permission` for
secretsmanager.amazonaws.com pinned with `--source-account`; `secretsmanager rotate-secret` with a `cron()` schedule
and a `Duration` window, which rotates at once by default.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import ACCOUNT
from tests.api.rotation_helpers import current_is, wait_for, zip_of
from tests.conftest import LiveServer
from tests.dbs import PrivatePostgres

RULES = {"ScheduleExpression": "cron(0 16 1,15 * ? *)", "Duration": "2h"}
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}  # fmt: skip
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
CANNOT_INVOKE = (
    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access "
    "to the principal secretsmanager.amazonaws.com."
)


def rotation_policy(secret_arn: str) -> dict[str, Any]:
    """AWS's documented inline policy for a single-user rotation function's execution role."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Resource": secret_arn, "Action": [
            "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]},
        {"Effect": "Allow", "Action": ["secretsmanager:GetRandomPassword"], "Resource": "*"}]}  # fmt: skip


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres.running() as cluster:
        yield cluster


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def store_database_secret(server: LiveServer, postgres: PrivatePostgres, password: str) -> tuple[str, str]:
    """A PostgreSQL user and the secret holding its credentials, created with the CLI: (user, secret ARN)."""
    user = postgres.create_user(password)
    value = {"engine": "postgres", "host": "127.0.0.1", "port": postgres.port, "username": user,
             "password": password, "dbname": "postgres"}  # fmt: skip
    created = server.aws("secretsmanager", "create-secret", "--name", unique("walkthrough/db"),
                         "--secret-string", json.dumps(value))  # fmt: skip
    return user, str(created["ARN"])


def set_up_function(server: LiveServer, workdir: Path, secret_arn: str, add_permission: bool = True) -> str:
    """Steps 1 and 2 of the walkthrough (the function, its execution role, its permissions): the function's ARN."""
    (workdir / "trust-policy.json").write_text(json.dumps(TRUST))
    (workdir / "rotation-policy.json").write_text(json.dumps(rotation_policy(secret_arn)))
    (workdir / "my-function.zip").write_bytes(zip_of("postgres_single_user.py"))
    role, function = unique("my-lambda-execution-role"), unique("my-rotation-function")
    trust = f"file://{workdir / 'trust-policy.json'}"
    created_role = server.aws("iam", "create-role", "--role-name", role, "--assume-role-policy-document", trust)
    role_arn = created_role["Role"]["Arn"]
    server.aws("iam", "put-role-policy", "--role-name", role, "--policy-name", "SecretsManagerRotation",
               "--policy-document", f"file://{workdir / 'rotation-policy.json'}")  # fmt: skip
    server.aws("iam", "attach-role-policy", "--role-name", role, "--policy-arn", BASIC_EXECUTION)
    # --timeout: Lambda's default of 3 s is too short for four steps that each log in to a database.
    created = server.aws("lambda", "create-function", "--function-name", function, "--runtime", "python3.12",
                         "--zip-file", f"fileb://{workdir / 'my-function.zip'}", "--handler",
                         "lambda_function.lambda_handler", "--role", role_arn, "--timeout", "30")  # fmt: skip
    if add_permission:
        server.aws("lambda", "add-permission", "--function-name", function, "--action", "lambda:InvokeFunction",
                   "--statement-id", "SecretsManager", "--principal", "secretsmanager.amazonaws.com",
                   "--source-account", ACCOUNT)  # fmt: skip
    return str(created["FunctionArn"])


def rotate_secret(server: LiveServer, secret_arn: str, function_arn: str, check: bool = True) -> Any:
    return server.aws("secretsmanager", "rotate-secret", "--secret-id", secret_arn, "--rotation-lambda-arn",
                      function_arn, "--rotation-rules", json.dumps(RULES), check=check)  # fmt: skip


def password_of(server: LiveServer, secret_arn: str, stage: str = "AWSCURRENT") -> str:
    found = server.aws("secretsmanager", "get-secret-value", "--secret-id", secret_arn, "--version-stage", stage)
    return str(json.loads(found["SecretString"])["password"])


def test_walkthrough_rotates_a_postgresql_user(server: LiveServer, sm: Any, postgres: PrivatePostgres,
                                               tmp_path: Path) -> None:  # fmt: skip
    old = secrets.token_urlsafe(16)
    user, secret_arn = store_database_secret(server, postgres, old)
    function_arn = set_up_function(server, tmp_path, secret_arn)
    started = rotate_secret(server, secret_arn, function_arn)
    assert started["ARN"] == secret_arn
    wait_for(lambda: current_is(sm, secret_arn, started["VersionId"]), timeout=60)
    new = password_of(server, secret_arn)
    assert new != old
    assert postgres.can_login(user, new)
    assert not postgres.can_login(user, old)
    assert password_of(server, secret_arn, "AWSPREVIOUS") == old
    described = server.aws("secretsmanager", "describe-secret", "--secret-id", secret_arn)
    assert described["RotationEnabled"] is True
    assert described["RotationLambdaARN"] == function_arn
    rules = described["RotationRules"]
    assert {key: rules[key] for key in RULES} == RULES
    assert rules["AutomaticallyAfterDays"] >= 1  # AWS derives it from the schedule and shows it too
    next_rotation = datetime.fromtimestamp(described["NextRotationDate"], UTC)  # this CLI prints epoch seconds
    assert next_rotation.day in (1, 15)  # the last second of a 16:00-18:00 UTC window on the 1st or the 15th
    assert (next_rotation.hour, next_rotation.minute) == (17, 59)
    assert "LastRotatedDate" in described


def test_walkthrough_without_add_permission_is_refused(server: LiveServer, postgres: PrivatePostgres,
                                                       tmp_path: Path) -> None:  # fmt: skip
    old = secrets.token_urlsafe(16)
    user, secret_arn = store_database_secret(server, postgres, old)
    function_arn = set_up_function(server, tmp_path, secret_arn, add_permission=False)
    done = rotate_secret(server, secret_arn, function_arn, check=False)
    assert done.returncode != 0
    assert done.stdout == ""
    assert f"(AccessDeniedException) when calling the RotateSecret operation: {CANNOT_INVOKE}" in done.stderr
    assert "Traceback" not in done.stderr
    described = server.aws("secretsmanager", "describe-secret", "--secret-id", secret_arn)
    assert "RotationEnabled" not in described
    assert "RotationRules" not in described
    assert list(described["VersionIdsToStages"].values()) == [["AWSCURRENT"]]  # no AWSPENDING version left behind
    assert password_of(server, secret_arn) == old
    assert postgres.can_login(user, old)
