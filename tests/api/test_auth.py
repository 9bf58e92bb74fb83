"""SigV4 authentication failures, with the codes, messages and HTTP statuses AWS's JSON services use.

Sources: AWS answers every SigV4 rejection of a JSON-protocol service with HTTP 400 —
UnrecognizedClientException "The security token included in the request is invalid."
(AWSSecretsManager, Status Code: 400), InvalidSignatureException "Signature expired: ... is now
earlier than ... (... - N min.)", and MissingAuthenticationTokenException "Missing Authentication
Token" with HTTP 400. AWS has been seen answering with a 5-minute window lately; Tumbler's
contract (the foundation issue) is 15 minutes of skew, so the window asserted here is 15.
The IAM user guide's "Troubleshoot signed requests" lists the "Signature expired" and
"Signature not yet current" wordings.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import (
    BAD_SIGNATURE,
    JSON_TYPE,
    MISSING_TOKEN,
    NOT_FOUND,
    UNKNOWN_KEY,
    assert_error,
    now,
    post,
    raw_client,
    send,
    signed_headers,
)
from tests.conftest import LiveServer

STAMP = r"\d{8}T\d{6}Z"


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def test_wrong_secret_key(server: LiveServer, name: str) -> None:
    key_id, secret = server.keys
    client = server.client(keys=(key_id, secret[:-1] + ("A" if secret[-1] != "A" else "B")))
    with pytest.raises(ClientError) as raised:
        client.create_secret(Name=name, SecretString="v")
    assert assert_error(raised, "InvalidSignatureException").startswith(BAD_SIGNATURE)
    with pytest.raises(ClientError) as raised:
        server.client().describe_secret(SecretId=name)
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)  # nothing was created


def test_unknown_access_key(server: LiveServer) -> None:
    client = server.client(keys=("AKIAUNKNOWNKEY000000", "x" * 40))
    with pytest.raises(ClientError) as raised:
        client.list_secrets()
    assert_error(raised, "UnrecognizedClientException", UNKNOWN_KEY)


def test_no_authorization(server: LiveServer) -> None:
    answer = post(server, {}, "ListSecrets", sign=False)
    assert (answer.status, answer.code, answer.message) == (400, "MissingAuthenticationTokenException", MISSING_TOKEN)


def test_authorization_of_another_scheme(server: LiveServer) -> None:
    client = raw_client(server)
    client.meta.events.register(
        "before-send.secretsmanager.ListSecrets",
        lambda request, **_: request.headers.__setitem__("Authorization", "Bearer abc"),
    )
    with pytest.raises(ClientError) as raised:
        client.list_secrets()
    code = raised.value.response["Error"]["Code"]
    assert code in ("MissingAuthenticationTokenException", "IncompleteSignatureException")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_stale_signature(server: LiveServer) -> None:
    signed_at = now() - timedelta(minutes=20)
    answer = post(server, {}, "ListSecrets", signed_at=signed_at)
    assert (answer.status, answer.code) == (400, "InvalidSignatureException")
    found = re.fullmatch(
        rf"Signature expired: ({STAMP}) is now earlier than ({STAMP}) \(({STAMP}) - 15 min\.\)", answer.message
    )
    assert found, answer.message
    assert found.group(1) == stamp(signed_at)
    limit, server_now = (datetime.strptime(g, "%Y%m%dT%H%M%SZ") for g in found.group(2, 3))
    assert server_now - limit == timedelta(minutes=15)
    assert abs(server_now - now().replace(tzinfo=None)) < timedelta(minutes=1)


def test_signature_from_the_future(server: LiveServer) -> None:
    signed_at = now() + timedelta(minutes=20)
    answer = post(server, {}, "ListSecrets", signed_at=signed_at)
    assert (answer.status, answer.code) == (400, "InvalidSignatureException")
    found = re.fullmatch(
        rf"Signature not yet current: ({STAMP}) is still later than ({STAMP}) \(({STAMP}) \+ 15 min\.\)",
        answer.message,
    )
    assert found, answer.message
    assert found.group(1) == stamp(signed_at)


def test_a_slightly_old_signature_is_fine(server: LiveServer) -> None:
    answer = post(server, {}, "ListSecrets", signed_at=now() - timedelta(minutes=2))
    assert answer.status == 200, answer.body


def test_tampered_body(server: LiveServer, sm: Any, name: str) -> None:
    signed = f'{{"Name": "{name}", "SecretString": "honest"}}'.encode()
    sent = f'{{"Name": "{name}", "SecretString": "evil!!"}}'.encode()
    assert len(signed) == len(sent)
    answer = post(server, signed, "CreateSecret", send_body=sent)
    assert (answer.status, answer.code) == (400, "InvalidSignatureException")
    assert answer.message.startswith(BAD_SIGNATURE)
    assert b"honest" not in answer.body
    assert b"evil" not in answer.body
    with pytest.raises(ClientError) as raised:
        sm.describe_secret(SecretId=name)
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)


def test_tampered_target(server: LiveServer, sm: Any, name: str) -> None:
    # X-Amz-Target is a signed header: a DescribeSecret signature must not carry a DeleteSecret.
    sm.create_secret(Name=name, SecretString="v")
    body = json.dumps({"SecretId": name, "ForceDeleteWithoutRecovery": True}).encode()
    headers = signed_headers(server, body, {"Content-Type": JSON_TYPE, "X-Amz-Target": "secretsmanager.DescribeSecret"})
    assert send(server, body, headers).status == 200
    headers["X-Amz-Target"] = "secretsmanager.DeleteSecret"
    tampered = send(server, body, headers)
    assert (tampered.status, tampered.code) == (400, "InvalidSignatureException")
    assert tampered.message.startswith(BAD_SIGNATURE)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v"


def test_signature_for_another_service(server: LiveServer) -> None:
    headers = {"Content-Type": JSON_TYPE, "X-Amz-Target": "secretsmanager.ListSecrets"}
    answer = send(server, b"{}", signed_headers(server, b"{}", headers, service="kms"))
    assert (answer.status, answer.code, answer.message) == (
        400,
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'secretsmanager'. ",
    )


def test_valid_signature_in_another_region_is_accepted(server: LiveServer) -> None:
    answer = post(server, {}, "ListSecrets", region="eu-central-1")
    assert answer.status == 200


def test_window_is_fifteen_minutes(server: LiveServer) -> None:
    assert post(server, {}, "ListSecrets", signed_at=now() - timedelta(minutes=14)).status == 200
    assert post(server, {}, "ListSecrets", signed_at=now() + timedelta(minutes=14)).status == 200
    assert post(server, {}, "ListSecrets", signed_at=now() - timedelta(minutes=16)).code == "InvalidSignatureException"
    assert post(server, {}, "ListSecrets", signed_at=now() + timedelta(minutes=16)).code == "InvalidSignatureException"
