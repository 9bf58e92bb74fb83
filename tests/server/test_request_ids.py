"""Request ids: UUID-shaped, unique in a process, and not shared with a forked worker."""

from __future__ import annotations

import os
import uuid

from tumbler.server.app import _RequestIds


def test_ids_are_version_4_uuids_and_unique() -> None:
    ids = _RequestIds()
    taken = [next(ids.iterator) for _ in range(10_000)]
    assert len(set(taken)) == len(taken)
    for raw in (taken[0], taken[-1]):
        text = raw.decode("ascii")  # ids are header bytes
        parsed = uuid.UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)


def test_the_counter_starts_with_room_for_2_to_the_48_ids() -> None:
    for _ in range(50):
        assert int(next(_RequestIds().iterator)[-12:], 16) < 2**44


def test_a_forked_child_starts_a_sequence_of_its_own() -> None:
    ids = _RequestIds()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, through the pipe
        os.write(write_end, next(ids.iterator))
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    child = os.read(read_end, 100).decode()
    os.close(read_end)
    parent = next(ids.iterator).decode()
    assert child[:24] != parent[:24]
