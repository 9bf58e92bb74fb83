"""A node's identity: the name its rotation leases are held under, the same after a restart.

A node restarted after a crash finds its own leases and resumes those rotations at once,
instead of waiting for the leases to lapse. The identity is configured (``--node-id``) or made
on first start and kept in the data directory. Each server process holds one *slot* of it
under an exclusive file lock for its whole life (process ``k`` of a node is ``<id>-<k>``, the
first one plain ``<id>``), so two live processes never share an identity, even with
``--workers`` or two servers started on one data directory by mistake.
"""

from __future__ import annotations

import fcntl
import os
import re
import uuid
from pathlib import Path
from typing import IO

NODE_ID_FILE = "node-id"
MAX_SLOTS = 256
VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
_held: list[IO[bytes]] = []  # the slot locks this process holds: released when it exits, however it exits


def node_identity(data_dir: Path, configured: str | None) -> str:
    """This process's identity: the node's, with the first free slot of it."""
    base = configured or _stored(data_dir)
    if not VALID.fullmatch(base):
        raise ValueError("a node id is 1 to 100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
    for slot in range(MAX_SLOTS):
        lock = open(data_dir / f"{NODE_ID_FILE}.{slot}.lock", "ab")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        _held.append(lock)
        return base if slot == 0 else f"{base}-{slot}"
    return f"{base}-{uuid.uuid4().hex}"  # every slot is live: a fresh identity, whose leases simply lapse


def _stored(data_dir: Path) -> str:
    path = data_dir / NODE_ID_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    fresh = uuid.uuid4().hex
    temp = path.with_suffix(f".{os.getpid()}.tmp")
    temp.write_text(fresh + "\n")
    try:
        os.link(temp, path)  # never replaces: a process that made one first wins, and we read its
    except FileExistsError:
        pass
    finally:
        temp.unlink()
    return path.read_text().strip()
