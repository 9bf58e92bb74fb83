"""The storage port: what operations need from a database, and nothing more.

One small protocol per aggregate (secrets with their versions and labels; the rotation journal
and its leases; functions; access and master keys; IAM identities, in ports/identity.py; bulk
export/import), each a read side and a write side; a ``Reader`` has every read side, a
``UnitOfWork`` every side. A write happens inside ``Store.transaction()``; the store serialises
transactions that touch the same secret, so two writers never leave a label on two versions or
lose a version. Every backend passes the same contract suite (tests/adapters/test_store_contract.py).
"""

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from tumbler.core.listing import ListQuery
from tumbler.core.rotation import Rotation
from tumbler.core.secrets import Secret, VersionInfo
from tumbler.ports.identity import IdentityReads, IdentityWrites, Session


@dataclass(frozen=True)
class StoredValue:
    """A sealed version value with what is needed to open it."""

    arn: str
    version_id: str
    wrapped_key: bytes
    blob: bytes | None  # None: a version created without a value (rotation placeholder)
    created: datetime


# Every table a store keeps, in an order that loads cleanly (export/import moves them as they are).
TABLES = (
    "kms_keys", "access_keys", "functions", "secrets", "versions", "stages", "rotations",
    "iam_entities", "iam_policies", "iam_policy_versions", "iam_inline", "iam_attachments", "iam_members",
)  # fmt: skip


@dataclass(frozen=True)
class ValueRead:
    """What GetSecretValue needs, read in one round trip: the hot path."""

    arn: str
    name: str
    deleted: bool
    last_accessed: datetime | None  # the secret's
    stored: StoredValue | None  # None: no version with that id (or label)
    stages: list[str]  # the labels on that version
    version_accessed: datetime | None


@dataclass(frozen=True)
class AccessKey:
    """An access key; its secret is sealed like a secret value, under its own data key.

    ``principal`` is the owner's ARN: the account root, an IAM user, or for an STS session (``ASIA...``) the
    assumed-role ARN (or the user, for GetSessionToken). A principal that is no ARN (``admin``, ``lambda``: keys
    of older data directories) is the root. A session has ``expires``, the SHA-256 of its session token
    (``token_hash``: the token itself is never stored) and its ``session``."""

    access_key_id: str
    principal: str
    wrapped_key: bytes
    sealed_secret: bytes
    status: str = "Active"
    created: datetime | None = None
    expires: datetime | None = None
    token_hash: bytes | None = None
    session: Session | None = None


@dataclass
class FunctionRecord:
    """A registered (Lambda-compatible) function; ``config`` holds Lambda's FunctionConfiguration fields."""

    arn: str
    name: str
    region: str
    config: dict[str, Any]
    code_zip: bytes
    policy: str | None = None


