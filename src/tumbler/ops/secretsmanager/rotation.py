"""RotateSecret and CancelRotateSecret: they configure and enqueue; the rotation engine runs."""

from __future__ import annotations

from typing import Any

from tumbler.core import rotation as machine
from tumbler.core import schedule
from tumbler.core.arns import function_arn, parse_function_id
from tumbler.core.errors import AccessDenied, InvalidParameter, InvalidRequest
from tumbler.core.iam.service_invoke import CANNOT_INVOKE, builtin_function_policy, secrets_manager_may_invoke
from tumbler.core.secrets import AWSCURRENT, Secret
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.secretsmanager import common
from tumbler.ops.secretsmanager.common import operation
from tumbler.ports.keyring import Keyring
from tumbler.ports.rotations import RotationStart
from tumbler.ports.store import Reader, UnitOfWork

NO_FUNCTION = "No Lambda rotation function ARN is associated with this secret."


def unsupported_partner(partner_type: str) -> str:
    """Managed external secrets rotate through a partner AWS integrates with; no partner can exist here."""
    return f"Secrets Manager can't rotate secrets of type {partner_type}: the partner is not supported."


def function_policy(ctx: Context, reader: Reader, lambda_arn: str) -> tuple[str, str | None] | None:
    """The function's unqualified ARN and its policy (None if it has none); None when there is no such function."""
    name, _, region, account = parse_function_id(lambda_arn)
    region = region or ctx.region
    if name in ctx.services.functions.builtins:
        arn = function_arn(region, account or ctx.account_id, name)
        return arn, builtin_function_policy(arn)
    record = reader.function(region, name)
    return None if record is None else (record.arn, record.policy)


def check_rules(rules: dict[str, Any] | None) -> None:
    if rules is not None:
        schedule.parse_rules(rules)


@operation("RotateSecret")
def rotate_secret(ctx: Context, params: Params) -> Result:
    rules = params.get("RotationRules")
    check_rules(rules)
    token = common.request_token(params, InvalidParameter)  # RotateSecret's kind of error for it, as AWS's
    immediately = params.get("RotateImmediately", True)
    with ctx.store.transaction() as uow:
        secret = common.writable(common.lock(uow, ctx, params["SecretId"]))
        lambda_arn = params.get("RotationLambdaARN") or secret.rotation.lambda_arn
        if not lambda_arn and secret.partner_type:
            raise InvalidParameter(unsupported_partner(secret.partner_type))
        if not lambda_arn:
            raise InvalidRequest(NO_FUNCTION)
        function = function_policy(ctx, uow, lambda_arn)
        if function is None:  # AWS answers a function that does not exist as one it may not invoke
            raise AccessDenied(CANNOT_INVOKE)
        # "When you add a Lambda rotation function ARN to your secret, Secrets Manager checks the permissions of
        # the function" (User Guide, "Troubleshoot rotation"): refused here, and by the engine at every step.
        if not secrets_manager_may_invoke(function[1], function[0], secret.arn, ctx.now):
            raise AccessDenied(CANNOT_INVOKE)
        # AWS, for an unfinished rotation: "A previous rotation isn't complete. That rotation will be reattempted."
        pending = machine.unfinished(secret.stages)
        if pending is not None and not immediately:
            # RotateImmediately=false waits for the next window: with a rotation under way there is
            # nothing to test now, so only the schedule changes.
            _configure(secret, lambda_arn, rules, params)
            uow.update_secret(secret)
            return {"ARN": secret.arn, "Name": secret.name}
        if pending is None and token in secret.versions:
            raise InvalidRequest(f"A version with the ClientRequestToken {token} already exists.")
        # Rotation is turned on for a reattempt too: after CancelRotateSecret, functions check that it is.
        _configure(secret, lambda_arn, rules, params)
        uow.update_secret(secret)
        copy = None if immediately or pending is not None else _current_copy(uow, ctx.keyring, secret, token)
        ctx.services.start_rotation(uow, secret, RotationStart(token, lambda_arn, ctx.now, immediately, copy))
    ctx.services.wake_rotations()
    if pending is not None and pending != token:  # refused only now: the reattempt above is committed
        raise InvalidRequest(machine.PREVIOUS_INCOMPLETE)
    return {"ARN": secret.arn, "Name": secret.name, "VersionId": token}


def _configure(secret: Secret, lambda_arn: str, rules: Any, params: Params) -> None:
    secret.rotation.lambda_arn = lambda_arn
    secret.rotation.enabled = True
    if rules is not None:
        secret.rotation.rules = rules
    if "ExternalSecretRotationMetadata" in params:
        secret.rotation.external_metadata = params["ExternalSecretRotationMetadata"]
    if "ExternalSecretRotationRoleArn" in params:
        secret.rotation.external_role_arn = params["ExternalSecretRotationRoleArn"]


def _current_copy(uow: UnitOfWork, keyring: Keyring, secret: Secret, token: str) -> bytes | None:
    """RotateImmediately=false: the new version holds the current value, for testSecret to check."""
    current = uow.value_by_stage(secret.arn, AWSCURRENT)
    value = common.unseal(keyring, current) if current else None
    if value is None or current is None:
        return None
    return common.seal(keyring, current.wrapped_key, secret.arn, token, value)


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
