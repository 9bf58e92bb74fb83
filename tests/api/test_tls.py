"""HTTPS: boto3, the AWS CLI and a function's own boto3 over TLS with certificate checks on; plain
HTTP beyond loopback refused."""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig

from tests.api.helpers import letters
from tests.api.rotation_helpers import create_function, current_is, wait_for
from tests.conftest import LiveServer


def tumbler(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TUMBLER_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-m", "tumbler.cli", *args], capture_output=True, text=True, timeout=60, env=clean, cwd=cwd
    )


class TlsServer(LiveServer):
    """A LiveServer serving HTTPS with a certificate its clients trust through ``ca``."""

    ca: Path = Path()

    @property
    def endpoint(self) -> str:
        return f"https://localhost:{self.port}"

    def healthy(self) -> bool:
        try:  # the CA file may not be there yet: --tls-self-signed makes it as the server starts
            context = ssl.create_default_context(cafile=str(self.ca))
            with urllib.request.urlopen(f"{self.endpoint}/_tumbler/health", timeout=1, context=context):
                return True
        except OSError:
            return False

    def client(self, service: str = "secretsmanager", region: str = "us-east-1", **kw: Any) -> Any:
        key_id, secret = self.keys
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=region, aws_access_key_id=key_id,
            aws_secret_access_key=secret, verify=str(self.ca), config=BotoConfig(retries={"max_attempts": 1}),
        )  # fmt: skip


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    folder = tmp_path_factory.mktemp("tls")
    made = tumbler("certs", "create", cwd=folder)
    assert made.returncode == 0, made.stderr
    cert, key = folder / "tumbler-cert.pem", folder / "tumbler-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    live = TlsServer(folder / "data", extra_args=["--tls-cert", str(cert), "--tls-key", str(key)])
    live.ca = cert
    live.start()
    yield live
    live.stop()


def test_boto3_over_tls_with_the_certificate_checked(tls_server: TlsServer) -> None:
    sm = tls_server.client()
    name = f"tls/{letters()}"
    sm.create_secret(Name=name, SecretString="over tls")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "over tls"
    untrusting = boto3.client(
        "secretsmanager", endpoint_url=tls_server.endpoint, region_name="us-east-1",
        aws_access_key_id=tls_server.keys[0], aws_secret_access_key=tls_server.keys[1],
        config=BotoConfig(retries={"max_attempts": 1}),
    )  # fmt: skip
    with pytest.raises(Exception, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        untrusting.list_secrets()


def test_aws_cli_with_tumbler_env(tls_server: TlsServer) -> None:
    exports = tumbler("env", "--data-dir", str(tls_server.data_dir))
    assert exports.returncode == 0, exports.stderr
    assert f"AWS_ENDPOINT_URL=https://127.0.0.1:{tls_server.port}" in exports.stdout
    assert f"AWS_CA_BUNDLE={tls_server.ca}" in exports.stdout
    name = f"tls/{letters()}"
    script = f"{exports.stdout}\naws secretsmanager create-secret --name {name} --secret-string cli-tls --output json"
    script += f"\naws secretsmanager get-secret-value --secret-id {name} --output json"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TUMBLER_", "AWS_"))}
    clean.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    ran = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=clean, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert '"SecretString": "cli-tls"' in ran.stdout


def test_a_function_calls_back_over_tls(tls_server: TlsServer) -> None:
    sm = tls_server.client()
    name = f"tls/{letters()}"
    sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": "initial"}))
    fn = create_function(tls_server.client("lambda"), "generic_rotation.py")
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
    wait_for(lambda: current_is(sm, name, token))


def _handshake(server: TlsServer, ciphers: str) -> tuple[str, str]:
    """(protocol, cipher) a TLS 1.2 client offering only ``ciphers`` agrees on with the server."""
    context = ssl.create_default_context(cafile=str(server.ca))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(ciphers)
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        cipher = tls.cipher()
        assert cipher is not None
        return str(tls.version()), cipher[0]


def test_only_forward_secret_aead_suites(tls_server: TlsServer) -> None:
    protocol, cipher = _handshake(tls_server, "ALL")
    assert protocol == "TLSv1.2"
    assert cipher.startswith("ECDHE-")
    assert "GCM" in cipher or "CHACHA20" in cipher
    with pytest.raises(ssl.SSLError):
        _handshake(tls_server, "ECDHE-ECDSA-AES128-SHA")  # CBC with SHA-1: offered alone, refused


def test_self_signed_flag_makes_and_uses_a_certificate(tmp_path: Path) -> None:
    live = TlsServer(tmp_path / "data", extra_args=["--tls-self-signed"])
    live.ca = live.data_dir / "tls" / "cert.pem"
    live.start()
    try:
        assert live.client().list_secrets()["SecretList"] == []
        assert stat.S_IMODE((live.data_dir / "tls" / "key.pem").stat().st_mode) == 0o600
    finally:
        live.stop()


def test_plain_http_beyond_loopback_is_refused(tmp_path: Path) -> None:
    done = tumbler("server", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "in clear" in done.stderr
    assert "--insecure-http" in done.stderr
    assert not (tmp_path / "data").exists()
