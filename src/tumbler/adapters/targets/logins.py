"""The one login a target keeps: the last that was verified or used to change passwords.

setSecret first checks that a login works and then changes the password on it, so keeping it saves
a second login (a SCRAM or native-password handshake each) on every rotation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from tumbler.ports.target import Credentials

C = TypeVar("C")


class KeptLogin(Generic[C]):
    def __init__(self, connect: Callable[[Credentials], C], ping: Callable[[C], None], is_open: Callable[[C], bool]):
        self._connect, self._ping, self._is_open = connect, ping, is_open
        self._kept: tuple[Credentials, C] | None = None

    def verify(self, creds: Credentials) -> None:
        """A fresh login with ``creds`` and a trivial query; kept when it works."""
        conn = self._connect(creds)
        try:
            self._ping(conn)
        except BaseException:
            self._close(conn)
            raise
        self.close()
        self._kept = (creds, conn)

    def session(self, creds: Credentials) -> C:
        """The kept login if it is ``creds``'s and still open, else a new one."""
        if self._kept is None or self._kept[0] != creds or not self._is_open(self._kept[1]):
            self.close()
            self._kept = (creds, self._connect(creds))
        return self._kept[1]

    def close(self) -> None:
        if self._kept is not None:
            self._close(self._kept[1])
            self._kept = None

    @staticmethod
    def _close(conn: C) -> None:
        conn.close()  # type: ignore[attr-defined]  # every driver connection has close()
