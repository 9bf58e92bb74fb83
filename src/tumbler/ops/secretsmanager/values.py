"""Reading and writing secret values: the hot path lives here."""

from __future__ import annotations

from typing import Any

from tumbler.core import listing
from tumbler.core.errors import DomainError, InvalidParameter, InvalidRequest, NotFound
from tumbler.core.secrets import AWSCURRENT
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.errors import to_wire
from tumbler.ops.secretsmanager import common
from tumbler.ops.secretsmanager.common import operation
from tumbler.ops.secretsmanager.versions import write_version
from tumbler.ports.store import Reader, Store, ValueRead

NO_VALUE = "You must provide either SecretString or SecretBinary."
MISMATCH = "You provided a VersionStage that is not associated to the provided VersionId."
BATCH_PAGE_SIZE = 20  # BatchGetSecretValue's MaxResults default
ACCESS_DENIED = "AccessDeniedException"


def _read(
    ctx: Context, source: Reader | Store, secret_id: str, version_id: str | None, stage: str | None
) -> tuple[Result, ValueRead]:
    """GetSecretValue's answer, or the error AWS gives. ``source``: a read under way, or the store itself
    (GetSecretValue's one read, which the store may serve from its cache)."""
    found = source.read_value(
        ctx.region, common.check_secret_id(secret_id), version_id=version_id, stage=stage or AWSCURRENT
    )
    if found is None:
        raise NotFound(common.NOT_FOUND)
    if found.deleted:
        raise InvalidRequest(common.MARKED_FOR_DELETION)
    stored = found.stored
    if stored is None and version_id is not None:
        raise NotFound(f"Secrets Manager can't find the specified secret value for VersionId: {version_id}")
    if stored is None:
        raise NotFound(
            f"Secrets Manager can't find the specified secret value for staging label: {stage or AWSCURRENT}"
        )
    if version_id is not None and stage is not None and stage not in found.stages:
        raise InvalidRequest(MISMATCH)
    value = common.unseal(ctx.keyring, stored)
    if value is None:  # a rotation has reserved this version but not filled it yet
        raise NotFound(f"Secrets Manager can't find the specified secret value for VersionId: {stored.version_id}")
    result = {
        "ARN": found.arn,
        "Name": found.name,
        "VersionId": stored.version_id,
        **common.value_fields(value),
        "VersionStages": found.stages,
        "CreatedDate": stored.created,
    }
    return result, found


def _touch(ctx: Context, found: ValueRead) -> None:
    """LastAccessedDate is kept to the day, so a read writes at most once a day per secret.

    Called after the read has ended: a write inside a read transaction cannot wait for the lock."""
    today = common.day_of(ctx.now)
    if found.last_accessed != today or found.version_accessed != today:
        assert found.stored is not None
        ctx.store.touch_accessed(found.arn, found.stored.version_id, today)


@operation("GetSecretValue", on_event_loop=True)
def get_secret_value(ctx: Context, params: Params) -> Result:
    result, found = _read(ctx, ctx.store, params["SecretId"], params.get("VersionId"), params.get("VersionStage"))
    _touch(ctx, found)
    return result


@operation("BatchGetSecretValue")
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
    read: list[ValueRead] = []
    if ids is not None:
        targets, next_token = list(ids), None
    else:
        query = listing.list_query(
            ctx.region, common.filters_from(filters), max_results=params.get("MaxResults"),
            next_token=params.get("NextToken"), default_size=BATCH_PAGE_SIZE,
        )  # fmt: skip
        with ctx.store.reader() as reader:
            matched = reader.list_page(listing.one_more(query))
        targets, next_token = [s.arn for s in matched[: query.limit]], listing.next_token(query, matched)
    # "you must have secretsmanager:GetSecretValue for each secret": a secret the caller may not read is an
    # AccessDeniedException in Errors, as GetSecretValue would answer it, and the others are still returned.
    authorization = ctx.services.authorization
    refused = {
        secret_id: message
        for secret_id in targets
        if (message := authorization.refusal(ctx, "secretsmanager", "GetSecretValue", {"SecretId": secret_id}))
    }
    with ctx.store.reader() as reader:
        for secret_id in targets:
            if secret_id in refused:
                errors.append({"SecretId": secret_id, "ErrorCode": ACCESS_DENIED, "Message": refused[secret_id]})
                continue
            try:
                value, found = _read(ctx, reader, secret_id, None, None)
                values.append(value)
                read.append(found)
            except DomainError as err:
                wire = to_wire("secretsmanager", err)
                errors.append({"SecretId": secret_id, "ErrorCode": wire.code, "Message": wire.message})
    for found in read:
        _touch(ctx, found)
    out: Result = {"SecretValues": values, "Errors": errors}
    if next_token:
        out["NextToken"] = next_token
    return out


@operation("PutSecretValue")
def put_secret_value(ctx: Context, params: Params) -> Result:
    value = common.value_from(params)
    if value is None:
        raise InvalidRequest(NO_VALUE)
    token = common.request_token(params)
    labels = params.get("VersionStages") or [AWSCURRENT]
    with ctx.store.transaction() as uow:
        secret = common.writable(common.lock(uow, ctx, params["SecretId"]))
        written = write_version(uow, ctx, secret, token, value, labels)
    return {"ARN": secret.arn, "Name": secret.name, "VersionId": written.version_id, "VersionStages": written.stages}
