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

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool

from tumbler.adapters.store import codec
from tumbler.adapters.store.touches import AccessBatcher, Touch
from tumbler.core.rotation import Rotation
from tumbler.core.secrets import Secret, VersionInfo
from tumbler.ports.store import TABLES, AccessKey, FunctionRecord, StoredValue, ValueRead

Conn = psycopg.Connection[TupleRow]
Row = tuple[Any, ...]
LOCK_CLASS = 0x54554D42  # "TUMB": the advisory-lock namespace of this application

# SQLite's tables and columns: timestamps are epoch seconds, so ``codec`` serves both stores. ARNs are ASCII
# keys compared byte-wise: the "C" collation is faster and lets a partial ARN's LIKE use the primary key.
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS secrets (
    arn TEXT COLLATE "C" PRIMARY KEY, region TEXT NOT NULL, name TEXT NOT NULL,
    source_arn TEXT COLLATE "C" NOT NULL,  -- whose versions this secret shows (a replica shows its primary's)
    doc TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, last_accessed DOUBLE PRECISION,
    deletion_date DOUBLE PRECISION, next_rotation DOUBLE PRECISION, wrapped_key BYTEA NOT NULL,
    UNIQUE (region, name)
);
CREATE INDEX IF NOT EXISTS secrets_deletion ON secrets (deletion_date) WHERE deletion_date IS NOT NULL;
CREATE INDEX IF NOT EXISTS secrets_rotation ON secrets (next_rotation) WHERE next_rotation IS NOT NULL;
CREATE TABLE IF NOT EXISTS versions (
    arn TEXT COLLATE "C" NOT NULL, version_id TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,
    last_accessed DOUBLE PRECISION, blob BYTEA, PRIMARY KEY (arn, version_id)
);
CREATE TABLE IF NOT EXISTS stages (
    arn TEXT COLLATE "C" NOT NULL, label TEXT NOT NULL, version_id TEXT NOT NULL, PRIMARY KEY (arn, label)
);
CREATE TABLE IF NOT EXISTS access_keys (
    access_key_id TEXT PRIMARY KEY, principal TEXT NOT NULL, wrapped_key BYTEA NOT NULL, sealed_secret BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS functions (
    region TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL, config TEXT NOT NULL, code_zip BYTEA NOT NULL,
    policy TEXT, PRIMARY KEY (region, name)
);
CREATE TABLE IF NOT EXISTS rotations (
    rotation_id TEXT PRIMARY KEY, secret_arn TEXT COLLATE "C" NOT NULL, state TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL, not_before DOUBLE PRECISION NOT NULL, doc TEXT NOT NULL,
    lease_owner TEXT, lease_until DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS rotations_by_secret ON rotations (secret_arn, created);
CREATE INDEX IF NOT EXISTS rotations_due ON rotations (not_before) WHERE state IN ('pending', 'running');
CREATE TABLE IF NOT EXISTS kms_keys (
    key_id TEXT PRIMARY KEY, alias TEXT UNIQUE NOT NULL, created DOUBLE PRECISION NOT NULL
);
"""
MIGRATIONS = (SCHEMA_V1,)  # append only: version n is MIGRATIONS[n - 1]

SECRET_SELECT = (
    "SELECT s.arn, s.region, s.name, s.source_arn, s.doc, s.created, s.last_accessed, s.deletion_date, "
    "s.next_rotation, "
    "(SELECT coalesce(json_agg(json_build_array(v.version_id, v.created, v.last_accessed)), '[]') "
    "FROM versions v WHERE v.arn = s.source_arn), "
    "(SELECT coalesce(json_agg(json_build_array(g.label, g.version_id)), '[]') FROM stages g "
    "WHERE g.arn = s.source_arn) FROM secrets s WHERE "
)
SECRET_COLUMNS = codec.SECRET_COLUMNS
READ_VALUE = (
    "SELECT s.arn, s.name, s.deletion_date, s.last_accessed, v.arn, v.version_id, v.blob, v.created, p.wrapped_key, "
    "ARRAY(SELECT l.label FROM stages l WHERE l.arn = v.arn AND l.version_id = v.version_id ORDER BY l.label), "
    "v.last_accessed FROM secrets s JOIN secrets p ON p.arn = s.source_arn "
    "LEFT JOIN versions v ON v.arn = p.arn AND {match} WHERE "
)
VALUE_SELECT = (
    "SELECT v.arn, v.version_id, p.wrapped_key, v.blob, v.created FROM secrets s "
    "JOIN secrets p ON p.arn = s.source_arn JOIN versions v ON v.arn = p.arn "
)
BY_STAGE = "v.version_id = (SELECT g.version_id FROM stages g WHERE g.arn = p.arn AND g.label = %s)"
FUNCTION_SELECT = "SELECT arn, name, region, config, code_zip, policy FROM functions WHERE region = %s "


def migrate(url: str) -> int:
    """Create or upgrade the schema (in the first schema of ``search_path``); the version it is at.

    Idempotent, and safe when several nodes start at once: they take turns on an advisory lock.
    A database newer than this code is left alone (migrations only add), so rolling upgrades work.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        current = _schema_version(conn)
        if current >= len(MIGRATIONS):
            return current
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s::int, hashtext(current_schema()))", (LOCK_CLASS,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied DOUBLE PRECISION)"
            )
            current = _schema_version(conn)  # another node may have migrated while we waited
            for version in range(current + 1, len(MIGRATIONS) + 1):
                conn.execute(MIGRATIONS[version - 1])  # no parameters: several statements in one
                conn.execute("INSERT INTO schema_version VALUES (%s, %s)", (version, time.time()))
        return max(current, len(MIGRATIONS))


def require_schema(url: str) -> None:
    """Fail unless ``migrate`` has brought the database up to this code's schema."""
    with psycopg.connect(url, autocommit=True) as conn:
        current = _schema_version(conn)
    if current < len(MIGRATIONS):
        raise RuntimeError(f"database schema is at version {current}, this Tumbler needs {len(MIGRATIONS)}: migrate it")


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


class _Session:
    """Queries over one connection; readers run them in autocommit, units of work in a transaction."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def _row(self, query: str, *params: Any) -> Row | None:
        return self.conn.execute(query, params).fetchone()

    def _rows(self, query: str, *params: Any) -> list[Row]:
        return self.conn.execute(query, params).fetchall()

    # -- reads ---------------------------------------------------------------------------
    def _by_id(self, query: str, params: tuple[Any, ...], region: str, secret_id: str) -> Row | None:
        """The row of ``query`` (which calls the secrets table ``s``) for a name, full or partial ARN."""
        if not secret_id.startswith("arn:"):
            return self._row(query + "s.region = %s AND s.name = %s", *params, region, secret_id)
        row = self._row(query + "s.arn = %s AND s.region = %s", *params, secret_id, region)
        if row is None:  # a partial ARN: everything but the '-XXXXXX' suffix
            pattern = secret_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-______"
            row = self._row(query + "s.arn LIKE %s AND s.region = %s", *params, pattern, region)
        return row

    def dump(self, table: str) -> Iterator[dict[str, Any]]:
        self._snapshot()
        with self.conn.cursor(name=f"dump_{_table(table)}") as cursor:  # server-side: streamed, not all in memory
            cursor.execute(f"SELECT * FROM {table}")
            names = [c.name for c in cursor.description or ()]
            for row in cursor:
                yield dict(zip(names, row, strict=True))

    def count(self, table: str) -> int:
        self._snapshot()
        return int(_scalar(self.conn, f"SELECT count(*) FROM {_table(table)}"))

    def _snapshot(self) -> None:
        """Bulk reads share one snapshot (an export is consistent across tables); point reads need none."""
        if self.conn.info.transaction_status == TransactionStatus.IDLE:
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def find_secret(self, region: str, secret_id: str) -> Secret | None:
        row = self._by_id(SECRET_SELECT, (), region, secret_id)
        return _secret(row) if row else None

    def read_value(self, region: str, secret_id: str, *, version_id: str | None, stage: str) -> ValueRead | None:
        match, key = ("v.version_id = %s", version_id) if version_id is not None else (BY_STAGE, stage)
        row = self._by_id(READ_VALUE.format(match=match), (key,), region, secret_id)
        if row is None:
            return None
        stored = StoredValue(row[4], row[5], row[8], row[6], codec.dt_required(row[7])) if row[4] else None
        return ValueRead(row[0], row[1], row[2] is not None, codec.dt(row[3]), stored, row[9], codec.dt(row[10]))

    def wrapped_key(self, arn: str) -> bytes:
        row = self._row(
            "SELECT p.wrapped_key FROM secrets s JOIN secrets p ON p.arn = s.source_arn WHERE s.arn = %s", arn
        )
        if row is None:
            raise KeyError(arn)
        return bytes(row[0])

    def value(self, arn: str, version_id: str) -> StoredValue | None:
        return _stored(self._row(VALUE_SELECT + "WHERE s.arn = %s AND v.version_id = %s", arn, version_id))

    def value_by_stage(self, arn: str, stage: str) -> StoredValue | None:
        join = "JOIN stages g ON g.arn = p.arn AND g.version_id = v.version_id WHERE s.arn = %s AND g.label = %s"
        return _stored(self._row(VALUE_SELECT + join, arn, stage))

    def list_secrets(self, region: str) -> Iterator[Secret]:
        rows = self._rows(SECRET_SELECT + "s.region = %s", region)  # fetched before yielding: one snapshot
        return (_secret(row) for row in rows)

    def access_key(self, access_key_id: str) -> AccessKey | None:
        columns = "access_key_id, principal, wrapped_key, sealed_secret"
        row = self._row(f"SELECT {columns} FROM access_keys WHERE access_key_id = %s", access_key_id)
        return AccessKey(*row) if row else None

    def kms_keys(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self._rows("SELECT key_id, alias FROM kms_keys ORDER BY created")]

    def rotation(self, rotation_id: str) -> Rotation | None:
        row = self._row("SELECT doc FROM rotations WHERE rotation_id = %s", rotation_id)
        return codec.rotation_from_doc(row[0]) if row else None

    def active_rotation(self, arn: str) -> Rotation | None:
        active = "state IN ('pending', 'running')"
        row = self._row(
            f"SELECT doc FROM rotations WHERE secret_arn = %s AND {active} ORDER BY created DESC LIMIT 1", arn
        )
        return codec.rotation_from_doc(row[0]) if row else None

    def rotations(self, arn: str, limit: int = 50) -> list[Rotation]:
        rows = self._rows("SELECT doc FROM rotations WHERE secret_arn = %s ORDER BY created DESC LIMIT %s", arn, limit)
        return [codec.rotation_from_doc(r[0]) for r in rows]

    def function(self, region: str, name: str) -> FunctionRecord | None:
        row = self._row(FUNCTION_SELECT + "AND name = %s", region, name)
        return _function(row) if row else None

    def list_functions(self, region: str) -> list[FunctionRecord]:
        return [_function(row) for row in self._rows(FUNCTION_SELECT + "ORDER BY name", region)]

    def due_scheduled(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        # a stable order, so two schedulers lock the same secrets in the same order
        query = "SELECT region, arn FROM secrets WHERE next_rotation <= %s ORDER BY next_rotation, arn LIMIT %s"
        rows = self._rows(query, codec.ts(now), limit)
        return [(r[0], r[1]) for r in rows]

    # -- writes (only inside a transaction) ------------------------------------------------
    def lock_secret(self, region: str, secret_id: str) -> Secret | None:
        name_locked = False
        for _ in range(3):  # again if the row was replaced (deleted and re-inserted) while we waited
            found = self._by_id("SELECT s.arn, s.source_arn FROM secrets s WHERE ", (), region, secret_id)
            if found is None:
                if name_locked or secret_id.startswith("arn:"):
                    return None
                self._row("SELECT pg_advisory_xact_lock(%s::int, hashtext(%s))", LOCK_CLASS, f"{region}/{secret_id}")
                name_locked = True  # a creator of this name now waits for our commit, then sees our row
                continue
            arn, source = found
            if source != arn:  # a replica shows its source's labels: lock the source first, as its writers do
                self._row("SELECT 1 FROM secrets WHERE arn = %s FOR UPDATE", source)
            row = self._row(f"SELECT {SECRET_COLUMNS} FROM secrets WHERE arn = %s FOR UPDATE", arn)
            if row is not None:
                return self._hydrate(row)
        return None

    def _hydrate(self, row: Row) -> Secret:
        """Versions and labels, read by a statement after the lock: it sees the last holder's commit."""
        source = row[3]
        versions = self._rows("SELECT version_id, created, last_accessed FROM versions WHERE arn = %s", source)
        stages = self._rows("SELECT label, version_id FROM stages WHERE arn = %s", source)
        return codec.secret_from_row(row, versions, stages)

    def load(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        names = list(rows[0])
        known = {c.name for c in self.conn.execute(f"SELECT * FROM {_table(table)} LIMIT 0").description or ()}
        if not set(names) <= known:  # column names go into the SQL: only the table's own pass
            raise ValueError(f"unknown columns for {table}: {sorted(set(names) - known)}")
        query = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
        self.conn.cursor().executemany(query, [tuple(r[n] for n in names) for r in rows])

    def insert_secret(self, secret: Secret, wrapped_key: bytes) -> None:
        self.conn.execute(
            f"INSERT INTO secrets ({SECRET_COLUMNS}, wrapped_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            codec.secret_insert_row(secret, wrapped_key),
        )

    def update_secret(self, secret: Secret) -> None:
        self.conn.execute(
            "UPDATE secrets SET doc = %s, deletion_date = %s, next_rotation = %s, last_accessed = %s WHERE arn = %s",
            codec.secret_update_row(secret),
        )

    def delete_secret(self, arn: str) -> None:
        for table in ("secrets", "stages", "versions"):  # the secret's row first: its lock guards the rest
            self.conn.execute(f"DELETE FROM {table} WHERE arn = %s", (arn,))
        self.conn.execute("DELETE FROM rotations WHERE secret_arn = %s", (arn,))

    def put_version(self, arn: str, version: VersionInfo, blob: bytes | None) -> None:
        self.conn.execute(
            "INSERT INTO versions (arn, version_id, created, last_accessed, blob) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (arn, version_id) DO UPDATE SET blob = excluded.blob",
            (arn, version.version_id, codec.ts(version.created), codec.ts(version.last_accessed), blob),
        )

    def delete_versions(self, arn: str, version_ids: list[str]) -> None:
        self.conn.execute("DELETE FROM versions WHERE arn = %s AND version_id = ANY(%s::text[])", (arn, version_ids))

    def set_stages(self, arn: str, stages: dict[str, str]) -> None:
        self.conn.execute("DELETE FROM stages WHERE arn = %s", (arn,))
        self.conn.execute(
            "INSERT INTO stages (arn, label, version_id) SELECT %s, * FROM unnest(%s::text[], %s::text[])",
            (arn, list(stages), list(stages.values())),
        )

    def set_wrapped_key(self, owner: str, wrapped_key: bytes) -> None:
        self.conn.execute("UPDATE secrets SET wrapped_key = %s WHERE arn = %s", (wrapped_key, owner))
        self.conn.execute("UPDATE access_keys SET wrapped_key = %s WHERE access_key_id = %s", (wrapped_key, owner))

    def all_wrapped_keys(self) -> Iterator[tuple[str, bytes]]:
        rows = self._rows(
            "SELECT arn, wrapped_key FROM secrets WHERE octet_length(wrapped_key) > 0 "
            "UNION ALL SELECT access_key_id, wrapped_key FROM access_keys"
        )
        return ((owner, bytes(key)) for owner, key in rows)

    def put_access_key(self, key: AccessKey) -> None:
        self.conn.execute(
            "INSERT INTO access_keys (access_key_id, principal, wrapped_key, sealed_secret) VALUES (%s, %s, %s, %s)",
            (key.access_key_id, key.principal, key.wrapped_key, key.sealed_secret),
        )

    def put_kms_key(self, key_id: str, alias: str, created: datetime) -> None:
        self.conn.execute(
            "INSERT INTO kms_keys (key_id, alias, created) VALUES (%s, %s, %s)", (key_id, alias, codec.ts(created))
        )

    def put_function(self, record: FunctionRecord) -> None:
        self.conn.execute(
            "INSERT INTO functions (region, name, arn, config, code_zip, policy) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (region, name) DO UPDATE SET arn = excluded.arn, config = excluded.config, "
            "code_zip = excluded.code_zip, policy = excluded.policy",
            (
                record.region,
                record.name,
                record.arn,
                orjson.dumps(record.config).decode(),
                record.code_zip,
                record.policy,
            ),
        )

    def delete_function(self, region: str, name: str) -> None:
        self.conn.execute("DELETE FROM functions WHERE region = %s AND name = %s", (region, name))

    def put_rotation(self, rotation: Rotation) -> None:
        r = rotation
        self.conn.execute(
            "INSERT INTO rotations (rotation_id, secret_arn, state, created, not_before, doc) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (rotation_id) DO UPDATE SET state = excluded.state, "
            "not_before = excluded.not_before, doc = excluded.doc, "
            "lease_owner = CASE WHEN excluded.state IN ('pending', 'running') THEN rotations.lease_owner END, "
            "lease_until = CASE WHEN excluded.state IN ('pending', 'running') THEN rotations.lease_until END",
            codec.rotation_row(r),
        )

    def claim_rotations(self, now: datetime, owner: str, lease_until: datetime, limit: int) -> list[Rotation]:
        """SKIP LOCKED: a rotation another node is claiming right now is left to it, never claimed twice."""
        stamp = codec.ts(now)
        rows = self._rows(
            "UPDATE rotations SET lease_owner = %s, lease_until = %s WHERE rotation_id IN ("
            "SELECT rotation_id FROM rotations WHERE state IN ('pending', 'running') AND not_before <= %s "
            "AND (lease_until IS NULL OR lease_until < %s OR lease_owner = %s) "
            "ORDER BY not_before LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING not_before, doc",
            *(owner, codec.ts(lease_until), stamp, stamp, owner, limit),
        )
        return [codec.rotation_from_doc(doc) for _, doc in sorted(rows, key=lambda r: r[0])]

    def renew_lease(self, rotation_id: str, owner: str, until: datetime) -> bool:
        cursor = self.conn.execute(
            "UPDATE rotations SET lease_until = %s WHERE rotation_id = %s AND lease_owner = %s "
            "AND state IN ('pending', 'running')",
            (codec.ts(until), rotation_id, owner),
        )
        return cursor.rowcount == 1

    def release_leases(self) -> None:
        """Drop every lease. Only right when no node is running: a fleet start must NOT call it
        (a live node's leases would be stolen); expired leases are taken over by ``claim_rotations``."""
        self.conn.execute("UPDATE rotations SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL")

    def due_deletions(self, now: datetime) -> list[str]:
        """Locked with the recheck FOR UPDATE does, so a secret restored meanwhile is not purged;
        SKIP LOCKED leaves one being changed (or purged by another node) to the next round."""
        rows = self._rows("SELECT arn FROM secrets WHERE deletion_date <= %s FOR UPDATE SKIP LOCKED", codec.ts(now))
        return [r[0] for r in rows]


def _table(name: str) -> str:
    if name not in TABLES:  # table names cannot be bound parameters: only ours pass
        raise ValueError(f"unknown table {name!r}")
    return name


def _secret(row: Row) -> Secret:
    return codec.secret_from_row(row, row[9], row[10])


def _function(row: Row) -> FunctionRecord:
    return FunctionRecord(row[0], row[1], row[2], orjson.loads(row[3]), row[4], row[5])


def _stored(row: Row | None) -> StoredValue | None:
    return StoredValue(row[0], row[1], row[2], row[3], codec.dt_required(row[4])) if row else None


class PostgresStore:
    """The ``Store`` port on a PostgreSQL database shared by every node."""

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 16, migrate_schema: bool = True) -> None:
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

    @contextmanager
    def _connection(self) -> Iterator[Conn]:
        held: Conn | None = getattr(self._local, "conn", None)
        if held is not None:  # nested use on this thread shares the connection, so it never waits on the pool
            yield held
            return
        with self.pool.connection() as conn:
            self._local.conn = conn
            try:
                yield conn
            finally:
                self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[_Session]:
        with self._connection() as conn, conn.transaction():  # BEGIN ISOLATION LEVEL READ COMMITTED
            yield _Session(conn)

    @contextmanager
    def reader(self) -> Iterator[_Session]:
        with self._connection() as conn:
            idle = conn.info.transaction_status == TransactionStatus.IDLE
            try:
                yield _Session(conn)
            finally:
                if idle and conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.execute("ROLLBACK")  # ends the snapshot a bulk read took (it wrote nothing)

    def read_value(self, region: str, secret_id: str, *, version_id: str | None, stage: str) -> ValueRead | None:
        with self.reader() as reader:  # no cache: another node may have written since
            return reader.read_value(region, secret_id, version_id=version_id, stage=stage)

    def touch_accessed(self, arn: str, version_id: str, day: datetime) -> None:
        self._touches.add(arn, version_id, day)

    def flush_accessed(self) -> None:
        self._touches.flush()

    def _write_touches(self, touches: list[Touch]) -> None:
        with self.transaction() as uow, uow.conn.cursor() as cursor:
            cursor.executemany(
                "UPDATE secrets SET last_accessed = %s WHERE arn = %s", [(codec.ts(d), a) for a, _, d in touches]
            )
            cursor.executemany(
                "UPDATE versions SET last_accessed = %s WHERE version_id = %s AND arn = "
                "(SELECT source_arn FROM secrets WHERE arn = %s)",
                [(codec.ts(d), v, a) for a, v, d in touches],
            )

    def close(self) -> None:
        self._touches.close()
        self.pool.close()
