"""A request whose body never fully arrives is not run: the client closed the connection part-way.

Raw sockets against a live server, each request signed by botocore over the whole body; the same bytes
sent in full are accepted, so it is the missing part alone that stops the operation.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import LiveServer

WATCH_SECONDS = 1.0  # how long a request that was wrongly run has to show its effect


def _signed_head(server: LiveServer, operation: str, body: bytes, framing: str) -> bytes:
    """The request line and headers of a Secrets Manager request signed over ``body``, then ``framing``."""
    request = AWSRequest(
        method="POST",
        url=f"{server.endpoint}/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"secretsmanager.{operation}"},
    )
    SigV4Auth(Credentials(*server.keys), "secretsmanager", "us-east-1").add_auth(request)
    lines = ["POST / HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items() if name.lower() != "host"]
    return ("\r\n".join([*lines, framing]) + "\r\n\r\n").encode()


def _by_length(body: bytes, cut: bool) -> tuple[str, bytes]:
    """Content-Length one byte more than the body, when ``cut``: the whole signed body arrives, and more is due."""
    return f"Content-Length: {len(body) + cut}", body


def _chunked(body: bytes, cut: bool) -> tuple[str, bytes]:
    """The body in two chunks, and without the last (empty) chunk that ends it, when ``cut``."""
    half = len(body) // 2
    chunks = b"".join(b"%x\r\n%b\r\n" % (len(part), part) for part in (body[:half], body[half:]))
    return "Transfer-Encoding: chunked", chunks + (b"" if cut else b"0\r\n\r\n")


FRAMINGS = {"content-length past the body": _by_length, "chunked without its last chunk": _chunked}


def _send(server: LiveServer, operation: str, params: dict[str, Any], framing: str, cut: bool) -> int | None:
    """Send the request; for a cut one, close the socket with the body unfinished. The status, if answered."""
    body = json.dumps(params).encode()
    header, sent = FRAMINGS[framing](body, cut)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(_signed_head(server, operation, body, header) + sent)
        if cut:
            time.sleep(0.2)  # the server has read what was sent and waits for the rest when the socket closes
            return None
        answer = conn.recv(65536)
    return int(answer.split(b" ", 2)[1])


def _never(check: Any) -> bool:
    deadline = time.monotonic() + WATCH_SECONDS
    while time.monotonic() < deadline:
        if check():
            return False
        time.sleep(0.05)
    return True


def _exists(server: LiveServer, name: str) -> bool:
    sm = server.client()
    try:
        sm.describe_secret(SecretId=name)
    except sm.exceptions.ResourceNotFoundException:
        return False
    return True


@pytest.mark.parametrize("framing", FRAMINGS)
def test_a_create_secret_cut_short_creates_nothing(server: LiveServer, framing: str, name: str) -> None:
    params = {"Name": name, "SecretString": "value-1", "ClientRequestToken": "t" * 32}
    assert _send(server, "CreateSecret", params, framing, cut=True) is None
    assert _never(lambda: _exists(server, name))
    assert _send(server, "CreateSecret", params, framing, cut=False) == 200  # the same request, whole: accepted
    assert _exists(server, name)


@pytest.mark.parametrize("framing", FRAMINGS)
def test_a_put_secret_value_cut_short_adds_no_version(server: LiveServer, framing: str, name: str) -> None:
    sm = server.client()
    sm.create_secret(Name=name, SecretString="first")

    def versions() -> int:
        return len(sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"])

    params = {"SecretId": name, "SecretString": "second", "ClientRequestToken": "u" * 32}
    assert _send(server, "PutSecretValue", params, framing, cut=True) is None
    assert _never(lambda: versions() > 1)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "first"
    assert _send(server, "PutSecretValue", params, framing, cut=False) == 200
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "second"
