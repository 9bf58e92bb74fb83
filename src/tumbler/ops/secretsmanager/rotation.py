"""RotateSecret and CancelRotateSecret: the rotation engine arrives with its own issue."""

from __future__ import annotations

from tumbler.core.errors import InvalidRequest
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.secretsmanager import common
from tumbler.ops.secretsmanager.common import operation

NOT_YET = "Rotation is not available on this server yet."


@operation("RotateSecret")
def rotate_secret(ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        common.writable(common.find(reader, ctx, params["SecretId"]))
    raise InvalidRequest(NOT_YET)


@operation("CancelRotateSecret")
def cancel_rotate_secret(ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        common.writable(common.find(reader, ctx, params["SecretId"]))
    raise InvalidRequest(NOT_YET)
