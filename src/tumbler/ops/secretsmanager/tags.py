"""Tags on secrets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tumbler.core.errors import InvalidInput, InvalidParameter, LimitExceeded
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.secretsmanager import common
from tumbler.ops.secretsmanager.common import operation

MAX_TAGS = 50
MAX_REPORTED = 10  # as the wire layer's Coral wording: at most ten violations in one answer


def require_members(entries: Sequence[dict[str, Any]], list_path: str, member: str) -> None:
    """Refuse entries lacking ``member``, which the model leaves optional but the operation needs.

    Worded as Coral words a null member (``Value null at 'tags.2.member.key' ...``): AWS's own
    answer to such a request is not documented.
    """
    path = member[0].lower() + member[1:]
    missing = [i for i, entry in enumerate(entries, 1) if entry.get(member) is None][:MAX_REPORTED]
    if missing:
        noun = "error" if len(missing) == 1 else "errors"
        violations = "; ".join(
            f"Value null at '{list_path}.{i}.member.{path}' failed to satisfy constraint: Member must not be null"
            for i in missing
        )
        raise InvalidInput(f"{len(missing)} validation {noun} detected: {violations}")


def tags_from(entries: Sequence[dict[str, Any]]) -> dict[str, str]:
    """A request's Tags as a dict; every entry must have its Key."""
    require_members(entries, "tags", "Key")
    return {t["Key"]: t.get("Value") or "" for t in entries}


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
        tags.update(tags_from(params["Tags"]))
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
