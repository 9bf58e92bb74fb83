"""A function's resource-based policy: AddPermission, RemovePermission, GetPolicy.

The policy is kept as the JSON document GetPolicy returns. A policy change gives the function
a new RevisionId, which is also the policy's: GetPolicy answers the function's RevisionId.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tumbler.core.arns import function_arn
from tumbler.core.errors import AlreadyExists, InvalidParameter, NotFound
from tumbler.core.iam.service_invoke import builtin_function_policy
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.lambda_ import common
from tumbler.ops.lambda_.common import operation
from tumbler.ops.lambda_.functions import BUILTIN_READ_ONLY, builtin_revision
from tumbler.ports.store import FunctionRecord

NO_POLICY = "The resource you requested does not exist."
NO_POLICY_TO_CHANGE = "No policy is associated with the given resource."
POLICY_REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetPolicy API to retrieve the latest Revision Id"
)
ACCOUNT = re.compile(r"\d{12}")
# Request member -> (condition operator, condition key), in the order Lambda writes them.
CONDITIONS = (
    ("SourceArn", "ArnLike", "AWS:SourceArn"),
    ("SourceAccount", "StringEquals", "AWS:SourceAccount"),
    ("PrincipalOrgID", "StringEquals", "aws:PrincipalOrgID"),
    ("EventSourceToken", "StringEquals", "lambda:EventSourceToken"),
    ("FunctionUrlAuthType", "StringEquals", "lambda:FunctionUrlAuthType"),
)


@operation("AddPermission")
def add_permission(ctx: Context, params: Params) -> Result:
    _refuse_builtin(ctx, params)
    sid = params["StatementId"]
    with ctx.store.transaction() as uow:
        record = common.find(uow, ctx, params)
        common.check_revision(record, params, POLICY_REVISION_MISMATCH)
        policy = _document(record)
        if any(s.get("Sid") == sid for s in policy["Statement"]):
            raise AlreadyExists(
                f"The statement id ({sid}) provided already exists. "
                "Please provide a new statement id, or remove the existing statement."
            )
        statement = _statement(record, params)
        policy["Statement"].append(statement)
        record.policy = _dumps(policy)
        common.revise(record.config)
        uow.put_function(record)
    return {"Statement": _dumps(statement)}


def _document(record: FunctionRecord) -> dict[str, Any]:
    if record.policy is None:
        return {"Version": "2012-10-17", "Id": "default", "Statement": []}
    document: dict[str, Any] = json.loads(record.policy)
    return document


def _statement(record: FunctionRecord, params: Params) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": params["StatementId"],
        "Effect": "Allow",
        "Principal": _principal(params["Principal"]),
        "Action": params["Action"],
        "Resource": record.arn,
    }
    condition: dict[str, dict[str, str]] = {}
    for member, operator, key in CONDITIONS:
        if params.get(member):
            condition.setdefault(operator, {})[key] = params[member]
    if condition:
        statement["Condition"] = condition
    return statement


def _principal(principal: str) -> str | dict[str, str]:
    """Lambda's rendering: '*' as is, an account as its root ARN, an ARN as AWS, anything else a Service."""
    if principal == "*":
        return principal
    if ACCOUNT.fullmatch(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    return {"Service": principal}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@operation("RemovePermission")
def remove_permission(ctx: Context, params: Params) -> Result:
    _refuse_builtin(ctx, params)
    sid = params["StatementId"]
    with ctx.store.transaction() as uow:
        record = common.find(uow, ctx, params)
        common.check_revision(record, params, POLICY_REVISION_MISMATCH)
        if record.policy is None:
            raise NotFound(NO_POLICY_TO_CHANGE)
        policy = _document(record)
        kept = [s for s in policy["Statement"] if s.get("Sid") != sid]
        if len(kept) == len(policy["Statement"]):
            raise NotFound(f"Statement {sid} is not found in resource policy.")
        # The last statement gone, the policy goes too: GetPolicy answers ResourceNotFoundException again.
        record.policy = _dumps({**policy, "Statement": kept}) if kept else None
        common.revise(record.config)
        uow.put_function(record)
    return {}


@operation("GetPolicy")
def get_policy(ctx: Context, params: Params) -> Result:
    builtin = _builtin_name(ctx, params)
    if builtin is not None:  # its fixed policy: Secrets Manager may invoke it for the account's secrets
        arn = function_arn(ctx.region, ctx.account_id, builtin)
        return {"Policy": builtin_function_policy(arn), "RevisionId": builtin_revision(builtin)}
    with ctx.store.reader() as reader:
        record = common.find(reader, ctx, params)
    if record.policy is None:
        raise NotFound(NO_POLICY)
    return {"Policy": record.policy, "RevisionId": record.config["RevisionId"]}


def _builtin_name(ctx: Context, params: Params) -> str | None:
    name = common.function_name(ctx, params["FunctionName"], params.get("Qualifier"))
    return name if name in ctx.services.functions.builtins else None


def _refuse_builtin(ctx: Context, params: Params) -> None:
    name = _builtin_name(ctx, params)
    if name is not None:
        raise InvalidParameter(BUILTIN_READ_ONLY.format(name))
