"""Reading and writing secret values: the hot path lives here."""

from __future__ import annotations

import uuid
from typing import Any

from tumbler.core import listing
from tumbler.core.errors import DomainError, InvalidParameter, InvalidRequest, NotFound
from tumbler.core.secrets import AWSCURRENT, Secret
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.errors import to_wire
from tumbler.ops.secretsmanager import common
from tumbler.ops.secretsmanager.common import operation
from tumbler.ops.secretsmanager.versions import write_version
from tumbler.ports.store import Reader

NO_VALUE = "You must provide either SecretString or SecretBinary."
MISMATCH = "You provided a VersionStage that is not associated to the provided VersionId."


def _read(ctx: Context, reader: Reader, secret: Secret, version_id: str | None, stage: str | None) -> Result:
    common.live(secret)
    if version_id is not None:
        stored = reader.value(secret.arn, version_id)
        if stored is None:
            raise NotFound(f"Secrets Manager can't find the specified secret value for VersionId: {version_id}")
        if stage is not None and secret.stages.get(stage) != version_id:
            raise InvalidRequest(MISMATCH)
    else:
        stage = stage or AWSCURRENT
        stored = reader.value_by_stage(secret.arn, stage)
        if stored is None:
            raise NotFound(f"Secrets Manager can't find the specified secret value for staging label: {stage}")
    value = common.unseal(ctx.keyring, stored)
    if value is None:  # a rotation has reserved this version but not filled it yet
        raise NotFound(f"Secrets Manager can't find the specified secret value for VersionId: {stored.version_id}")
    _touch(ctx, secret, stored.version_id)
    return {
        "ARN": secret.arn,
        "Name": secret.name,
        "VersionId": stored.version_id,
        **common.value_fields(value),
        "VersionStages": secret.stages_of(stored.version_id),
        "CreatedDate": stored.created,
    }


def _touch(ctx: Context, secret: Secret, version_id: str) -> None:
    """LastAccessedDate is kept to the day, so a read writes at most once a day per secret."""
    today = common.day_of(ctx.now)
    version = secret.versions.get(version_id)
    if secret.last_accessed != today or (version is not None and version.last_accessed != today):
        ctx.store.touch_accessed(secret.arn, version_id, today)


@operation("GetSecretValue", readonly=True)
def get_secret_value(ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        secret = common.find(reader, ctx, params["SecretId"])
        return _read(ctx, reader, secret, params.get("VersionId"), params.get("VersionStage"))


@operation("BatchGetSecretValue", readonly=True)
def batch_get_secret_value(ctx: Context, params: Params) -> Result:
    ids, filters = params.get("SecretIdList"), params.get("Filters")
    if (ids is None) == (filters is None):
        raise InvalidParameter("Either 'SecretIdList' or 'Filters' must be provided, but not both.")
    if ids is not None and params.get("MaxResults") is not None:
        raise InvalidParameter(
            "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided."
        )
    values: list[Result] = []
    errors: list[dict[str, Any]] = []
    with ctx.store.reader() as reader:
        if ids is not None:
            targets: list[tuple[str, Secret | None]] = [(i, reader.find_secret(ctx.region, i)) for i in ids]
            next_token = None
        else:
            wanted = common.filters_from(filters)
            matching = [s for s in reader.list_secrets(ctx.region) if not s.is_deleted and listing.matches(s, wanted)]
            page, next_token = listing.page(
                listing.sort_secrets(matching, None, None), params.get("MaxResults"), params.get("NextToken"), 20
            )
            targets = [(s.arn, s) for s in page]
        for secret_id, secret in targets:
            try:
                if secret is None:
                    raise NotFound(common.NOT_FOUND)
                values.append(_read(ctx, reader, secret, None, None))
            except DomainError as err:
                wire = to_wire("secretsmanager", err)
                errors.append({"SecretId": secret_id, "ErrorCode": wire.code, "Message": wire.message})
    out: Result = {"SecretValues": values, "Errors": errors}
    if next_token:
        out["NextToken"] = next_token
    return out


@operation("PutSecretValue")
def put_secret_value(ctx: Context, params: Params) -> Result:
    value = common.value_from(params)
    if value is None:
        raise InvalidRequest(NO_VALUE)
    token = params.get("ClientRequestToken") or str(uuid.uuid4())
    labels = params.get("VersionStages") or [AWSCURRENT]
    with ctx.store.transaction() as uow:
        secret = common.writable(common.lock(uow, ctx, params["SecretId"]))
        written = write_version(uow, ctx, secret, token, value, labels)
    return {"ARN": secret.arn, "Name": secret.name, "VersionId": written.version_id, "VersionStages": written.stages}
