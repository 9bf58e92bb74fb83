"""The store contract: every backend passes these, SQLite and PostgreSQL alike.

PostgreSQL runs in a fresh schema per test (``TUMBLER_TEST_POSTGRES``, by default the local
server's ``test`` database), so runs never collide; without a server those params fail (not skip:
a green run without PostgreSQL would not have tested it).
Tests named ``two_nodes`` open a second store on the same database: another Tumbler node.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tumbler.adapters.store import codec
from tumbler.adapters.store.postgres import MIGRATIONS, PostgresStore, migrate
from tumbler.adapters.store.sql import SCHEMA_V1
from tumbler.adapters.store.sqlite import SQLITE, SqliteStore
from tumbler.core import listing
from tumbler.core import rotation as machine
from tumbler.core.secrets import AWSCURRENT, AWSPREVIOUS, Replica, RotationConfig, Secret, VersionInfo
from tumbler.ports.store import AccessKey, Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf"
REPLICA_ARN = ARN.replace("us-east-1", "eu-west-1")
PG_URL = os.environ.get("TUMBLER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
Nodes = Callable[[], Store]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty schema in the test database, dropped afterwards."""
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as err:
        pytest.fail(f"no PostgreSQL at {PG_URL} (bash scripts/start-services starts it): {err}")
    schema = f"t_{uuid.uuid4().hex}"
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield make_conninfo(PG_URL, options=f"-csearch_path={schema}")
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def nodes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Nodes]:
    """Opens a store on the test's database; each call is another node."""
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else ""
    opened: list[Store] = []

    def open_node() -> Store:
        node: Store = PostgresStore(url, min_size=1, max_size=4) if url else SqliteStore(tmp_path / "t.db")
        opened.append(node)
        return node

    yield open_node
    for node in opened:
        node.close()


@pytest.fixture
def store(nodes: Nodes) -> Store:
    return nodes()


def run_threads(*targets: Callable[[], None]) -> None:
    """Run the targets at once; re-raise the first failure."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(targets))

    def wrapped(target: Callable[[], None]) -> None:
        try:
            start.wait()
            target()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=wrapped, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


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
        summary = r.find_secret_summary("us-east-1", ARN[:-7])  # by any id, as find_secret; no versions
        assert summary == dataclasses.replace(by_name, versions={}, stages={})
        assert r.find_secret_summary("eu-west-1", "app/db") is None
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


def test_each_write_of_the_labels_replaces_the_whole_set(store: Store) -> None:
    """Labels moved, added and dropped, in one write or over several, read back in the same transaction
    and after it; labels are any text AWS allows, a comma, quotes or a unit separator included."""
    odd = 'a,b "c" \\ \x1f é'
    steps = [
        {AWSCURRENT: "v1", "AWSPENDING": "v2"},
        {AWSCURRENT: "v2", AWSPREVIOUS: "v1", "AWSPENDING": "v2"},  # moved, added, kept
        {AWSCURRENT: "v2", AWSPREVIOUS: "v1", odd: "v1"},  # dropped, added
        {odd: "v2"},
        {},
        {AWSCURRENT: "v1"},
    ]
    with store.transaction() as uow:
        uow.insert_secret(secret(), b"k")
        for vid in ("v1", "v2"):
            uow.put_version(ARN, VersionInfo(vid, T0), b"b")
    for stages in steps:
        with store.transaction() as uow:
            uow.set_stages(ARN, stages)
            found = uow.lock_secret("us-east-1", ARN)
            assert found is not None
            assert found.stages == stages
        with store.reader() as r:
            after = r.find_secret("us-east-1", ARN)
            assert after is not None
            assert after.stages == stages
            labels = r.read_value("us-east-1", ARN, version_id="v1", stage=AWSCURRENT)
            assert labels is not None
            assert sorted(labels.stages) == sorted(k for k, v in stages.items() if v == "v1")


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
    store.flush_accessed()
    with store.reader() as r:
        s = r.find_secret("us-east-1", ARN)
    assert s is not None
    assert s.last_accessed == day
    assert s.versions["v1"].last_accessed == day


def test_rotation_journal_and_leases(store: Store) -> None:
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


def test_release_leases_drops_only_leases_that_cannot_be_live(store: Store) -> None:
    """SQLite (one server owns it) drops every lease at start; PostgreSQL (shared) keeps a live node's."""
    with store.transaction() as uow:
        uow.insert_secret(secret(), b"k")
        uow.put_rotation(machine.begin("r1", ARN, "us-east-1", "tok", "arn:f", T0, "v1"))
        assert len(uow.claim_rotations(T0, "node-a", T0 + timedelta(minutes=5), 10)) == 1
    with store.transaction() as uow:
        uow.release_leases()
    with store.transaction() as uow:
        taken = uow.claim_rotations(T0, "node-b", T0 + timedelta(minutes=5), 10)
    assert len(taken) == (0 if isinstance(store, PostgresStore) else 1)


