"""Tags and permissions boundaries of users and roles.

TagUser and TagRole (and the other pairs) differ only by the entity kind: one function per family,
registered once per kind, as the inline-policy families are in policies.py.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from tumbler.ops.context import Context, Params, Result
from tumbler.ops.iam.common import (
    TITLES,
    entity_name,
    entity_or_fail,
    managed_exists,
    not_attachable,
    operation,
    tags_in,
    tags_out,
)
from tumbler.ports.identity import ROLE, USER


def tag(kind: str, ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        entity = entity_or_fail(uow, kind, entity_name(params, kind))
        uow.put_entity(replace(entity, tags={**entity.tags, **tags_in(params)}))
    return {}


def untag(kind: str, ctx: Context, params: Params) -> Result:
    drop = set(params["TagKeys"])
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        entity = entity_or_fail(uow, kind, entity_name(params, kind))
        uow.put_entity(replace(entity, tags={k: v for k, v in entity.tags.items() if k not in drop}))
    return {}


def list_tags(kind: str, ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        entity = entity_or_fail(reader, kind, entity_name(params, kind))
    return {"Tags": tags_out(entity.tags), "IsTruncated": False}


def put_boundary(kind: str, ctx: Context, params: Params) -> Result:
    boundary = params["PermissionsBoundary"]
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        entity = entity_or_fail(uow, kind, entity_name(params, kind))
        if not managed_exists(uow, boundary):
            raise not_attachable(boundary)
        uow.put_entity(replace(entity, boundary=boundary))
    return {}


def delete_boundary(kind: str, ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        entity = entity_or_fail(uow, kind, entity_name(params, kind))
        uow.put_entity(replace(entity, boundary=None))
    return {}


for _kind in (USER, ROLE):
    _title = TITLES[_kind]
    for _op, _func in (
        (f"Tag{_title}", tag),
        (f"Untag{_title}", untag),
        (f"List{_title}Tags", list_tags),
        (f"Put{_title}PermissionsBoundary", put_boundary),
        (f"Delete{_title}PermissionsBoundary", delete_boundary),
    ):
        operation(_op)(partial(_func, _kind))
