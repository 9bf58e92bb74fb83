"""Managed external secrets (botocore 1.44): Type on the secret, the partner's rotation settings on RotateSecret.

Tumbler keeps and shows them as AWS does. Rotating through a partner cannot happen here: no partner exists,
so a typed secret without a rotation function is refused as a partner Secrets Manager does not support.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.rotation_helpers import create_function
from tests.conftest import LiveServer

METADATA = [{"Key": "consumerKey", "Value": "abc"}, {"Key": "apiVersion", "Value": "v60.0"}]
ROLE = "arn:aws:iam::123456789012:role/partner-rotation"


@pytest.fixture(scope="module")
def lam(server: LiveServer) -> Any:
    return server.client("lambda")


def test_type_is_kept_and_shown(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="{}", Type="SalesforceClientSecret")
    assert sm.describe_secret(SecretId=name)["Type"] == "SalesforceClientSecret"
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    assert [entry.get("Type") for entry in listed] == ["SalesforceClientSecret"]
    sm.update_secret(SecretId=name, Type="SnowflakeKeyPairAuthentication")
    assert sm.describe_secret(SecretId=name)["Type"] == "SnowflakeKeyPairAuthentication"


def test_a_secret_without_type_shows_none(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    assert "Type" not in sm.describe_secret(SecretId=name)


def test_external_rotation_settings_are_kept_and_shown(sm: Any, lam: Any, name: str) -> None:
    fn = create_function(lam, "generic_rotation.py")
    sm.create_secret(Name=name, SecretString='{"username": "app", "password": "initial"}')
    sm.rotate_secret(
        SecretId=name, RotationLambdaARN=fn, RotateImmediately=False, RotationRules={"AutomaticallyAfterDays": 7},
        ExternalSecretRotationMetadata=METADATA, ExternalSecretRotationRoleArn=ROLE,
    )  # fmt: skip
    described = sm.describe_secret(SecretId=name)
    assert described["ExternalSecretRotationMetadata"] == METADATA
    assert described["ExternalSecretRotationRoleArn"] == ROLE
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"][0]
    assert listed["ExternalSecretRotationRoleArn"] == ROLE


def test_partner_rotation_is_refused_and_changes_nothing(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="{}", Type="DatadogApiKey")
    with pytest.raises(ClientError) as raised:
        sm.rotate_secret(
            SecretId=name, RotationRules={"AutomaticallyAfterDays": 7},
            ExternalSecretRotationMetadata=METADATA, ExternalSecretRotationRoleArn=ROLE,
        )  # fmt: skip
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "DatadogApiKey" in raised.value.response["Error"]["Message"]
    described = sm.describe_secret(SecretId=name)
    assert "RotationEnabled" not in described
    assert "ExternalSecretRotationRoleArn" not in described