def test_timestamps_keep_microseconds(store: Store) -> None:
    s = secret()
    s.created = T0 + timedelta(microseconds=123457)
    with store.transaction() as uow:
        uow.insert_secret(s, b"k")
        uow.put_version(ARN, VersionInfo("v1", s.created), b"b")
    with store.reader() as r:
        found = r.find_secret("us-east-1", ARN)
    assert found is not None
    assert found.created == s.created
    assert found.versions["v1"].created == s.created


def test_read_value_in_one_query(store: Store) -> None:
    with store.transaction() as uow:
        uow.insert_secret(secret(), b"k")
        uow.put_version(ARN, VersionInfo("v1", T0), b"one")
        uow.put_version(ARN, VersionInfo("v2", T0), None)
        uow.set_stages(ARN, {AWSCURRENT: "v1", AWSPREVIOUS: "v1", "AWSPENDING": "v2"})
        replica = secret(arn=REPLICA_ARN, region="eu-west-1")
        replica.primary_region = "us-east-1"
        uow.insert_secret(replica, b"")
    with store.reader() as r:
        current = r.read_value("us-east-1", "app/db", version_id=None, stage=AWSCURRENT)
        assert current is not None
        assert current.stored is not None
        assert (current.arn, current.deleted, current.stored.blob, current.stored.wrapped_key) == (
            ARN,
            False,
            b"one",
            b"k",
        )
        assert sorted(current.stages) == [AWSCURRENT, AWSPREVIOUS]
        pending = r.read_value("eu-west-1", REPLICA_ARN[:-7], version_id="v2", stage=AWSCURRENT)
        assert pending is not None
        assert pending.stored is not None
        assert (pending.arn, pending.stored.arn, pending.stored.blob, pending.stages) == (
            REPLICA_ARN, ARN, None, ["AWSPENDING"]
        )  # fmt: skip
        missing = r.read_value("us-east-1", ARN, version_id=None, stage="nope")
        assert missing is not None
        assert missing.stored is None
        assert r.read_value("us-east-1", "nope", version_id=None, stage=AWSCURRENT) is None


def _current_blob(store: Store) -> bytes | None:
    found = store.read_value("us-east-1", "app/db", version_id=None, stage=AWSCURRENT)
    assert found is not None
    assert found.stored is not None
    return found.stored.blob


