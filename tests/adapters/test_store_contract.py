"""The store contract: every backend passes these (SQLite now; PostgreSQL joins the params later)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tumbler.adapters.store.sqlite import SqliteStore
from tumbler.core.secrets import AWSCURRENT, AWSPREVIOUS, Replica, RotationConfig, Secret, VersionInfo
from tumbler.ports.store import AccessKey, Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf"


@pytest.fixture(params=["sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    backend = SqliteStore(tmp_path / "t.db")
    yield backend
    backend.close()


def secret(arn: str = ARN, name: str = "app/db", region: str = "us-east-1") -> Secret:
    return Secret(
        arn=arn,
        name=name,
        region=region,
        created=T0,
        last_changed=T0,
        description="d",
        tags={"team": "a", "env": "prod"},
        rotation=RotationConfig(lambda_arn="arn:f", rules={"AutomaticallyAfterDays": 3}),
        replicas=[Replica("eu-west-1")],
    )


def test_round_trip_and_lookups(store: Store) -> None:
    with store.transaction() as uow:
        uow.insert_secret(secret(), b"wrapped")
        uow.put_version(ARN, VersionInfo("v1", T0), b"blob1")
        uow.set_stages(ARN, {AWSCURRENT: "v1"})
    with store.reader() as r:
        by_name = r.find_secret("us-east-1", "app/db")
        assert by_name is not None
        assert by_name.tags == {"team": "a", "env": "prod"}
        assert by_name.rotation.rules == {"AutomaticallyAfterDays": 3}
        assert by_name.replicas[0].region == "eu-west-1"
        assert by_name.created == T0
        assert by_name.stages == {AWSCURRENT: "v1"}
        assert r.find_secret("us-east-1", ARN) == by_name
        assert r.find_secret("us-east-1", ARN[:-7]) == by_name  # partial ARN
        assert r.find_secret("eu-west-1", "app/db") is None  # regions are namespaces
        assert r.find_secret("us-east-1", ARN[:-8] + "_-AbCdEf") is None  # LIKE wildcards are escaped
        stored = r.value_by_stage(ARN, AWSCURRENT)
        assert stored is not None
        assert (stored.version_id, stored.blob, stored.wrapped_key) == ("v1", b"blob1", b"wrapped")
        assert r.value(ARN, "nope") is None


def test_name_is_unique_per_region(store: Store) -> None:
    with store.transaction() as uow:
        uow.insert_secret(secret(), b"k")
    with pytest.raises(Exception), store.transaction() as uow:
        uow.insert_secret(secret(arn=ARN.replace("AbCdEf", "ZZZZZZ")), b"k")
    with store.transaction() as uow:
        uow.insert_secret(secret(arn=ARN.replace("us-east-1", "eu-west-1"), region="eu-west-1"), b"k")


def test_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as uow:  # noqa: PT012
        uow.insert_secret(secret(), b"k")
        uow.put_version(ARN, VersionInfo("v1", T0), b"blob")
        raise RuntimeError("boom")
    with store.reader() as r:
        assert r.find_secret("us-east-1", "app/db") is None


def test_concurrent_label_moves_never_duplicate(store: Store) -> None:
    with store.transaction() as uow:
        uow.insert_secret(secret(), b"k")
        uow.set_stages(ARN, {})

    def writer(n: int) -> None:
        for i in range(25):
            with store.transaction() as uow:
                s = uow.lock_secret("us-east-1", ARN)
                assert s is not None
                vid = f"w{n}-{i}"
                uow.put_version(ARN, VersionInfo(vid, T0), b"b")
                stages = dict(s.stages)
                if AWSCURRENT in stages:
                    stages[AWSPREVIOUS] = stages[AWSCURRENT]
                stages[AWSCURRENT] = vid
                uow.set_stages(ARN, stages)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.reader() as r:
        s = r.find_secret("us-east-1", ARN)
    assert s is not None
    assert len(s.versions) == 100
    assert set(s.stages) == {AWSCURRENT, AWSPREVIOUS}
    assert s.stages[AWSCURRENT] != s.stages[AWSPREVIOUS]


def test_replica_reads_through_to_primary(store: Store) -> None:
    replica_arn = ARN.replace("us-east-1", "eu-west-1")
    with store.transaction() as uow:
        uow.insert_secret(secret(), b"k")
        uow.put_version(ARN, VersionInfo("v1", T0), b"blob")
        uow.set_stages(ARN, {AWSCURRENT: "v1"})
        replica = secret(arn=replica_arn, region="eu-west-1")
        replica.primary_region = "us-east-1"
        uow.insert_secret(replica, b"")
    with store.reader() as r:
        found = r.find_secret("eu-west-1", "app/db")
        assert found is not None
        assert found.stages == {AWSCURRENT: "v1"}
        stored = r.value_by_stage(replica_arn, AWSCURRENT)
        assert stored is not None
        assert (stored.arn, stored.wrapped_key) == (ARN, b"k")


def test_due_deletions_and_delete(store: Store) -> None:
    s = secret()
    s.deleted_date = T0
    s.deletion_date = T0 + timedelta(days=7)
    with store.transaction() as uow:
        uow.insert_secret(s, b"k")
        uow.put_version(ARN, VersionInfo("v1", T0), b"blob")
    with store.transaction() as uow:
        assert uow.due_deletions(T0 + timedelta(days=6)) == []
        assert uow.due_deletions(T0 + timedelta(days=7)) == [ARN]
        uow.delete_secret(ARN)
    with store.reader() as r:
        assert r.find_secret("us-east-1", ARN) is None
        assert r.value(ARN, "v1") is None


def test_access_keys_and_rewrap(store: Store) -> None:
    with store.transaction() as uow:
        uow.insert_secret(secret(), b"k1")
        uow.put_access_key(AccessKey("AKIAX", "admin", b"k2", b"sealed"))
    with store.transaction() as uow:
        owners = dict(uow.all_wrapped_keys())
        assert owners == {ARN: b"k1", "AKIAX": b"k2"}
        uow.set_wrapped_key("AKIAX", b"k3")
    with store.reader() as r:
        key = r.access_key("AKIAX")
        assert key is not None
        assert key.wrapped_key == b"k3"
        assert r.access_key("nope") is None


def test_touch_accessed(store: Store) -> None:
    with store.transaction() as uow:
        uow.insert_secret(secret(), b"k")
        uow.put_version(ARN, VersionInfo("v1", T0), b"b")
    day = datetime(2026, 3, 2, tzinfo=UTC)
    store.touch_accessed(ARN, "v1", day)
    with store.reader() as r:
        s = r.find_secret("us-east-1", ARN)
    assert s is not None
    assert s.last_accessed == day
    assert s.versions["v1"].last_accessed == day


def test_rotation_journal_and_leases(store: Store) -> None:
    from tumbler.core import rotation as machine

    r = machine.begin("r1", ARN, "us-east-1", "tok", "arn:f", T0, "v1")
    with store.transaction() as uow:
        uow.insert_secret(secret(), b"k")
        uow.put_rotation(r)
        later = machine.begin("r2", ARN, "us-east-1", "t2", "arn:f", T0 + timedelta(hours=1), "v1")
        uow.put_rotation(later)
    with store.transaction() as uow:
        claimed = uow.claim_rotations(T0, "node-a", T0 + timedelta(minutes=1), 10)
        assert [c.rotation_id for c in claimed] == ["r1"]  # r2 is not due yet
        assert uow.claim_rotations(T0, "node-b", T0 + timedelta(minutes=1), 10) == []  # leased by a
        assert [c.rotation_id for c in uow.claim_rotations(T0, "node-a", T0, 10)] == ["r1"]  # its owner may
    with store.transaction() as uow:  # the lease expires: another node takes over
        taken = uow.claim_rotations(T0 + timedelta(minutes=2), "node-b", T0 + timedelta(minutes=3), 10)
        assert [c.rotation_id for c in taken] == ["r1"]
        uow.put_rotation(machine.step_succeeded(taken[0], T0))
    with store.reader() as reader:
        stored = reader.rotation("r1")
        assert stored is not None
        assert stored.step == "setSecret"
        active = reader.active_rotation(ARN)
        assert active is not None
        assert active.rotation_id == "r2"  # newest active first
        assert [x.rotation_id for x in reader.rotations(ARN)] == ["r2", "r1"]
    with store.transaction() as uow:
        uow.put_rotation(machine.abandon(r, T0, "why"))
        uow.release_leases()
        assert uow.claim_rotations(T0 + timedelta(hours=2), "c", T0 + timedelta(hours=3), 10)[0].rotation_id == "r2"
