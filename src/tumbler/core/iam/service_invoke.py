"""May Secrets Manager invoke a rotation function? Its function policy decides, as in AWS.

Lambda evaluates the function's resource policy for the service principal ``secretsmanager.amazonaws.com`` and
``lambda:InvokeFunction``, with ``aws:SourceAccount`` = the secret's account and ``aws:SourceArn`` = the secret's
ARN (Secrets Manager User Guide, "Set up automatic rotation ... step 3": a policy with aws:SourceArn "can only be
used to rotate the secret specified by that ARN"). So AddPermission's ``--source-account`` and ``--source-arn``
guard against a confused deputy.

The built-in rotators are Tumbler's own read-only functions. Each has the fixed policy the AWS walkthrough's
``add-permission --principal secretsmanager.amazonaws.com --source-account ACCOUNT`` would give it: any secret of
the function's own account may be rotated with it.
"""

from __future__ import annotations

import json
from datetime import datetime

from tumbler.core.iam.document import MalformedPolicyDocument, PolicyKind, parse_policy
from tumbler.core.iam.evaluate import Policies, evaluate
from tumbler.core.iam.request import Principal, PrincipalKind, Request

SECRETS_MANAGER = "secretsmanager.amazonaws.com"
INVOKE = "lambda:InvokeFunction"
# AWS's AccessDeniedException from RotateSecret (Secrets Manager User Guide, "Troubleshoot rotation": "I get
# 'access denied' when trying to configure rotation for my secret").
CANNOT_INVOKE = (
    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access "
    "to the principal secretsmanager.amazonaws.com."
)
BUILTIN_STATEMENT_ID = "SecretsManager"


def secrets_manager_may_invoke(function_policy: str | None, function_arn: str, secret_arn: str, now: datetime) -> bool:
    """Whether the function policy (a JSON document, None when the function has none) lets Secrets Manager invoke
    ``function_arn`` (unqualified) to rotate ``secret_arn``."""
    if function_policy is None:
        return False
    try:
        policy = parse_policy(function_policy, PolicyKind.RESOURCE, function_arn)
    except MalformedPolicyDocument:  # only AddPermission writes it; a policy IAM cannot read allows nothing
        return False
    context = {"aws:SourceAccount": _account(secret_arn), "aws:SourceArn": secret_arn}
    request = Request(Principal(PrincipalKind.SERVICE, SECRETS_MANAGER), INVOKE, function_arn, now, context)
    return evaluate(request, Policies(resource=policy)).allowed


def builtin_function_policy(function_arn: str) -> str:
    """A built-in rotator's fixed policy, as GetPolicy shows it."""
    statement = {
        "Sid": BUILTIN_STATEMENT_ID,
        "Effect": "Allow",
        "Principal": {"Service": SECRETS_MANAGER},
        "Action": INVOKE,
        "Resource": function_arn,
        "Condition": {"StringEquals": {"AWS:SourceAccount": _account(function_arn)}},
    }
    document = {"Version": "2012-10-17", "Id": "default", "Statement": [statement]}
    return json.dumps(document, separators=(",", ":"))


def _account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""
