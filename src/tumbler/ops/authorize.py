"""Authorization: the one place that decides whether a caller may run an operation, for every service.

``run`` is the only way an operation is called: the server calls it for every request (Secrets Manager, Lambda,
IAM, STS) and the in-process client the built-in rotators use calls it with the Context it is given. It asks
``ctx.services.authorization`` (an ``Authorizer``), which evaluates every ``Check`` that ``core.iam.actions.facts``
lists for the request, in order, before the operation looks anything up: a caller who may not touch a secret gets
AccessDenied, whether the secret exists or not (AWS: with a resource it names, a caller without permission never
learns that a secret is missing).

Each check is evaluated as AWS does within one account (``core.iam.evaluate``): the caller's identity policies
(its own and its groups', its permissions boundary, its session's policies), and the resource's own policy: the
secret's resource policy, the function's policy, or for sts:AssumeRole the role's trust policy. The account root
has no identity policies and is allowed anything a resource policy does not explicitly deny.

Modes (``tumbler server --authorization``): ``enforce`` refuses; ``audit`` lets the request run and logs what
enforce would refuse; ``off`` decides nothing. Every refusal and every would-be refusal is one audit-log line
(principal, action, resource, reason, deciding policy type and statement); never a value or a parameter.
"""

from __future__ import annotations

import secrets as random_source
import string
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tumbler.core.errors import AccessDenied
from tumbler.core.iam import (
    Decision,
    Policies,
    Policy,
    PolicyKind,
    PrincipalKind,
    Request,
    access_denied_message,
    evaluate,
    parse_policy,
)
from tumbler.core.iam.actions import (
    Check,
    Resolve,
    ResourceType,
    facts,
    function_arn,
    function_resource_keys,
    iam_resource_keys,
    secret_resource_keys,
    with_resource,
)
from tumbler.core.iam.request import ContextValue
from tumbler.ops.context import Context, Operation, Params, Result
from tumbler.ops.principals import policies_for
from tumbler.ports.identity import GROUP, ROLE, USER
from tumbler.ports.store import Reader

SECRETS_MANAGER = "secretsmanager"
# "No permissions are required for a user to get a session token ... You cannot use policies to control
# authentication operations." (IAM User Guide, "Permissions for GetSessionToken")
AUTHENTICATION_OPERATIONS = frozenset({("sts", "GetSessionToken")})
SUFFIX_ALPHABET = string.ascii_letters + string.digits


class Mode(StrEnum):
    ENFORCE = "enforce"
    AUDIT = "audit"
    OFF = "off"


def run(
    ctx: Context,
    service: str,
    operation: str,
    func: Operation,
    params: Params,
    environment: Mapping[str, str] | None = None,
) -> Result:
    """Authorize the request, then run the operation. ``environment``: request keys only the transport knows
    (aws:SourceIp, aws:SecureTransport)."""
    ctx.services.authorization.authorize(ctx, service, operation, params, environment or {})
    return func(ctx, params)


@dataclass(frozen=True)
class _Resource:
    """A check's resource once looked up: the ARN evaluated, what a message names, its keys and its policy."""

    arn: str
    named: str | None
    keys: Mapping[str, ContextValue]
    policy: Policy | None = None


ROOT = Policies()  # the root's identity policies: none; only a resource policy's explicit Deny refuses it


