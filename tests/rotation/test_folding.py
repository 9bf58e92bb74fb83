"""A built-in step's write and its journal record commit together (rotation/folding.py), on a real SQLite store."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tumbler.adapters.store.sqlite import SqliteStore
from tumbler.rotation.folding import FoldingStore, fold

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "t.db")
    yield opened
    opened.close()


def seen_elsewhere(store: SqliteStore) -> list[str]:
    """The key aliases another thread (another connection) reads: only what is committed."""
    found: list[str] = []

    def read() -> None:
        with store.reader() as reader:
            found.extend(alias for _, alias in reader.kms_keys())

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    return found


def test_a_step_write_commits_with_the_journal_record(store: SqliteStore) -> None:
    ops = FoldingStore(store)
    with fold(store) as step:
        with ops.transaction() as uow:  # the step's operation
            uow.put_kms_key("k1", "alias/step", T0)
        with ops.reader() as reader:  # the step reads its own write
            assert [alias for _, alias in reader.kms_keys()] == ["alias/step"]
        assert seen_elsewhere(store) == []  # not committed when the operation returned
    with step.transaction() as uow:  # the journal record
        uow.put_kms_key("k2", "alias/journal", T0)
    assert sorted(seen_elsewhere(store)) == ["alias/journal", "alias/step"]


def test_a_failed_operation_rolls_back_at_once(store: SqliteStore) -> None:
    ops = FoldingStore(store)
    with fold(store) as step:
        with pytest.raises(sqlite3.IntegrityError):
            _write(ops, "alias/half-done", twice=True)
        assert step.uow is None
    with step.transaction() as uow:  # a transaction of its own
        uow.put_kms_key("k2", "alias/journal", T0)
    assert seen_elsewhere(store) == ["alias/journal"]


def test_an_error_after_the_write_rolls_it_back(store: SqliteStore) -> None:
    ops = FoldingStore(store)
    with pytest.raises(RuntimeError):
        _fail_after_write(store, ops)
    assert seen_elsewhere(store) == []
    with store.transaction() as uow:  # and the connection is free for the next transaction
        uow.put_kms_key("k2", "alias/next", T0)
    assert seen_elsewhere(store) == ["alias/next"]


def test_outside_a_fold_operations_commit_as_usual(store: SqliteStore) -> None:
    ops = FoldingStore(store)
    with ops.transaction() as uow:
        uow.put_kms_key("k1", "alias/plain", T0)
    assert seen_elsewhere(store) == ["alias/plain"]
    with fold(store):  # another thread's operations never join this one's transaction
        thread = threading.Thread(target=lambda: _write(ops, "alias/other-thread"))
        thread.start()
        thread.join()
        assert sorted(seen_elsewhere(store)) == ["alias/other-thread", "alias/plain"]


def _write(ops: FoldingStore, alias: str, *, twice: bool = False) -> None:
    with ops.transaction() as uow:
        uow.put_kms_key(alias, alias, T0)
        if twice:  # fails: the key exists
            uow.put_kms_key(alias, alias, T0)


def _fail_after_write(store: SqliteStore, ops: FoldingStore) -> None:
    with fold(store):
        _write(ops, "alias/step")
        raise RuntimeError  # the engine failed before writing its journal record
