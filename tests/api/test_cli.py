"""The real AWS CLI against the server, the way a person would use it."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.api.helpers import letters
from tests.conftest import LiveServer

CLI_SERVICE_ERROR = 255  # AWS CLI v1 (pinned in pyproject.toml): "Command failed", service errors included


def test_cli_secret_lifecycle(server: LiveServer) -> None:
    name = f"cli/{letters()}"
    created = server.aws(
        "secretsmanager",
        "create-secret",
        "--name",
        name,
        "--secret-string",
        "first",
        "--description",
        "made by the CLI",
    )
    assert created["Name"] == name
    assert created["ARN"].startswith(f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-")

    got = server.aws("secretsmanager", "get-secret-value", "--secret-id", name)
    assert (got["SecretString"], got["VersionStages"]) == ("first", ["AWSCURRENT"])

    put = server.aws(
        "secretsmanager",
        "put-secret-value",
        "--secret-id",
        name,
        "--secret-string",
        json.dumps({"user": "admin", "password": "p\u00e4ss"}),
    )
    assert put["VersionStages"] == ["AWSCURRENT"]
    got = server.aws("secretsmanager", "get-secret-value", "--secret-id", name)
    assert json.loads(got["SecretString"]) == {"user": "admin", "password": "p\u00e4ss"}
    previous = server.aws("secretsmanager", "get-secret-value", "--secret-id", name, "--version-stage", "AWSPREVIOUS")
    assert previous["SecretString"] == "first"

    described = server.aws("secretsmanager", "describe-secret", "--secret-id", name)
    assert described["Description"] == "made by the CLI"
    assert sorted(stage for stages in described["VersionIdsToStages"].values() for stage in stages) == [
        "AWSCURRENT", "AWSPREVIOUS",
    ]  # fmt: skip

    listed = server.aws("secretsmanager", "list-secrets", "--filters", f"Key=name,Values={name}")
    assert [s["Name"] for s in listed["SecretList"]] == [name]

    deleted = server.aws("secretsmanager", "delete-secret", "--secret-id", name, "--force-delete-without-recovery")
    assert deleted["Name"] == name
    gone = server.aws("secretsmanager", "describe-secret", "--secret-id", name, check=False)
    assert gone.returncode == CLI_SERVICE_ERROR
    assert "ResourceNotFoundException" in gone.stderr


def test_cli_binary_secret_from_a_file(server: LiveServer, tmp_path: Any) -> None:
    name = f"cli/{letters()}"
    blob = bytes(range(256))
    path = tmp_path / "blob.bin"
    path.write_bytes(blob)
    server.aws("secretsmanager", "create-secret", "--name", name, "--secret-binary", f"fileb://{path}")
    got = server.aws("secretsmanager", "get-secret-value", "--secret-id", name)
    assert base64.b64decode(got["SecretBinary"]) == blob


def test_cli_service_error(server: LiveServer) -> None:
    # The pinned AWS CLI v1 exits 255 when the service returns an error (v2 uses 254).
    done = server.aws("secretsmanager", "get-secret-value", "--secret-id", f"cli/missing-{letters()}", check=False)
    assert done.returncode == CLI_SERVICE_ERROR
    assert "ResourceNotFoundException" in done.stderr
    assert "Secrets Manager can't find the specified secret." in done.stderr
    assert done.stdout == ""


def test_cli_validation_error(server: LiveServer) -> None:
    done = server.aws(
        "secretsmanager",
        "delete-secret",
        "--secret-id",
        f"cli/{letters()}",
        "--recovery-window-in-days",
        "3",
        check=False,
    )
    assert done.returncode == CLI_SERVICE_ERROR
    assert "InvalidParameterException" in done.stderr
