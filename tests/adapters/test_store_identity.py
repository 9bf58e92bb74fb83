"""The identity aggregate's contract (ports/identity.py), on SQLite and PostgreSQL alike (the ``store`` fixture of
test_store_contract)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tumbler.core.iam.managed import managed_policies
from tumbler.ports.identity import GROUP, ROLE, USER, CustomerPolicy, Entity, PolicyVersion, Session
from tumbler.ports.store import AccessKey, Store

from .test_store_contract import Nodes, nodes, pg_url  # noqa: F401 - fixtures

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
READ = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:Get*","Resource":"*"}]}'
DENY = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}'
TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'  # noqa: E501
READ_WRITE = "arn:aws:iam::aws:policy/SecretsManagerReadWrite"


@pytest.fixture
def store(nodes: Nodes) -> Store:  # noqa: F811 - the contract suite's nodes fixture
    return nodes()


def user(name: str = "Alice", **kw: object) -> Entity:
    arn = f"arn:aws:iam::{ACCOUNT}:user/team/{name}"
    return Entity(USER, name, "/team/", "AIDA" + name.upper().ljust(17, "X"), arn, T0, **kw)  # type: ignore[arg-type]


def role(name: str = "Rotator", **kw: object) -> Entity:
    return Entity(ROLE, name, "/", "AROA" + name.upper().ljust(17, "X"), f"arn:aws:iam::{ACCOUNT}:role/{name}", T0,
                  trust_policy=TRUST, **kw)  # type: ignore[arg-type]  # fmt: skip


def customer_policy(name: str = "ReadAll") -> CustomerPolicy:
    return CustomerPolicy(f"arn:aws:iam::{ACCOUNT}:policy/{name}", name, "/", "ANPA" + name.upper().ljust(17, "X"),
                          T0, T0, "v1", 2)  # fmt: skip


def test_entities_round_trip_and_ignore_case(store: Store) -> None:
    alice = user(tags={"team": "db", "env": "prod"}, boundary=READ_WRITE)
    rotator = role(description="rotates", max_session_duration=7200)
    with store.transaction() as uow:
        uow.put_entity(alice)
        uow.put_entity(rotator)
        uow.put_entity(user("bob"))
    with store.reader() as reader:
        assert reader.entity(USER, "alice") == alice
        assert reader.entity(USER, "ALICE") == alice
        assert reader.entity(ROLE, "rotator") == rotator
        assert reader.entity(ROLE, "Alice") is None
        assert [e.name for e in reader.entities(USER)] == ["Alice", "bob"]
        assert reader.entities(USER, "/other/") == []
        assert [e.name for e in reader.entities(USER, "/team/")] == ["Alice", "bob"]


def test_every_write_bumps_the_change_counter(store: Store) -> None:
    with store.reader() as reader:
        before = reader.identity_version()
    with store.transaction() as uow:
        uow.put_entity(user())
    with store.reader() as reader:
        after_one = reader.identity_version()
    with store.transaction() as uow:
        uow.put_inline_policy(USER, "alice", "read", READ)
    with store.reader() as reader:
        assert before < after_one < reader.identity_version()

    def attach_then_fail() -> None:
        with store.transaction() as uow:
            uow.attach(USER, "alice", READ_WRITE)
            raise RuntimeError

    with pytest.raises(RuntimeError):  # a rolled back write bumps nothing
        attach_then_fail()
    with store.reader() as reader:
        now = reader.identity_version()
        assert reader.attached(USER, "alice") == []
    with store.transaction() as uow:
        uow.lock_identities()
    with store.reader() as reader:
        assert reader.identity_version() > now


def test_inline_attached_and_delete_cascades(store: Store) -> None:
    with store.transaction() as uow:
        uow.put_entity(user())
        uow.put_entity(Entity(GROUP, "Ops", "/", "AGPAOPS", f"arn:aws:iam::{ACCOUNT}:group/Ops", T0))
        uow.put_inline_policy(USER, "Alice", "read", READ)
        uow.put_inline_policy(USER, "Alice", "read", DENY)  # replaces
        uow.attach(USER, "Alice", READ_WRITE)
        uow.attach(USER, "Alice", READ_WRITE)  # again: no change
        uow.add_member("Ops", "Alice")
    with store.reader() as reader:
        assert reader.inline_policies(USER, "alice") == {"read": DENY}
        assert reader.attached(USER, "alice") == [READ_WRITE]
        assert reader.attachment_count(READ_WRITE) == 1
        assert [g.name for g in reader.groups_of("alice")] == ["Ops"]
        assert [u.name for u in reader.members("ops")] == ["Alice"]
    with store.transaction() as uow:
        uow.delete_entity(USER, "alice")
    with store.transaction() as uow:  # the same name again starts clean
        uow.put_entity(user())
    with store.reader() as reader:
        assert reader.inline_policies(USER, "Alice") == {}
        assert reader.attached(USER, "Alice") == []
        assert reader.groups_of("Alice") == []
        assert reader.attachment_count(READ_WRITE) == 0


def test_customer_policies_with_versions(store: Store) -> None:
    policy = customer_policy()
    with store.transaction() as uow:
        uow.put_customer_policy(policy)
        uow.put_policy_version(PolicyVersion(policy.arn, "v1", READ, T0))
        uow.put_policy_version(PolicyVersion(policy.arn, "v2", DENY, T0 + timedelta(seconds=1)))
        uow.put_customer_policy(replace(policy, default_version="v2", next_version=3))
        uow.put_entity(role())
        uow.attach(ROLE, "Rotator", policy.arn)
    with store.reader() as reader:
        found = reader.customer_policy(policy.arn)
        assert found == replace(policy, default_version="v2", next_version=3, attachments=1)
        assert reader.customer_policy_named("readall") == found
        assert [p.arn for p in reader.customer_policies()] == [policy.arn]
        assert [v.version_id for v in reader.policy_versions(policy.arn)] == ["v2", "v1"]
        assert reader.principal_policies(f"arn:aws:sts::{ACCOUNT}:assumed-role/Rotator/s1") is not None
    with store.transaction() as uow:
        uow.delete_policy_version(policy.arn, "v1")
    with store.reader() as reader:
        assert [v.version_id for v in reader.policy_versions(policy.arn)] == ["v2"]
    with store.transaction() as uow:
        uow.delete_customer_policy(policy.arn)
    with store.reader() as reader:
        assert reader.customer_policy(policy.arn) is None
        assert reader.policy_versions(policy.arn) == []


def test_access_keys_and_sessions(store: Store) -> None:
    alice = user()
    long_term = AccessKey("AKIAALICE", alice.arn, b"wrapped", b"sealed", "Active", T0)
    session = Session(role_arn=f"arn:aws:iam::{ACCOUNT}:role/Rotator", role_id="AROAROTATOR", name="s1",
                      policy=READ, policy_arns=(READ_WRITE,), tags={"team": "db"})  # fmt: skip
    temporary = AccessKey("ASIASESSION", f"arn:aws:sts::{ACCOUNT}:assumed-role/Rotator/s1", b"w", b"s", "Active", T0,
                          T0 + timedelta(hours=1), b"\x01" * 32, session)  # fmt: skip
    with store.transaction() as uow:
        uow.put_access_key(long_term)
        uow.put_access_key(temporary)
    with store.reader() as reader:
        assert reader.access_key("AKIAALICE") == long_term
        assert reader.access_key("ASIASESSION") == temporary
        assert [k.access_key_id for k in reader.access_keys_of(alice.arn)] == ["AKIAALICE"]  # no sessions
    with store.transaction() as uow:
        uow.set_access_key_status("AKIAALICE", "Inactive")
    with store.reader() as reader:
        assert reader.access_keys_of(alice.arn)[0].status == "Inactive"
    with store.transaction() as uow:
        uow.delete_access_key("AKIAALICE")
    with store.reader() as reader:
        assert reader.access_key("AKIAALICE") is None


def test_principal_policies(store: Store) -> None:
    """What enforcement evaluates: identity (inline, then attached), groups, boundary, session policies, tags."""
    policy = customer_policy()
    alice = user(tags={"team": "db"}, boundary=policy.arn)
    with store.transaction() as uow:
        uow.put_customer_policy(policy)
        uow.put_policy_version(PolicyVersion(policy.arn, "v1", READ, T0))
        uow.put_entity(alice)
        uow.put_inline_policy(USER, "Alice", "deny", DENY)
        uow.attach(USER, "Alice", READ_WRITE)
        uow.attach(USER, "Alice", f"arn:aws:iam::{ACCOUNT}:policy/Gone")  # left out: it does not resolve
        uow.put_entity(Entity(GROUP, "Ops", "/", "AGPAOPS", f"arn:aws:iam::{ACCOUNT}:group/Ops", T0))
        uow.put_inline_policy(GROUP, "Ops", "read", READ)
        uow.add_member("Ops", "Alice")
        uow.put_entity(role(tags={"team": "role", "env": "prod"}))
        uow.put_inline_policy(ROLE, "Rotator", "read", READ)
        session = Session(role_arn=f"arn:aws:iam::{ACCOUNT}:role/Rotator", role_id="AROAX", name="s", policy=DENY,
                          tags={"team": "session"})  # fmt: skip
        uow.put_access_key(AccessKey("ASIAS", f"arn:aws:sts::{ACCOUNT}:assumed-role/Rotator/s", b"w", b"s",
                                     expires=T0, token_hash=b"h", session=session))  # fmt: skip
    with store.reader() as reader:
        found = reader.principal_policies(alice.arn)
        assert found is not None
        assert [(p.name, p.document) for p in found.identity] == [
            ("user/Alice/deny", DENY), (READ_WRITE, managed_policies()[READ_WRITE].document_text)
        ]  # fmt: skip
        assert [(p.name, p.document) for p in found.groups] == [("group/Ops/read", READ)]
        assert found.boundary is not None
        assert (found.boundary.name, found.boundary.document) == (policy.arn, READ)
        assert found.session is None
        assert found.tags == {"team": "db"}
        session_policies = reader.principal_policies(f"arn:aws:sts::{ACCOUNT}:assumed-role/Rotator/s", "ASIAS")
        assert session_policies is not None
        assert [p.name for p in session_policies.identity] == ["role/Rotator/read"]
        assert session_policies.session is not None
        assert [p.name for p in session_policies.session] == ["session"]
        assert session_policies.tags == {"team": "session", "env": "prod"}
        root = reader.principal_policies(f"arn:aws:iam::{ACCOUNT}:root")
        assert root is not None
        assert root.identity == ()
        assert root.session is None
        assert reader.principal_policies(f"arn:aws:iam::{ACCOUNT}:user/nobody") is None
