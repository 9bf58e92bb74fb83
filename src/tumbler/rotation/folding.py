"""One transaction for a built-in's step and the journal record that the step is done.

A built-in's createSecret and finishSecret touch nothing but this store. Run in process, the write
of such a step (PutSecretValue, UpdateSecretVersionStage) and the engine's journal record can commit
together: one commit (one fsync, one turn at SQLite's write lock) instead of two, and a crash leaves
both or neither, so the step is never run again once its write is in.

The built-ins' operations see a ``FoldingStore``. On a thread inside ``fold()``, the first
transaction an operation opens stays open when the operation returns, and whatever that thread
reads or writes afterwards joins it; the engine writes its journal record into it and commits. An
operation that fails inside it rolls it back at once, as it would have been anyway. On any other
thread, or outside ``fold()``, a ``FoldingStore`` is the store it wraps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime

from tumbler.ports.store import Reader, Store, UnitOfWork, ValueRead

_local = threading.local()


class Fold:
    """The transaction a step left open on this thread, if any."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._stack: ExitStack | None = None
        self.uow: UnitOfWork | None = None

    def join(self) -> UnitOfWork:
        if self.uow is None:
            self._stack = ExitStack()
            self.uow = self._stack.enter_context(self.store.transaction())
        return self.uow

    def end(self, error: BaseException | None) -> None:
        """Commit the open transaction, or roll it back when ``error`` is set."""
        stack, self._stack, self.uow = self._stack, None, None
        if stack is None:
            return
        if error is None:
            stack.close()
        else:  # the caller raises ``error`` itself
            stack.__exit__(type(error), error, error.__traceback__)

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """The open transaction if the step left one (committed on leaving), else a new one."""
        if self.uow is None:
            with self.store.transaction() as uow:
                yield uow
            return
        try:
            yield self.uow
        except BaseException as err:
            self.end(err)
            raise
        self.end(None)


@contextmanager
def fold(store: Store, state: Fold | None = None) -> Iterator[Fold]:
    """While inside, ``FoldingStore`` operations on this thread keep their transaction open for the caller,
    who must finish it with ``Fold.transaction()``. An error inside rolls it back. ``state``: a Fold to
    fill, else a new one."""
    state = state or Fold(store)
    _local.fold = state
    try:
        yield state
    except BaseException as err:
        state.end(err)
        raise
    finally:
        _local.fold = None


def _active(store: Store) -> Fold | None:
    state: Fold | None = getattr(_local, "fold", None)
    return state if state is not None and state.store is store else None


class FoldingStore:
    """``store`` as the built-ins' operations see it (see the module's description)."""

    def __init__(self, store: Store) -> None:
        self.inner = store

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        state = _active(self.inner)
        if state is None:
            with self.inner.transaction() as uow:
                yield uow
            return
        uow = state.join()
        try:
            yield uow
        except BaseException as err:
            state.end(err)
            raise

    @contextmanager
    def reader(self) -> Iterator[Reader]:
        state = _active(self.inner)
        if state is not None and state.uow is not None:
            yield state.uow  # its own writes, not yet committed, are what it must see
            return
        with self.inner.reader() as reader:
            yield reader

    def read_value(self, region: str, secret_id: str, *, version_id: str | None, stage: str) -> ValueRead | None:
        state = _active(self.inner)
        if state is not None and state.uow is not None:
            return state.uow.read_value(region, secret_id, version_id=version_id, stage=stage)
        return self.inner.read_value(region, secret_id, version_id=version_id, stage=stage)

    def touch_accessed(self, arn: str, version_id: str, day: datetime) -> None:
        self.inner.touch_accessed(arn, version_id, day)

    def flush_accessed(self) -> None:
        self.inner.flush_accessed()

    def close(self) -> None:
        self.inner.close()
