"""What the API tests share: error assertions, raw signed HTTP requests and state snapshots.

Everything here talks to the server the way a client would: through boto3, or through a
hand-built HTTP request signed with botocore's own SigV4 signer.
"""

from __future__ import annotations

import json
import random
import string
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import LiveServer

ACCOUNT = "123456789012"
JSON_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "secretsmanager"

# AWS's own wording, quoted by the tests that need it.
NOT_FOUND = "Secrets Manager can't find the specified secret."
MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion."
INVALID_NAME = (
    "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"
)
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)
UNKNOWN_KEY = "The security token included in the request is invalid."
MISSING_TOKEN = "Missing Authentication Token"  # Secrets Manager's wording (aws-sdk-cpp #2407)


def letters(n: int = 12) -> str:
    """A random run of lowercase letters: one word to AWS's search, whatever its length."""
    return "".join(random.choice(string.ascii_lowercase) for _ in range(n))


def unique_name(prefix: str = "api") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:12]}"


def raw_client(server: LiveServer, region: str = "us-east-1", keys: tuple[str, str] | None = None) -> Any:
    """A secretsmanager client that sends what it is given: no client-side validation, one attempt."""
    key_id, secret = keys or server.keys
    return boto3.client(
        "secretsmanager", endpoint_url=server.endpoint, region_name=region, aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )  # fmt: skip


def error_of(err: ClientError) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a boto3 ClientError."""
    response: dict[str, Any] = dict(err.response)
    return (
        response["Error"]["Code"],
        response["Error"].get("Message", ""),
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def assert_error(
    raised: pytest.ExceptionInfo[ClientError] | ClientError, code: str, message: str | None = None, status: int = 400
) -> str:
    """Assert the code, the HTTP status and (when given) the exact message; returns the message."""
    err = raised.value if isinstance(raised, pytest.ExceptionInfo) else raised
    got_code, got_message, got_status = error_of(err)
    assert (got_code, got_status) == (code, status), f"got {got_code} {got_status}: {got_message!r}"
    if message is not None:
        assert got_message == message, f"message {got_message!r}, expected {message!r}"
    return got_message


def validation(*violations: str) -> str:
    """A Coral ValidationException message for ``violations`` ("Value ... at '...' failed ...")."""
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(violations)


def violation(member: str, constraint: str, value: object = None, *, shown: bool = True) -> str:
    """One Coral violation. ``value=None`` is a missing member; ``shown=False`` hides a sensitive value."""
    if value is None:
        prefix = "Value null"
    elif not shown:
        prefix = "Value"
    else:
        prefix = f"Value '{value}'"
    return f"{prefix} at '{member}' failed to satisfy constraint: {constraint}"


# --- raw HTTP --------------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body) if self.body else {}
        return data

    @property
    def code(self) -> str:
        """The error code: ``__type`` without any ``namespace#`` prefix."""
        return str(self.json().get("__type", "")).rpartition("#")[2]

    @property
    def message(self) -> str:
        data = self.json()
        return str(data.get("message", data.get("Message", "")))


def send(server: LiveServer, body: bytes, headers: dict[str, str]) -> RawResponse:
    """POST ``body`` with exactly ``headers``; any HTTP status comes back as a RawResponse."""
    request = urllib.request.Request(server.endpoint + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return RawResponse(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as err:
        return RawResponse(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


@contextmanager
def _clock(at: datetime | None) -> Iterator[None]:
    """botocore's signer reads the time through ``botocore.auth.get_current_datetime``."""
    if at is None:
        yield
        return
    naive = at.astimezone(UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=naive):
        yield


def signed_headers(
    server: LiveServer,
    body: bytes,
    headers: dict[str, str],
    *,
    region: str = "us-east-1",
    service: str = "secretsmanager",
    keys: tuple[str, str] | None = None,
    signed_at: datetime | None = None,
) -> dict[str, str]:
    """``headers`` plus the SigV4 headers botocore's signer adds for ``body``."""
    key_id, secret = keys or server.keys
    request = AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers=headers)
    with _clock(signed_at):
        SigV4Auth(Credentials(key_id, secret), service, region).add_auth(request)
    return dict(request.headers.items())


def post(
    server: LiveServer,
    body: bytes | str | dict[str, Any],
    operation: str | None,
    *,
    region: str = "us-east-1",
    keys: tuple[str, str] | None = None,
    signed_at: datetime | None = None,
    sign: bool = True,
    send_body: bytes | None = None,
    target: str | None = None,
) -> RawResponse:
    """POST ``body`` to the server as operation ``operation`` (X-Amz-Target ``secretsmanager.<op>``).

    ``signed_at`` signs as of that moment; ``send_body`` sends other bytes than were signed;
    ``target`` overrides the whole X-Amz-Target header; ``sign=False`` sends no Authorization.
    """
    if isinstance(body, dict):
        body = json.dumps(body)
    payload = body.encode() if isinstance(body, str) else body
    headers = {"Content-Type": JSON_TYPE}
    if target is not None:
        headers["X-Amz-Target"] = target
    elif operation is not None:
        headers["X-Amz-Target"] = f"{TARGET_PREFIX}.{operation}"
    if sign:
        headers = signed_headers(server, payload, headers, region=region, keys=keys, signed_at=signed_at)
    return send(server, payload if send_body is None else send_body, headers)


# --- state ---------------------------------------------------------------------------------------


def versions(sm: Any, secret_id: str) -> dict[str, list[str]]:
    """Every version id (deprecated ones too) -> its sorted staging labels."""
    out: dict[str, list[str]] = {}
    kwargs: dict[str, Any] = {"SecretId": secret_id, "IncludeDeprecated": True, "MaxResults": 100}
    while True:
        page = sm.list_secret_version_ids(**kwargs)
        for v in page["Versions"]:
            out[v["VersionId"]] = sorted(v.get("VersionStages", []))
        if not page.get("NextToken"):
            return out
        kwargs["NextToken"] = page["NextToken"]


def snapshot(sm: Any, secret_id: str) -> dict[str, Any]:
    """Everything a failed request must leave as it was: metadata, versions, labels and values."""
    described = sm.describe_secret(SecretId=secret_id)
    described.pop("ResponseMetadata")
    described.pop("LastAccessedDate", None)  # reads move it, and reading is how we check
    all_versions = versions(sm, secret_id)
    values = {}
    for version_id in all_versions:
        got = sm.get_secret_value(SecretId=secret_id, VersionId=version_id)
        values[version_id] = got.get("SecretString", got.get("SecretBinary"))
    policy = sm.get_resource_policy(SecretId=secret_id).get("ResourcePolicy")
    return {"describe": described, "versions": all_versions, "values": values, "policy": policy}


def now() -> datetime:
    return datetime.now(UTC)
