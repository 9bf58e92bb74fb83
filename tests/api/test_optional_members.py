"""Members botocore's model leaves optional but an operation cannot do without.

The model lets a Tag go without its ``Key`` and a replica entry without its ``Region``; the
operations need both. Each such request is refused as a 400 and changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import assert_error, post, snapshot, validation, violation
from tests.conftest import LiveServer


def no_key(index: int) -> str:
    return validation(violation(f"tags.{index}.member.key", "Member must not be null"))


def no_region(index: int) -> str:
    return validation(violation(f"addReplicaRegions.{index}.member.region", "Member must not be null"))


@pytest.fixture
def tagged(sm: Any, name: str) -> str:
    sm.create_secret(Name=name, SecretString="v1", Tags=[{"Key": "t", "Value": "1"}])
    return name


@pytest.mark.parametrize("tag", [{"Value": "1"}, {"Key": None, "Value": "1"}], ids=["absent", "null"])
def test_tag_resource_without_a_key(server: LiveServer, sm: Any, tagged: str, tag: dict[str, Any]) -> None:
    before = snapshot(sm, tagged)
    answer = post(server, {"SecretId": tagged, "Tags": [{"Key": "ok", "Value": "2"}, tag]}, "TagResource")
    assert (answer.status, answer.code, answer.message) == (400, "ValidationException", no_key(2))
    assert snapshot(sm, tagged) == before


@pytest.mark.parametrize("tag", [{"Value": "1"}, {"Key": None}], ids=["absent", "null"])
def test_create_secret_with_a_tag_without_a_key(server: LiveServer, sm: Any, name: str, tag: dict[str, Any]) -> None:
    answer = post(server, {"Name": name, "SecretString": "x", "Tags": [tag]}, "CreateSecret")
    assert (answer.status, answer.code, answer.message) == (400, "ValidationException", no_key(1))
    with pytest.raises(ClientError) as raised:
        sm.describe_secret(SecretId=name)
    assert_error(raised, "ResourceNotFoundException")


@pytest.mark.parametrize("entry", [{}, {"Region": None, "KmsKeyId": "alias/x"}], ids=["empty", "null"])
def test_replicate_without_a_region(server: LiveServer, sm: Any, tagged: str, entry: dict[str, Any]) -> None:
    before = snapshot(sm, tagged)
    body = {"SecretId": tagged, "AddReplicaRegions": [entry]}
    answer = post(server, body, "ReplicateSecretToRegions")
    assert (answer.status, answer.code, answer.message) == (400, "ValidationException", no_region(1))
    assert snapshot(sm, tagged) == before


def test_create_secret_with_a_replica_without_a_region(server: LiveServer, sm: Any, name: str) -> None:
    body = {"Name": name, "SecretString": "x", "AddReplicaRegions": [{"Region": "us-west-2"}, {}]}
    answer = post(server, body, "CreateSecret")
    assert (answer.status, answer.code, answer.message) == (400, "ValidationException", no_region(2))
    with pytest.raises(ClientError) as raised:
        sm.describe_secret(SecretId=name)
    assert_error(raised, "ResourceNotFoundException")
