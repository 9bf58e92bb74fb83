"""Tags on secrets."""

from __future__ import annotations

from tumbler.core.errors import InvalidParameter, LimitExceeded
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.secretsmanager import common
from tumbler.ops.secretsmanager.common import operation

MAX_TAGS = 50


def check_tags(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise LimitExceeded(f"A secret can have at most {MAX_TAGS} tags.")
    for key in tags:
        if key.lower().startswith("aws:"):
            raise InvalidParameter("Invalid tag key. The prefix 'aws:' is reserved for AWS use.")


@operation("TagResource")
def tag_resource(ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        secret = common.writable(common.lock(uow, ctx, params["SecretId"]))
        tags = dict(secret.tags)
        tags.update({t["Key"]: t.get("Value", "") for t in params["Tags"]})
        check_tags(tags)
        secret.tags = tags
        secret.tagged = True
        secret.last_changed = ctx.now
        uow.update_secret(secret)
    return {}


@operation("UntagResource")
def untag_resource(ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        secret = common.writable(common.lock(uow, ctx, params["SecretId"]))
        for key in params["TagKeys"]:
            secret.tags.pop(key, None)
        secret.last_changed = ctx.now
        uow.update_secret(secret)
    return {}
