"""The shared store: PostgreSQL, for a fleet of stateless Tumbler nodes on one database.

Isolation. Writers run at READ COMMITTED and serialise on row locks: ``lock_secret`` takes
``SELECT ... FOR UPDATE`` on the secret's row (a replica's source row first), then reads
versions and labels in a *later* statement, whose snapshot includes everything the previous
lock holder committed. A name that does not exist yet is guarded by a transaction-scoped
advisory lock, so two nodes creating it are serialised like SQLite's ``BEGIN IMMEDIATE`` does.

Readers run in autocommit: every ``Reader`` method is a single statement (a secret comes
with its versions and labels from one snapshot), so GetSecretValue costs one round trip and
no BEGIN/COMMIT. Two calls on one reader may see different commits; no caller relies on that.

Pool. A thread holds at most one connection (nested use shares it: ``touch_accessed`` inside
a reader reuses the reader's), so a pool smaller than the thread count only queues, never
deadlocks. Size ``max_size`` for the busy threads of one process (8 request workers plus the
rotation, purge and function threads); every process has its own pool, so keep
nodes x workers x ``max_size`` under the server's ``max_connections``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from tumbler.adapters.store import codec, feed
from tumbler.adapters.store.sql import FILLS, MIGRATIONS, Dialect, SqlSession, _table
from tumbler.adapters.store.touches import AccessBatcher, Touch
from tumbler.core.secrets import Secret, VersionInfo
from tumbler.ports.store import ValueRead

Conn = psycopg.Connection[TupleRow]
Row = tuple[Any, ...]
LOCK_CLASS = 0x54554D42  # "TUMB": the advisory-lock namespace of this application
PROBE_TIMEOUT = 2.0  # seconds the readiness probe waits for a connection
# A statement begun outside a transaction that finds its connection dropped (the server restarted, failed
# over, or ended the backend) runs again on a fresh connection: it has changed nothing yet. Bounded.
RECONNECTS = 5
RECONNECT_BACKOFF = 0.05  # seconds, doubled on each further try: about 1.5 s in all
CHECKOUT_TIMEOUT = 10.0
log = logging.getLogger("tumbler.store")

POSTGRES = Dialect(
    name="postgres",
    param="%s",
    real="DOUBLE PRECISION",
    blob="BYTEA",
    # ARNs are ASCII keys compared byte-wise: the "C" collation is faster and lets a partial ARN's LIKE use
    # the primary key
    key='TEXT COLLATE "C"',
    binary=' COLLATE "C"',  # names sort by code point, as AWS (and Python) sort them
    without_rowid="",
    skip_locked=" FOR UPDATE SKIP LOCKED",  # a row another node holds is left to it (or to the next round)
    object_rows="json_each_text(?::json)",
    array_elements="json_array_elements_text({}::json) AS e(value)",
    # a secret with its versions and labels in one statement: one snapshot, though readers run in autocommit
    secret_select="SELECT s.arn, s.region, s.name, s.source_arn, s.doc, s.created, s.last_accessed, "
    "s.deletion_date, s.next_rotation, "
    "(SELECT coalesce(json_agg(json_build_array(v.version_id, v.created, v.last_accessed)), '[]') "
    "FROM versions v WHERE v.arn = s.source_arn), "
    "(SELECT coalesce(json_agg(json_build_array(g.label, g.version_id)), '[]') FROM stages g "
    "WHERE g.arn = s.source_arn) FROM secrets s WHERE ",
    labels="ARRAY(SELECT l.label FROM stages l WHERE l.arn = v.arn AND l.version_id = v.version_id ORDER BY l.label)",
)


def migrate(url: str) -> int:
    """Create or upgrade the schema (in the first schema of ``search_path``); the version it is at.

    Idempotent, and safe when several nodes start at once: they take turns on an advisory lock.
    A database newer than this code is left alone (migrations only add), so rolling upgrades work.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        _configure(conn)
        current = _schema_version(conn)
        if current >= len(MIGRATIONS) and _feed_installed(conn):
            return current
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s::int, hashtext(current_schema()))", (LOCK_CLASS,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied DOUBLE PRECISION)"
            )
            current = _schema_version(conn)  # another node may have migrated while we waited
            for version in range(current + 1, len(MIGRATIONS) + 1):
                for statement in MIGRATIONS[version - 1]:
                    conn.execute(POSTGRES.sql(statement))
                if version in FILLS:
                    FILLS[version](_Session(conn))
                conn.execute("INSERT INTO schema_version VALUES (%s, %s)", (version, time.time()))
            if not _feed_installed(conn):
                for statement in feed.FEED_DDL:
                    conn.execute(statement)
        return max(current, len(MIGRATIONS))


