"""The secret's lifecycle: create, describe, update, delete, restore."""

from __future__ import annotations

from datetime import timedelta

from tumbler.core.errors import AlreadyExists, InvalidParameter, InvalidRequest
from tumbler.core.secrets import AWSCURRENT, Secret
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.secretsmanager import common
from tumbler.ops.secretsmanager.common import operation
from tumbler.ops.secretsmanager.replication import add_replicas
from tumbler.ops.secretsmanager.tags import check_tags, require_members, tags_from
from tumbler.ops.secretsmanager.versions import write_version
from tumbler.ports.store import UnitOfWork

DEFAULT_RECOVERY_DAYS = 30


@operation("CreateSecret")
def create_secret(ctx: Context, params: Params) -> Result:
    name = common.check_name(params["Name"])
    value = common.value_from(params)
    tags = tags_from(params.get("Tags", []))
    check_tags(tags)
    require_members(params.get("AddReplicaRegions", []), "addReplicaRegions", "Region")
    token = common.request_token(params) if value is not None else params.get("ClientRequestToken", "")
    kms_key_id = params.get("KmsKeyId") or None
    key_id = ctx.keyring.resolve_key(kms_key_id)
    with ctx.store.transaction() as uow:
        existing = uow.lock_secret(ctx.region, name)
        if existing is not None:
            return _existing(uow, ctx, existing, token, value)
        secret = Secret(
            arn=common.new_arn(ctx, name),
            name=name,
            region=ctx.region,
            created=ctx.now,
            last_changed=ctx.now,
            description=params.get("Description"),
            partner_type=params.get("Type"),
            kms_key_id=kms_key_id,
            tags=tags,
            tagged=bool(tags),
        )
        uow.insert_secret(secret, ctx.keyring.new_data_key(key_id, common.key_aad(secret.arn)))
        out: Result = {"ARN": secret.arn, "Name": name}
        if value is not None:
            out["VersionId"] = write_version(uow, ctx, secret, token, value, [AWSCURRENT]).version_id
        if params.get("AddReplicaRegions"):
            out["ReplicationStatus"] = add_replicas(
                uow, ctx, secret, params["AddReplicaRegions"], bool(params.get("ForceOverwriteReplicaSecret"))
            )
        return out


def _existing(uow: UnitOfWork, ctx: Context, secret: Secret, token: str, value: object) -> Result:
    """A retried CreateSecret (same token, same value) succeeds; anything else is a conflict."""
    if secret.is_deleted:
        raise InvalidRequest(
            "You can't create this secret because a secret with this name is already scheduled for deletion."
        )
    if value is not None and token in secret.versions:
        stored = uow.value(secret.arn, token)
        if stored is not None and common.unseal(ctx.keyring, stored) == value:
            return {"ARN": secret.arn, "Name": secret.name, "VersionId": token}
        raise AlreadyExists(common.token_in_use(token, secret.arn))
    raise AlreadyExists(f"The operation failed because the secret {secret.name} already exists.")


@operation("DescribeSecret", on_event_loop=True)
def describe_secret(ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        secret = common.find(reader, ctx, params["SecretId"])
    return common.describe(common.with_recent_access(ctx, secret))


@operation("UpdateSecret")
def update_secret(ctx: Context, params: Params) -> Result:
    value = common.value_from(params)
    token = common.request_token(params) if value is not None else None
    kms_key_id = params.get("KmsKeyId")
    if kms_key_id is not None:
        ctx.keyring.resolve_key(kms_key_id or None)
    with ctx.store.transaction() as uow:
        secret = common.writable(common.lock(uow, ctx, params["SecretId"]))
        if "Description" in params:
            secret.description = params["Description"]
        if "Type" in params:
            secret.partner_type = params["Type"]
        if kms_key_id is not None and (kms_key_id or None) != secret.kms_key_id:
            _rekey(uow, ctx, secret, kms_key_id or None)
        secret.last_changed = ctx.now
        uow.update_secret(secret)
        out: Result = {"ARN": secret.arn, "Name": secret.name}
        if value is not None and token is not None:
            out["VersionId"] = write_version(uow, ctx, secret, token, value, [AWSCURRENT]).version_id
        return out


def _rekey(uow: UnitOfWork, ctx: Context, secret: Secret, kms_key_id: str | None) -> None:
    """Put the secret's data key under the newly chosen KMS key: every version follows it."""
    aad = common.key_aad(secret.arn)
    rewrapped = ctx.keyring.rewrap(uow.wrapped_key(secret.arn), aad, key_id=ctx.keyring.resolve_key(kms_key_id))
    if rewrapped is not None:
        uow.set_wrapped_key(secret.arn, rewrapped)
    secret.kms_key_id = kms_key_id


@operation("DeleteSecret")
def delete_secret(ctx: Context, params: Params) -> Result:
    force = bool(params.get("ForceDeleteWithoutRecovery"))
    days = params.get("RecoveryWindowInDays")
    if force and days is not None:
        raise InvalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
    if days is not None and not 7 <= days <= 30:
        raise InvalidParameter("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
    with ctx.store.transaction() as uow:
        secret = uow.lock_secret(ctx.region, common.check_secret_id(params["SecretId"]))
        if secret is None and force:  # AWS: forcing the delete of a missing secret is not an error
            return _deleted_without_secret(ctx, params["SecretId"])
        secret = common.lock(uow, ctx, params["SecretId"])
        _check_deletable(secret, params["SecretId"])
        if force:
            uow.delete_secret(secret.arn)
            return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": ctx.now}
        if secret.is_deleted:
            raise InvalidRequest(common.MARKED_FOR_DELETION)
        secret.deleted_date = ctx.now
        secret.deletion_date = ctx.now + timedelta(days=days or DEFAULT_RECOVERY_DAYS)
        uow.update_secret(secret)
        return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": secret.deletion_date}


def _deleted_without_secret(ctx: Context, secret_id: str) -> Result:
    """AWS answers a forced delete of a missing secret as if it had existed: an ARN, a Name, a DeletionDate."""
    if secret_id.startswith("arn:"):
        name = secret_id.split(":secret:", 1)[-1]
        return {"ARN": secret_id, "Name": name.rsplit("-", 1)[0] if "-" in name else name, "DeletionDate": ctx.now}
    return {"ARN": common.new_arn(ctx, secret_id), "Name": secret_id, "DeletionDate": ctx.now}


def _check_deletable(secret: Secret, secret_id: str) -> None:
    if secret.is_replica:
        raise InvalidParameter(common.ON_REPLICA)
    if secret.replicas:
        raise InvalidParameter(
            f"You can't delete secret {secret_id} that still has replica regions "
            "[" + ", ".join(r.region for r in secret.replicas) + "]"
        )


@operation("RestoreSecret")
def restore_secret(ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        secret = common.lock(uow, ctx, params["SecretId"])
        if secret.is_replica:
            raise InvalidParameter(common.ON_REPLICA)
        if secret.is_deleted:
            secret.deleted_date = secret.deletion_date = None
            uow.update_secret(secret)
        return {"ARN": secret.arn, "Name": secret.name}
