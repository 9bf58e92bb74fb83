"""The Secrets Manager client a built-in rotator gets: the operations themselves, called in this process.

The operations run exactly as for a request (the same checks and errors), authorized first by
``ops.authorize.run`` as the Context's caller, like a request signed by that caller; an error becomes a
``SecretsClientError`` carrying the code the API would answer with.
"""

from __future__ import annotations

from typing import Any

from tumbler.core.errors import DomainError
from tumbler.core.iam import Principal
from tumbler.ops.authorize import run
from tumbler.ops.context import Context
from tumbler.ops.errors import SECRETSMANAGER
from tumbler.ops.secretsmanager import OPERATIONS
from tumbler.ports.secrets_client import Response, SecretsClientError
from tumbler.ports.services import Services


class InProcessSecrets:
    """``ports.secrets_client.SecretsClient`` for one region, calling as ``caller`` (a built-in's execution role
    session, signed for by ``access_key_id``: its session policy applies too)."""

    def __init__(self, services: Services, region: str, caller: Principal, access_key_id: str) -> None:
        self.services, self.region = services, region
        self.caller, self.access_key_id = caller, access_key_id

    def describe_secret(self, *, SecretId: str) -> Response:
        return self._call("DescribeSecret", SecretId=SecretId)

    def get_secret_value(
        self, *, SecretId: str, VersionId: str | None = None, VersionStage: str | None = None
    ) -> Response:
        return self._call("GetSecretValue", SecretId=SecretId, VersionId=VersionId, VersionStage=VersionStage)

    def put_secret_value(
        self, *, SecretId: str, ClientRequestToken: str, SecretString: str, VersionStages: list[str]
    ) -> Response:
        return self._call(
            "PutSecretValue",
            SecretId=SecretId,
            ClientRequestToken=ClientRequestToken,
            SecretString=SecretString,
            VersionStages=VersionStages,
        )

    def update_secret_version_stage(
        self, *, SecretId: str, VersionStage: str, MoveToVersionId: str, RemoveFromVersionId: str | None = None
    ) -> Response:
        return self._call(
            "UpdateSecretVersionStage",
            SecretId=SecretId,
            VersionStage=VersionStage,
            MoveToVersionId=MoveToVersionId,
            RemoveFromVersionId=RemoveFromVersionId,
        )

    def _call(self, operation: str, **params: Any) -> Response:
        given = {name: value for name, value in params.items() if value is not None}  # as botocore omits them
        context = Context(self.services, self.region, self.services.clock.now(), self.caller, self.access_key_id)
        try:
            return run(context, "secretsmanager", operation, OPERATIONS[operation].func, given)
        except DomainError as err:
            code = next((SECRETSMANAGER[k] for k in type(err).__mro__ if k in SECRETSMANAGER), "InternalServiceError")
            raise SecretsClientError(code, err.message) from None
