"""The storage port: what operations need from a database, and nothing more.

A write happens inside ``Store.transaction()``; the store serialises transactions that touch
the same secret, so two writers never leave a label on two versions or lose a version.
Every backend passes the same contract suite (tests/adapters/test_store_contract.py).
"""

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tumbler.core.rotation import Rotation
from tumbler.core.secrets import Secret, VersionInfo


@dataclass(frozen=True)
class StoredValue:
    """A sealed version value with what is needed to open it."""

    arn: str
    version_id: str
    wrapped_key: bytes
    blob: bytes | None  # None: a version created without a value (rotation placeholder)
    created: datetime


# Every table a store keeps, in an order that loads cleanly (export/import moves them as they are).
TABLES = ("kms_keys", "access_keys", "functions", "secrets", "versions", "stages", "rotations")


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
    """An access key; its secret is sealed like a secret value, under its own data key."""

    access_key_id: str
    principal: str
    wrapped_key: bytes
    sealed_secret: bytes


@dataclass
class FunctionRecord:
    """A registered (Lambda-compatible) function; ``config`` holds Lambda's FunctionConfiguration fields."""

    arn: str
    name: str
    region: str
    config: dict[str, Any]
    code_zip: bytes
    policy: str | None = None


class Reader(Protocol):
    def find_secret(self, region: str, secret_id: str) -> Secret | None:
        """A secret by name, full ARN or partial ARN (ARN without the 6-character suffix)."""
        ...

    def dump(self, table: str) -> Iterator[dict[str, Any]]:
        """Every row of one of ``TABLES``, as stored (values stay sealed)."""
        ...

    def count(self, table: str) -> int: ...

    def read_value(self, region: str, secret_id: str, *, version_id: str | None, stage: str) -> ValueRead | None:
        """A secret's version by id (when given) or else by label; None when there is no such secret."""
        ...

    def wrapped_key(self, arn: str) -> bytes: ...

    def value(self, arn: str, version_id: str) -> StoredValue | None: ...

    def value_by_stage(self, arn: str, stage: str) -> StoredValue | None: ...

    def list_secrets(self, region: str) -> Iterator[Secret]:
        """Every secret of the region, deleted ones included, with versions and labels."""
        ...

    def access_key(self, access_key_id: str) -> AccessKey | None: ...

    def kms_keys(self) -> list[tuple[str, str]]:
        """(key id, alias) of every named encryption key."""
        ...

    def due_scheduled(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(region, ARN) of secrets whose next scheduled rotation is due, earliest first."""
        ...

    def rotation(self, rotation_id: str) -> Rotation | None: ...

    def active_rotation(self, arn: str) -> Rotation | None:
        """The secret's rotation that is pending or running, if any."""
        ...

    def rotations(self, arn: str, limit: int = 50) -> list[Rotation]:
        """The secret's rotations, newest first: its rotation history."""
        ...

    def function(self, region: str, name: str) -> FunctionRecord | None:
        """A function by its name (not an ARN: the caller extracts the name)."""
        ...

    def list_functions(self, region: str) -> list[FunctionRecord]: ...


class UnitOfWork(Reader, Protocol):
    def lock_secret(self, region: str, secret_id: str) -> Secret | None:
        """Like find_secret, and holds the secret against other writers until commit."""
        ...

    def load(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows produced by ``dump`` (of any store) into one of ``TABLES``."""
        ...

    def insert_secret(self, secret: Secret, wrapped_key: bytes) -> None: ...

    def update_secret(self, secret: Secret) -> None:
        """Write the metadata fields (not versions or labels)."""
        ...

    def delete_secret(self, arn: str) -> None:
        """Remove the secret with its versions and labels."""
        ...

    def put_version(self, arn: str, version: VersionInfo, blob: bytes | None) -> None: ...

    def delete_versions(self, arn: str, version_ids: list[str]) -> None: ...

    def set_stages(self, arn: str, stages: dict[str, str]) -> None:
        """Replace the secret's label -> version map."""
        ...

    def set_wrapped_key(self, owner: str, wrapped_key: bytes) -> None:
        """Replace the data key of a secret (by ARN) or an access key (by id)."""
        ...

    def all_wrapped_keys(self) -> Iterator[tuple[str, bytes]]:
        """(owner, wrapped data key) of every secret and access key, for re-wrapping."""
        ...

    def put_access_key(self, key: AccessKey) -> None: ...

    def put_kms_key(self, key_id: str, alias: str, created: datetime) -> None: ...

    def put_function(self, record: FunctionRecord) -> None:
        """Insert or replace the function named ``record.name`` in ``record.region``."""
        ...

    def delete_function(self, region: str, name: str) -> None: ...

    def put_rotation(self, rotation: Rotation) -> None:
        """Insert or update the journal record; a finished rotation also loses its lease."""
        ...

    def claim_rotations(self, now: datetime, owner: str, lease_until: datetime, limit: int) -> list[Rotation]:
        """Take the lease on up to ``limit`` active rotations that are due and not leased by a live owner."""
        ...

    def renew_lease(self, rotation_id: str, owner: str, until: datetime) -> bool:
        """Extend ``owner``'s lease on an active rotation; False if the lease is no longer its own."""
        ...

    def release_leases(self) -> None:
        """Drop every lease (one server owns an embedded store, so at its start no lease is live)."""
        ...

    def due_deletions(self, now: datetime) -> list[str]:
        """ARNs whose recovery window has ended."""
        ...


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[UnitOfWork]: ...

    def reader(self) -> AbstractContextManager[Reader]: ...

    def read_value(self, region: str, secret_id: str, *, version_id: str | None, stage: str) -> ValueRead | None:
        """``Reader.read_value`` on its own: GetSecretValue's one read, which a store may serve from a cache
        it knows to be current."""
        ...

    def touch_accessed(self, arn: str, version_id: str, day: datetime) -> None:
        """Record LastAccessedDate (day granularity, as AWS keeps it); written within about a second."""
        ...

    def flush_accessed(self) -> None:
        """Write every recorded access date now."""
        ...

    def close(self) -> None: ...


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