class Authorizer:
    """``ports.services.Authorization``, deciding as AWS does."""

    # Compiled identity policies per caller, valid while the store's identity change counter stays the same
    # (any IAM write, on any node, moves it). The benchmark target this serves: signed GetSecretValue by an IAM
    # user at >= 85% of the root's requests/s (benchmarks/authorization.py); parsing the caller's policies on every
    # request would not meet it.
    MAX_CACHED = 4096

    def __init__(self, mode: Mode | str = Mode.ENFORCE) -> None:
        self.mode = Mode(mode)
        self._compiled: dict[tuple[str, str], tuple[int, Policies]] = {}
        self._lock = threading.Lock()

    # -- the port ------------------------------------------------------------------------------------------------
    def authorize(
        self, ctx: Any, service: str, operation: str, params: Mapping[str, Any], environment: Mapping[str, str]
    ) -> None:
        message = self._decide(ctx, service, operation, params, environment)
        if message is not None:
            raise AccessDenied(message)

    def refusal(self, ctx: Any, service: str, operation: str, params: Mapping[str, Any]) -> str | None:
        return self._decide(ctx, service, operation, params, {})

    # -- deciding ------------------------------------------------------------------------------------------------
    def _decide(
        self, ctx: Context, service: str, operation: str, params: Mapping[str, Any], environment: Mapping[str, str]
    ) -> str | None:
        """AWS's AccessDenied message when enforce refuses (in audit mode: logged, and None), else None."""
        if self.mode is Mode.OFF or (service, operation) in AUTHENTICATION_OPERATIONS:
            return None
        checks = [c for c in facts(service, operation, params, account=ctx.account_id, region=ctx.region)
                  if not c.partial]  # fmt: skip
        if not checks:
            return None
        with ctx.store.reader() as reader:
            identity = self._identity(reader, ctx)
            for check in checks:
                resource = _resolve(reader, ctx, check)
                if resource is None:
                    continue
                if identity is ROOT and resource.policy is None:
                    continue  # nothing can deny the root here: what keeps GetSecretValue at >= 10,000 requests/s
                context = {**environment, **with_resource(check, resource.keys)}
                request = Request(ctx.caller, check.action, resource.arn, ctx.now, context)
                policies = Policies(identity.identity, resource.policy, identity.boundary, identity.session)
                decision = evaluate(request, policies)
                if not decision.allowed:
                    message = access_denied_message(decision, request, resource.named)
                    self._record(ctx, decision, check.action, resource)
                    return message if self.mode is Mode.ENFORCE else None
        return None

    def _identity(self, reader: Reader, ctx: Context) -> Policies:
        """The caller's identity policies, boundary and session policies (no resource policy)."""
        caller = ctx.caller
        if caller.kind is PrincipalKind.ROOT:
            return ROOT  # the root has no identity policies
        if caller.kind is PrincipalKind.SERVICE:
            return Policies()  # a service principal has only resource grants
        key = (caller.arn, ctx.access_key_id if caller.kind is PrincipalKind.ROLE_SESSION else "")
        version = reader.identity_version()
        cached = self._compiled.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        policies = policies_for(reader, caller, ctx.access_key_id)
        with self._lock:
            if len(self._compiled) >= self.MAX_CACHED:
                self._compiled.clear()
            self._compiled[key] = (version, policies)
        return policies

    def _record(self, ctx: Context, decision: Decision, action: str, resource: _Resource) -> None:
        ctx.services.audit.record(
            "AccessDenied",
            mode=self.mode.value,
            principal=ctx.caller.arn,
            action=action,
            resource=resource.arn,
            reason=decision.reason.value,
            policy_type=None if decision.policy_type is None else decision.policy_type.value,
            statement=None if decision.statement is None else str(decision.statement),
        )


# -- resources -------------------------------------------------------------------------------------------------