def _feed_installed(conn: Conn) -> bool:
    return int(_scalar(conn, feed.FEED_INSTALLED)) == len(feed.FEED_TRIGGERS)


def require_schema(url: str) -> None:
    """Fail unless ``migrate`` has brought the database up to this code's schema."""
    with psycopg.connect(url, autocommit=True) as conn:
        current, has_feed = _schema_version(conn), _feed_installed(conn)
    if current < len(MIGRATIONS):
        raise RuntimeError(f"database schema is at version {current}, this Tumbler needs {len(MIGRATIONS)}: migrate it")
    if not has_feed:
        raise RuntimeError("the database has no change feed (its triggers) for this Tumbler: migrate it")


def _schema_version(conn: Conn) -> int:
    if _scalar(conn, "SELECT to_regclass('schema_version')") is None:
        return 0
    return int(_scalar(conn, "SELECT coalesce(max(version), 0) FROM schema_version"))


def _scalar(conn: Conn, query: str) -> Any:
    row = conn.execute(query).fetchone()
    return row[0] if row else None


def _configure(conn: Conn) -> None:
    conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED  # whatever the server's default is
    set_json_loads(orjson.loads, conn)
    # timestamps are floats: print them exactly; autocommit reads too run at READ COMMITTED
    conn.execute("SET extra_float_digits = 3; SET default_transaction_isolation = 'read committed'")


