"""Secrets Manager as a rotation function calls it: the four operations AWS's rotation templates use.

A built-in rotator acts on secrets only through this port, as a user's function does through
boto3, so the server can later authorize it exactly like one. Parameters carry the API's own
names; a result is the operation's response; an error is a ``SecretsClientError`` with the
API's error code, as botocore's ``ClientError`` carries it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Response = dict[str, Any]


class SecretsClientError(Exception):
    """An operation refused; ``code`` is the API's (``ResourceNotFoundException``...), ``message`` its text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class SecretsClient(Protocol):
    """One region's Secrets Manager, as the caller it was made for."""

    def describe_secret(self, *, SecretId: str) -> Response: ...

    def get_secret_value(
        self, *, SecretId: str, VersionId: str | None = None, VersionStage: str | None = None
    ) -> Response: ...

    def put_secret_value(
        self, *, SecretId: str, ClientRequestToken: str, SecretString: str, VersionStages: list[str]
    ) -> Response: ...

    def update_secret_version_stage(
        self, *, SecretId: str, VersionStage: str, MoveToVersionId: str, RemoveFromVersionId: str | None = None
    ) -> Response: ...


SecretsClients = Callable[[str], SecretsClient]  # a region's client
