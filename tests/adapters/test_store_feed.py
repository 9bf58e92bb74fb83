"""PostgreSQL nodes serve GetSecretValue's read from memory, kept fresh by the change feed (LISTEN/NOTIFY)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from tests.adapters.test_store_contract import ARN, T0, secret
from tests.api.test_fleet import ADMIN_URL, database
from tumbler.adapters.store.postgres import PostgresStore
from tumbler.core.secrets import AWSCURRENT, VersionInfo
from tumbler.ports.store import ValueRead

__all__ = ["database"]  # the fixture (a database of the test's own), used by name


def soon(check: Callable[[], bool], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


@pytest.fixture
def pair(database: str) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    a, b = PostgresStore(database, min_size=2, max_size=4), PostgresStore(database, min_size=2, max_size=4)
    assert soon(lambda: a.cache.serving and b.cache.serving)
    yield a, b
    a.close()
    b.close()


def current(store: PostgresStore) -> ValueRead:
    found = store.read_value("us-east-1", "app/db", version_id=None, stage=AWSCURRENT)
    assert found is not None
    return found


def blob(store: PostgresStore) -> bytes | None:
    stored = current(store).stored
    assert stored is not None
    return stored.blob


def put(store: PostgresStore, version: str, value: bytes, *, create: bool = False) -> None:
    with store.transaction() as uow:
        if create:
            uow.insert_secret(secret(), b"k")
        uow.put_version(ARN, VersionInfo(version, T0), value)
        uow.set_stages(ARN, {AWSCURRENT: version})


def test_a_warm_read_is_served_from_memory_and_a_write_on_another_node_drops_it(
    pair: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = pair
    put(a, "v1", b"one", create=True)
    assert soon(lambda: current(b) is current(b))  # the same object: from memory, no round trip
    put(a, "v2", b"two")
    assert blob(a) == b"two"  # the writing node: at once
    assert soon(lambda: blob(b) == b"two", within=1.0)  # the other: when the notification arrives


def test_a_change_made_outside_tumbler_is_heard_too(database: str, pair: tuple[PostgresStore, PostgresStore]) -> None:
    a, b = pair
    put(a, "v1", b"one", create=True)
    assert blob(b) == b"one"
    with psycopg.connect(database, autocommit=True) as conn:  # the triggers notify, whoever writes
        conn.execute("UPDATE versions SET blob = %s WHERE arn = %s", (b"edited", ARN))
    assert soon(lambda: blob(b) == b"edited", within=1.0)


def test_a_node_that_lost_its_feed_reads_through_until_it_has_caught_up(
    database: str, pair: tuple[PostgresStore, PostgresStore]
) -> None:
    a, b = pair
    put(a, "v1", b"one", create=True)
    assert blob(b) == b"one"
    name = database.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')  # the feed cannot come back yet
        try:
            feeds = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tumbler-feed' "
                "AND datname = %s",
                (name,),
            ).fetchall()
            assert feeds
            assert soon(lambda: not b.cache.serving)
            put(a, "v2", b"two")  # its notification goes nowhere: no one listens
            assert blob(b) == b"two"  # read through the database, never from memory
            assert b.not_ready() == "catching up its change feed"
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert soon(lambda: b.cache.serving)
    assert blob(b) == b"two"
    assert soon(lambda: current(b) is current(b))  # serving from memory again
    assert b.not_ready() is None


def test_a_silent_feed_stops_the_cache_within_its_bound(pair: tuple[PostgresStore, PostgresStore]) -> None:
    a, b = pair
    put(a, "v1", b"one", create=True)
    b.cache.confirm(0.0)
    b.cache._confirmed = time.monotonic() - 60  # as if no heartbeat had come back for a minute
    assert b.cache.get(("us-east-1", "app/db", None, AWSCURRENT)) is None
    assert soon(lambda: b.cache.serving)  # the next heartbeat proves the feed whole again


def test_dropped_connections_are_replaced_and_the_work_goes_on(
    database: str, pair: tuple[PostgresStore, PostgresStore]
) -> None:
    a, b = pair
    put(a, "v1", b"one", create=True)
    name = database.rsplit("/", 1)[1]
    for n in range(5):
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:  # every pooled backend of this database ends
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                "pg_backend_pid() AND application_name <> 'tumbler-feed'",
                (name,),
            )
        put(a, f"v{n + 2}", b"%d" % n)  # a unit of work: its BEGIN finds the connection gone, and retries
        with b.reader() as reader:
            assert reader.find_secret("us-east-1", "app/db") is not None  # a reader: its statement retries
        assert soon(lambda n=n: blob(b) == b"%d" % n)
