"""What a restart keeps, and what the data directory must never show: values in plain text."""

from __future__ import annotations

import base64
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import letters, versions
from tests.conftest import LiveServer


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def first_run(data_dir: Path) -> Iterator[LiveServer]:
    live = LiveServer(data_dir).start()
    try:
        yield live
    finally:
        live.stop()


def raw_bytes(data_dir: Path) -> dict[str, bytes]:
    """Every file under the data directory (the database, its WAL, keys, ...), read as bytes."""
    return {str(p.relative_to(data_dir)): p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}


def forms(secret: str | bytes) -> list[bytes]:
    """The ways a value could sit on disk unencrypted: raw, UTF-16, base64."""
    raw = secret.encode() if isinstance(secret, str) else secret
    out = [raw, base64.b64encode(raw), base64.b64encode(raw).rstrip(b"=")]
    if isinstance(secret, str):
        out.append(secret.encode("utf-16-le"))
    return out


def assert_no_plaintext(data_dir: Path, *values: str | bytes) -> None:
    files = raw_bytes(data_dir)
    assert "tumbler.db" in files
    for value in values:
        for form in forms(value):
            leaking = [name for name, content in files.items() if form in content]
            assert not leaking, f"{form[:20]!r}... readable in {leaking}"


def write_some_secrets(sm: Any, marker: str) -> dict[str, Any]:
    text = f"{marker}-text"
    blob = f"{marker}-blob".encode() + b"\x00\xff"
    sm.create_secret(Name="persist/text", SecretString=text, Description="kept", Tags=[{"Key": "k", "Value": "v"}])
    second = sm.put_secret_value(SecretId="persist/text", SecretString=f"{marker}-second")["VersionId"]
    staged = sm.put_secret_value(SecretId="persist/text", SecretString=f"{marker}-staged", VersionStages=["blue"])
    sm.create_secret(Name="persist/blob", SecretBinary=blob)
    sm.create_secret(Name="persist/deleted", SecretString=f"{marker}-deleted")
    sm.delete_secret(SecretId="persist/deleted", RecoveryWindowInDays=7)
    sm.put_resource_policy(
        SecretId="persist/blob",
        ResourcePolicy='{"Version":"2012-10-17","Statement":[{"Effect":'
        '"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"secretsmanager:'
        'GetSecretValue","Resource":"*"}]}',
    )
    return {
        "values": [text, blob, f"{marker}-second", f"{marker}-staged", f"{marker}-deleted"],
        "second": second,
        "staged": staged["VersionId"],
        "versions": versions(sm, "persist/text"),
        "describe": {
            k: v
            for k, v in sm.describe_secret(SecretId="persist/text").items()
            if k not in ("ResponseMetadata", "LastAccessedDate")
        },
    }


def test_restart_keeps_values_labels_and_metadata(data_dir: Path, first_run: LiveServer) -> None:
    marker = f"PLAIN{letters(20)}"
    written = write_some_secrets(first_run.client(), marker)
    keys = first_run.keys
    first_run.stop()

    second_run = LiveServer(data_dir).start()
    try:
        sm = second_run.client()
        assert second_run.keys == keys  # the same admin key, from the same credentials file
        assert sm.get_secret_value(SecretId="persist/text")["SecretString"] == f"{marker}-second"
        assert sm.get_secret_value(SecretId="persist/text", VersionStage="AWSPREVIOUS")["SecretString"] == (
            f"{marker}-text"
        )
        assert sm.get_secret_value(SecretId="persist/text", VersionStage="blue")["SecretString"] == f"{marker}-staged"
        assert versions(sm, "persist/text") == written["versions"]
        described = {
            k: v
            for k, v in sm.describe_secret(SecretId="persist/text").items()
            if k not in ("ResponseMetadata", "LastAccessedDate")
        }
        assert described == written["describe"]
        assert sm.get_secret_value(SecretId="persist/blob")["SecretBinary"] == written["values"][1]
        assert "ResourcePolicy" in sm.get_resource_policy(SecretId="persist/blob")
        assert "DeletedDate" in sm.describe_secret(SecretId="persist/deleted")
        sm.restore_secret(SecretId="persist/deleted")
        assert sm.get_secret_value(SecretId="persist/deleted")["SecretString"] == f"{marker}-deleted"
    finally:
        second_run.stop()


def test_no_value_is_stored_in_plain_text(data_dir: Path, first_run: LiveServer) -> None:
    marker = f"PLAIN{letters(20)}"
    written = write_some_secrets(first_run.client(), marker)
    assert_no_plaintext(data_dir, *written["values"])  # while running: the WAL holds the fresh writes
    first_run.stop()
    assert_no_plaintext(data_dir, *written["values"])  # after shutdown and checkpoint
    log = first_run.data_dir.parent / f"server-{first_run.port}.log"
    assert marker.encode() not in log.read_bytes()


def test_secret_files_are_private(data_dir: Path, first_run: LiveServer) -> None:
    for name in ("credentials", "master.key"):
        mode = stat.S_IMODE((data_dir / name).stat().st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"
