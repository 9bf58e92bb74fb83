"""Invoke: run a function now (RequestResponse), later (Event), or only check that it could (DryRun)."""

from __future__ import annotations

import base64
import binascii

import orjson

from tumbler.core.errors import InvalidRequest
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.lambda_ import common
from tumbler.ops.lambda_.common import LATEST, operation

TAIL_BYTES = 4096  # LogType=Tail: the last 4 KB of the log, base64-encoded in X-Amz-Log-Result
NOT_JSON = "Could not parse request body into json: Could not parse payload into json: {}"
BAD_CLIENT_CONTEXT = "Client context must be a valid Base64-encoded JSON object."


@operation("Invoke")
def invoke(ctx: Context, params: Params) -> Result:
    name = common.function_name(ctx, params["FunctionName"], params.get("Qualifier"))
    _check_client_context(params.get("ClientContext"))
    event = _event(params.get("Payload"))
    kind = params.get("InvocationType", "RequestResponse")
    host = ctx.services.functions
    if kind == "DryRun":
        with ctx.store.reader() as reader:
            common.find(reader, ctx, {"FunctionName": name})
        return {"StatusCode": 204}
    if kind == "Event":
        host.invoke_async(ctx.region, name, event)
        return {"StatusCode": 202}
    result = host.invoke(ctx.region, name, event)
    out: Result = {"StatusCode": 200, "ExecutedVersion": LATEST, "Payload": result.payload}
    if result.function_error:
        out["FunctionError"] = result.function_error
    if params.get("LogType") == "Tail":
        out["LogResult"] = base64.b64encode(result.log.encode("utf-8")[-TAIL_BYTES:]).decode("ascii")
    return out


def _check_client_context(context: str | None) -> None:
    """The X-Amz-Client-Context header, when present, must be base64 of a JSON object."""
    if context is None:
        return
    try:
        decoded = orjson.loads(base64.b64decode(context, validate=True))
    except (binascii.Error, ValueError):
        raise InvalidRequest(BAD_CLIENT_CONTEXT) from None
    if not isinstance(decoded, dict):
        raise InvalidRequest(BAD_CLIENT_CONTEXT)


def _event(payload: bytes | None) -> bytes:
    """The event the handler gets: the payload, which must be JSON; none at all is ``{}``."""
    if not payload:
        return b"{}"
    try:
        orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(NOT_JSON.format(exc)) from None
    return payload
