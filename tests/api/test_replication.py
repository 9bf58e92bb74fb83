"""Multi-Region secrets: ReplicateSecretToRegions, RemoveRegionsFromReplication, StopReplicationToReplica.

A region is the one named in the request's credential scope, so a client built for another
region sees that region's secrets. Expected errors for writes to a replica follow moto's
replication tests and AWS users' code, which handle ``InvalidParameterException`` with
"Operation not permitted on a replica secret. Call must be made in primary secret's region."
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.helpers import NOT_FOUND, assert_error, error_of
from tests.conftest import LiveServer

PRIMARY, REPLICA = "us-east-1", "us-west-2"
ON_REPLICA = "Operation not permitted on a replica secret. Call must be made in primary secret's region."


@pytest.fixture(scope="module")
def west(server: LiveServer) -> Any:
    return server.client(region=REPLICA)


@pytest.fixture
def replicated(sm: Any, name: str) -> str:
    """A secret in us-east-1 with value "shared", replicated to us-west-2; returns its ARN."""
    arn: str = sm.create_secret(Name=name, SecretString="shared")["ARN"]
    sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": REPLICA}])
    return arn


def test_regions_are_separate_namespaces(sm: Any, west: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="east")
    with pytest.raises(ClientError) as raised:
        west.describe_secret(SecretId=name)
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)
    created = west.create_secret(Name=name, SecretString="west")  # the same name is free in another region
    assert f":{REPLICA}:" in created["ARN"]
    assert west.get_secret_value(SecretId=name)["SecretString"] == "west"
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "east"


def test_replicate_reports_the_region(sm: Any, name: str) -> None:
    arn = sm.create_secret(Name=name, SecretString="v")["ARN"]
    replicated = sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": REPLICA}])
    assert replicated["ARN"] == arn
    [status] = replicated["ReplicationStatus"]
    assert status["Region"] == REPLICA
    assert status["Status"] in ("InProgress", "InSync")
    [described] = sm.describe_secret(SecretId=name)["ReplicationStatus"]
    assert described["Region"] == REPLICA


def test_replica_is_visible_in_its_region(sm: Any, west: Any, name: str, replicated: str) -> None:
    replica = west.describe_secret(SecretId=name)
    assert replica["ARN"] == replicated.replace(f":{PRIMARY}:", f":{REPLICA}:")
    assert replica["Name"] == name
    assert replica["PrimaryRegion"] == PRIMARY
    assert replica["VersionIdsToStages"] == sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert west.describe_secret(SecretId=replica["ARN"])["ARN"] == replica["ARN"]


def test_replica_serves_the_same_value(sm: Any, west: Any, name: str, replicated: str) -> None:
    primary = sm.get_secret_value(SecretId=name)
    replica = west.get_secret_value(SecretId=name)
    assert replica["SecretString"] == "shared"
    assert replica["VersionId"] == primary["VersionId"]
    assert replica["ARN"] == replicated.replace(f":{PRIMARY}:", f":{REPLICA}:")


def test_replica_follows_new_primary_values(sm: Any, west: Any, name: str, replicated: str) -> None:
    put = sm.put_secret_value(SecretId=name, SecretString="rotated")
    got = west.get_secret_value(SecretId=name)
    assert (got["SecretString"], got["VersionId"]) == ("rotated", put["VersionId"])


def test_writes_on_the_replica_are_refused(sm: Any, west: Any, name: str, replicated: str) -> None:
    writes: dict[str, Callable[[], Any]] = {
        "PutSecretValue": lambda: west.put_secret_value(SecretId=name, SecretString="nope"),
        "UpdateSecret": lambda: west.update_secret(SecretId=name, Description="nope"),
        "TagResource": lambda: west.tag_resource(SecretId=name, Tags=[{"Key": "k", "Value": "v"}]),
        "UntagResource": lambda: west.untag_resource(SecretId=name, TagKeys=["k"]),
        "DeleteSecret": lambda: west.delete_secret(SecretId=name),
    }
    refusals = {}
    for operation, call in writes.items():
        with pytest.raises(ClientError) as raised:
            call()
        refusals[operation] = error_of(raised.value)
    assert refusals == dict.fromkeys(writes, ("InvalidParameterException", ON_REPLICA, 400))
    assert west.get_secret_value(SecretId=name)["SecretString"] == "shared"
    assert "Description" not in sm.describe_secret(SecretId=name)


def test_replicate_to_its_own_region(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    with pytest.raises(ClientError) as raised:
        sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": PRIMARY}])
    assert_error(raised, "InvalidParameterException")
    assert "ReplicationStatus" not in sm.describe_secret(SecretId=name)


def test_replicate_over_an_existing_secret_fails_without_force(sm: Any, west: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="primary")
    west.create_secret(Name=name, SecretString="local")
    replicated = sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": REPLICA}])
    [status] = replicated["ReplicationStatus"]
    assert status["Status"] == "Failed"
    assert status["StatusMessage"]
    assert west.get_secret_value(SecretId=name)["SecretString"] == "local"
    assert "PrimaryRegion" not in west.describe_secret(SecretId=name)


def test_replicate_over_an_existing_secret_with_force(sm: Any, west: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="primary")
    west.create_secret(Name=name, SecretString="local")
    sm.replicate_secret_to_regions(
        SecretId=name, AddReplicaRegions=[{"Region": REPLICA}], ForceOverwriteReplicaSecret=True
    )
    assert west.get_secret_value(SecretId=name)["SecretString"] == "primary"
    assert west.describe_secret(SecretId=name)["PrimaryRegion"] == PRIMARY


def test_create_with_replica_regions(sm: Any, west: Any, name: str) -> None:
    created = sm.create_secret(Name=name, SecretString="born shared", AddReplicaRegions=[{"Region": REPLICA}])
    assert [s["Region"] for s in created["ReplicationStatus"]] == [REPLICA]
    assert west.get_secret_value(SecretId=name)["SecretString"] == "born shared"


def test_remove_regions_deletes_the_replica(sm: Any, west: Any, name: str, replicated: str) -> None:
    removed = sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[REPLICA])
    assert removed["ARN"] == replicated
    assert removed["ReplicationStatus"] == []
    assert not sm.describe_secret(SecretId=name).get("ReplicationStatus")
    with pytest.raises(ClientError) as raised:
        west.describe_secret(SecretId=name)
    assert_error(raised, "ResourceNotFoundException", NOT_FOUND)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "shared"


def test_stop_replication_makes_a_standalone_secret(sm: Any, west: Any, name: str, replicated: str) -> None:
    version = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    stopped = west.stop_replication_to_replica(SecretId=name)
    assert stopped["ARN"] == replicated.replace(f":{PRIMARY}:", f":{REPLICA}:")
    described = west.describe_secret(SecretId=name)
    assert "PrimaryRegion" not in described or described["PrimaryRegion"] == REPLICA
    assert described["VersionIdsToStages"] == version
    assert west.get_secret_value(SecretId=name)["SecretString"] == "shared"  # keeps its value
    # now its own secret: writable here, and no longer following the old primary
    west.put_secret_value(SecretId=name, SecretString="independent")
    sm.put_secret_value(SecretId=name, SecretString="primary moved on")
    assert west.get_secret_value(SecretId=name)["SecretString"] == "independent"
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "primary moved on"
    assert not sm.describe_secret(SecretId=name).get("ReplicationStatus")


def test_stop_replication_on_a_primary(sm: Any, name: str) -> None:
    sm.create_secret(Name=name, SecretString="v")
    with pytest.raises(ClientError) as raised:
        sm.stop_replication_to_replica(SecretId=name)
    # AWS documents no wording for this; either of the codes it declares for the case will do
    code, _, status = error_of(raised.value)
    assert (code in ("InvalidRequestException", "InvalidParameterException"), status) == (True, 400)


def test_delete_refused_while_replicas_exist(sm: Any, west: Any, name: str, replicated: str) -> None:
    # DeleteSecret: "You can't delete a primary secret that is replicated to other Regions. You
    # must first delete the replicas using RemoveRegionsFromReplication".
    with pytest.raises(ClientError) as raised:
        sm.delete_secret(SecretId=replicated)
    message = assert_error(raised, "InvalidParameterException")
    assert message == f"You can't delete secret {replicated} that still has replica regions [{REPLICA}]"
    assert "DeletedDate" not in sm.describe_secret(SecretId=name)
    with pytest.raises(ClientError) as raised:
        sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert_error(raised, "InvalidParameterException")
    assert west.get_secret_value(SecretId=name)["SecretString"] == "shared"
    sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[REPLICA])
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
