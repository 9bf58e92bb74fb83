"""The identity aggregate of the store: IAM users, roles, groups, their policies, and STS sessions.

Names of users, roles and groups are unique without regard to case, as in IAM (``alice`` and ``Alice``
are the same user) and are looked up the same way. Every write bumps the *identity change counter*
in its own transaction; a transaction that reads before it writes (a limit, a conflict) starts with
``lock_identities()``, which bumps it too and holds IAM writes of other nodes until commit.

The enforcement layer calls two reads, both documented below: ``identity_version()`` (cheap: one
row) to know when its compiled policies are stale, and ``principal_policies(arn, access_key_id)``
for everything that applies to one caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

USER, ROLE, GROUP = "user", "role", "group"
ACTIVE, INACTIVE = "Active", "Inactive"


@dataclass(frozen=True)
class Entity:
    """A user, role or group (``kind``). ``trust_policy``, ``description`` and ``max_session_duration``
    are a role's; ``boundary`` (a managed policy ARN) a user's or role's; groups have neither tags nor boundary."""

    kind: str
    name: str
    path: str
    id: str  # AIDA..., AROA..., AGPA...
    arn: str
    created: datetime
    tags: dict[str, str] = field(default_factory=dict)
    boundary: str | None = None
    trust_policy: str | None = None
    description: str | None = None
    max_session_duration: int = 3600


@dataclass(frozen=True)
class CustomerPolicy:
    """A customer managed policy (its versions are ``PolicyVersion`` rows). ``next_version`` numbers the next
    version: IAM never reuses a version id. ``attachments`` is counted on read."""

    arn: str
    name: str
    path: str
    id: str  # ANPA...
    created: datetime
    updated: datetime
    default_version: str
    next_version: int
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    attachments: int = 0


@dataclass(frozen=True)
class PolicyVersion:
    policy_arn: str
    version_id: str  # v1, v2, ...
    document: str
    created: datetime


@dataclass(frozen=True)
class Session:
    """What an STS session was issued for, stored with its ``ASIA...`` access key.

    AssumeRole: ``role_arn``/``role_id``/``name`` (the RoleSessionName); GetSessionToken: ``user_arn`` only
    (its ``role_arn`` is empty). ``policy`` is the inline session policy, ``policy_arns`` the managed ones passed."""

    role_arn: str = ""
    role_id: str = ""
    name: str = ""
    user_arn: str = ""
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NamedPolicy:
    """A policy document with what names it in a decision: a managed policy's ARN, or an inline policy as
    ``user/NAME/POLICY`` (``role/...``, ``group/...``); a session's inline policy is ``session``."""

    name: str
    document: str


@dataclass(frozen=True)
class PrincipalPolicies:
    """Everything IAM evaluates for one caller besides the resource's own policy.

    ``identity``: the user's or role's inline policies, then its attached managed ones; ``groups``: a user's
    groups' inline and attached policies; ``boundary``: the permissions boundary document; ``session``: the
    session policies (inline, then PolicyArns), None when the session was made without any, as
    ``core.iam.Policies.session`` expects; ``tags``: the user's tags, or the role's with the session's on top."""

    identity: tuple[NamedPolicy, ...] = ()
    groups: tuple[NamedPolicy, ...] = ()
    boundary: NamedPolicy | None = None
    session: tuple[NamedPolicy, ...] | None = None
    tags: dict[str, str] = field(default_factory=dict)


class IdentityReads(Protocol):
    def identity_version(self) -> int:
        """The identity change counter: it grows with every committed IAM write (on any node sharing the store)."""
        ...

    def principal_policies(self, principal_arn: str, access_key_id: str | None = None) -> PrincipalPolicies | None:
        """What applies to a caller: ``principal_arn`` is a user ARN, an assumed-role ARN
        (``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``) or the root ARN; ``access_key_id`` the key that
        signed the request (a session's carries its session policy). None when the user or role no longer
        exists; root gets empty ``PrincipalPolicies``. A managed policy ARN that does not resolve is left out."""
        ...

    def entity(self, kind: str, name: str) -> Entity | None: ...

    def entities(self, kind: str, path_prefix: str = "/") -> list[Entity]:
        """Every entity of a kind whose path starts with ``path_prefix``, by name."""
        ...

    def inline_policies(self, kind: str, name: str) -> dict[str, str]:
        """Policy name -> document of an entity's inline policies, by policy name."""
        ...

    def attached(self, kind: str, name: str) -> list[str]:
        """The managed policy ARNs attached to an entity, in ARN order."""
        ...

    def customer_policy(self, arn: str) -> CustomerPolicy | None: ...

    def customer_policies(self) -> list[CustomerPolicy]:
        """Every customer managed policy, by name."""
        ...

    def customer_policy_named(self, name: str) -> CustomerPolicy | None:
        """A customer managed policy by name: names are unique in an account, whatever the path."""
        ...

    def policy_versions(self, arn: str) -> list[PolicyVersion]:
        """A customer managed policy's versions, newest first."""
        ...

    def attachment_count(self, policy_arn: str) -> int:
        """How many users, roles and groups a managed policy (customer or AWS) is attached to."""
        ...

    def groups_of(self, user: str) -> list[Entity]: ...

    def members(self, group: str) -> list[Entity]: ...

    def access_keys_of(self, principal: str) -> list[AccessKeyInfo]:
        """The long-term keys whose owner is ``principal`` (a user ARN), oldest first."""
        ...


@dataclass(frozen=True)
class AccessKeyInfo:
    access_key_id: str
    principal: str
    status: str
    created: datetime | None


class IdentityWrites(IdentityReads, Protocol):
    def lock_identities(self) -> None:
        """Bump the change counter now and hold IAM writes elsewhere until this transaction ends: reads that
        follow see every earlier IAM commit and stay true (limits, conflicts)."""
        ...

    def put_entity(self, entity: Entity) -> None:
        """Insert, or replace the entity of that kind and name (any case)."""
        ...

    def delete_entity(self, kind: str, name: str) -> None:
        """Remove the entity with its inline policies, attachments and group memberships."""
        ...

    def put_inline_policy(self, kind: str, name: str, policy_name: str, document: str) -> None: ...

    def delete_inline_policy(self, kind: str, name: str, policy_name: str) -> None: ...

    def attach(self, kind: str, name: str, policy_arn: str) -> None:
        """Attach (again is no change)."""
        ...

    def detach(self, kind: str, name: str, policy_arn: str) -> None: ...

    def put_customer_policy(self, policy: CustomerPolicy) -> None:
        """Insert or replace (by ARN); ``attachments`` is not stored."""
        ...

    def delete_customer_policy(self, arn: str) -> None:
        """Remove the policy with its versions."""
        ...

    def put_policy_version(self, version: PolicyVersion) -> None: ...

    def delete_policy_version(self, arn: str, version_id: str) -> None: ...

    def add_member(self, group: str, user: str) -> None: ...

    def remove_member(self, group: str, user: str) -> None: ...

    def set_access_key_status(self, access_key_id: str, status: str) -> None: ...

    def delete_access_key(self, access_key_id: str) -> None: ...
