"""The identity aggregate (ports/identity.py) in SQL, shared by SQLite and PostgreSQL.

Users, roles and groups are one table keyed by (kind, lower-cased name): IAM names ignore case. Their
remaining fields are JSON. Inline policies, attachments and group members refer to an entity by that key.
Every write bumps the one-row ``iam_changes`` counter in the same transaction.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from tumbler.adapters.store import codec
from tumbler.core.iam.managed import managed_policies
from tumbler.ports.identity import (
    GROUP,
    ROLE,
    USER,
    AccessKeyInfo,
    CustomerPolicy,
    Entity,
    NamedPolicy,
    PolicyVersion,
    PrincipalPolicies,
    Session,
)
from tumbler.ports.store import AccessKey

SCHEMA_V3 = [
    """CREATE TABLE iam_entities (
    kind TEXT NOT NULL, name_key TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL, entity_id TEXT NOT NULL,
    arn TEXT NOT NULL, created {real} NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (kind, name_key)){without_rowid}""",
    """CREATE TABLE iam_policies (
    arn TEXT PRIMARY KEY, name_key TEXT UNIQUE NOT NULL, doc TEXT NOT NULL)""",
    """CREATE TABLE iam_policy_versions (
    arn TEXT NOT NULL, version_id TEXT NOT NULL, document TEXT NOT NULL, created {real} NOT NULL,
    PRIMARY KEY (arn, version_id)){without_rowid}""",
    """CREATE TABLE iam_inline (
    kind TEXT NOT NULL, name_key TEXT NOT NULL, policy_name TEXT NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (kind, name_key, policy_name)){without_rowid}""",
    """CREATE TABLE iam_attachments (
    kind TEXT NOT NULL, name_key TEXT NOT NULL, policy_arn TEXT NOT NULL,
    PRIMARY KEY (kind, name_key, policy_arn)){without_rowid}""",
    "CREATE INDEX iam_attachments_by_policy ON iam_attachments (policy_arn)",
    """CREATE TABLE iam_members (
    group_key TEXT NOT NULL, user_key TEXT NOT NULL, PRIMARY KEY (group_key, user_key)){without_rowid}""",
    "CREATE INDEX iam_members_by_user ON iam_members (user_key)",
    "CREATE TABLE iam_changes (id INTEGER PRIMARY KEY, counter BIGINT NOT NULL)",
    "INSERT INTO iam_changes (id, counter) VALUES (1, 0)",
    # access keys gain an owner's status and date; STS sessions are access keys with an expiry and a token hash
    "ALTER TABLE access_keys ADD COLUMN status TEXT",
    "ALTER TABLE access_keys ADD COLUMN created {real}",
    "ALTER TABLE access_keys ADD COLUMN expires {real}",
    "ALTER TABLE access_keys ADD COLUMN token_hash {blob}",
    "ALTER TABLE access_keys ADD COLUMN session TEXT",
    "CREATE INDEX access_keys_by_principal ON access_keys (principal)",
]

KEY_COLUMNS = "access_key_id, principal, wrapped_key, sealed_secret, status, created, expires, token_hash, session"
ENTITY_COLUMNS = "kind, name, path, entity_id, arn, created, doc"
STATEMENTS = {
    "access_key": f"SELECT {KEY_COLUMNS} FROM access_keys WHERE access_key_id = ?",
    "put_access_key": f"INSERT INTO access_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "access_keys_of": "SELECT access_key_id, principal, status, created FROM access_keys "
    "WHERE principal = ? AND expires IS NULL ORDER BY created, access_key_id",
    "set_access_key_status": "UPDATE access_keys SET status = ? WHERE access_key_id = ?",
    "delete_access_key": "DELETE FROM access_keys WHERE access_key_id = ?",
    "identity_version": "SELECT counter FROM iam_changes WHERE id = 1",
    "bump_identities": "UPDATE iam_changes SET counter = counter + 1 WHERE id = 1",
    "entity": f"SELECT {ENTITY_COLUMNS} FROM iam_entities WHERE kind = ? AND name_key = ?",
    "entities": f"SELECT {ENTITY_COLUMNS} FROM iam_entities WHERE kind = ? ORDER BY name_key",
    "put_entity": f"INSERT INTO iam_entities (name_key, {ENTITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (kind, name_key) DO UPDATE SET name = excluded.name, path = excluded.path, "
    "entity_id = excluded.entity_id, arn = excluded.arn, created = excluded.created, doc = excluded.doc",
    "delete_entity": "DELETE FROM iam_entities WHERE kind = ? AND name_key = ?",
    "delete_entity_inline": "DELETE FROM iam_inline WHERE kind = ? AND name_key = ?",
    "delete_entity_attachments": "DELETE FROM iam_attachments WHERE kind = ? AND name_key = ?",
    "delete_group_members": "DELETE FROM iam_members WHERE group_key = ?",
    "delete_user_memberships": "DELETE FROM iam_members WHERE user_key = ?",
    "inline_policies": "SELECT policy_name, document FROM iam_inline WHERE kind = ? AND name_key = ? "
    "ORDER BY policy_name",
    "put_inline": "INSERT INTO iam_inline (kind, name_key, policy_name, document) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (kind, name_key, policy_name) DO UPDATE SET document = excluded.document",
    "delete_inline": "DELETE FROM iam_inline WHERE kind = ? AND name_key = ? AND policy_name = ?",
    "attached": "SELECT policy_arn FROM iam_attachments WHERE kind = ? AND name_key = ? ORDER BY policy_arn",
    "attach": "INSERT INTO iam_attachments (kind, name_key, policy_arn) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    "detach": "DELETE FROM iam_attachments WHERE kind = ? AND name_key = ? AND policy_arn = ?",
    "attachment_count": "SELECT count(*) FROM iam_attachments WHERE policy_arn = ?",
    "customer_policy": "SELECT doc FROM iam_policies WHERE arn = ?",
    "customer_policy_named": "SELECT doc FROM iam_policies WHERE name_key = ?",
    "customer_policies": "SELECT doc FROM iam_policies ORDER BY name_key",
    "put_customer_policy": "INSERT INTO iam_policies (arn, name_key, doc) VALUES (?, ?, ?) "
    "ON CONFLICT (arn) DO UPDATE SET name_key = excluded.name_key, doc = excluded.doc",
    "delete_customer_policy": "DELETE FROM iam_policies WHERE arn = ?",
    "delete_policy_versions": "DELETE FROM iam_policy_versions WHERE arn = ?",
    "policy_versions": "SELECT arn, version_id, document, created FROM iam_policy_versions WHERE arn = ? "
    "ORDER BY created DESC, version_id DESC",
    "policy_document": "SELECT document FROM iam_policy_versions WHERE arn = ? AND version_id = ?",
    "put_policy_version": "INSERT INTO iam_policy_versions (arn, version_id, document, created) VALUES (?, ?, ?, ?)",
    "delete_policy_version": "DELETE FROM iam_policy_versions WHERE arn = ? AND version_id = ?",
    "groups_of": f"SELECT {', '.join('e.' + c for c in ENTITY_COLUMNS.split(', '))} FROM iam_members m "
    f"JOIN iam_entities e ON e.kind = '{GROUP}' AND e.name_key = m.group_key WHERE m.user_key = ? ORDER BY e.name_key",
    "members": f"SELECT {', '.join('e.' + c for c in ENTITY_COLUMNS.split(', '))} FROM iam_members m "
    f"JOIN iam_entities e ON e.kind = '{USER}' AND e.name_key = m.user_key WHERE m.group_key = ? ORDER BY e.name_key",
    "add_member": "INSERT INTO iam_members (group_key, user_key) VALUES (?, ?) ON CONFLICT DO NOTHING",
    "remove_member": "DELETE FROM iam_members WHERE group_key = ? AND user_key = ?",
}


def key_row(key: AccessKey) -> tuple[Any, ...]:
    session = None if key.session is None else orjson.dumps(_session_doc(key.session)).decode()
    return (key.access_key_id, key.principal, key.wrapped_key, key.sealed_secret, key.status,
            codec.ts(key.created), codec.ts(key.expires), key.token_hash, session)  # fmt: skip


def key_from_row(row: Any) -> AccessKey:
    session = None if row[8] is None else _session(orjson.loads(row[8]))
    return AccessKey(row[0], row[1], bytes(row[2]), bytes(row[3]), row[4] or "Active", codec.dt(row[5]),
                     codec.dt(row[6]), None if row[7] is None else bytes(row[7]), session)  # fmt: skip


def _session_doc(session: Session) -> dict[str, Any]:
    return {"role_arn": session.role_arn, "role_id": session.role_id, "name": session.name,
            "user_arn": session.user_arn, "policy": session.policy, "policy_arns": list(session.policy_arns),
            "tags": list(session.tags.items())}  # fmt: skip


def _session(doc: dict[str, Any]) -> Session:
    return Session(doc["role_arn"], doc["role_id"], doc["name"], doc["user_arn"], doc["policy"],
                   tuple(doc["policy_arns"]), dict(doc["tags"]))  # fmt: skip


def _entity(row: Any) -> Entity:
    doc = orjson.loads(row[6])
    return Entity(row[0], row[1], row[2], row[3], row[4], codec.dt_required(row[5]), dict(doc["tags"]),
                  doc.get("boundary"), doc.get("trust_policy"), doc.get("description"),
                  doc.get("max_session_duration", 3600))  # fmt: skip


def _entity_doc(entity: Entity) -> str:
    doc = {"tags": list(entity.tags.items()), "boundary": entity.boundary, "trust_policy": entity.trust_policy,
           "description": entity.description, "max_session_duration": entity.max_session_duration}  # fmt: skip
    return orjson.dumps(doc).decode()


def _policy(text: str, attachments: int) -> CustomerPolicy:
    doc = orjson.loads(text)
    return CustomerPolicy(doc["arn"], doc["name"], doc["path"], doc["id"], codec.dt_required(doc["created"]),
                          codec.dt_required(doc["updated"]), doc["default_version"], doc["next_version"],
                          doc.get("description"), dict(doc["tags"]), attachments)  # fmt: skip


def _policy_doc(policy: CustomerPolicy) -> str:
    doc = {"arn": policy.arn, "name": policy.name, "path": policy.path, "id": policy.id,
           "created": codec.ts(policy.created), "updated": codec.ts(policy.updated),
           "default_version": policy.default_version, "next_version": policy.next_version,
           "description": policy.description, "tags": list(policy.tags.items())}  # fmt: skip
    return orjson.dumps(doc).decode()


def _name_of(arn: str) -> str:
    """The last segment of a user or role ARN (after its path), or of an assumed-role ARN's role part."""
    resource = arn.split(":", 5)[-1]
    if resource.startswith("assumed-role/"):
        return resource.split("/")[1]
    return resource.rsplit("/", 1)[-1]


