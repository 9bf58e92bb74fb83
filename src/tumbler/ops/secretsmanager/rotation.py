"""RotateSecret and CancelRotateSecret: they configure and enqueue; the rotation engine runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from tumbler.core import rotation as machine
from tumbler.core import schedule
from tumbler.core.errors import InvalidRequest
from tumbler.core.secrets import AWSCURRENT, AWSPENDING, Secret, VersionInfo
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.lambda_.common import parse_function_id
from tumbler.ops.secretsmanager import common
from tumbler.ops.secretsmanager.common import operation
from tumbler.ports.keyring import Keyring
from tumbler.ports.store import Reader, UnitOfWork

NO_FUNCTION = "No Lambda rotation function ARN is associated with this secret."
CANNOT_INVOKE = (
    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access "
    "to the principal secretsmanager.amazonaws.com."
)


def function_exists(ctx: Context, reader: Reader, lambda_arn: str) -> bool:
    name, _, region, _ = parse_function_id(lambda_arn)
    host = ctx.services.functions
    if host is not None and host.has_builtin(name):
        return True
    return reader.function(region or ctx.region, name) is not None


def check_rules(rules: dict[str, Any] | None) -> None:
    if rules is not None:
        schedule.parse_rules(rules)


@operation("RotateSecret")
def rotate_secret(ctx: Context, params: Params) -> Result:
    rules = params.get("RotationRules")
    check_rules(rules)
    token = params.get("ClientRequestToken") or str(uuid.uuid4())
    with ctx.store.transaction() as uow:
        secret = common.writable(common.lock(uow, ctx, params["SecretId"]))
        lambda_arn = params.get("RotationLambdaARN") or secret.rotation.lambda_arn
        if not lambda_arn:
            raise InvalidRequest(NO_FUNCTION)
        if not function_exists(ctx, uow, lambda_arn):
            raise InvalidRequest(CANNOT_INVOKE)
        pending = unfinished(secret)
        if pending is not None:  # AWS: "A previous rotation isn't complete. That rotation will be reattempted."
            reattempt(uow, secret, pending, lambda_arn, ctx.now)
        else:
            _start(uow, ctx, secret, token, lambda_arn, rules, immediately=params.get("RotateImmediately", True))
    ctx.services.wake_rotations()
    if pending is not None and pending != token:  # refused only now: the reattempt above is committed
        raise InvalidRequest(machine.PREVIOUS_INCOMPLETE)
    return {"ARN": secret.arn, "Name": secret.name, "VersionId": token}


def _start(
    uow: UnitOfWork, ctx: Context, secret: Secret, token: str, lambda_arn: str, rules: Any, *, immediately: bool
) -> None:
    secret.rotation.lambda_arn = lambda_arn
    secret.rotation.enabled = True
    if rules is not None:
        secret.rotation.rules = rules
    if token in secret.versions:
        raise InvalidRequest(f"A version with the ClientRequestToken {token} already exists.")
    reserve_version(uow, ctx.keyring, secret, token, ctx.now, copy_current=not immediately)
    rotation = machine.begin(
        str(uuid.uuid4()), secret.arn, secret.region, token, lambda_arn, ctx.now,
        secret.stages.get(AWSCURRENT), immediately=immediately,
    )  # fmt: skip
    uow.put_rotation(rotation)


def unfinished(secret: Secret) -> str | None:
    """The version of an unfinished rotation: AWSPENDING on a version that is not AWSCURRENT."""
    pending, current = secret.stages.get(AWSPENDING), secret.stages.get(AWSCURRENT)
    return pending if pending is not None and pending != current else None


def reattempt(uow: UnitOfWork, secret: Secret, token: str, lambda_arn: str, now: datetime) -> bool:
    """Start the unfinished rotation of ``token`` again, unless it is still running or retrying."""
    if uow.active_rotation(secret.arn) is not None:
        return False
    uow.put_rotation(
        machine.begin(str(uuid.uuid4()), secret.arn, secret.region, token, lambda_arn, now,
                      secret.stages.get(AWSCURRENT))
    )  # fmt: skip
    return True


def reserve_version(
    uow: UnitOfWork, keyring: Keyring, secret: Secret, token: str, now: datetime, *, copy_current: bool
) -> None:
    """The new version exists before createSecret runs: AWSPENDING, with no value yet.

    For RotateImmediately=false it holds the current value instead, for testSecret to check.
    """
    blob = None
    if copy_current:
        current = uow.value_by_stage(secret.arn, AWSCURRENT)
        value = common.unseal(keyring, current) if current else None
        if value is not None and current is not None:
            blob = common.seal(keyring, current.wrapped_key, secret.arn, token, value)
    uow.put_version(secret.arn, VersionInfo(token, now), blob)
    secret.stages = {**secret.stages, AWSPENDING: token}
    uow.set_stages(secret.arn, secret.stages)
    uow.update_secret(secret)


@operation("CancelRotateSecret")
def cancel_rotate_secret(ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        secret = common.writable(common.lock(uow, ctx, params["SecretId"]))
        secret.rotation.enabled = False
        secret.rotation.next_rotation = None
        uow.update_secret(secret)
        active = uow.active_rotation(secret.arn)
        out: Result = {"ARN": secret.arn, "Name": secret.name}
        if active is not None:
            uow.put_rotation(machine.abandon(active, ctx.now, "Rotation was cancelled by CancelRotateSecret."))
            out["VersionId"] = active.token
    if active is not None:
        ctx.services.audit.record(
            "RotationAbandoned", secret=secret.arn, version=active.token, reason="cancelled by CancelRotateSecret"
        )
    return out