# -- secrets and their versions ------------------------------------------------------------------
class SecretReads(Protocol):
    """A secret is one row (metadata) with its versions (sealed values) and labels (label -> version).
    A replica has its own row and shows its primary's versions and labels."""

    def find_secret(self, region: str, secret_id: str) -> Secret | None:
        """A secret by name, full ARN or partial ARN (ARN without the 6-character suffix), with its
        versions and labels as of one snapshot."""
        ...

    def find_secret_summary(self, region: str, secret_id: str) -> Secret | None:
        """As ``find_secret``, without the versions and labels (``versions`` is empty): for checks that never
        look at a version, such as authorization, in one statement."""
        ...

    def read_value(self, region: str, secret_id: str, *, version_id: str | None, stage: str) -> ValueRead | None:
        """A secret's version by id (when given) or else by label; None when there is no such secret.
        ``stored`` is None when the secret has no such version or label."""
        ...

    def wrapped_key(self, arn: str) -> bytes:
        """The data key the secret's values are sealed under (a replica's: its primary's); KeyError if none."""
        ...

    def value(self, arn: str, version_id: str) -> StoredValue | None:
        """A version of the secret (of its primary, for a replica) by id."""
        ...

    def value_by_stage(self, arn: str, stage: str) -> StoredValue | None:
        """The version the label is on, if any."""
        ...

    def list_secrets(self, region: str) -> Iterator[Secret]:
        """Every secret of the region, deleted ones included, with versions and labels, in no set order.
        Reads them all: for listing to a client use ``list_page``."""
        ...

    def list_page(self, query: ListQuery) -> list[Secret]:
        """Up to ``query.limit`` secrets of ``query.region`` that pass every clause, in the query's order,
        after ``query.after``: exactly ``listing.select`` over every secret, but only the page is read
        (filtered, sorted and paged in the database, on indexes)."""
        ...

    def due_scheduled(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(region, ARN) of secrets whose next scheduled rotation is at or before ``now``, earliest first
        (ties by ARN: two schedulers meet the same secrets in the same order)."""
        ...


class SecretWrites(SecretReads, Protocol):
    def lock_secret(self, region: str, secret_id: str) -> Secret | None:
        """Like find_secret, and holds the secret (a replica: its primary first) against other writers until
        commit, so what it read stays true. Locking a name that does not exist holds the name: another
        transaction creating it waits for this one."""
        ...

    def insert_secret(self, secret: Secret, wrapped_key: bytes) -> None:
        """Insert (never replace) a secret's row; a name or ARN taken in the region fails the transaction."""
        ...

    def update_secret(self, secret: Secret) -> None:
        """Write the metadata fields (not versions, labels, the data key or the name)."""
        ...

    def delete_secret(self, arn: str) -> None:
        """Remove the secret with its versions, labels and rotation journal."""
        ...

    def put_version(self, arn: str, version: VersionInfo, blob: bytes | None) -> None:
        """Upsert: insert the version, or replace the sealed value of an existing one (its dates stay)."""
        ...

    def delete_versions(self, arn: str, version_ids: list[str]) -> None:
        """Remove those versions; ids that do not exist are ignored."""
        ...

    def set_stages(self, arn: str, stages: dict[str, str]) -> None:
        """Replace the secret's whole label -> version map with ``stages`` (labels not in it are dropped)."""
        ...

    def due_deletions(self, now: datetime) -> list[str]:
        """ARNs whose recovery window has ended by ``now``, held like ``lock_secret`` (a shared store skips
        those another transaction holds: the next round finds them)."""
        ...


# -- the rotation journal and its leases ----------------------------------------------------------
class JournalReads(Protocol):
    def rotation(self, rotation_id: str) -> Rotation | None: ...

    def active_rotation(self, arn: str) -> Rotation | None:
        """The secret's newest rotation that is pending or running, if any."""
        ...

    def rotations(self, arn: str, limit: int = 50) -> list[Rotation]:
        """The secret's rotations, newest first: its rotation history."""
        ...


class JournalWrites(JournalReads, Protocol):
    """A lease is the right to run an active rotation until a time: a node (``owner``) takes it with
    ``claim_rotations`` and keeps it with ``renew_lease``; when it lapses, any node may take over."""

    def put_rotation(self, rotation: Rotation) -> None:
        """Upsert the journal record by rotation id; the lease stays while the rotation is active and is
        dropped when it finishes."""
        ...

    def claim_rotations(self, now: datetime, owner: str, lease_until: datetime, limit: int) -> list[Rotation]:
        """Lease to ``owner`` until ``lease_until`` up to ``limit`` active rotations due by ``now`` whose lease
        is free, lapsed or already ``owner``'s; earliest due first. Two nodes claiming at once never get the
        same rotation."""
        ...

    def renew_lease(self, rotation_id: str, owner: str, until: datetime) -> bool:
        """Extend ``owner``'s lease on an active rotation; False if the lease is no longer its own."""
        ...

    def release_leases(self) -> None:
        """At the start of a server: drop every lease that cannot be live. A store one server owns (SQLite)
        drops them all; a store shared by nodes (PostgreSQL) keeps them, since another node's may be live
        (a dead node's lease lapses, and ``claim_rotations`` takes it over)."""
        ...


# -- functions --------------------------------------------------------------------------------------
class FunctionReads(Protocol):
    def function(self, region: str, name: str) -> FunctionRecord | None:
        """A function by its name (not an ARN: the caller extracts the name)."""
        ...

    def list_functions(self, region: str) -> list[FunctionRecord]:
        """The region's functions, by name."""
        ...


class FunctionWrites(FunctionReads, Protocol):
    def put_function(self, record: FunctionRecord) -> None:
        """Upsert: insert or replace the function named ``record.name`` in ``record.region``."""
        ...

    def delete_function(self, region: str, name: str) -> None: ...


# -- access keys and master (KMS) keys ----------------------------------------------------------------
class KeyReads(Protocol):
    def access_key(self, access_key_id: str) -> AccessKey | None: ...

    def kms_keys(self) -> list[tuple[str, str]]:
        """(key id, alias) of every named encryption key, oldest first."""
        ...


class KeyWrites(KeyReads, Protocol):
    def put_access_key(self, key: AccessKey) -> None:
        """Insert (never replace); an id that exists fails the transaction."""
        ...

    def put_kms_key(self, key_id: str, alias: str, created: datetime) -> None:
        """Insert (never replace); an id or alias that exists fails the transaction."""
        ...

    def set_wrapped_key(self, owner: str, wrapped_key: bytes) -> None:
        """Replace the data key of a secret (by ARN) or an access key (by id)."""
        ...

    def all_wrapped_keys(self) -> Iterator[tuple[str, bytes]]:
        """(owner, wrapped data key) of every secret that has one (a replica has none) and every access key,
        for re-wrapping under a new master key."""
        ...


# -- bulk export and import -----------------------------------------------------------------------
class BulkExport(Protocol):
    def dump(self, table: str) -> Iterator[dict[str, Any]]:
        """Every row of one of ``TABLES``, as stored (values stay sealed); one snapshot across tables."""
        ...

    def count(self, table: str) -> int:
        """The number of rows of one of ``TABLES``, in the snapshot ``dump`` reads."""
        ...


class BulkImport(BulkExport, Protocol):
    def load(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows produced by ``dump`` (of any store, of this version or an older one) into one of
        ``TABLES``; what the store derives from a row (the secrets' search fields) is derived again."""
        ...


class Reader(SecretReads, JournalReads, FunctionReads, KeyReads, IdentityReads, BulkExport, Protocol):
    """Every read, from one snapshot where the store says so (SQLite: the whole reader; PostgreSQL: each
    call, and the bulk reads together)."""


class UnitOfWork(Reader, SecretWrites, JournalWrites, FunctionWrites, KeyWrites, IdentityWrites, BulkImport, Protocol):
    """Every read and write of one transaction: all of it commits, or none of it."""


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work; transactions touching the same secret run one after the other."""
        ...

    def reader(self) -> AbstractContextManager[Reader]: ...

    def read_value(self, region: str, secret_id: str, *, version_id: str | None, stage: str) -> ValueRead | None:
        """``Reader.read_value`` on its own: GetSecretValue's one read, one statement."""
        ...

    def touch_accessed(self, arn: str, version_id: str, day: datetime) -> None:
        """Record LastAccessedDate (day granularity, as AWS keeps it); written within about a second."""
        ...

    def flush_accessed(self) -> None:
        """Write every recorded access date now."""
        ...

    def pending_accessed(self, arn: str) -> dict[str, datetime]:
        """The access dates recorded for ``arn`` and not yet written (version id -> day)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Readiness(Protocol):
    """A store that can tell whether it may serve now (the readiness probe asks it)."""

    def not_ready(self) -> str | None:
        """Why the store cannot serve now (unreachable, catching up its change feed), or None. May block
        for a round trip; never names a URL, a password or a value."""
        ...


_work = threading.local()


@contextmanager
def background_work() -> Iterator[None]:
    """Marks the store writes this thread makes inside as the server's own work (rotations, schedules),
    not a request's: a store that writes one transaction at a time lets requests' writes go first."""
    outer = getattr(_work, "background", False)
    _work.background = True
    try:
        yield
    finally:
        _work.background = outer


def in_background() -> bool:
    return bool(getattr(_work, "background", False))
