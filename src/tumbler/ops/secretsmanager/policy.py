"""Resource policies: GetResourcePolicy, PutResourcePolicy, DeleteResourcePolicy, ValidateResourcePolicy.

A policy is parsed with IAM's grammar before it is stored. ``BlockPublicPolicy`` refuses a policy that grants broad
access, and ValidateResourcePolicy runs AWS's three checks (broad access, syntax, lock-out): core/iam/public.py.
"""

from __future__ import annotations

from typing import Any

from tumbler.core.errors import MalformedPolicy, PublicPolicy
from tumbler.core.iam import MalformedPolicyDocument, Policy, PolicyKind, Principal, parse_policy
from tumbler.core.iam.public import grants_broad_access, locks_out
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.secretsmanager import common
from tumbler.ops.secretsmanager.common import operation

# PutResourcePolicy's answer to a policy IAM cannot parse (awsdocs/aws-cloudformation-user-guide#623).
INVALID_SYNTAX = "This policy has invalid syntax."
# The Secrets Manager User Guide, "Managing a resource-based policy for a secret": the CLI's answer with
# --block-public-policy, and the console's (ValidateResourcePolicy's) messages for each failed check.
BROAD_ACCESS_REFUSED = "You can't attach a resource-based policy that allows broad access to the secret."
BROAD_ACCESS = (
    "This resource policy grants broad access to your secret. "
    "Secrets Manager does not allow creating and applying such policies in the console."
)
SYNTAX_ERROR = "This resource policy contains a syntax error."
LOCKOUT = "Your requested changes will not allow you to manage this secret in the future."
# AWS documents no CheckName values; these name the three checks its API reference lists.
CHECK_PUBLIC_ACCESS, CHECK_SYNTAX, CHECK_LOCKOUT = "PUBLIC_ACCESS", "SYNTAX", "LOCKOUT"


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
    try:
        parsed = parse_policy(document, PolicyKind.RESOURCE, params["SecretId"])
    except MalformedPolicyDocument:  # ValidateResourcePolicy tells what; AWS's Put says only this
        raise MalformedPolicy(INVALID_SYNTAX) from None
    if params.get("BlockPublicPolicy") and grants_broad_access(parsed):
        raise PublicPolicy(BROAD_ACCESS_REFUSED)
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
    # Without a secret the policy is checked against any secret of the account in this region.
    secret_arn = f"arn:aws:secretsmanager:{ctx.region}:{ctx.account_id}:secret:*"
    if params.get("SecretId"):
        with ctx.store.reader() as reader:
            secret_arn = common.find(reader, ctx, params["SecretId"]).arn
    try:
        parsed = parse_policy(params["ResourcePolicy"], PolicyKind.RESOURCE, secret_arn)
    except MalformedPolicyDocument:
        errors = [_error(CHECK_SYNTAX, SYNTAX_ERROR)]
    else:
        errors = _check(ctx, parsed, secret_arn)
    return {"PolicyValidationPassed": not errors, "ValidationErrors": errors}


def _check(ctx: Context, parsed: Policy, secret_arn: str) -> list[dict[str, Any]]:
    errors = []
    if grants_broad_access(parsed):
        errors.append(_error(CHECK_PUBLIC_ACCESS, BROAD_ACCESS))
    if locks_out(parsed, _caller(ctx), secret_arn, ctx.now):
        errors.append(_error(CHECK_LOCKOUT, LOCKOUT))
    return errors


def _caller(ctx: Context) -> Principal:
    """The caller, as the evaluator sees it: a policy that denies them its management locks them out."""
    return ctx.caller


def _error(check: str, message: str) -> dict[str, Any]:
    return {"CheckName": check, "ErrorMessage": message}
