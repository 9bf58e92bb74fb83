"""IAM roles: a trust policy (who may assume it), a maximum session duration, tags."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tumbler.core.iam import PolicyKind
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.iam.common import (
    arn,
    check_policy,
    entity_or_fail,
    fail,
    managed_exists,
    new_id,
    not_attachable,
    operation,
    refuse_while_it_has_policies,
    tags_in,
    tags_out,
)
from tumbler.ports.identity import ROLE, Entity


def role_out(role: Entity, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": role.path, "RoleName": role.name, "RoleId": role.id, "Arn": role.arn, "CreateDate": role.created,
        "AssumeRolePolicyDocument": role.trust_policy, "Description": role.description,
        "MaxSessionDuration": role.max_session_duration,
    }  # fmt: skip
    if role.boundary:
        out["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": role.boundary}
    if full and role.tags:
        out["Tags"] = tags_out(role.tags)
    return out


@operation("CreateRole")
def create_role(ctx: Context, params: Params) -> Result:
    name, path, trust = params["RoleName"], params.get("Path", "/"), params["AssumeRolePolicyDocument"]
    check_policy(trust, PolicyKind.TRUST)
    boundary = params.get("PermissionsBoundary")
    role = Entity(ROLE, name, path, new_id("role"), arn(ctx, "role", path, name), ctx.now, tags_in(params), boundary,
                  trust, params.get("Description"), params.get("MaxSessionDuration", 3600))  # fmt: skip
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        if uow.entity(ROLE, name) is not None:
            raise fail("EntityAlreadyExists", f"Role with name {name} already exists.")
        if boundary is not None and not managed_exists(uow, boundary):
            raise not_attachable(boundary)
        uow.put_entity(role)
    return {"Role": role_out(role, full=True)}


@operation("GetRole")
def get_role(ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        role = entity_or_fail(reader, ROLE, params["RoleName"])
    return {"Role": role_out(role, full=True)}


@operation("ListRoles")
def list_roles(ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        roles = reader.entities(ROLE, params.get("PathPrefix", "/"))
    return {"Roles": [role_out(r) for r in roles], "IsTruncated": False}


@operation("DeleteRole")
def delete_role(ctx: Context, params: Params) -> Result:
    name = params["RoleName"]
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        entity_or_fail(uow, ROLE, name)
        refuse_while_it_has_policies(uow, ROLE, name)
        uow.delete_entity(ROLE, name)
    return {}


@operation("UpdateAssumeRolePolicy")
def update_assume_role_policy(ctx: Context, params: Params) -> Result:
    check_policy(params["PolicyDocument"], PolicyKind.TRUST)
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        role = entity_or_fail(uow, ROLE, params["RoleName"])
        uow.put_entity(replace(role, trust_policy=params["PolicyDocument"]))
    return {}


@operation("UpdateRole")
def update_role(ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        role = entity_or_fail(uow, ROLE, params["RoleName"])
        description = params.get("Description", role.description)
        longest = params.get("MaxSessionDuration", role.max_session_duration)
        uow.put_entity(replace(role, description=description, max_session_duration=longest))
    return {}