class IdentitySession:
    """The identity queries; a base of ``SqlSession``, which gives ``d`` (the dialect) and ``conn``."""

    d: Any
    conn: Any

    def _row(self, name: str, *params: Any) -> Any:
        return self.conn.execute(self.d.statements[name], params).fetchone()

    def _rows(self, name: str, *params: Any) -> list[Any]:
        return list(self.conn.execute(self.d.statements[name], params).fetchall())

    def _write(self, name: str, *params: Any) -> None:
        self.conn.execute(self.d.statements[name], params)
        self.conn.execute(self.d.statements["bump_identities"])

    # -- access keys --------------------------------------------------------------------------------
    def access_key(self, access_key_id: str) -> AccessKey | None:
        row = self._row("access_key", access_key_id)
        return key_from_row(row) if row else None

    def put_access_key(self, key: AccessKey) -> None:
        self._write("put_access_key", *key_row(key))

    def access_keys_of(self, principal: str) -> list[AccessKeyInfo]:
        rows = self._rows("access_keys_of", principal)
        return [AccessKeyInfo(r[0], r[1], r[2] or "Active", codec.dt(r[3])) for r in rows]

    def set_access_key_status(self, access_key_id: str, status: str) -> None:
        self._write("set_access_key_status", status, access_key_id)

    def delete_access_key(self, access_key_id: str) -> None:
        self._write("delete_access_key", access_key_id)

    # -- the counter ----------------------------------------------------------------------------------
    def identity_version(self) -> int:
        row = self._row("identity_version")
        return int(row[0]) if row else 0

    def lock_identities(self) -> None:
        self.conn.execute(self.d.statements["bump_identities"])  # PostgreSQL: a row lock until commit

    # -- entities ----------------------------------------------------------------------------------------
    def entity(self, kind: str, name: str) -> Entity | None:
        row = self._row("entity", kind, name.lower())
        return _entity(row) if row else None

    def entities(self, kind: str, path_prefix: str = "/") -> list[Entity]:
        found = [_entity(r) for r in self._rows("entities", kind)]
        return [e for e in found if e.path.startswith(path_prefix)]

    def put_entity(self, entity: Entity) -> None:
        self._write("put_entity", entity.name.lower(), entity.kind, entity.name, entity.path, entity.id, entity.arn,
                    codec.ts(entity.created), _entity_doc(entity))  # fmt: skip

    def delete_entity(self, kind: str, name: str) -> None:
        key = name.lower()
        for statement in ("delete_entity", "delete_entity_inline", "delete_entity_attachments"):
            self._write(statement, kind, key)
        self._write("delete_group_members" if kind == GROUP else "delete_user_memberships", key)

    # -- inline policies and attachments -----------------------------------------------------------------
    def inline_policies(self, kind: str, name: str) -> dict[str, str]:
        return {r[0]: r[1] for r in self._rows("inline_policies", kind, name.lower())}

    def put_inline_policy(self, kind: str, name: str, policy_name: str, document: str) -> None:
        self._write("put_inline", kind, name.lower(), policy_name, document)

    def delete_inline_policy(self, kind: str, name: str, policy_name: str) -> None:
        self._write("delete_inline", kind, name.lower(), policy_name)

    def attached(self, kind: str, name: str) -> list[str]:
        return [r[0] for r in self._rows("attached", kind, name.lower())]

    def attach(self, kind: str, name: str, policy_arn: str) -> None:
        self._write("attach", kind, name.lower(), policy_arn)

    def detach(self, kind: str, name: str, policy_arn: str) -> None:
        self._write("detach", kind, name.lower(), policy_arn)

    def attachment_count(self, policy_arn: str) -> int:
        return int(self._row("attachment_count", policy_arn)[0])

    # -- customer managed policies ---------------------------------------------------------------------
    def customer_policy(self, arn: str) -> CustomerPolicy | None:
        row = self._row("customer_policy", arn)
        return _policy(row[0], self.attachment_count(arn)) if row else None

    def customer_policy_named(self, name: str) -> CustomerPolicy | None:
        row = self._row("customer_policy_named", name.lower())
        return self._counted(_policy(row[0], 0)) if row else None

    def customer_policies(self) -> list[CustomerPolicy]:
        return [self._counted(_policy(r[0], 0)) for r in self._rows("customer_policies")]

    def _counted(self, policy: CustomerPolicy) -> CustomerPolicy:
        return replace(policy, attachments=self.attachment_count(policy.arn))

    def put_customer_policy(self, policy: CustomerPolicy) -> None:
        self._write("put_customer_policy", policy.arn, policy.name.lower(), _policy_doc(policy))

    def delete_customer_policy(self, arn: str) -> None:
        self._write("delete_customer_policy", arn)
        self._write("delete_policy_versions", arn)

    def policy_versions(self, arn: str) -> list[PolicyVersion]:
        return [PolicyVersion(r[0], r[1], r[2], codec.dt_required(r[3])) for r in self._rows("policy_versions", arn)]

    def put_policy_version(self, version: PolicyVersion) -> None:
        self._write("put_policy_version", version.policy_arn, version.version_id, version.document,
                    codec.ts(version.created))  # fmt: skip

    def delete_policy_version(self, arn: str, version_id: str) -> None:
        self._write("delete_policy_version", arn, version_id)

    # -- groups ------------------------------------------------------------------------------------------
    def groups_of(self, user: str) -> list[Entity]:
        return [_entity(r) for r in self._rows("groups_of", user.lower())]

    def members(self, group: str) -> list[Entity]:
        return [_entity(r) for r in self._rows("members", group.lower())]

    def add_member(self, group: str, user: str) -> None:
        self._write("add_member", group.lower(), user.lower())

    def remove_member(self, group: str, user: str) -> None:
        self._write("remove_member", group.lower(), user.lower())

    # -- what enforcement evaluates -----------------------------------------------------------------------
    def principal_policies(self, principal_arn: str, access_key_id: str | None = None) -> PrincipalPolicies | None:
        resource = principal_arn.split(":", 5)[-1]
        if resource == "root" or not principal_arn.startswith("arn:"):
            return PrincipalPolicies()
        key = self.access_key(access_key_id) if access_key_id else None
        session = key.session if key is not None else None
        assumed = resource.startswith("assumed-role/")
        entity = self.entity(ROLE if assumed else USER, _name_of(principal_arn))
        if entity is None:
            return None
        tags = dict(entity.tags)
        if session is not None:
            tags.update(session.tags)
        groups: list[NamedPolicy] = []
        if entity.kind == USER:
            for group in self.groups_of(entity.name):
                groups += self._policies_of(group)
        boundary = self._managed(entity.boundary) if entity.boundary else None
        return PrincipalPolicies(tuple(self._policies_of(entity)), tuple(groups), boundary,
                                 self._session_policies(session), tags)  # fmt: skip

    def _policies_of(self, entity: Entity) -> list[NamedPolicy]:
        inline = [NamedPolicy(f"{entity.kind}/{entity.name}/{name}", doc)
                  for name, doc in self.inline_policies(entity.kind, entity.name).items()]  # fmt: skip
        attached = [self._managed(arn) for arn in self.attached(entity.kind, entity.name)]
        return inline + [p for p in attached if p is not None]

    def _session_policies(self, session: Session | None) -> tuple[NamedPolicy, ...] | None:
        if session is None or (session.policy is None and not session.policy_arns):
            return None
        found = [NamedPolicy("session", session.policy)] if session.policy is not None else []
        found += [p for p in (self._managed(arn) for arn in session.policy_arns) if p is not None]
        return tuple(found)

    def _managed(self, arn: str) -> NamedPolicy | None:
        """A managed policy's default version, AWS's or the account's."""
        aws = managed_policies().get(arn)
        if aws is not None:
            return NamedPolicy(arn, aws.document_text)
        policy = self.customer_policy(arn)
        if policy is None:
            return None
        row = self._row("policy_document", arn, policy.default_version)
        return NamedPolicy(arn, row[0]) if row else None
