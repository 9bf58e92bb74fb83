"""What the IAM operations share: the registry, AWS's errors, ids, ARNs, tags and policy checks.

IAM is global: ARNs carry no region (``arn:aws:iam::ACCOUNT:user/PATH/NAME``). Errors are raised as the query
protocol's ``WireError`` with IAM's codes and wording.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from typing import Any

from tumbler.core.iam import MalformedPolicyDocument, PolicyKind, parse_policy
from tumbler.core.iam.managed import AWS_POLICY_PREFIX, managed_policies
from tumbler.ops.context import Context, Registry
from tumbler.ports.identity import Entity
from tumbler.ports.store import UnitOfWork
from tumbler.wire import query
from tumbler.wire.errors import WireError

operation = Registry("iam")
KINDS = {"user": "user", "role": "role", "group": "group"}
TITLES = {"user": "User", "role": "Role", "group": "Group"}
ID_PREFIXES = {"user": "AIDA", "role": "AROA", "group": "AGPA", "policy": "ANPA"}
MAX_VERSIONS = 5  # versions of a managed policy
MAX_KEYS = 2  # access keys per user


def fail(code: str, message: str) -> WireError:
    return query.error("iam", code, message)


def no_such(kind: str, name: str) -> WireError:
    return fail("NoSuchEntity", f"The {kind} with name {name} cannot be found.")


def new_id(kind: str) -> str:
    """An IAM unique id: a 4-letter prefix and 17 upper-case letters and digits (21 characters, as AWS's)."""
    alphabet = string.ascii_uppercase + string.digits
    return ID_PREFIXES[kind] + "".join(secrets.choice(alphabet) for _ in range(17))


def arn(ctx: Context, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{ctx.account_id}:{kind}{path}{name}"


def tags_in(params: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in params.get("Tags", [])}


def tags_out(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def check_policy(document: str, kind: PolicyKind = PolicyKind.IDENTITY) -> None:
    """IAM's MalformedPolicyDocument for a document it would refuse."""
    try:
        parse_policy(document, kind)
    except MalformedPolicyDocument as err:
        raise fail("MalformedPolicyDocument", err.message) from None


def entity_name(params: dict[str, Any], kind: str) -> str:
    """The UserName, RoleName or GroupName a request names."""
    return str(params[f"{TITLES[kind]}Name"])


def entity_or_fail(uow: Any, kind: str, name: str) -> Entity:
    found: Entity | None = uow.entity(kind, name)
    if found is None:
        raise no_such(kind, name)
    return found


def refuse_while_it_has_policies(uow: UnitOfWork, kind: str, name: str) -> None:
    """IAM deletes a user, role or group only once its inline policies are deleted and its managed ones detached."""
    if uow.inline_policies(kind, name):
        raise fail("DeleteConflict", "Cannot delete entity, must delete policies first.")
    if uow.attached(kind, name):
        raise fail("DeleteConflict", "Cannot delete entity, must detach all policies first.")


def managed_exists(uow: UnitOfWork, policy_arn: str) -> bool:
    if policy_arn.startswith(AWS_POLICY_PREFIX):
        return policy_arn in managed_policies()
    return uow.customer_policy(policy_arn) is not None


def not_attachable(policy_arn: str) -> WireError:
    return fail("NoSuchEntity", f"Policy {policy_arn} does not exist or is not attachable.")


def page(items: Iterable[dict[str, Any]], key: str, params: dict[str, Any]) -> dict[str, Any]:
    """A whole listing in one page (IsTruncated false): the listings here are small."""
    return {key: list(items), "IsTruncated": False}
