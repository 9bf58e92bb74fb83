"""The embedded store: one SQLite file in WAL mode with durable commits.

Writers take SQLite's write lock up front (``BEGIN IMMEDIATE``), so a transaction that
read a secret's labels is the only one changing them until it commits. Each thread has
its own connection; requests may run in a thread pool.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tumbler.adapters.store import codec
from tumbler.adapters.store.generation import Generation
from tumbler.adapters.store.touches import AccessBatcher, Touch
from tumbler.adapters.store.writers import WriterQueue
from tumbler.core.rotation import Rotation
from tumbler.core.secrets import Secret, VersionInfo
from tumbler.ports.store import (
    TABLES,
    AccessKey,
    FunctionRecord,
    StoredValue,
    ValueRead,
    background_work,
    in_background,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS secrets (
    arn TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    source_arn TEXT NOT NULL,          -- whose versions this secret shows (a replica shows its primary's)
    doc TEXT NOT NULL,                 -- the remaining metadata as JSON
    created REAL NOT NULL,
    last_accessed REAL,
    deletion_date REAL,
    next_rotation REAL,
    wrapped_key BLOB NOT NULL,
    UNIQUE (region, name)
);
CREATE INDEX IF NOT EXISTS secrets_deletion ON secrets (deletion_date) WHERE deletion_date IS NOT NULL;
CREATE INDEX IF NOT EXISTS secrets_rotation ON secrets (next_rotation) WHERE next_rotation IS NOT NULL;
CREATE TABLE IF NOT EXISTS versions (
    arn TEXT NOT NULL,
    version_id TEXT NOT NULL,
    created REAL NOT NULL,
    last_accessed REAL,
    blob BLOB,
    PRIMARY KEY (arn, version_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stages (
    arn TEXT NOT NULL,
    label TEXT NOT NULL,
    version_id TEXT NOT NULL,
    PRIMARY KEY (arn, label)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS access_keys (
    access_key_id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    sealed_secret BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS functions (
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    config TEXT NOT NULL,
    code_zip BLOB NOT NULL,
    policy TEXT,
    PRIMARY KEY (region, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rotations (
    rotation_id TEXT PRIMARY KEY,
    secret_arn TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    not_before REAL NOT NULL,
    doc TEXT NOT NULL,
    lease_owner TEXT,
    lease_until REAL
);
CREATE INDEX IF NOT EXISTS rotations_by_secret ON rotations (secret_arn, created);
CREATE INDEX IF NOT EXISTS rotations_due ON rotations (not_before) WHERE state IN ('pending', 'running');
CREATE TABLE IF NOT EXISTS kms_keys (
    key_id TEXT PRIMARY KEY,
    alias TEXT UNIQUE NOT NULL,
    created REAL NOT NULL
);
"""

READ_VALUE = (
    "SELECT s.arn, s.name, s.deletion_date, s.last_accessed, v.arn, v.version_id, v.blob, v.created, p.wrapped_key, "
    "(SELECT json_group_array(l.label) FROM stages l WHERE l.arn = v.arn AND l.version_id = v.version_id), "
    "v.last_accessed FROM secrets s JOIN secrets p ON p.arn = s.source_arn "
    "LEFT JOIN versions v ON v.arn = p.arn AND {match} WHERE "
)
READ_BY_VERSION = READ_VALUE.format(match="v.version_id = ?")
READ_BY_STAGE = READ_VALUE.format(
    match="v.version_id = (SELECT g.version_id FROM stages g WHERE g.arn = p.arn AND g.label = ?)"
)
SECRET_COLUMNS = codec.SECRET_COLUMNS
SET_STAGES = (  # the labels as a JSON object, label to version id ("WHERE true": SQLite's upsert after a SELECT)
    "INSERT INTO stages (arn, label, version_id) SELECT ?, key, value FROM json_each(?) WHERE true "
    "ON CONFLICT (arn, label) DO UPDATE SET version_id = excluded.version_id "
    "WHERE stages.version_id <> excluded.version_id"
)
DROP_OTHER_STAGES = "DELETE FROM stages WHERE arn = ? AND label NOT IN (SELECT key FROM json_each(?))"
HYDRATE = (  # a secret's versions (kind 0) and stages (kind 1), by its source ARN twice
    "SELECT 0, version_id, created, last_accessed FROM versions WHERE arn = ? "
    "UNION ALL SELECT 1, label, version_id, NULL FROM stages WHERE arn = ?"
)
# GetSecretValue's reads, cached while the database is unchanged (see generation.py): sealed values only,
# small ones, and a bounded number of them (at most 16 MiB of values).
CACHE_ENTRIES, CACHE_VALUE_BYTES = 4096, 4096
ValueKey = tuple[str, str, str | None, str]  # region, secret id, version id, stage