def _soon(check: Callable[[], bool], within: float = 1.0) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def test_two_nodes_read_value_sees_every_write(nodes: Nodes) -> None:
    """Store.read_value may cache (both stores do): the writing node reads its write at once, another node
    within the change feed's delivery (PostgreSQL; the fleet benchmark measures it, far under 1 s)."""
    reader, writer = nodes(), nodes()
    with writer.transaction() as uow:
        uow.insert_secret(secret(), b"k")
        uow.put_version(ARN, VersionInfo("v1", T0), b"one")
        uow.set_stages(ARN, {AWSCURRENT: "v1"})
    for _ in range(3):  # read again and again: a cache, if any, now holds it
        assert _current_blob(reader) == b"one"
        assert _current_blob(writer) == b"one"
    with writer.transaction() as uow:
        uow.put_version(ARN, VersionInfo("v2", T0), b"two")
        uow.set_stages(ARN, {AWSCURRENT: "v2", AWSPREVIOUS: "v1"})
    assert _current_blob(writer) == b"two"
    assert _soon(lambda: _current_blob(reader) == b"two")
    with pytest.raises(RuntimeError), writer.transaction() as uow:  # noqa: PT012 - rolled back: nothing changes
        uow.set_stages(ARN, {AWSCURRENT: "v1"})
        raise RuntimeError
    assert _current_blob(reader) == b"two"
    assert _current_blob(writer) == b"two"
    with writer.transaction() as uow:
        uow.delete_secret(ARN)
    assert writer.read_value("us-east-1", "app/db", version_id=None, stage=AWSCURRENT) is None
    assert _soon(lambda: reader.read_value("us-east-1", "app/db", version_id=None, stage=AWSCURRENT) is None)


def test_unique_name_violation_leaves_nothing(store: Store) -> None:
    other = ARN.replace("app/db-AbCdEf", "app/other-XyZxYz")
    with store.transaction() as uow:
        uow.insert_secret(secret(), b"k")
    for _ in range(6):  # more than a pool holds: every connection comes back clean
        with pytest.raises(Exception), store.transaction() as uow:  # noqa: PT012
            uow.insert_secret(secret(arn=other, name="app/other"), b"k")
            uow.put_version(other, VersionInfo("v1", T0), b"b")
            uow.set_stages(other, {AWSCURRENT: "v1"})
            uow.insert_secret(secret(arn=ARN.replace("AbCdEf", "ZZZZZZ")), b"k")  # app/db again
    with store.reader() as r:
        assert r.find_secret("us-east-1", "app/other") is None
        assert r.value(other, "v1") is None
        assert [s.arn for s in r.list_secrets("us-east-1")] == [ARN]
    with store.transaction() as uow:
        uow.insert_secret(secret(arn=other, name="app/other"), b"k")


def test_two_nodes_moving_labels_keep_every_version(nodes: Nodes) -> None:
    """Writers on two nodes, through the primary and through its replica: labels move one at a time."""
    a, b = nodes(), nodes()
    with a.transaction() as uow:
        uow.insert_secret(secret(), b"k")
        replica = secret(arn=REPLICA_ARN, region="eu-west-1")
        replica.primary_region = "us-east-1"
        uow.insert_secret(replica, b"")
    replaced: list[str | None] = []  # the AWSCURRENT each write moved to AWSPREVIOUS

    def writer(node: Store, region: str, arn: str, n: int) -> Callable[[], None]:
        def run() -> None:
            for i in range(20):
                with node.transaction() as uow:
                    s = uow.lock_secret(region, arn)
                    assert s is not None
                    vid = f"w{n}-{i}"
                    uow.put_version(ARN, VersionInfo(vid, T0), b"b")
                    stages = dict(s.stages)
                    old = stages.get(AWSCURRENT)
                    if old is not None:
                        stages[AWSPREVIOUS] = old
                    stages[AWSCURRENT] = vid
                    uow.set_stages(ARN, stages)
                replaced.append(old)

        return run

    run_threads(
        writer(a, "us-east-1", ARN, 0),
        writer(b, "us-east-1", "app/db", 1),
        writer(a, "eu-west-1", REPLICA_ARN, 2),
        writer(b, "eu-west-1", "app/db", 3),
    )
    with b.reader() as r:
        s = r.find_secret("us-east-1", ARN)
    assert s is not None
    assert len(s.versions) == 80
    assert set(s.stages) == {AWSCURRENT, AWSPREVIOUS}
    assert s.stages[AWSCURRENT] != s.stages[AWSPREVIOUS]
    assert len(set(replaced)) == 80  # no write saw a stale AWSCURRENT: each one replaced a different one


