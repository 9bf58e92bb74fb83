"""A change counter shared by every process on one SQLite file: when a cached read is still true.

Asking SQLite whether anything changed (``PRAGMA data_version``) costs a read transaction: two
``fcntl`` calls on the WAL index, as much as the read it would save. Instead every writer
counts itself in a 16-byte file beside the database (``tumbler.db-gen``), mapped into memory by
every process that opens the store: ``started`` is raised under SQLite's write lock before the
transaction writes, ``finished`` after it committed or rolled back. While the two are equal no
write is under way, and ``finished`` names the database's state: a read cached under that value
is true as long as the value stands. A writer that dies half-way leaves them unequal, and
nothing is served from cache until the next write completes; a race between two writers'
``finished`` can only do the same. Every failure is towards reading the database again.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

_COUNTERS = struct.Struct("<QQ")  # started, finished


class Generation:
    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _COUNTERS.size:
                os.ftruncate(fd, _COUNTERS.size)  # zeros; two processes doing this at once agree
            self._map = mmap.mmap(fd, _COUNTERS.size)
        finally:
            os.close(fd)

    def current(self) -> int | None:
        """The state the database is in, or None while a write may be under way."""
        started, finished = _COUNTERS.unpack_from(self._map)
        return finished if started == finished else None

    def begin_write(self) -> int:
        """Call holding SQLite's write lock, before writing: the writer's ticket."""
        ticket: int = _COUNTERS.unpack_from(self._map)[0] + 1
        struct.pack_into("<Q", self._map, 0, ticket)
        return ticket

    def end_write(self, ticket: int) -> None:
        """Call after COMMIT or ROLLBACK, with the ticket ``begin_write`` gave."""
        if ticket > _COUNTERS.unpack_from(self._map)[1]:
            struct.pack_into("<Q", self._map, 8, ticket)

    def close(self) -> None:
        self._map.close()
