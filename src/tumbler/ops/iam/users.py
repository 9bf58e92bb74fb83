"""IAM users: create, read, list, delete, tags."""

from __future__ import annotations

from typing import Any

from tumbler.core.iam import PrincipalKind
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.iam.common import (
    arn,
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
from tumbler.ports.identity import USER, Entity


def user_out(user: Entity, *, tags: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"Path": user.path, "UserName": user.name, "UserId": user.id, "Arn": user.arn,
                           "CreateDate": user.created}  # fmt: skip
    if user.boundary:
        out["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": user.boundary}
    if tags and user.tags:
        out["Tags"] = tags_out(user.tags)
    return out


@operation("CreateUser")
def create_user(ctx: Context, params: Params) -> Result:
    name, path = params["UserName"], params.get("Path", "/")
    boundary = params.get("PermissionsBoundary")
    user = Entity(USER, name, path, new_id("user"), arn(ctx, "user", path, name), ctx.now, tags_in(params), boundary)
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        if uow.entity(USER, name) is not None:
            raise fail("EntityAlreadyExists", f"User with name {name} already exists.")
        if boundary is not None and not managed_exists(uow, boundary):
            raise not_attachable(boundary)
        uow.put_entity(user)
    return {"User": user_out(user, tags=True)}


@operation("GetUser")
def get_user(ctx: Context, params: Params) -> Result:
    name = params.get("UserName")
    if name is None:  # the caller itself
        caller = ctx.caller
        if caller.kind is PrincipalKind.ROOT:
            return {"User": {"UserId": caller.account, "Arn": caller.arn, "CreateDate": ctx.now}}
        if caller.kind is not PrincipalKind.USER:
            raise fail("ValidationError", "Must specify userName when calling with non-User credentials")
        name = caller.username
    with ctx.store.reader() as reader:
        user = entity_or_fail(reader, USER, name)
    return {"User": user_out(user, tags=True)}


@operation("ListUsers")
def list_users(ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        users = reader.entities(USER, params.get("PathPrefix", "/"))
    return {"Users": [user_out(u) for u in users], "IsTruncated": False}


@operation("DeleteUser")
def delete_user(ctx: Context, params: Params) -> Result:
    name = params["UserName"]
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        user = entity_or_fail(uow, USER, name)
        if uow.access_keys_of(user.arn):
            raise fail("DeleteConflict", "Cannot delete entity, must delete access keys first.")
        refuse_while_it_has_policies(uow, USER, name)
        if uow.groups_of(name):
            raise fail("DeleteConflict", "Cannot delete entity, must remove user from all groups first.")
        uow.delete_entity(USER, name)
    return {}