class _Session(SqlSession):
    """Readers run these in autocommit, units of work in a transaction."""

    d = POSTGRES

    def __init__(self, conn: Any) -> None:
        super().__init__(conn)
        self.changed: set[str] = set()  # ARNs whose values this transaction changed: dropped from the cache
        self.loaded = False  # an import: the whole cache goes

    def update_secret(self, secret: Secret) -> None:
        super().update_secret(secret)
        self.changed.add(secret.arn)

    def delete_secret(self, arn: str) -> None:
        super().delete_secret(arn)
        self.changed.add(arn)

    def put_version(self, arn: str, version: VersionInfo, blob: bytes | None) -> None:
        super().put_version(arn, version, blob)
        self.changed.add(arn)

    def delete_versions(self, arn: str, version_ids: list[str]) -> None:
        super().delete_versions(arn, version_ids)
        self.changed.add(arn)

    def set_stages(self, arn: str, stages: dict[str, str]) -> None:
        super().set_stages(arn, stages)
        self.changed.add(arn)

    def set_wrapped_key(self, owner: str, wrapped_key: bytes) -> None:
        super().set_wrapped_key(owner, wrapped_key)
        self.changed.add(owner)

    def load(self, table: str, rows: list[dict[str, Any]]) -> None:
        super().load(table, rows)
        self.loaded = True

    def many(self, query: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(query, rows)

    def secrets(self, rows: list[Any]) -> list[Secret]:
        return [codec.secret_from_row(row, row[9], row[10]) for row in rows]

    def hydrate(self, row: Any) -> Secret:
        source = row[3]  # a label's version id and a version's date have different types: two statements
        versions = self.conn.execute(
            "SELECT version_id, created, last_accessed FROM versions WHERE arn = %s", (source,)
        )
        stages = self.conn.execute("SELECT label, version_id FROM stages WHERE arn = %s", (source,))
        return codec.secret_from_row(row, versions.fetchall(), stages.fetchall())

    def dump(self, table: str) -> Iterator[dict[str, Any]]:
        self._snapshot()
        with self.conn.cursor(name=f"dump_{_table(table)}") as cursor:  # server-side: streamed, not all in memory
            cursor.execute(f"SELECT * FROM {table}")
            names = [c.name for c in cursor.description or ()]
            for row in cursor:
                yield dict(zip(names, row, strict=True))

    def count(self, table: str) -> int:
        self._snapshot()
        return super().count(table)

    def _snapshot(self) -> None:
        """Bulk reads share one snapshot (an export is consistent across tables); point reads need none."""
        if self.conn.info.transaction_status == TransactionStatus.IDLE:
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def lock_secret(self, region: str, secret_id: str) -> Secret | None:
        """Row locks: ``SELECT ... FOR UPDATE`` on the secret (a replica's source first); a name that does not
        exist yet is held by a transaction-scoped advisory lock."""
        name_locked = False
        for _ in range(3):  # again if the row was replaced (deleted and re-inserted) while we waited
            found = self._by_id(_LOCATE, (), region, secret_id)
            if found is None:
                if name_locked or secret_id.startswith("arn:"):
                    return None
                self.conn.execute(
                    "SELECT pg_advisory_xact_lock(%s::int, hashtext(%s))", (LOCK_CLASS, f"{region}/{secret_id}")
                )
                name_locked = True  # a creator of this name now waits for our commit, then sees our row
                continue
            arn, source = found
            if source != arn:  # a replica shows its source's labels: lock the source first, as its writers do
                self.conn.execute("SELECT 1 FROM secrets WHERE arn = %s FOR UPDATE", (source,))
            row = self.conn.execute(f"SELECT {codec.SECRET_COLUMNS} FROM secrets WHERE arn = %s FOR UPDATE", (arn,))
            locked = row.fetchone()
            if locked is not None:
                return self.hydrate(locked)  # versions and labels by a later statement: it sees the last commit
        return None

    def release_leases(self) -> None:
        """Nothing: another node's lease may be live. A dead node's lapses and claim_rotations takes it over."""


_LOCATE = POSTGRES.by_id("SELECT s.arn, s.source_arn FROM secrets s WHERE ")


class _Reconnecting:
    """A pooled connection that survives being dropped between statements (see RECONNECTS).

    Only a statement begun outside a transaction runs again: an autocommit read, or the BEGIN of a unit
    of work. A connection lost inside a transaction fails it (what it did is gone, and the caller's
    work cannot be replayed from here): the client sees an internal error, and its retry succeeds."""

    def __init__(self, pool: ConnectionPool[Conn]) -> None:
        self.pool = pool
        self.conn = pool.getconn(timeout=CHECKOUT_TIMEOUT)

    def execute(self, query: Any, params: Any = None) -> Any:
        for attempt in range(RECONNECTS + 1):
            idle = self.conn.info.transaction_status == TransactionStatus.IDLE
            try:
                return self.conn.execute(query, params)
            except psycopg.OperationalError as err:
                if not (idle and self.conn.broken) or attempt == RECONNECTS:
                    raise
                log.warning("a database connection was lost (%s); retrying on a new one", type(err).__name__)
                self._replace(attempt)
        raise AssertionError("unreachable")

    def _replace(self, attempt: int) -> None:
        self.pool.putconn(self.conn)  # broken: the pool discards it
        self.pool.check()  # its idle siblings were most likely dropped with it (a restart, a failover)
        if attempt:
            time.sleep(RECONNECT_BACKOFF * 2 ** (attempt - 1))
        self.conn = self.pool.getconn(timeout=CHECKOUT_TIMEOUT)

    def release(self) -> None:
        self.pool.putconn(self.conn)

    def __getattr__(self, name: str) -> Any:  # cursor(), info, transaction(): the connection's own
        return getattr(self.conn, name)


class PostgresStore:
    """The ``Store`` port on a PostgreSQL database shared by every node."""

    def __init__(
        self, url: str, *, min_size: int = 2, max_size: int = 16, migrate_schema: bool = True, cache: bool = True
    ) -> None:
        if migrate_schema:
            migrate(url)
        else:
            require_schema(url)
        self._local = threading.local()
        # Kept for GetSecretValue's p99 < 5 ms at 2,000 requests/s: a read never waits for a commit.
        self._touches = AccessBatcher(self._write_touches)
        self.pool: ConnectionPool[Conn] = ConnectionPool(
            url,
            kwargs={"autocommit": True},  # readers need no BEGIN/COMMIT; writers open one with transaction()
            min_size=min_size,
            max_size=max_size,
            configure=_configure,
            name="tumbler-store",
            open=True,
        )
        self.cache = feed.ValueCache()
        self._feed = feed.ChangeFeed(url, self.cache) if cache else None

    @contextmanager
    def _connection(self) -> Iterator[_Reconnecting]:
        held: _Reconnecting | None = getattr(self._local, "conn", None)
        if held is not None:  # nested use on this thread shares the connection, so it never waits on the pool
            yield held
            return
        conn = _Reconnecting(self.pool)
        self._local.conn = conn
        try:
            yield conn
        finally:
            self._local.conn = None
            conn.release()  # the pool rolls back whatever an error left open

    @contextmanager
    def transaction(self) -> Iterator[_Session]:
        with self._connection() as conn:
            if conn.info.transaction_status != TransactionStatus.IDLE:  # nested: a savepoint
                outer: _Session | None = getattr(self._local, "session", None)
                with conn.transaction():
                    nested = _Session(conn)
                    if outer is not None:
                        nested.changed = outer.changed  # dropped from the cache when the outer one commits
                    yield nested
                return
            conn.execute("BEGIN")  # READ COMMITTED (_configure); a dropped connection is replaced here
            session = self._local.session = _Session(conn)
            try:
                yield session
            except BaseException:
                with contextlib.suppress(psycopg.Error):  # a dead connection has rolled back already
                    conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                self._local.session = None
        if session.loaded:  # this node serves its own writes at once; others hear of them from the feed
            self.cache.reset(live=self.cache.serving, confirmed=time.monotonic() if self.cache.serving else 0.0)
        elif session.changed:
            self.cache.drop(session.changed)

    @contextmanager
    def reader(self) -> Iterator[_Session]:
        with self._connection() as conn:
            idle = conn.info.transaction_status == TransactionStatus.IDLE
            try:
                yield _Session(conn)
            finally:
                if idle and conn.info.transaction_status != TransactionStatus.IDLE:
                    with contextlib.suppress(psycopg.Error):  # a dead connection has no snapshot left
                        conn.execute("ROLLBACK")  # ends the snapshot a bulk read took (it wrote nothing)

    def read_value(self, region: str, secret_id: str, *, version_id: str | None, stage: str) -> ValueRead | None:
        key = (region, secret_id, version_id, stage)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        generation = self.cache.generation  # before the read: a change heard meanwhile keeps it out
        with self.reader() as reader:
            found = reader.read_value(region, secret_id, version_id=version_id, stage=stage)
        if found is not None:
            self.cache.put(key, found, generation)
        return found

    def not_ready(self) -> str | None:
        if self._feed is not None and not self.cache.serving:
            return "catching up its change feed"
        try:
            with self.pool.connection(timeout=PROBE_TIMEOUT) as conn:
                conn.execute("SELECT 1")
        except (psycopg.Error, PoolTimeout) as err:  # its kind only: a message may name the host
            return f"the database cannot be reached ({type(err).__name__})"
        return None

    def touch_accessed(self, arn: str, version_id: str, day: datetime) -> None:
        self._touches.add(arn, version_id, day)
        self.cache.touched(arn, version_id, day)

    def flush_accessed(self) -> None:
        self._touches.flush()

    def pending_accessed(self, arn: str) -> dict[str, datetime]:
        return self._touches.pending(arn)

    def _write_touches(self, touches: list[Touch]) -> None:
        with self.transaction() as uow:
            uow.write_touches(touches)

    def close(self) -> None:
        if self._feed is not None:
            self._feed.close()
        self._touches.close()
        self.pool.close()
