"""Staging labels and the version list."""

from __future__ import annotations

from tumbler.core import listing
from tumbler.core.secrets import VersionInfo, move_stage
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.secretsmanager import common
from tumbler.ops.secretsmanager.common import operation


@operation("UpdateSecretVersionStage")
def update_secret_version_stage(ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        secret = common.writable(common.lock(uow, ctx, params["SecretId"]))
        stages = move_stage(
            secret, params["VersionStage"], params.get("MoveToVersionId"), params.get("RemoveFromVersionId")
        )
        if stages != secret.stages:
            uow.set_stages(secret.arn, stages)
            secret.last_changed = ctx.now
            uow.update_secret(secret)
        return {"ARN": secret.arn, "Name": secret.name}


@operation("ListSecretVersionIds", on_event_loop=True)
def list_secret_version_ids(ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        secret = common.find(reader, ctx, params["SecretId"])
    secret = common.with_recent_access(ctx, secret)
    labelled = secret.version_stages()
    versions = sorted(secret.versions.values(), key=lambda v: v.created)  # oldest first, as AWS
    if not params.get("IncludeDeprecated"):
        versions = [v for v in versions if v.version_id in labelled]
    page, token = listing.page(versions, params.get("MaxResults"), params.get("NextToken"))
    key = secret.kms_key_id or "DefaultEncryptionKey"
    out: Result = {"Versions": [_entry(v, labelled, key) for v in page], "ARN": secret.arn, "Name": secret.name}
    if token:
        out["NextToken"] = token
    return out


def _entry(version: VersionInfo, labelled: dict[str, list[str]], kms_key: str) -> Result:
    version_id = version.version_id
    entry: Result = {"VersionId": version_id}
    if version_id in labelled:
        entry["VersionStages"] = labelled[version_id]
    if version.last_accessed:
        entry["LastAccessedDate"] = version.last_accessed
    entry["CreatedDate"] = version.created
    entry["KmsKeyIds"] = [kms_key]
    return entry
