"""Helpers for rotation tests: packaging functions, registering them, waiting for rotations to settle."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import boto3

FUNCTIONS = Path(__file__).parent / "functions"
ACCOUNT = "123456789012"
ROLE_NAME = "rotation"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
# AWS's CLI walkthrough: the execution role's trust policy lets Lambda assume it.
LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
READ_WRITE = "arn:aws:iam::aws:policy/SecretsManagerReadWrite"
T = TypeVar("T")


def zip_of(source: str) -> bytes:
    """A deployment package holding tests/api/functions/<source> as lambda_function.py."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", (FUNCTIONS / source).read_text())
    return buffer.getvalue()


def iam_beside(client: Any) -> Any:
    """An IAM client for the server (endpoint, keys, TLS verification) that ``client`` talks to."""
    keys = client._request_signer._credentials.get_frozen_credentials()
    return boto3.client(
        "iam",
        endpoint_url=client.meta.endpoint_url,
        region_name=client.meta.region_name,
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        aws_session_token=keys.token,
        verify=client._endpoint.http_session._verify,
    )


def execution_role(client: Any, name: str = ROLE_NAME, policy_arn: str | None = READ_WRITE) -> str:
    """The ARN of role ``name``, created first if needed with Lambda's trust policy and ``policy_arn`` attached."""
    iam = iam_beside(client)
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        pass
    try:
        arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"])
    except iam.exceptions.EntityAlreadyExistsException:  # another test made it just now
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    if policy_arn:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return arn


def create_function(lam: Any, source: str, env: dict[str, str] | None = None, timeout: int = 30) -> str:
    name = f"rot-{uuid.uuid4().hex[:10]}"
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=execution_role(lam),
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": zip_of(source)},
        Timeout=timeout,
        Environment={"Variables": env or {}},
    )
    allow_secrets_manager(lam, name)
    return str(created["FunctionArn"])


def allow_secrets_manager(lam: Any, function: str, **conditions: str) -> None:
    """AWS's CLI walkthrough: `lambda add-permission --function-name F --action lambda:InvokeFunction
    --statement-id SecretsManager --principal secretsmanager.amazonaws.com --source-account ACCOUNT`."""
    lam.add_permission(
        FunctionName=function,
        Action="lambda:InvokeFunction",
        StatementId="SecretsManager",
        Principal="secretsmanager.amazonaws.com",
        **(conditions or {"SourceAccount": ACCOUNT}),
    )


def wait_for(probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1) -> T:
    """The first truthy result of ``probe``; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def stages(sm: Any, secret_id: str) -> dict[str, list[str]]:
    return dict(sm.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {}))


def current_is(sm: Any, secret_id: str, version_id: str) -> bool:
    return "AWSCURRENT" in stages(sm, secret_id).get(version_id, [])
