"""Resource policies: stored and validated (enforcement comes with permissions)."""

from __future__ import annotations

from tumbler.core import policy
from tumbler.core.errors import MalformedPolicy, PublicPolicy
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.secretsmanager import common
from tumbler.ops.secretsmanager.common import operation


@operation("GetResourcePolicy", on_event_loop=True)
def get_resource_policy(ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        secret = common.live(common.find(reader, ctx, params["SecretId"]))
    out: Result = {"ARN": secret.arn, "Name": secret.name}
    if secret.policy is not None:
        out["ResourcePolicy"] = secret.policy
    return out


@operation("PutResourcePolicy")
def put_resource_policy(ctx: Context, params: Params) -> Result:
    document = params["ResourcePolicy"]
    if policy.problems(document):  # ValidateResourcePolicy tells what; AWS's Put says only this
        raise MalformedPolicy("This policy has invalid syntax.")
    if params.get("BlockPublicPolicy") and policy.is_public(document):
        raise PublicPolicy("This resource policy will grant public access to the secret.")
    with ctx.store.transaction() as uow:
        secret = common.writable(common.lock(uow, ctx, params["SecretId"]))
        secret.policy = document
        uow.update_secret(secret)
    return {"ARN": secret.arn, "Name": secret.name}


@operation("DeleteResourcePolicy")
def delete_resource_policy(ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        secret = common.writable(common.lock(uow, ctx, params["SecretId"]))
        if secret.policy is not None:
            secret.policy = None
            uow.update_secret(secret)
    return {"ARN": secret.arn, "Name": secret.name}


@operation("ValidateResourcePolicy", on_event_loop=True)
def validate_resource_policy(ctx: Context, params: Params) -> Result:
    if params.get("SecretId"):
        with ctx.store.reader() as reader:
            common.find(reader, ctx, params["SecretId"])
    found = policy.problems(params["ResourcePolicy"])
    errors = [{"CheckName": "POLICY_SYNTAX", "ErrorMessage": message} for message in found]
    return {"PolicyValidationPassed": not found, "ValidationErrors": errors}
