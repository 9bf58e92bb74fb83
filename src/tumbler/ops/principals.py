"""Callers as ``core.iam`` sees them: the ``Principal`` an access key stands for, and the ``Policies`` that apply.

``principal_of`` is what the server's credential lookup calls for each new access key; ``policies_for`` is what
authorization calls (today AssumeRole, with the role's trust policy as the resource policy; later every operation).
"""

from __future__ import annotations

from tumbler.core.iam import Policies, Policy, PolicyKind, Principal, PrincipalKind, parse_policy
from tumbler.ops.context import root_principal
from tumbler.ports.identity import ROLE, USER, NamedPolicy
from tumbler.ports.store import AccessKey, Reader


def principal_of(reader: Reader, key: AccessKey, account_id: str) -> Principal | None:
    """Who signs with ``key``: the root (a key whose principal is no user or session ARN), an IAM user, or a role
    session (user for GetSessionToken); None when its user or role no longer exists."""
    arn = key.principal
    resource = arn.split(":", 5)[-1] if arn.startswith("arn:") else "root"
    if resource == "root":
        return root_principal(account_id)
    session = key.session
    if resource.startswith("assumed-role/") and session is not None:
        role = reader.entity(ROLE, resource.split("/")[1])
        if role is None or role.arn != session.role_arn:
            return None
        tags = {**role.tags, **session.tags}
        userid = f"{role.id}:{session.name}"
        return Principal(PrincipalKind.ROLE_SESSION, arn, account_id, userid, "", role.arn, tags)
    user = reader.entity(USER, resource.rsplit("/", 1)[-1])
    if user is None or user.arn != arn:
        return None
    return Principal(PrincipalKind.USER, arn, account_id, user.id, user.name, "", dict(user.tags))


def policies_for(
    reader: Reader, caller: Principal, access_key_id: str = "", resource: Policy | None = None
) -> Policies:
    """Everything that applies to ``caller``'s request, with ``resource`` as the resource's (or trust) policy.

    The identity policies are the caller's own and its groups'. Stored documents were checked when written; one that
    no longer parses would be a bug, and fails loudly rather than allowing."""
    found = reader.principal_policies(caller.arn, access_key_id or None)
    if found is None:
        return Policies(resource=resource)
    identity = tuple(_parsed(p) for p in (*found.identity, *found.groups))
    boundary = _parsed(found.boundary) if found.boundary is not None else None
    session = None if found.session is None else tuple(_parsed(p) for p in found.session)
    return Policies(identity, resource, boundary, session)


def _parsed(policy: NamedPolicy) -> Policy:
    return parse_policy(policy.document, PolicyKind.IDENTITY, policy.name)
