"""STS: who am I, and temporary credentials (AssumeRole, GetSessionToken).

A session is an ``ASIA...`` access key whose secret is sealed like any key's and whose session token is stored
only as its SHA-256 (``token_hash``); the caller gets both once, here.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from tumbler.core.iam import (
    MalformedPolicyDocument,
    Policies,
    PolicyKind,
    Principal,
    PrincipalKind,
    Request,
    access_denied_message,
    evaluate,
    parse_policy,
)
from tumbler.ops.context import Context, Params, Registry, Result
from tumbler.ops.iam.keys import new_key_id, new_secret, sealed
from tumbler.ops.principals import policies_for
from tumbler.ports.identity import ROLE, Entity, Session
from tumbler.ports.store import AccessKey, Reader
from tumbler.wire import query
from tumbler.wire.errors import WireError

operation = Registry("sts")
SESSION_TOKEN_DEFAULT = 43200  # GetSessionToken's default and the root's maximum (3600) are AWS's
SESSION_TOKEN_MAX, ROOT_SESSION_MAX = 129600, 3600
LAMBDA = "lambda.amazonaws.com"  # the service principal an execution role's trust policy must allow


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _fail(code: str, message: str) -> WireError:
    return query.error("sts", code, message)


@operation("GetCallerIdentity", on_event_loop=True)
def get_caller_identity(ctx: Context, params: Params) -> Result:
    caller = ctx.caller
    return {"UserId": caller.userid, "Account": caller.account, "Arn": caller.arn}


def _issue(ctx: Context, principal: str, seconds: int, session: Session) -> dict[str, Any]:
    key_id, secret, token = new_key_id("ASIA"), new_secret(), secrets.token_urlsafe(96)
    wrapped, sealed_secret = sealed(ctx.keyring, key_id, secret)
    expires = ctx.now + timedelta(seconds=seconds)
    key = AccessKey(key_id, principal, wrapped, sealed_secret, "Active", ctx.now, expires, token_hash(token), session)
    with ctx.store.transaction() as uow:
        uow.put_access_key(key)
    return {"AccessKeyId": key_id, "SecretAccessKey": secret, "SessionToken": token, "Expiration": expires}


def _session_policy(params: Params) -> str | None:
    document: str | None = params.get("Policy")
    if document is not None:
        try:
            parse_policy(document, PolicyKind.IDENTITY)
        except MalformedPolicyDocument as err:
            raise _fail("MalformedPolicyDocument", err.message) from None
    return document


def role_named(reader: Reader, role_arn: str) -> Entity | None:
    """The role ``role_arn`` names, if it exists (a role deleted and created again has the same ARN)."""
    role = reader.entity(ROLE, role_arn.rsplit("/", 1)[-1]) if ":role/" in role_arn else None
    return role if role is not None and role.arn == role_arn else None


def service_may_assume(reader: Reader, role_arn: str, service: str, now: datetime) -> Entity | None:
    """The role, if its trust policy lets the service principal ``service`` (``lambda.amazonaws.com``) call
    sts:AssumeRole on it; else None. A trust policy must allow explicitly, as for any caller."""
    role = role_named(reader, role_arn)
    if role is None:
        return None
    trust = parse_policy(role.trust_policy or "", PolicyKind.TRUST, role_arn)
    request = Request(Principal(PrincipalKind.SERVICE, service), "sts:AssumeRole", role_arn, now)
    return role if evaluate(request, Policies(resource=trust)).allowed else None


def issue_role_session(ctx: Context, role: Entity, name: str, seconds: int, policy: str | None = None) -> Result:
    """A new session of ``role`` named ``name``, valid ``seconds``: AssumeRole's Credentials and AssumedRoleUser.
    The caller has checked that it may assume the role."""
    session = Session(role.arn, role.id, name, "", policy)
    return _role_session(ctx, role, session, seconds)


def _role_session(ctx: Context, role: Entity, session: Session, seconds: int) -> Result:
    assumed_arn = f"arn:aws:sts::{ctx.account_id}:assumed-role/{role.name}/{session.name}"
    credentials = _issue(ctx, assumed_arn, seconds, session)
    user = {"AssumedRoleId": f"{role.id}:{session.name}", "Arn": assumed_arn}
    return {"Credentials": credentials, "AssumedRoleUser": user}


@operation("AssumeRole")
def assume_role(ctx: Context, params: Params) -> Result:
    role_arn, name = params["RoleArn"], params["RoleSessionName"]
    caller = ctx.caller
    with ctx.store.reader() as reader:
        role = role_named(reader, role_arn)
        trust = None if role is None else parse_policy(role.trust_policy or "", PolicyKind.TRUST, role_arn)
        context: dict[str, str] = {"sts:rolesessionname": name}
        if "ExternalId" in params:
            context["sts:externalid"] = params["ExternalId"]
        request = Request(caller, "sts:AssumeRole", role_arn, ctx.now, context)
        decision = evaluate(request, policies_for(reader, caller, ctx.access_key_id, trust)) if trust else None
    if role is None or decision is None or not decision.allowed:
        # A role that does not exist is refused the same way: its existence is not disclosed.
        message = f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        if decision is not None and not decision.allowed:
            message = access_denied_message(decision, request, role_arn)
        raise _fail("AccessDenied", message)
    seconds = params.get("DurationSeconds", 3600)
    if seconds > role.max_session_duration:
        raise _fail(
            "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    tags = {tag["Key"]: tag["Value"] for tag in params.get("Tags", [])}
    arns = tuple(p["arn"] for p in params.get("PolicyArns", []))
    session = Session(role.arn, role.id, name, "", _session_policy(params), arns, tags)
    return _role_session(ctx, role, session, seconds)


@operation("GetSessionToken")
def get_session_token(ctx: Context, params: Params) -> Result:
    caller = ctx.caller
    if caller.kind not in (PrincipalKind.USER, PrincipalKind.ROOT):
        raise _fail("AccessDenied", "Cannot call GetSessionToken with session credentials")
    seconds = params.get("DurationSeconds", SESSION_TOKEN_DEFAULT)
    longest = ROOT_SESSION_MAX if caller.kind is PrincipalKind.ROOT else SESSION_TOKEN_MAX
    credentials = _issue(ctx, caller.arn, min(seconds, longest), Session(user_arn=caller.arn))
    return {"Credentials": credentials}
