"""What the two SQL stores share: one schema, the statements, and the queries over one connection.

Statements are written once, with ``?`` placeholders; a ``Dialect`` says how each database
spells the few things that differ (its placeholder, column types, JSON functions, row locks).
``SqlSession`` runs them over a DB-API connection (sqlite3 or psycopg); each store subclasses it
only where its database behaves differently (PostgreSQL's row locks, for instance).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from tumbler.adapters.store import codec
from tumbler.adapters.store.identity import SCHEMA_V3, IdentitySession
from tumbler.adapters.store.identity import STATEMENTS as IDENTITY_STATEMENTS
from tumbler.core.listing import ListQuery, Term
from tumbler.core.rotation import Rotation
from tumbler.core.secrets import Secret, VersionInfo
from tumbler.ports.store import TABLES, FunctionRecord, StoredValue, ValueRead


@dataclass(frozen=True)
class Dialect:
    name: str
    param: str  # the placeholder
    real: str  # column types
    blob: str
    key: str  # ARN columns: compared byte by byte
    binary: str  # what makes a text comparison byte-wise (code point order, as Python's)
    without_rowid: str  # SQLite's table option for tables with a composite primary key
    skip_locked: str  # appended to a SELECT whose rows another node may be locking
    object_rows: str  # the (key, value) rows of a JSON object parameter
    array_elements: str  # the text elements of a JSON array column, as rows of ``value``
    secret_select: str  # a secret's row, as ``SqlSession.secrets`` decodes it (ends in WHERE)
    labels: str  # in READ_VALUE: the labels of version ``v``, as one value ``SqlSession.labels_of`` decodes
    statements: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.statements.update({name: self.sql(text) for name, text in STATEMENTS.items()})

    def sql(self, text: str) -> str:
        """``text`` in this dialect: placeholders and the ``{...}`` names above."""
        names = {k: v for k, v in self.__dict__.items() if isinstance(v, str)}
        return text.format(**names).replace("?", self.param)

    def by_id(self, query: str) -> tuple[str, str, str]:
        """``by_id(query)`` in this dialect."""
        by_name, by_arn, by_partial = by_id(query)
        return self.sql(by_name), self.sql(by_arn), self.sql(by_partial)


# -- the schema: append only; version n is MIGRATIONS[n - 1], followed by FILLS.get(n) -----------------
# Timestamps are epoch seconds (codec serves both stores).
SCHEMA_V1 = [
    """CREATE TABLE IF NOT EXISTS secrets (
    arn {key} PRIMARY KEY, region TEXT NOT NULL, name TEXT NOT NULL,
    source_arn {key} NOT NULL,  -- whose versions this secret shows (a replica shows its primary's)
    doc TEXT NOT NULL,  -- the remaining metadata as JSON
    created {real} NOT NULL, last_accessed {real}, deletion_date {real}, next_rotation {real},
    wrapped_key {blob} NOT NULL, UNIQUE (region, name))""",
    "CREATE INDEX IF NOT EXISTS secrets_deletion ON secrets (deletion_date) WHERE deletion_date IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS secrets_rotation ON secrets (next_rotation) WHERE next_rotation IS NOT NULL",
    """CREATE TABLE IF NOT EXISTS versions (
    arn {key} NOT NULL, version_id TEXT NOT NULL, created {real} NOT NULL, last_accessed {real}, blob {blob},
    PRIMARY KEY (arn, version_id)){without_rowid}""",
    """CREATE TABLE IF NOT EXISTS stages (
    arn {key} NOT NULL, label TEXT NOT NULL, version_id TEXT NOT NULL, PRIMARY KEY (arn, label)){without_rowid}""",
    """CREATE TABLE IF NOT EXISTS access_keys (
    access_key_id TEXT PRIMARY KEY, principal TEXT NOT NULL, wrapped_key {blob} NOT NULL,
    sealed_secret {blob} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS functions (
    region TEXT NOT NULL, name TEXT NOT NULL, arn TEXT NOT NULL, config TEXT NOT NULL, code_zip {blob} NOT NULL,
    policy TEXT, PRIMARY KEY (region, name)){without_rowid}""",
    """CREATE TABLE IF NOT EXISTS rotations (
    rotation_id TEXT PRIMARY KEY, secret_arn {key} NOT NULL, state TEXT NOT NULL, created {real} NOT NULL,
    not_before {real} NOT NULL, doc TEXT NOT NULL, lease_owner TEXT, lease_until {real})""",
    "CREATE INDEX IF NOT EXISTS rotations_by_secret ON rotations (secret_arn, created)",
    "CREATE INDEX IF NOT EXISTS rotations_due ON rotations (not_before) WHERE state IN ('pending', 'running')",
    """CREATE TABLE IF NOT EXISTS kms_keys (
    key_id TEXT PRIMARY KEY, alias TEXT UNIQUE NOT NULL, created {real} NOT NULL)""",
]
# Listing in the database: what the filters look at (listing.SearchFields) and the sort keys, indexed.
NEW_COLUMNS = ("last_changed {real}", "deleted_date {real}", "primary_region TEXT", "owning_service TEXT",
               "tag_keys TEXT", "tag_values TEXT", "description_words TEXT", "all_words TEXT")  # fmt: skip
SCHEMA_V2 = [
    *(f"ALTER TABLE secrets ADD COLUMN {column}" for column in NEW_COLUMNS),
    "CREATE INDEX secrets_by_created ON secrets (region, created, name{binary})",
    "CREATE INDEX secrets_by_changed ON secrets (region, last_changed, name{binary})",
    "CREATE INDEX secrets_by_accessed ON secrets (region, (coalesce(last_accessed, -1.0)), name{binary})",
    "CREATE INDEX secrets_by_name ON secrets (region, name{binary})",
]
MIGRATIONS = (SCHEMA_V1, SCHEMA_V2, SCHEMA_V3)  # SCHEMA_V3: IAM identities (identity.py)


def fill_search_fields(session: SqlSession) -> None:
    """Derive the listing columns of the secrets written before version 2."""
    rows = session.conn.execute(f"SELECT {codec.SECRET_COLUMNS} FROM secrets WHERE all_words IS NULL").fetchall()
    update = f"UPDATE secrets SET {' = ?, '.join(codec.SEARCH_COLUMNS)} = ? WHERE arn = ?"
    session.many(session.d.sql(update), [(*codec.search_row(codec.secret_from_row(r, [], [])), r[0]) for r in rows])


FILLS: dict[int, Callable[[SqlSession], None]] = {2: fill_search_fields}


def by_id(query: str) -> tuple[str, str, str]:
    """``query`` (which calls the secrets table ``s`` and ends in WHERE) by name, full ARN and partial ARN."""
    return (
        query + "s.region = ? AND s.name = ?",
        query + "s.arn = ? AND s.region = ?",
        query + "s.arn LIKE ? ESCAPE '\\' AND s.region = ?",
    )


# -- statements ------------------------------------------------------------------------------------
S_COLUMNS = ", ".join(f"s.{c}" for c in codec.SECRET_COLUMNS.split(", "))
READ_VALUE = (
    "SELECT s.arn, s.name, s.deletion_date, s.last_accessed, v.arn, v.version_id, v.blob, v.created, p.wrapped_key, "
    "{labels}, v.last_accessed FROM secrets s JOIN secrets p ON p.arn = s.source_arn "
    "LEFT JOIN versions v ON v.arn = p.arn AND {match} WHERE "
)
BY_STAGE = "v.version_id = (SELECT g.version_id FROM stages g WHERE g.arn = p.arn AND g.label = ?)"
VALUE_SELECT = (
    "SELECT v.arn, v.version_id, p.wrapped_key, v.blob, v.created FROM secrets s "
    "JOIN secrets p ON p.arn = s.source_arn JOIN versions v ON v.arn = p.arn "
)
FUNCTION_SELECT = "SELECT arn, name, region, config, code_zip, policy FROM functions WHERE region = ? "
ACTIVE = "state IN ('pending', 'running')"
STATEMENTS = {
    "wrapped_key": "SELECT p.wrapped_key FROM secrets s JOIN secrets p ON p.arn = s.source_arn WHERE s.arn = ?",
    "value": VALUE_SELECT + "WHERE s.arn = ? AND v.version_id = ?",
    "value_by_stage": VALUE_SELECT + "JOIN stages g ON g.arn = p.arn AND g.version_id = v.version_id "
    "WHERE s.arn = ? AND g.label = ?",
    "hydrate": (  # a secret's versions (kind 0) and labels (kind 1), by its source ARN twice
        "SELECT 0, version_id, created, last_accessed FROM versions WHERE arn = ? "
        "UNION ALL SELECT 1, label, version_id, NULL FROM stages WHERE arn = ?"
    ),
    "secrets_of_region": f"SELECT {codec.SECRET_COLUMNS} FROM secrets WHERE region = ?",
    "kms_keys": "SELECT key_id, alias FROM kms_keys ORDER BY created",
    "rotation": "SELECT doc FROM rotations WHERE rotation_id = ?",
    "active_rotation": f"SELECT doc FROM rotations WHERE secret_arn = ? AND {ACTIVE} ORDER BY created DESC LIMIT 1",
    "rotations": "SELECT doc FROM rotations WHERE secret_arn = ? ORDER BY created DESC LIMIT ?",
    "function": FUNCTION_SELECT + "AND name = ?",
    "functions": FUNCTION_SELECT + "ORDER BY name",
    # a stable order, so two schedulers meet the same secrets in the same order
    "due_scheduled": "SELECT region, arn FROM secrets WHERE next_rotation <= ? ORDER BY next_rotation, arn LIMIT ?",
    "insert_secret": f"INSERT INTO secrets ({codec.SECRET_COLUMNS}, wrapped_key, {', '.join(codec.SEARCH_COLUMNS)}) "
    f"VALUES ({', '.join(['?'] * (10 + len(codec.SEARCH_COLUMNS)))})",
    "update_secret": "UPDATE secrets SET doc = ?, deletion_date = ?, next_rotation = ?, last_accessed = ?, "
    + " = ?, ".join(codec.SEARCH_COLUMNS)
    + " = ? WHERE arn = ?",
    "put_version": "INSERT INTO versions (arn, version_id, created, last_accessed, blob) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (arn, version_id) DO UPDATE SET blob = excluded.blob",
    "delete_version": "DELETE FROM versions WHERE arn = ? AND version_id = ?",
    # the labels as a JSON object, label to version id; only the rows that change are written
    # ("WHERE true": SQLite's upsert after a SELECT needs a WHERE to parse)
    "set_stages": "INSERT INTO stages (arn, label, version_id) SELECT ?, key, value FROM {object_rows} WHERE true "
    "ON CONFLICT (arn, label) DO UPDATE SET version_id = excluded.version_id "
    "WHERE stages.version_id <> excluded.version_id",
    "drop_other_stages": "DELETE FROM stages WHERE arn = ? AND label NOT IN (SELECT key FROM {object_rows})",
    "rewrap_secret": "UPDATE secrets SET wrapped_key = ? WHERE arn = ?",
    "rewrap_access_key": "UPDATE access_keys SET wrapped_key = ? WHERE access_key_id = ?",
    "all_wrapped_keys": "SELECT arn, wrapped_key FROM secrets WHERE length(wrapped_key) > 0 "
    "UNION ALL SELECT access_key_id, wrapped_key FROM access_keys",
    "put_kms_key": "INSERT INTO kms_keys (key_id, alias, created) VALUES (?, ?, ?)",
    "put_function": "INSERT INTO functions (region, name, arn, config, code_zip, policy) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (region, name) DO UPDATE SET arn = excluded.arn, config = excluded.config, "
    "code_zip = excluded.code_zip, policy = excluded.policy",
    "delete_function": "DELETE FROM functions WHERE region = ? AND name = ?",
    "put_rotation": "INSERT INTO rotations (rotation_id, secret_arn, state, created, not_before, doc) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (rotation_id) DO UPDATE SET state = excluded.state, "
    "not_before = excluded.not_before, doc = excluded.doc, "
    f"lease_owner = CASE WHEN excluded.{ACTIVE} THEN rotations.lease_owner END, "
    f"lease_until = CASE WHEN excluded.{ACTIVE} THEN rotations.lease_until END",
    # one statement: a rotation another node is claiming right now (SKIP LOCKED) is left to it
    "claim_rotations": "UPDATE rotations SET lease_owner = ?, lease_until = ? WHERE rotation_id IN ("
    f"SELECT rotation_id FROM rotations WHERE {ACTIVE} AND not_before <= ? "
    "AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?) "
    "ORDER BY not_before LIMIT ?{skip_locked}) RETURNING not_before, doc",
    "renew_lease": f"UPDATE rotations SET lease_until = ? WHERE rotation_id = ? AND lease_owner = ? AND {ACTIVE}",
    "release_leases": "UPDATE rotations SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL",
    "due_deletions": "SELECT arn FROM secrets WHERE deletion_date <= ?{skip_locked}",
    "touch_secret": "UPDATE secrets SET last_accessed = ? WHERE arn = ?",
    "touch_version": "UPDATE versions SET last_accessed = ? WHERE version_id = ? AND arn = "
    "(SELECT source_arn FROM secrets WHERE arn = ?)",
    **IDENTITY_STATEMENTS,
}
for _name, _query in {
    "find": "{secret_select}",
    "read_by_version": READ_VALUE.replace("{match}", "v.version_id = ?"),
    "read_by_stage": READ_VALUE.replace("{match}", BY_STAGE),
}.items():  # each looked up by name, full ARN and partial ARN
    STATEMENTS.update({f"{_name}_{i}": variant for i, variant in enumerate(by_id(_query))})
NEVER_ACCESSED = -1.0  # the sort key of a secret never read: older than any access (index secrets_by_accessed)
SORT_KEYS = {
    "created-date": "s.created",
    "last-changed-date": "s.last_changed",
    "last-accessed-date": f"coalesce(s.last_accessed, {NEVER_ACCESSED})",
}


class SqlSession(IdentitySession):
    """Queries over one connection; a reader and a unit of work both use it (the identity queries: identity.py)."""

    d: Dialect

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    # -- what a dialect does its own way ---------------------------------------------------------
    def many(self, query: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(query, rows)

    def secrets(self, rows: list[Any]) -> list[Secret]:
        """Secrets from rows of the dialect's ``secret_select``."""
        return [self.hydrate(row) for row in rows]

    def labels_of(self, value: Any) -> list[str]:
        return list(value)

    # -- helpers -----------------------------------------------------------------------------------
    def _q(self, name: str) -> str:
        return self.d.statements[name]

    def _variants(self, name: str) -> tuple[str, str, str]:
        q = self.d.statements
        return q[name + "_0"], q[name + "_1"], q[name + "_2"]

    def _by_id(self, queries: tuple[str, str, str], params: tuple[Any, ...], region: str, secret_id: str) -> Any:
        """The first row of one of ``by_id``'s queries (in this dialect) for a name, full or partial ARN."""
        if not secret_id.startswith("arn:"):
            return self.conn.execute(queries[0], (*params, region, secret_id)).fetchone()
        row = self.conn.execute(queries[1], (*params, secret_id, region)).fetchone()
        if row is None:  # a partial ARN: everything but the '-XXXXXX' suffix
            pattern = secret_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-______"
            row = self.conn.execute(queries[2], (*params, pattern, region)).fetchone()
        return row

    # -- secrets and versions: reads ----------------------------------------------------------------
    def find_secret(self, region: str, secret_id: str) -> Secret | None:
        row = self._by_id(self._variants("find"), (), region, secret_id)
        return self.secrets([row])[0] if row else None

    def find_secret_summary(self, region: str, secret_id: str) -> Secret | None:
        row = self._by_id(self._variants("find"), (), region, secret_id)
        return codec.secret_from_row(row, [], []) if row else None

    def hydrate(self, row: Any) -> Secret:
        """A secret row with its versions and labels, read by the next statement."""
        rows = self.conn.execute(self._q("hydrate"), (row[3], row[3])).fetchall()  # one statement: read often
        versions = [r[1:] for r in rows if r[0] == 0]
        stages = [r[1:3] for r in rows if r[0] == 1]
        return codec.secret_from_row(row, versions, stages)

    def read_value(self, region: str, secret_id: str, *, version_id: str | None, stage: str) -> ValueRead | None:
        by, key = ("read_by_version", version_id) if version_id is not None else ("read_by_stage", stage)
        row = self._by_id(self._variants(by), (key,), region, secret_id)
        if row is None:
            return None
        stored = None
        if row[4] is not None:
            stored = StoredValue(row[4], row[5], bytes(row[8]), _blob(row[6]), codec.dt_required(row[7]))
        return ValueRead(row[0], row[1], row[2] is not None, codec.dt(row[3]), stored, self.labels_of(row[9]),
                         codec.dt(row[10]))  # fmt: skip

    def wrapped_key(self, arn: str) -> bytes:
        row = self._row("wrapped_key", arn)
        if row is None:
            raise KeyError(arn)
        return bytes(row[0])

    def value(self, arn: str, version_id: str) -> StoredValue | None:
        return _stored(self._row("value", arn, version_id))

    def value_by_stage(self, arn: str, stage: str) -> StoredValue | None:
        return _stored(self._row("value_by_stage", arn, stage))

    def list_secrets(self, region: str) -> Iterator[Secret]:
        rows = self.conn.execute(self.d.sql(self.d.secret_select + "s.region = ?"), (region,)).fetchall()
        return iter(self.secrets(rows))

    def list_page(self, query: ListQuery) -> list[Secret]:
        sql, params = page_query(self.d, query)
        return self.secrets(self.conn.execute(sql, params).fetchall())

    def due_scheduled(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self._rows("due_scheduled", codec.ts(now), limit)]

    # -- secrets and versions: writes ---------------------------------------------------------------
    def lock_secret(self, region: str, secret_id: str) -> Secret | None:
        return self.find_secret(region, secret_id)  # where the transaction already holds the whole store

    def insert_secret(self, secret: Secret, wrapped_key: bytes) -> None:
        self.conn.execute(self._q("insert_secret"), codec.secret_insert_row(secret, wrapped_key))

    def update_secret(self, secret: Secret) -> None:
        self.conn.execute(self._q("update_secret"), codec.secret_update_row(secret))

    def delete_secret(self, arn: str) -> None:
        for table in ("secrets", "stages", "versions"):  # the secret's row first: where rows lock, it guards the rest
            self.conn.execute(self.d.sql(f"DELETE FROM {table} WHERE arn = ?"), (arn,))
        self.conn.execute(self.d.sql("DELETE FROM rotations WHERE secret_arn = ?"), (arn,))

    def put_version(self, arn: str, version: VersionInfo, blob: bytes | None) -> None:
        row = (arn, version.version_id, codec.ts(version.created), codec.ts(version.last_accessed), blob)
        self.conn.execute(self._q("put_version"), row)

    def delete_versions(self, arn: str, version_ids: list[str]) -> None:
        self.many(self._q("delete_version"), [(arn, v) for v in version_ids])

    def set_stages(self, arn: str, stages: dict[str, str]) -> None:
        labels = orjson.dumps(stages).decode()  # two statements whatever the number of labels
        self.conn.execute(self._q("set_stages"), (arn, labels))
        self.conn.execute(self._q("drop_other_stages"), (arn, labels))

    def due_deletions(self, now: datetime) -> list[str]:
        return [r[0] for r in self._rows("due_deletions", codec.ts(now))]

    # -- the rotation journal and leases ------------------------------------------------------------
    def rotation(self, rotation_id: str) -> Rotation | None:
        row = self._row("rotation", rotation_id)
        return codec.rotation_from_doc(row[0]) if row else None

    def active_rotation(self, arn: str) -> Rotation | None:
        row = self._row("active_rotation", arn)
        return codec.rotation_from_doc(row[0]) if row else None

    def rotations(self, arn: str, limit: int = 50) -> list[Rotation]:
        return [codec.rotation_from_doc(r[0]) for r in self._rows("rotations", arn, limit)]

    def put_rotation(self, rotation: Rotation) -> None:
        self.conn.execute(self._q("put_rotation"), codec.rotation_row(rotation))

    def claim_rotations(self, now: datetime, owner: str, lease_until: datetime, limit: int) -> list[Rotation]:
        stamp = codec.ts(now)
        rows = self._rows("claim_rotations", owner, codec.ts(lease_until), stamp, stamp, owner, limit)
        return [codec.rotation_from_doc(doc) for _, doc in sorted(rows, key=lambda r: r[0])]

    def renew_lease(self, rotation_id: str, owner: str, until: datetime) -> bool:
        cursor = self.conn.execute(self._q("renew_lease"), (codec.ts(until), rotation_id, owner))
        return bool(cursor.rowcount == 1)

    def release_leases(self) -> None:
        self.conn.execute(self._q("release_leases"))

    # -- functions ----------------------------------------------------------------------------------
    def function(self, region: str, name: str) -> FunctionRecord | None:
        row = self._row("function", region, name)
        return _function(row) if row else None

    def list_functions(self, region: str) -> list[FunctionRecord]:
        return [_function(row) for row in self._rows("functions", region)]

    def put_function(self, record: FunctionRecord) -> None:
        config = orjson.dumps(record.config).decode()
        row = (record.region, record.name, record.arn, config, record.code_zip, record.policy)
        self.conn.execute(self._q("put_function"), row)

    def delete_function(self, region: str, name: str) -> None:
        self.conn.execute(self._q("delete_function"), (region, name))

    # -- access keys and master keys ----------------------------------------------------------------
    def kms_keys(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self._rows("kms_keys")]

    def put_kms_key(self, key_id: str, alias: str, created: datetime) -> None:
        self.conn.execute(self._q("put_kms_key"), (key_id, alias, codec.ts(created)))

    def set_wrapped_key(self, owner: str, wrapped_key: bytes) -> None:
        self.conn.execute(self._q("rewrap_secret"), (wrapped_key, owner))
        self.conn.execute(self._q("rewrap_access_key"), (wrapped_key, owner))

    def all_wrapped_keys(self) -> Iterator[tuple[str, bytes]]:
        return iter([(owner, bytes(key)) for owner, key in self._rows("all_wrapped_keys")])

    # -- bulk export and import ---------------------------------------------------------------------
    def dump(self, table: str) -> Iterator[dict[str, Any]]:
        cursor = self.conn.execute(f"SELECT * FROM {_table(table)}")
        names = [c[0] for c in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {_table(table)}").fetchone()[0])

    def load(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if table == "secrets":  # derived again: the export may come from a store without them
            rows = [{**r, **_search_fields(r)} for r in rows]
        names = list(rows[0])
        known = {c[0] for c in self.conn.execute(f"SELECT * FROM {_table(table)} LIMIT 0").description}
        if not set(names) <= known:  # column names go into the SQL: only the table's own pass
            raise ValueError(f"unknown columns for {table}: {sorted(set(names) - known)}")
        query = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(['?'] * len(names))})"
        self.many(self.d.sql(query), [tuple(r[n] for n in names) for r in rows])

    # -- LastAccessedDate, written in batches (touches.py) ------------------------------------------
    def write_touches(self, touches: Sequence[tuple[str, str, datetime]]) -> None:
        self.many(self._q("touch_secret"), [(codec.ts(d), a) for a, _, d in touches])
        self.many(self._q("touch_version"), [(codec.ts(d), v, a) for a, v, d in touches])


def page_query(d: Dialect, query: ListQuery) -> tuple[str, list[Any]]:
    """The secrets of one page of ``query``: filtered, ordered and cut in SQL.

    The order is an index's (secrets_by_*), so the database reads about one page of rows."""
    name = f"s.name{d.binary}"
    where, params = ["s.region = ?"], list[Any]([query.region])
    if not query.include_deleted:
        where.append("s.deleted_date IS NULL")
    for clause in query.clauses:
        tests = [_term(d, term, params) for term in clause]
        where.append("(" + " OR ".join(tests) + ")")
    key = name if query.sort_by == "name" else SORT_KEYS[query.sort_by]
    direction, beyond = ("DESC", "<") if query.descending else ("ASC", ">")
    if query.after is not None:
        if query.sort_by == "name":
            where.append(f"{name} {beyond} ?")
            params.append(query.after.name)
        else:
            # the first bound alone lets SQLite seek an index on an expression (secrets_by_accessed)
            where.append(f"{key} {beyond}= ? AND ({key}, {name}) {beyond} (?, ?)")
            mark = NEVER_ACCESSED if query.after.key is None else query.after.key
            params += [mark, mark, query.after.name]
    order = f"{key} {direction}" + ("" if query.sort_by == "name" else f", {name} {direction}")
    params.append(query.limit)
    return d.sql(d.secret_select + " AND ".join(where) + f" ORDER BY {order} LIMIT ?"), params


def _term(d: Dialect, term: Term, params: list[Any]) -> str:
    """``listing.holds`` in SQL: a test that is never NULL, so that NOT negates it."""
    column = f"s.{term.field}"
    if term.kind in ("prefix", "any_prefix"):
        value = term.values[0]
        params.append(value)
        starts = f"substr({{}}, 1, {len(value)}) = ?"  # a literal length: no parameter type to infer
        if term.kind == "prefix":
            test = f"({column} IS NOT NULL AND {starts.format(column)})"
        else:
            elements = d.array_elements.replace("{}", column)
            test = f"EXISTS (SELECT 1 FROM {elements} WHERE {starts.format('value')})"
    elif not term.values:
        test = "(1 = 0)"
    else:  # words are letters and digits only: nothing in them is special to LIKE
        params += [f"% {w}%" for w in term.values]
        joiner = " AND " if term.kind == "every_word" else " OR "
        test = "(" + joiner.join(f"coalesce({column}, '') LIKE ?" for _ in term.values) + ")"
    return f"NOT {test}" if term.negated else test


def _search_fields(row: dict[str, Any]) -> dict[str, Any]:
    secret = codec.secret_from_row([row[c] for c in codec.SECRET_COLUMNS.split(", ")], [], [])
    return dict(zip(codec.SEARCH_COLUMNS, codec.search_row(secret), strict=True))


def _table(name: str) -> str:
    if name not in TABLES:  # table names cannot be bound parameters: only ours pass
        raise ValueError(f"unknown table {name!r}")
    return name


def _function(row: Any) -> FunctionRecord:
    return FunctionRecord(row[0], row[1], row[2], orjson.loads(row[3]), bytes(row[4]), row[5])


def _blob(value: Any) -> bytes | None:
    return bytes(value) if value is not None else None


def _stored(row: Any) -> StoredValue | None:
    if row is None:
        return None
    return StoredValue(row[0], row[1], bytes(row[2]), _blob(row[3]), codec.dt_required(row[4]))
