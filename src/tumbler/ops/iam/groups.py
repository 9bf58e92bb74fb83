"""IAM groups: members, and policies their members get."""

from __future__ import annotations

from tumbler.ops.context import Context, Params, Result
from tumbler.ops.iam.common import arn, entity_or_fail, fail, new_id, operation, refuse_while_it_has_policies
from tumbler.ops.iam.users import user_out
from tumbler.ports.identity import GROUP, USER, Entity


def group_out(group: Entity) -> dict[str, object]:
    return {"Path": group.path, "GroupName": group.name, "GroupId": group.id, "Arn": group.arn,
            "CreateDate": group.created}  # fmt: skip


@operation("CreateGroup")
def create_group(ctx: Context, params: Params) -> Result:
    name, path = params["GroupName"], params.get("Path", "/")
    group = Entity(GROUP, name, path, new_id("group"), arn(ctx, "group", path, name), ctx.now)
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        if uow.entity(GROUP, name) is not None:
            raise fail("EntityAlreadyExists", f"Group with name {name} already exists.")
        uow.put_entity(group)
    return {"Group": group_out(group)}


@operation("GetGroup")
def get_group(ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        group = entity_or_fail(reader, GROUP, params["GroupName"])
        members = reader.members(group.name)
    return {"Group": group_out(group), "Users": [user_out(u) for u in members], "IsTruncated": False}


@operation("ListGroups")
def list_groups(ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        groups = reader.entities(GROUP, params.get("PathPrefix", "/"))
    return {"Groups": [group_out(g) for g in groups], "IsTruncated": False}


@operation("DeleteGroup")
def delete_group(ctx: Context, params: Params) -> Result:
    name = params["GroupName"]
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        entity_or_fail(uow, GROUP, name)
        if uow.members(name):
            raise fail("DeleteConflict", "Cannot delete entity, must remove users from group first.")
        refuse_while_it_has_policies(uow, GROUP, name)
        uow.delete_entity(GROUP, name)
    return {}


@operation("AddUserToGroup")
def add_user_to_group(ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        group = entity_or_fail(uow, GROUP, params["GroupName"])
        user = entity_or_fail(uow, USER, params["UserName"])
        uow.add_member(group.name, user.name)
    return {}


@operation("RemoveUserFromGroup")
def remove_user_from_group(ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        group = entity_or_fail(uow, GROUP, params["GroupName"])
        user = entity_or_fail(uow, USER, params["UserName"])
        uow.remove_member(group.name, user.name)
    return {}


@operation("ListGroupsForUser")
def list_groups_for_user(ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        user = entity_or_fail(reader, USER, params["UserName"])
        groups = reader.groups_of(user.name)
    return {"Groups": [group_out(g) for g in groups], "IsTruncated": False}