def test_two_nodes_lock_primary_and_replica_in_any_order(nodes: Nodes) -> None:
    a, b = nodes(), nodes()
    with a.transaction() as uow:
        uow.insert_secret(secret(), b"k")
        replica = secret(arn=REPLICA_ARN, region="eu-west-1")
        replica.primary_region = "us-east-1"
        uow.insert_secret(replica, b"")

    def locker(node: Store, order: list[tuple[str, str]]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(20):
                with node.transaction() as uow:
                    for region, arn in order:
                        s = uow.lock_secret(region, arn)
                        assert s is not None
                        s.description = f"{region} {time.monotonic()}"
                        uow.update_secret(s)

        return run

    forward = [("us-east-1", ARN), ("eu-west-1", REPLICA_ARN)]
    run_threads(locker(a, forward), locker(b, forward[::-1]), locker(b, forward), locker(a, forward[::-1]))


def test_two_nodes_creating_one_name_create_it_once(nodes: Nodes) -> None:
    """CreateSecret's pattern: lock the name, insert when absent. The loser sees the winner's secret."""
    a, b = nodes(), nodes()
    created: list[str] = []

    def creator(node: Store, n: int) -> Callable[[], None]:
        def run() -> None:
            with node.transaction() as uow:
                if uow.lock_secret("us-east-1", "app/db") is None:
                    time.sleep(0.05)  # widen the window between the check and the insert
                    arn = ARN.replace("AbCdEf", f"node{n:02d}")
                    uow.insert_secret(secret(arn=arn), b"k")
                    created.append(arn)

        return run

    run_threads(*(creator(node, n) for n, node in enumerate([a, b, a, b])))
    assert len(created) == 1
    with a.reader() as r:
        found = r.find_secret("us-east-1", "app/db")
    assert found is not None
    assert found.arn == created[0]


def test_two_nodes_claim_disjoint_rotations(nodes: Nodes) -> None:
    a, b = nodes(), nodes()
    with a.transaction() as uow:
        uow.insert_secret(secret(), b"k")
        for i in range(30):
            uow.put_rotation(machine.begin(f"r{i:02d}", ARN, "us-east-1", f"t{i}", "arn:f", T0, "v1"))
    claims: list[str] = []

    def claimer(node: Store, n: int) -> Callable[[], None]:
        def run() -> None:
            for i in range(100):
                with node.transaction() as uow:
                    got = uow.claim_rotations(T0, f"node{n}-{i}", T0 + timedelta(minutes=5), 4)
                if not got:
                    return
                claims.extend(r.rotation_id for r in got)

        return run

    run_threads(*(claimer(node, n) for n, node in enumerate([a, b, a, b])))
    assert sorted(claims) == [f"r{i:02d}" for i in range(30)]  # every one claimed, none twice
    with b.transaction() as uow:  # the leases expire: a node takes them over
        later = uow.claim_rotations(T0 + timedelta(minutes=6), "c", T0 + timedelta(minutes=9), 50)
    assert len(later) == 30


def test_two_nodes_start_a_scheduled_rotation_once(nodes: Nodes) -> None:
    """The scheduler's pattern: due list from a reader, then under the secret's lock check and start."""
    a, b = nodes(), nodes()
    arns = [ARN.replace("app/db", f"app/s{i}") for i in range(8)]
    with a.transaction() as uow:
        for i, arn in enumerate(arns):
            s = secret(arn=arn, name=f"app/s{i}")
            s.rotation.next_rotation = T0 - timedelta(minutes=i)
            uow.insert_secret(s, b"k")

    def tick(node: Store) -> None:
        with node.reader() as reader:
            due = reader.due_scheduled(T0, 100)
        with node.transaction() as uow:
            for region, arn in due:
                s = uow.lock_secret(region, arn)
                if s is None or s.rotation.next_rotation is None or uow.active_rotation(arn) is not None:
                    continue
                uow.put_rotation(machine.begin(uuid.uuid4().hex, arn, region, "tok", "arn:f", T0, None))
                s.rotation.next_rotation = None
                uow.update_secret(s)

    run_threads(*(lambda node=node: tick(node) for node in [a, b, a, b]))
    with a.reader() as r:
        assert r.due_scheduled(T0, 100) == []
        assert [len(r.rotations(arn)) for arn in arns] == [1] * len(arns)


def test_two_nodes_purge_spares_a_secret_restored_meanwhile(nodes: Nodes) -> None:
    a, b = nodes(), nodes()
    s = secret()
    s.deleted_date, s.deletion_date = T0, T0 + timedelta(days=7)
    with a.transaction() as uow:
        uow.insert_secret(s, b"k")
    purged: list[str] = []

    def purge() -> None:
        with a.transaction() as uow:
            for arn in uow.due_deletions(T0 + timedelta(days=8)):
                uow.delete_secret(arn)
                purged.append(arn)

    with b.transaction() as uow:  # RestoreSecret holds the secret while the purge runs
        restored = uow.lock_secret("us-east-1", ARN)
        assert restored is not None
        restored.deleted_date = restored.deletion_date = None
        uow.update_secret(restored)
        purger = threading.Thread(target=purge)
        purger.start()
        time.sleep(0.2)
    purger.join()
    assert purged == []
    with a.reader() as r:
        assert r.find_secret("us-east-1", ARN) is not None


def test_postgres_migrate_is_idempotent_and_safe_at_once(pg_url: str) -> None:
    with pytest.raises(RuntimeError, match="schema is at version 0"):
        PostgresStore(pg_url, migrate_schema=False)
    versions: list[int] = []
    run_threads(*(lambda: versions.append(migrate(pg_url)) for _ in range(4)))  # nodes starting together
    assert versions == [len(MIGRATIONS)] * 4
    assert migrate(pg_url) == len(MIGRATIONS)
    store = PostgresStore(pg_url, migrate_schema=False)
    with store.reader() as r:
        assert r.count("secrets") == 0
    store.close()


# -- listing in the store: the same answer as listing.select, the rules' reference --------------------
def catalog() -> list[Secret]:
    """Secrets that tell the filters, sorts and ties apart."""
    specs = [  # name, description, tags, days after T0 created / changed / accessed, deleted, primary region
        ("alpha", "Production database credentials", {"env": "prod"}, 3, 5, 1, False, None),
        ("beta", "staging API key", {"env": "staging", "team": "core"}, 1, 6, None, False, None),
        ("gamma/one", "Shared signing key", {"owner": "team Zeta"}, 1, 4, 3, False, None),
        ("Delta", None, {"envx": "prod-eu"}, 2, 4, None, True, None),
        ("épsilon", "My_Secret notes", {}, 5, 7, 2, False, "eu-west-1"),
        ("zeta_1", "credsDatabase#892", {"1 Prod": "x"}, 3, 3, 1, False, None),
        ("_under", "a secret", {"Prod1": "Production"}, 0, 0, None, False, None),
    ]
    out = []
    for name, description, tags, created, changed, accessed, deleted, primary in specs:
        s = secret(arn=ARN.replace("app/db", name), name=name)
        s.description, s.tags, s.replicas = description, tags, []
        s.created, s.last_changed = T0 + timedelta(days=created), T0 + timedelta(days=changed)
        s.last_accessed = None if accessed is None else T0 + timedelta(days=accessed)
        s.deleted_date = T0 if deleted else None
        s.deletion_date = T0 + timedelta(days=30) if deleted else None
        s.primary_region = primary
        s.owning_service = "rds" if name == "beta" else None
        out.append(s)
    return out


FILTERS: list[list[tuple[str, list[str]]]] = [
    [],
    [("name", ["gamma", "Del"])],
    [("name", ["!g"])],
    [("name", ["", "x"])],
    [("name", ["_"])],
    [("tag-key", ["env"])],
    [("tag-key", ["!env"]), ("tag-value", ["Prod"])],
    [("tag-value", ["prod"])],
    [("description", ["a secret"])],
    [("description", ["!prod"])],
    [("description", ["_"])],
    [("all", ["ZETA"])],
    [("all", ["My_Secret", "892"])],
    [("primary-region", ["eu"])],
    [("primary-region", ["us-east-1"]), ("owning-service", ["!rd"])],
    [("owning-service", ["rds"])],
]


@pytest.mark.parametrize("filters", FILTERS, ids=str)
def test_list_page_filters_like_the_rules(store: Store, filters: list[tuple[str, list[str]]]) -> None:
    secrets = catalog()
    with store.transaction() as uow:
        for s in secrets:
            uow.insert_secret(s, b"k")
        uow.insert_secret(secret(arn=REPLICA_ARN, region="eu-west-1"), b"k")  # another region: never listed
    built = [listing.Filter(k, tuple(v)) for k, v in filters]
    for deleted in (False, True):
        query = listing.list_query("us-east-1", built, include_deleted=deleted)
        with store.reader() as r:
            got = [s.name for s in r.list_page(query)]
        assert got == [s.name for s in listing.select(secrets, query)]


@pytest.mark.parametrize("sort_by", [*listing.SORT_BY, None])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_page_sorts_and_pages_by_keyset(store: Store, sort_by: str | None, order: str) -> None:
    secrets = catalog()
    with store.transaction() as uow:
        for s in secrets:
            uow.insert_secret(s, b"k")
    everything = listing.list_query("us-east-1", [], include_deleted=True, sort_by=sort_by, sort_order=order)
    expected = [s.name for s in listing.select(secrets, everything)]
    assert len(expected) == len(secrets)
    seen: list[str] = []
    token = None
    for _ in range(len(secrets)):
        query = listing.list_query("us-east-1", [], sort_by=sort_by, sort_order=order, include_deleted=True,
                                   max_results=2, next_token=token)  # fmt: skip
        with store.reader() as r:
            found = r.list_page(listing.one_more(query))
        seen += [s.name for s in found[:2]]
        token = listing.next_token(query, found)
        if token is None:
            break
    assert seen == expected


def test_list_page_reads_versions_and_labels(store: Store) -> None:
    with store.transaction() as uow:
        uow.insert_secret(secret(), b"k")
        uow.put_version(ARN, VersionInfo("v1", T0), b"b")
        uow.set_stages(ARN, {AWSCURRENT: "v1"})
    with store.reader() as r:
        [found] = r.list_page(listing.list_query("us-east-1", []))
        assert found == r.find_secret("us-east-1", ARN)
    assert found.stages == {AWSCURRENT: "v1"}


def test_updates_and_imports_keep_what_listing_searches(nodes: Nodes) -> None:
    """The search fields follow an update, and an export without them (an older one) is derived again."""
    source = nodes()
    by_tag = [listing.Filter("tag-key", ("colour",))]
    with source.transaction() as uow:
        uow.insert_secret(secret(), b"k")
    with source.transaction() as uow:
        s = uow.lock_secret("us-east-1", ARN)
        assert s is not None
        s.tags = {"colour": "blue"}
        uow.update_secret(s)
    with source.reader() as r:
        assert [x.arn for x in r.list_page(listing.list_query("us-east-1", by_tag))] == [ARN]
        rows = [{k: v for k, v in row.items() if k in codec.SECRET_COLUMNS or k == "wrapped_key"}
                for row in r.dump("secrets")]  # fmt: skip
    with source.transaction() as uow:
        uow.delete_secret(ARN)
        uow.load("secrets", rows)
    with source.reader() as r:
        assert [x.arn for x in r.list_page(listing.list_query("us-east-1", by_tag))] == [ARN]


def test_sqlite_store_of_schema_1_is_migrated(tmp_path: Path) -> None:
    """A data directory written before listing moved into the store: its secrets are found and filtered."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        for statement in SCHEMA_V1:
            conn.execute(SQLITE.sql(statement))
        old = secret()
        conn.execute(
            f"INSERT INTO secrets ({codec.SECRET_COLUMNS}, wrapped_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            codec.secret_insert_row(old, b"k")[:10],
        )
    store = SqliteStore(path)
    try:
        query = listing.list_query("us-east-1", [listing.Filter("description", ("D",))], sort_by="last-changed-date")
        with store.reader() as r:
            assert [s.arn for s in r.list_page(query)] == [ARN]
    finally:
        store.close()
