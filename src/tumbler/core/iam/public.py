"""Which resource policies grant broad access, and which lock their author out: what Secrets Manager's
ValidateResourcePolicy and PutResourcePolicy's BlockPublicPolicy check.

AWS runs Zelkova and does not publish its rule for secrets. What it documents:
- the Secrets Manager User Guide ("Managing a resource-based policy for a secret", 2020 text in
  awsdocs/aws-secrets-manager-docs): an acceptable policy "must only grant access to one or more of the
  following fixed values: aws:SourceArn, aws:SourceVpc, aws:SourceVpce, aws:SourceAccount", and points to S3's rule;
- S3's rule ("The meaning of public", PublicAccessBlockConfiguration): a policy is public unless it limits access
  to a set of CIDRs with aws:SourceIp, or grants only to a fixed principal, a fixed aws:SourceArn, aws:SourceVpc,
  aws:SourceVpce, aws:SourceOwner, aws:SourceAccount or aws:userid; a fixed value has no wildcard and no policy
  variable.

So an Allow statement is broad when it names every principal (``"*"``, ``{"AWS": "*"}``, or NotPrincipal) and no
condition pins one of those keys (or the principal keys IAM Access Analyzer also counts: aws:PrincipalArn,
aws:PrincipalAccount, aws:PrincipalOrgID) to fixed values with an Equals or Like operator that cannot be skipped
(no IfExists, no ForAllValues, no negation). A CIDR set pins unless it is every address (0.0.0.0/0, ::/0).
"""

from __future__ import annotations

from datetime import datetime

from tumbler.core.iam.conditions import ArnMatcher, Condition, IpMatcher, Qualifier, StringMatcher
from tumbler.core.iam.document import Effect, Policy, PolicyKind, Statement
from tumbler.core.iam.evaluate import Policies, Reason, evaluate
from tumbler.core.iam.request import Principal, Request

PINNING_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceowner",
        "aws:userid",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principalorgid",
    }
)
SOURCE_IP = "aws:sourceip"
# What a caller needs to keep managing the secret's policy.
MANAGING_ACTIONS = ("secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy")


def broad_statements(policy: Policy) -> tuple[Statement, ...]:
    """The statements that grant access to a wide range of principals."""
    return tuple(statement for statement in policy.statements if _broad(statement))


def grants_broad_access(policy: Policy) -> bool:
    return bool(broad_statements(policy))


def locks_out(policy: Policy, caller: Principal, secret_arn: str, now: datetime) -> bool:
    """Whether the policy explicitly denies ``caller`` one of the actions that manage it on this secret: after
    attaching it, the caller could neither replace nor delete it."""
    if policy.kind is not PolicyKind.RESOURCE:
        raise ValueError("only a resource policy can lock its caller out")
    for action in MANAGING_ACTIONS:
        decision = evaluate(Request(caller, action, secret_arn, now), Policies(resource=policy))
        if decision.reason is Reason.EXPLICIT_DENY:
            return True
    return False


def _broad(statement: Statement) -> bool:
    principals = statement.principals
    if statement.effect is not Effect.ALLOW or principals is None:
        return False
    if not (principals.everyone or principals.negated):
        return False
    return not any(_pins(condition) for condition in statement.conditions)


def _pins(condition: Condition) -> bool:
    """Whether a condition limits the statement to fixed sources or principals, whatever the request carries."""
    if condition.negated or condition.if_exists or condition.qualifier is Qualifier.FOR_ALL_VALUES:
        return False
    matcher = condition.matcher
    if condition.key == SOURCE_IP:
        return isinstance(matcher, IpMatcher) and all(network.prefixlen > 0 for network in matcher.networks)
    if condition.key not in PINNING_KEYS or not isinstance(matcher, StringMatcher | ArnMatcher):
        return False
    return all(_fixed(value) for value in condition.values)


def _fixed(value: str) -> bool:
    """A value with no wildcard and no policy variable (S3's "fixed value")."""
    return bool(value) and not any(mark in value for mark in ("*", "?", "${"))
