"""Replication between regions. Regions are namespaces chosen by the credential scope.

A replica is a read-only secret of the same name in another region that shows its
primary's versions (the store resolves them through ``source_arn``), so there is nothing to
copy and nothing to fall out of sync. Stopping replication gives the replica its own copy.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tumbler.core.errors import InvalidParameter, InvalidRequest
from tumbler.core.secrets import Replica, Secret
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.secretsmanager import common
from tumbler.ops.secretsmanager.common import operation
from tumbler.ops.secretsmanager.tags import require_members
from tumbler.ports.store import UnitOfWork

NAME_TAKEN = "Replication failed: Secret name already exists in destination region."


def replica_arn(arn: str, region: str) -> str:
    parts = arn.split(":")
    parts[3] = region
    return ":".join(parts)


def add_replicas(
    uow: UnitOfWork, ctx: Context, secret: Secret, regions: list[dict[str, Any]], force: bool
) -> list[dict[str, Any]]:
    require_members(regions, "addReplicaRegions", "Region")
    for entry in regions:
        region = entry["Region"]
        if region == secret.region:
            raise InvalidParameter("Invalid replica region. The replica region can't be the primary region.")
        if any(r.region == region for r in secret.replicas):
            continue
        secret.replicas.append(_place(uow, ctx, secret, region, entry.get("KmsKeyId"), force))
    uow.update_secret(secret)
    return common.replication_status(secret)


def _place(uow: UnitOfWork, ctx: Context, secret: Secret, region: str, kms_key_id: str | None, force: bool) -> Replica:
    taken = uow.lock_secret(region, secret.name)
    if taken is not None and not force:
        return Replica(region, kms_key_id, "Failed", NAME_TAKEN)
    if taken is not None:
        uow.delete_secret(taken.arn)
    replica = dataclasses.replace(
        secret,
        arn=replica_arn(secret.arn, region),
        region=region,
        created=ctx.now,
        last_changed=ctx.now,
        kms_key_id=kms_key_id,
        primary_region=secret.region,
        replicas=[],
        policy=None,
        last_accessed=None,
        versions={},
        stages={},
    )
    uow.insert_secret(replica, b"")  # a replica opens values with its primary's data key
    return Replica(region, kms_key_id)


@operation("ReplicateSecretToRegions")
def replicate_secret_to_regions(ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        secret = common.writable(common.lock(uow, ctx, params["SecretId"]))
        status = add_replicas(
            uow, ctx, secret, params["AddReplicaRegions"], bool(params.get("ForceOverwriteReplicaSecret"))
        )
    return {"ARN": secret.arn, "ReplicationStatus": status}


@operation("RemoveRegionsFromReplication")
def remove_regions_from_replication(ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        secret = common.writable(common.lock(uow, ctx, params["SecretId"]))
        drop = set(params["RemoveReplicaRegions"])
        for replica in secret.replicas:
            if replica.region in drop and replica.status != "Failed":
                uow.delete_secret(replica_arn(secret.arn, replica.region))
        secret.replicas = [r for r in secret.replicas if r.region not in drop]
        uow.update_secret(secret)
    return {"ARN": secret.arn, "ReplicationStatus": common.replication_status(secret)}


@operation("StopReplicationToReplica")
def stop_replication_to_replica(ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        replica = common.live(common.lock(uow, ctx, params["SecretId"]))
        if not replica.is_replica:
            raise InvalidRequest("Secrets Manager can't stop replication for a secret that is not a replica.")
        values = {vid: uow.value(replica.arn, vid) for vid in replica.versions}
        uow.delete_secret(replica.arn)
        standalone = dataclasses.replace(replica, primary_region=None, last_changed=ctx.now)
        key = ctx.keyring.new_data_key(ctx.keyring.resolve_key(replica.kms_key_id), common.key_aad(replica.arn))
        uow.insert_secret(standalone, key)
        for vid, stored in values.items():
            plain = common.unseal(ctx.keyring, stored) if stored else None
            blob = common.seal(ctx.keyring, key, replica.arn, vid, plain) if plain is not None else None
            uow.put_version(replica.arn, replica.versions[vid], blob)
        uow.set_stages(replica.arn, replica.stages)
        primary = uow.lock_secret(str(replica.primary_region), replica_arn(replica.arn, str(replica.primary_region)))
        if primary is not None:
            primary.replicas = [r for r in primary.replicas if r.region != replica.region]
            uow.update_secret(primary)
    return {"ARN": replica.arn}
