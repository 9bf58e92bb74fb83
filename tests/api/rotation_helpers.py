"""Helpers for rotation tests: packaging functions, registering them, waiting for rotations to settle."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

FUNCTIONS = Path(__file__).parent / "functions"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/rotation"
T = TypeVar("T")


def zip_of(source: str) -> bytes:
    """A deployment package holding tests/api/functions/<source> as lambda_function.py."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", (FUNCTIONS / source).read_text())
    return buffer.getvalue()


def create_function(lam: Any, source: str, env: dict[str, str] | None = None, timeout: int = 30) -> str:
    name = f"rot-{uuid.uuid4().hex[:10]}"
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
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