class _Session:
    """Queries over one connection; the reader and the unit of work both use it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- reads ---------------------------------------------------------------------------
    def find_secret(self, region: str, secret_id: str) -> Secret | None:
        row = self._secret_row(region, secret_id)
        return self._hydrate(row) if row else None

    def _secret_row(self, region: str, secret_id: str) -> Any:
        return self._by_id(f"SELECT {SECRET_COLUMNS} FROM secrets s WHERE ", (), region, secret_id)

    def _by_id(self, query: str, params: tuple[Any, ...], region: str, secret_id: str) -> Any:
        """The first row of ``query`` (which calls the secrets table ``s``) for a name, full or partial ARN."""
        if not secret_id.startswith("arn:"):
            return self.conn.execute(query + "s.region = ? AND s.name = ?", (*params, region, secret_id)).fetchone()
        row = self.conn.execute(query + "s.arn = ? AND s.region = ?", (*params, secret_id, region)).fetchone()
        if row is None:  # a partial ARN: everything but the '-XXXXXX' suffix
            pattern = secret_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-______"
            like = query + "s.arn LIKE ? ESCAPE '\\' AND s.region = ?"
            row = self.conn.execute(like, (*params, pattern, region)).fetchone()
        return row

    def dump(self, table: str) -> Iterator[dict[str, Any]]:
        cursor = self.conn.execute(f"SELECT * FROM {_table(table)}")
        names = [c[0] for c in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {_table(table)}").fetchone()[0])

    def load(self, table: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            names = list(rows[0])
            known = {r[1] for r in self.conn.execute(f"PRAGMA table_info({_table(table)})")}
            if not set(names) <= known:  # column names go into the SQL: only the table's own pass
                raise ValueError(f"unknown columns for {table}: {sorted(set(names) - known)}")
            query = f"INSERT INTO {_table(table)} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
            self.conn.executemany(query, [tuple(r[n] for n in names) for r in rows])

    def read_value(self, region: str, secret_id: str, *, version_id: str | None, stage: str) -> ValueRead | None:
        if version_id is not None:
            row = self._by_id(READ_BY_VERSION, (version_id,), region, secret_id)
        else:
            row = self._by_id(READ_BY_STAGE, (stage,), region, secret_id)
        if row is None:
            return None
        stored = None
        if row[4] is not None:
            stored = StoredValue(row[4], row[5], bytes(row[8]), _blob(row[6]), codec.dt_required(row[7]))
        labels = orjson.loads(row[9]) if row[9] else []  # a JSON array: a label may hold any character
        return ValueRead(row[0], row[1], row[2] is not None, codec.dt(row[3]), stored, labels, codec.dt(row[10]))

    def _hydrate(self, row: Any) -> Secret:
        rows = self.conn.execute(HYDRATE, (row[3], row[3])).fetchall()  # one statement: a secret is read often
        versions = [r[1:] for r in rows if r[0] == 0]
        stages = [r[1:3] for r in rows if r[0] == 1]
        return codec.secret_from_row(row, versions, stages)

    def wrapped_key(self, arn: str) -> bytes:
        row = self.conn.execute(
            "SELECT p.wrapped_key FROM secrets s JOIN secrets p ON p.arn = s.source_arn WHERE s.arn = ?", (arn,)
        ).fetchone()
        if row is None:
            raise KeyError(arn)
        return bytes(row[0])

    def value(self, arn: str, version_id: str) -> StoredValue | None:
        row = self.conn.execute(
            "SELECT v.arn, v.version_id, p.wrapped_key, v.blob, v.created FROM secrets s "
            "JOIN secrets p ON p.arn = s.source_arn JOIN versions v ON v.arn = p.arn "
            "WHERE s.arn = ? AND v.version_id = ?",
            (arn, version_id),
        ).fetchone()
        return _stored(row)

    def value_by_stage(self, arn: str, stage: str) -> StoredValue | None:
        row = self.conn.execute(
            "SELECT v.arn, v.version_id, p.wrapped_key, v.blob, v.created FROM secrets s "
            "JOIN secrets p ON p.arn = s.source_arn "
            "JOIN stages g ON g.arn = p.arn AND g.label = ? "
            "JOIN versions v ON v.arn = p.arn AND v.version_id = g.version_id WHERE s.arn = ?",
            (stage, arn),
        ).fetchone()
        return _stored(row)

    def list_secrets(self, region: str) -> Iterator[Secret]:
        rows = self.conn.execute(f"SELECT {SECRET_COLUMNS} FROM secrets WHERE region = ?", (region,)).fetchall()
        for row in rows:
            yield self._hydrate(row)

    def access_key(self, access_key_id: str) -> AccessKey | None:
        row = self.conn.execute(
            "SELECT access_key_id, principal, wrapped_key, sealed_secret FROM access_keys WHERE access_key_id = ?",
            (access_key_id,),
        ).fetchone()
        return AccessKey(row[0], row[1], bytes(row[2]), bytes(row[3])) if row else None

    def kms_keys(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.conn.execute("SELECT key_id, alias FROM kms_keys ORDER BY created")]

    def rotation(self, rotation_id: str) -> Rotation | None:
        row = self.conn.execute("SELECT doc FROM rotations WHERE rotation_id = ?", (rotation_id,)).fetchone()
        return codec.rotation_from_doc(row[0]) if row else None

    def active_rotation(self, arn: str) -> Rotation | None:
        row = self.conn.execute(
            "SELECT doc FROM rotations WHERE secret_arn = ? AND state IN ('pending', 'running') "
            "ORDER BY created DESC LIMIT 1",
            (arn,),
        ).fetchone()
        return codec.rotation_from_doc(row[0]) if row else None

    def rotations(self, arn: str, limit: int = 50) -> list[Rotation]:
        rows = self.conn.execute(
            "SELECT doc FROM rotations WHERE secret_arn = ? ORDER BY created DESC LIMIT ?", (arn, limit)
        )
        return [codec.rotation_from_doc(r[0]) for r in rows]

    def function(self, region: str, name: str) -> FunctionRecord | None:
        row = self.conn.execute(
            "SELECT arn, name, region, config, code_zip, policy FROM functions WHERE region = ? AND name = ?",
            (region, name),
        ).fetchone()
        return _function(row) if row else None

    def list_functions(self, region: str) -> list[FunctionRecord]:
        rows = self.conn.execute(
            "SELECT arn, name, region, config, code_zip, policy FROM functions WHERE region = ? ORDER BY name",
            (region,),
        ).fetchall()
        return [_function(row) for row in rows]

    # -- writes (only inside a transaction) ------------------------------------------------
    def lock_secret(self, region: str, secret_id: str) -> Secret | None:
        return self.find_secret(region, secret_id)  # BEGIN IMMEDIATE already holds the write lock

    def insert_secret(self, secret: Secret, wrapped_key: bytes) -> None:
        self.conn.execute(
            f"INSERT INTO secrets ({SECRET_COLUMNS}, wrapped_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            codec.secret_insert_row(secret, wrapped_key),
        )

    def update_secret(self, secret: Secret) -> None:
        self.conn.execute(
            "UPDATE secrets SET doc = ?, deletion_date = ?, next_rotation = ?, last_accessed = ? WHERE arn = ?",
            codec.secret_update_row(secret),
        )

    def delete_secret(self, arn: str) -> None:
        for table in ("stages", "versions", "secrets"):
            self.conn.execute(f"DELETE FROM {table} WHERE arn = ?", (arn,))
        self.conn.execute("DELETE FROM rotations WHERE secret_arn = ?", (arn,))

    def put_version(self, arn: str, version: VersionInfo, blob: bytes | None) -> None:
        self.conn.execute(
            "INSERT INTO versions (arn, version_id, created, last_accessed, blob) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (arn, version_id) DO UPDATE SET blob = excluded.blob",
            (arn, version.version_id, codec.ts(version.created), codec.ts(version.last_accessed), blob),
        )

    def delete_versions(self, arn: str, version_ids: list[str]) -> None:
        self.conn.executemany("DELETE FROM versions WHERE arn = ? AND version_id = ?", [(arn, v) for v in version_ids])

    def set_stages(self, arn: str, stages: dict[str, str]) -> None:
        # Two statements whatever the number of labels, and only the rows that change are written.
        labels = orjson.dumps(stages).decode()
        self.conn.execute(SET_STAGES, (arn, labels))
        self.conn.execute(DROP_OTHER_STAGES, (arn, labels))

    def set_wrapped_key(self, owner: str, wrapped_key: bytes) -> None:
        self.conn.execute("UPDATE secrets SET wrapped_key = ? WHERE arn = ?", (wrapped_key, owner))
        self.conn.execute("UPDATE access_keys SET wrapped_key = ? WHERE access_key_id = ?", (wrapped_key, owner))

    def all_wrapped_keys(self) -> Iterator[tuple[str, bytes]]:
        rows = self.conn.execute(
            "SELECT arn, wrapped_key FROM secrets WHERE length(wrapped_key) > 0 "
            "UNION ALL SELECT access_key_id, wrapped_key FROM access_keys"
        ).fetchall()
        for owner, key in rows:
            yield owner, bytes(key)

    def put_access_key(self, key: AccessKey) -> None:
        self.conn.execute(
            "INSERT INTO access_keys (access_key_id, principal, wrapped_key, sealed_secret) VALUES (?, ?, ?, ?)",
            (key.access_key_id, key.principal, key.wrapped_key, key.sealed_secret),
        )

    def put_kms_key(self, key_id: str, alias: str, created: datetime) -> None:
        self.conn.execute(
            "INSERT INTO kms_keys (key_id, alias, created) VALUES (?, ?, ?)", (key_id, alias, codec.ts(created))
        )

    def put_function(self, record: FunctionRecord) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO functions (region, name, arn, config, code_zip, policy) VALUES (?, ?, ?, ?, ?, ?)",
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
        self.conn.execute("DELETE FROM functions WHERE region = ? AND name = ?", (region, name))

    def put_rotation(self, rotation: Rotation) -> None:
        self.conn.execute(
            "INSERT INTO rotations (rotation_id, secret_arn, state, created, not_before, doc) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (rotation_id) DO UPDATE SET state = excluded.state, "
            "not_before = excluded.not_before, doc = excluded.doc, "
            "lease_owner = CASE WHEN excluded.state IN ('pending', 'running') THEN lease_owner END, "
            "lease_until = CASE WHEN excluded.state IN ('pending', 'running') THEN lease_until END",
            codec.rotation_row(rotation),
        )

    def claim_rotations(self, now: datetime, owner: str, lease_until: datetime, limit: int) -> list[Rotation]:
        stamp = codec.ts(now)
        rows = self.conn.execute(
            "SELECT rotation_id, doc FROM rotations WHERE state IN ('pending', 'running') AND not_before <= ? "
            "AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?) ORDER BY not_before LIMIT ?",
            (stamp, stamp, owner, limit),
        ).fetchall()
        self.conn.executemany(
            "UPDATE rotations SET lease_owner = ?, lease_until = ? WHERE rotation_id = ?",
            [(owner, codec.ts(lease_until), r[0]) for r in rows],
        )
        return [codec.rotation_from_doc(r[1]) for r in rows]

    def due_scheduled(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            "SELECT region, arn FROM secrets WHERE next_rotation IS NOT NULL AND next_rotation <= ? "
            "ORDER BY next_rotation LIMIT ?",
            (codec.ts(now), limit),
        )
        return [(r[0], r[1]) for r in rows]

    def renew_lease(self, rotation_id: str, owner: str, until: datetime) -> bool:
        cursor = self.conn.execute(
            "UPDATE rotations SET lease_until = ? WHERE rotation_id = ? AND lease_owner = ? "
            "AND state IN ('pending', 'running')",
            (codec.ts(until), rotation_id, owner),
        )
        return cursor.rowcount == 1

    def release_leases(self) -> None:
        self.conn.execute("UPDATE rotations SET lease_owner = NULL, lease_until = NULL")

    def due_deletions(self, now: datetime) -> list[str]:
        rows = self.conn.execute(
            "SELECT arn FROM secrets WHERE deletion_date IS NOT NULL AND deletion_date <= ?", (codec.ts(now),)
        )
        return [r[0] for r in rows]


def _function(row: Any) -> FunctionRecord:
    return FunctionRecord(row[0], row[1], row[2], orjson.loads(row[3]), bytes(row[4]), row[5])


def _table(name: str) -> str:
    if name not in TABLES:  # table names cannot be bound parameters: only ours pass
        raise ValueError(f"unknown table {name!r}")
    return name


def _blob(value: Any) -> bytes | None:
    return bytes(value) if value is not None else None


def _stored(row: Any) -> StoredValue | None:
    if row is None:
        return None
    blob = bytes(row[3]) if row[3] is not None else None
    return StoredValue(row[0], row[1], bytes(row[2]), blob, codec.dt_required(row[4]))


def _small(found: ValueRead) -> bool:
    return found.stored is None or found.stored.blob is None or len(found.stored.blob) <= CACHE_VALUE_BYTES


class SqliteStore:
    """The ``Store`` port on one SQLite database file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        # Kept for GetSecretValue's p99 < 5 ms at 2,000 requests/s: a read never waits for a commit.
        self._touches = AccessBatcher(self._write_touches)
        self._generation = Generation(path.with_name(path.name + "-gen"))
        self._values: dict[ValueKey, tuple[int, ValueRead]] = {}
        # Kept for rotation within 2x of the raw database work: writers queue here, not in SQLite's busy sleeps.
        self._writers = WriterQueue()
        self._conn().executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a commit that returned is on disk
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextmanager
    def transaction(self) -> Iterator[_Session]:
        with self._writers.turn(background=in_background()):  # see writers.py; other processes meet SQLite's lock
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            ticket = self._generation.begin_write()  # under the write lock: every cached read is now in doubt
            try:
                try:
                    yield _Session(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                self._generation.end_write(ticket)

    def read_value(self, region: str, secret_id: str, *, version_id: str | None, stage: str) -> ValueRead | None:
        key = (region, secret_id, version_id, stage)
        state = self._generation.current()
        if state is not None:
            cached = self._values.get(key)
            if cached is not None and cached[0] == state:
                return cached[1]
        # One statement: its own consistent snapshot, without a BEGIN and COMMIT around it.
        found = _Session(self._conn()).read_value(region, secret_id, version_id=version_id, stage=stage)
        if state is not None and found is not None and self._generation.current() == state and _small(found):
            if len(self._values) >= CACHE_ENTRIES:
                self._values.clear()
            self._values[key] = (state, found)
        return found

    @contextmanager
    def reader(self) -> Iterator[_Session]:
        conn = self._conn()
        conn.execute("BEGIN")  # one snapshot for every query of the read
        try:
            yield _Session(conn)
        finally:
            conn.execute("COMMIT")

    def touch_accessed(self, arn: str, version_id: str, day: datetime) -> None:
        self._touches.add(arn, version_id, day)

    def flush_accessed(self) -> None:
        self._touches.flush()

    def _write_touches(self, touches: list[Touch]) -> None:
        with background_work(), self.transaction() as uow:
            uow.conn.executemany(
                "UPDATE secrets SET last_accessed = ? WHERE arn = ?", [(codec.ts(d), a) for a, _, d in touches]
            )
            uow.conn.executemany(
                "UPDATE versions SET last_accessed = ? WHERE version_id = ? AND arn = "
                "(SELECT source_arn FROM secrets WHERE arn = ?)",
                [(codec.ts(d), v, a) for a, v, d in touches],
            )

    def close(self) -> None:
        self._touches.close()
        self._values.clear()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
