"""The secrets client a built-in rotator gets: the operations in process, errors as the API's codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tumbler.adapters.crypto.keyring import Keyring
from tumbler.adapters.crypto.masterkey import MasterKey
from tumbler.adapters.store.sqlite import SqliteStore
from tumbler.ops.authorize import Authorizer
from tumbler.ops.context import root_principal
from tumbler.ports.secrets_client import SecretsClientError
from tumbler.ports.services import Services
from tumbler.server.secrets_client import InProcessSecrets


class Clock:
    def now(self) -> datetime:
        return datetime(2026, 3, 10, tzinfo=UTC)


@pytest.fixture
def client(tmp_path: Path) -> InProcessSecrets:
    store = SqliteStore(tmp_path / "t.db")
    services = Services(store=store, keyring=Keyring(MasterKey.generate()), clock=Clock(), account_id="123456789012")
    return InProcessSecrets(services, "us-east-1", root_principal(services.account_id), "")


def test_the_four_template_calls(client: InProcessSecrets) -> None:
    with pytest.raises(SecretsClientError) as missing:
        client.describe_secret(SecretId="db")
    assert (missing.value.code, missing.value.message) == (
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
    )
    client._call("CreateSecret", Name="db", SecretString="one", ClientRequestToken="a" * 32)
    put = {"SecretId": "db", "ClientRequestToken": "b" * 32, "SecretString": "two"}
    client.put_secret_value(**put, VersionStages=["AWSPENDING"])
    pending = client.get_secret_value(SecretId="db", VersionId="b" * 32, VersionStage="AWSPENDING")
    assert pending["SecretString"] == "two"
    client.update_secret_version_stage(
        SecretId="db", VersionStage="AWSCURRENT", MoveToVersionId="b" * 32, RemoveFromVersionId="a" * 32
    )
    assert client.get_secret_value(SecretId="db")["SecretString"] == "two"  # unset parameters are omitted
    stages = client.describe_secret(SecretId="db")["VersionIdsToStages"]
    assert stages == {"a" * 32: ["AWSPREVIOUS"], "b" * 32: ["AWSCURRENT", "AWSPENDING"]}


def test_a_refused_call_carries_the_apis_code(client: InProcessSecrets) -> None:
    client._call("CreateSecret", Name="db", SecretString="one", ClientRequestToken="a" * 32)
    with pytest.raises(SecretsClientError) as refused:
        client.update_secret_version_stage(SecretId="db", VersionStage="AWSCURRENT", MoveToVersionId="c" * 32)
    assert refused.value.code == "InvalidParameterException"


def test_calls_are_authorized_as_the_contexts_caller(tmp_path: Path) -> None:
    # The client runs each operation through ops.authorize.run, as the server does: here the caller is the root
    # (the Context's default), which a resource policy's explicit Deny still refuses.
    store = SqliteStore(tmp_path / "t.db")
    services = Services(store=store, keyring=Keyring(MasterKey.generate()), clock=Clock(), account_id="123456789012",
                        authorization=Authorizer())  # fmt: skip
    client = InProcessSecrets(services, "us-east-1", root_principal(services.account_id), "")
    client._call("CreateSecret", Name="db", SecretString="one", ClientRequestToken="a" * 32)
    deny = {"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    client._call("PutResourcePolicy", SecretId="db", ResourcePolicy=json.dumps({"Statement": [deny]}))
    with pytest.raises(SecretsClientError) as refused:
        client.get_secret_value(SecretId="db")
    assert (refused.value.code, refused.value.message) == (
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:root is not authorized to perform: secretsmanager:GetSecretValue on "
        "resource: db with an explicit deny in a resource-based policy",
    )
    assert client.describe_secret(SecretId="db")["Name"] == "db"
