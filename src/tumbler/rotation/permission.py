"""The function policy check before each rotation step: Secrets Manager invokes a function only if the
function's policy lets it (core/iam/service_invoke.py). RotateSecret checks it too; the engine checks again at
every step, since the policy may have changed since (``lambda remove-permission``)."""

from __future__ import annotations

from tumbler.core.arns import function_arn, parse_function_id
from tumbler.core.iam.service_invoke import CANNOT_INVOKE, builtin_function_policy, secrets_manager_may_invoke
from tumbler.core.rotation import Rotation
from tumbler.ports.runner import FunctionHost
from tumbler.ports.store import Store

REFUSED = f"AccessDeniedException: {CANNOT_INVOKE}"


def invoke_refusal(functions: FunctionHost, store: Store, rotation: Rotation) -> str | None:
    """AWS's error when the function's policy does not let Secrets Manager invoke it for this secret; None when
    it does, or when there is no such function (the invocation reports that)."""
    name, _, region, account = parse_function_id(rotation.lambda_arn)
    region = region or rotation.region
    if name in functions.builtins:
        arn = function_arn(region, account or _account(rotation.secret_arn), name)
        policy: str | None = builtin_function_policy(arn)
    else:
        with store.reader() as reader:
            record = reader.function(region, name)
        if record is None:
            return None
        arn, policy = record.arn, record.policy
    # The step's due time stands for now: a function policy holds only AddPermission's conditions, none on time.
    allowed = secrets_manager_may_invoke(policy, arn, rotation.secret_arn, rotation.not_before)
    return None if allowed else REFUSED


def _account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""
