"""Inline policies of users, roles and groups; customer managed policies with versions; attachments.

The operations come in families that differ only by the entity kind (PutUserPolicy, PutRolePolicy,
PutGroupPolicy...): one function per family, registered once per kind.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

from tumbler.core.iam.managed import AWS_POLICY_PREFIX, ManagedPolicy, managed_policies
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.iam.common import (
    MAX_VERSIONS,
    TITLES,
    arn,
    check_policy,
    entity_name,
    entity_or_fail,
    fail,
    managed_exists,
    new_id,
    not_attachable,
    operation,
    tags_in,
    tags_out,
)
from tumbler.ports.identity import GROUP, ROLE, USER, CustomerPolicy, PolicyVersion

KINDS = (USER, ROLE, GROUP)
MORE_THAN_ONE_VERSION = (
    "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. "
    "The default version is deleted with the policy."
)


# -- inline policies -----------------------------------------------------------------------------------
def put_inline(kind: str, ctx: Context, params: Params) -> Result:
    check_policy(params["PolicyDocument"])
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        entity = entity_or_fail(uow, kind, entity_name(params, kind))
        uow.put_inline_policy(kind, entity.name, params["PolicyName"], params["PolicyDocument"])
    return {}


def _inline_or_fail(kind: str, documents: dict[str, str], policy_name: str) -> str:
    if policy_name not in documents:
        raise fail("NoSuchEntity", f"The {kind} policy with name {policy_name} cannot be found.")
    return documents[policy_name]


def get_inline(kind: str, ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        entity = entity_or_fail(reader, kind, entity_name(params, kind))
        document = _inline_or_fail(kind, reader.inline_policies(kind, entity.name), params["PolicyName"])
    return {f"{TITLES[kind]}Name": entity.name, "PolicyName": params["PolicyName"], "PolicyDocument": document}


def list_inline(kind: str, ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        entity = entity_or_fail(reader, kind, entity_name(params, kind))
        names = list(reader.inline_policies(kind, entity.name))
    return {"PolicyNames": names, "IsTruncated": False}


def delete_inline(kind: str, ctx: Context, params: Params) -> Result:
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        entity = entity_or_fail(uow, kind, entity_name(params, kind))
        _inline_or_fail(kind, uow.inline_policies(kind, entity.name), params["PolicyName"])
        uow.delete_inline_policy(kind, entity.name, params["PolicyName"])
    return {}


# -- attachments ----------------------------------------------------------------------------------------
def attach(kind: str, ctx: Context, params: Params) -> Result:
    policy_arn = params["PolicyArn"]
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        entity = entity_or_fail(uow, kind, entity_name(params, kind))
        if not managed_exists(uow, policy_arn):
            raise not_attachable(policy_arn)
        uow.attach(kind, entity.name, policy_arn)
    return {}


def detach(kind: str, ctx: Context, params: Params) -> Result:
    policy_arn = params["PolicyArn"]
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        entity = entity_or_fail(uow, kind, entity_name(params, kind))
        if policy_arn not in uow.attached(kind, entity.name):
            raise fail("NoSuchEntity", f"Policy {policy_arn} was not found.")
        uow.detach(kind, entity.name, policy_arn)
    return {}


def list_attached(kind: str, ctx: Context, params: Params) -> Result:
    with ctx.store.reader() as reader:
        entity = entity_or_fail(reader, kind, entity_name(params, kind))
        arns = reader.attached(kind, entity.name)
    prefix = params.get("PathPrefix", "/")
    found = [{"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in arns if _path_of(a).startswith(prefix)]
    return {"AttachedPolicies": found, "IsTruncated": False}


def _path_of(policy_arn: str) -> str:
    resource = policy_arn.split(":", 5)[-1]  # policy/PATH/NAME
    return resource[len("policy") : resource.rfind("/") + 1]


for _kind in KINDS:
    _title = TITLES[_kind]
    for _op, _func in {f"Put{_title}Policy": put_inline, f"Get{_title}Policy": get_inline,
                       f"List{_title}Policies": list_inline, f"Delete{_title}Policy": delete_inline,
                       f"Attach{_title}Policy": attach, f"Detach{_title}Policy": detach,
                       f"ListAttached{_title}Policies": list_attached}.items():  # fmt: skip
        operation(_op)(partial(_func, _kind))


# -- customer managed policies ----------------------------------------------------------------------
def policy_out(policy: CustomerPolicy | ManagedPolicy, attachments: int) -> dict[str, Any]:
    if isinstance(policy, ManagedPolicy):
        return {"PolicyName": policy.name, "PolicyId": "ANPA" + policy.name.upper()[:17].ljust(17, "X"),
                "Arn": policy.arn, "Path": policy.path, "DefaultVersionId": policy.default_version_id,
                "AttachmentCount": attachments, "PermissionsBoundaryUsageCount": 0, "IsAttachable": True,
                "Description": policy.description, "CreateDate": _date(policy.create_date),
                "UpdateDate": _date(policy.update_date)}  # fmt: skip
    out = {"PolicyName": policy.name, "PolicyId": policy.id, "Arn": policy.arn, "Path": policy.path,
           "DefaultVersionId": policy.default_version, "AttachmentCount": attachments,
           "PermissionsBoundaryUsageCount": 0, "IsAttachable": True, "Description": policy.description,
           "CreateDate": policy.created, "UpdateDate": policy.updated}  # fmt: skip
    if policy.tags:
        out["Tags"] = tags_out(policy.tags)
    return out


def _date(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _policy_or_fail(uow: Any, policy_arn: str) -> CustomerPolicy:
    policy: CustomerPolicy | None = uow.customer_policy(policy_arn)
    if policy is None:
        raise fail("NoSuchEntity", f"Policy {policy_arn} was not found.")
    return policy


def _aws_unmodifiable(policy_arn: str) -> None:
    if policy_arn.startswith(AWS_POLICY_PREFIX):
        raise fail("UnmodifiableEntity", f"Cannot modify an AWS managed policy: {policy_arn}")


@operation("CreatePolicy")
def create_policy(ctx: Context, params: Params) -> Result:
    name, path, document = params["PolicyName"], params.get("Path", "/"), params["PolicyDocument"]
    check_policy(document)
    policy = CustomerPolicy(arn(ctx, "policy", path, name), name, path, new_id("policy"), ctx.now, ctx.now, "v1", 2,
                            params.get("Description"), tags_in(params))  # fmt: skip
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        if uow.customer_policy_named(name) is not None:
            raise fail(
                "EntityAlreadyExists", f"A policy called {name} already exists. Duplicate names are not allowed."
            )
        uow.put_customer_policy(policy)
        uow.put_policy_version(PolicyVersion(policy.arn, "v1", document, ctx.now))
    return {"Policy": policy_out(policy, 0)}


@operation("GetPolicy")
def get_policy(ctx: Context, params: Params) -> Result:
    policy_arn = params["PolicyArn"]
    with ctx.store.reader() as reader:
        aws = managed_policies().get(policy_arn)
        if aws is not None:
            return {"Policy": policy_out(aws, reader.attachment_count(policy_arn))}
        policy = _policy_or_fail(reader, policy_arn)
    return {"Policy": policy_out(policy, policy.attachments)}


def _version_out(version: PolicyVersion, default: str, *, document: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"VersionId": version.version_id, "IsDefaultVersion": version.version_id == default,
                           "CreateDate": version.created}  # fmt: skip
    if document:
        out["Document"] = version.document
    return out


@operation("GetPolicyVersion")
def get_policy_version(ctx: Context, params: Params) -> Result:
    policy_arn, version_id = params["PolicyArn"], params["VersionId"]
    aws = managed_policies().get(policy_arn)
    if aws is not None and version_id == aws.default_version_id:
        version = PolicyVersion(policy_arn, version_id, aws.document_text, _date(aws.update_date))
        return {"PolicyVersion": _version_out(version, version_id)}
    with ctx.store.reader() as reader:
        policy = _policy_or_fail(reader, policy_arn) if aws is None else None
        versions = [] if policy is None else reader.policy_versions(policy_arn)
    for version in versions:
        if version.version_id == version_id and policy is not None:
            return {"PolicyVersion": _version_out(version, policy.default_version)}
    raise fail("NoSuchEntity", f"Policy {policy_arn} version {version_id} does not exist or is not attachable.")


@operation("ListPolicyVersions")
def list_policy_versions(ctx: Context, params: Params) -> Result:
    policy_arn = params["PolicyArn"]
    aws = managed_policies().get(policy_arn)
    if aws is not None:
        version = PolicyVersion(policy_arn, aws.default_version_id, aws.document_text, _date(aws.update_date))
        return {"Versions": [_version_out(version, version.version_id, document=False)], "IsTruncated": False}
    with ctx.store.reader() as reader:
        policy = _policy_or_fail(reader, policy_arn)
        versions = reader.policy_versions(policy_arn)
    found = [_version_out(v, policy.default_version, document=False) for v in versions]
    return {"Versions": found, "IsTruncated": False}


@operation("CreatePolicyVersion")
def create_policy_version(ctx: Context, params: Params) -> Result:
    policy_arn, document = params["PolicyArn"], params["PolicyDocument"]
    _aws_unmodifiable(policy_arn)
    check_policy(document)
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        policy = _policy_or_fail(uow, policy_arn)
        if len(uow.policy_versions(policy_arn)) >= MAX_VERSIONS:
            raise fail("LimitExceeded", f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create "
                                        "a new version, you must delete an existing version.")  # fmt: skip
        version = PolicyVersion(policy_arn, f"v{policy.next_version}", document, ctx.now)
        uow.put_policy_version(version)
        default = version.version_id if params.get("SetAsDefault") else policy.default_version
        updated = ctx.now if default != policy.default_version else policy.updated
        uow.put_customer_policy(
            replace(policy, next_version=policy.next_version + 1, default_version=default, updated=updated)
        )
    return {"PolicyVersion": _version_out(version, default, document=False)}


@operation("SetDefaultPolicyVersion")
def set_default_policy_version(ctx: Context, params: Params) -> Result:
    policy_arn, version_id = params["PolicyArn"], params["VersionId"]
    _aws_unmodifiable(policy_arn)
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        policy = _policy_or_fail(uow, policy_arn)
        if version_id not in {v.version_id for v in uow.policy_versions(policy_arn)}:
            raise fail("NoSuchEntity", f"Policy {policy_arn} version {version_id} does not exist or is not attachable.")
        uow.put_customer_policy(replace(policy, default_version=version_id, updated=ctx.now))
    return {}


@operation("DeletePolicyVersion")
def delete_policy_version(ctx: Context, params: Params) -> Result:
    policy_arn, version_id = params["PolicyArn"], params["VersionId"]
    _aws_unmodifiable(policy_arn)
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        policy = _policy_or_fail(uow, policy_arn)
        if version_id not in {v.version_id for v in uow.policy_versions(policy_arn)}:
            raise fail("NoSuchEntity", f"Policy {policy_arn} version {version_id} does not exist or is not attachable.")
        if version_id == policy.default_version:
            raise fail("DeleteConflict", "Cannot delete the default version of a policy.")
        uow.delete_policy_version(policy_arn, version_id)
    return {}


@operation("DeletePolicy")
def delete_policy(ctx: Context, params: Params) -> Result:
    policy_arn = params["PolicyArn"]
    _aws_unmodifiable(policy_arn)
    with ctx.store.transaction() as uow:
        uow.lock_identities()
        policy = _policy_or_fail(uow, policy_arn)
        if policy.attachments:
            raise fail("DeleteConflict", "Cannot delete a policy attached to entities.")
        if len(uow.policy_versions(policy_arn)) > 1:
            raise fail("DeleteConflict", MORE_THAN_ONE_VERSION)
        uow.delete_customer_policy(policy_arn)
    return {}


@operation("ListPolicies")
def list_policies(ctx: Context, params: Params) -> Result:
    scope, only_attached = params.get("Scope", "All"), params.get("OnlyAttached", False)
    prefix = params.get("PathPrefix", "/")
    found: list[dict[str, Any]] = []
    with ctx.store.reader() as reader:
        if scope in ("All", "AWS"):
            for aws in sorted(managed_policies().values(), key=lambda p: p.name):
                found.append(policy_out(aws, reader.attachment_count(aws.arn)))
        if scope in ("All", "Local"):
            found += [policy_out(p, p.attachments) for p in reader.customer_policies()]
    found = [p for p in found if p["Path"].startswith(prefix) and (p["AttachmentCount"] or not only_attached)]
    return {"Policies": found, "IsTruncated": False}