def _resolve(reader: Reader, ctx: Context, check: Check) -> _Resource | None:
    """The check's resource as it is now; None when there is nothing to check (a secret with no rotation
    function, for RotateSecret's lambda:InvokeFunction)."""
    target = check.target
    if target.type is ResourceType.NONE:
        return _Resource("*", None, {})
    if target.resolve is Resolve.SECRET:
        return _secret(reader, ctx, target.name)
    if target.resolve is Resolve.NEW_SECRET:
        suffix = "".join(random_source.choice(SUFFIX_ALPHABET) for _ in range(6))  # as the new secret's ARN ends
        arn = f"{_secret_prefix(ctx)}{target.name}-{suffix}"
        return _Resource(arn, target.name, {})
    if target.resolve is Resolve.ROTATION_FUNCTION:
        secret = reader.find_secret_summary(ctx.region, target.name)
        if secret is None or not secret.rotation.lambda_arn:
            return None
        return _function(reader, function_arn(secret.rotation.lambda_arn, ctx.account_id, ctx.region))
    if target.resolve is Resolve.CALLER:
        return _iam_entity(reader, check.action, target.type, ctx.caller.username, ctx.caller.arn, exact=False)
    assert target.arn is not None
    if target.type is ResourceType.FUNCTION:
        return _function(reader, target.arn)
    if target.resolve is Resolve.IAM_PATH:  # named without its path: the stored entity has it
        return _iam_entity(reader, check.action, target.type, target.name, target.arn, exact=False)
    if target.type is ResourceType.ROLE:  # named by its ARN (iam:PassRole, sts:AssumeRole)
        name = target.arn.rsplit("/", 1)[-1]
        return _iam_entity(reader, check.action, target.type, name, target.arn, exact=True)
    if target.type is ResourceType.POLICY:
        policy = reader.customer_policy(target.arn)
        keys = iam_resource_keys(check.action, target.type, policy.tags if policy else {})
        return _Resource(target.arn, target.arn, keys)
    return _Resource(target.arn, target.arn, {})


def _secret_prefix(ctx: Context) -> str:
    return f"arn:aws:secretsmanager:{ctx.region}:{ctx.account_id}:secret:"


def _secret(reader: Reader, ctx: Context, secret_id: str) -> _Resource:
    """An existing secret: its ARN, tags, rotation function and resource policy. A missing one is evaluated
    against the ARN the caller named (a name becomes the ARN prefix a policy's ``name-??????`` cannot match)."""
    secret = reader.find_secret_summary(ctx.region, secret_id)
    if secret is None:
        arn = secret_id if secret_id.startswith("arn:") else _secret_prefix(ctx) + secret_id
        return _Resource(arn, secret_id, {"secretsmanager:SecretId": arn})
    primary = secret.primary_region or (ctx.region if secret.replicas else None)
    keys = secret_resource_keys(secret.arn, secret.tags, secret.rotation.lambda_arn, primary_region=primary)
    policy = None if secret.policy is None else parse_policy(secret.policy, PolicyKind.RESOURCE, secret.arn)
    return _Resource(secret.arn, secret_id, keys, policy)


def _function(reader: Reader, arn: str) -> _Resource:
    """A function (its unqualified record holds its tags and its policy); one that does not exist: the ARN alone."""
    parts = arn.split(":")
    record = reader.function(parts[3], parts[6])
    if record is None:
        return _Resource(arn, arn, {})
    keys = function_resource_keys(record.config.get("_Tags") or {})
    policy = None if record.policy is None else parse_policy(record.policy, PolicyKind.RESOURCE, record.arn)
    return _Resource(arn, arn, keys, policy)


def _iam_entity(reader: Reader, action: str, kind: ResourceType, name: str, arn: str, *, exact: bool) -> _Resource:
    """A user, role or group at its stored path, with its tags and boundary; for sts:AssumeRole the role's trust
    policy is the resource policy. ``exact``: ``arn`` was given whole, and an entity elsewhere is not this one."""
    entity = reader.entity(kind.value, name) if name and kind.value in (USER, ROLE, GROUP) else None
    if entity is None or (exact and entity.arn != arn):
        return _Resource(arn, arn, {})
    keys = iam_resource_keys(action, kind, entity.tags, entity.boundary)
    trust = None
    if action == "sts:AssumeRole" and entity.trust_policy:
        trust = parse_policy(entity.trust_policy, PolicyKind.TRUST, entity.arn)
    return _Resource(entity.arn, entity.arn, keys, trust)
