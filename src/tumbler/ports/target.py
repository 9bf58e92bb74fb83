"""The rotation-target port: what a built-in rotator needs of a database or cache, one small interface per engine.

Each operation takes one request value (in the manner of Vault's dbplugin v5), so a field can be
added later without changing every signature. A target is used for one rotation step and then
closed; it may keep a connection open between the calls of that step, never beyond ``close()``.

Rules every implementation keeps:

* Identifiers (user and role names) are quoted by the driver's own facilities and values are
  passed as parameters or driver-quoted literals: nothing from a secret is pasted into SQL.
* An error never contains a password: implementations raise what they like, and the registry
  (``tumbler.adapters.targets``) wraps every target in a sanitizer that re-raises ``TargetError``
  with every password of the request masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class TargetError(Exception):
    """A target operation failed. The message names users and hosts, never a password."""


@dataclass(frozen=True)
class Credentials:
    """A login, as the AWS secret JSON convention describes one."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    dbname: str | None = None  # PostgreSQL defaults to "postgres"; MySQL to none; Redis ignores it
    # None: TLS when the server offers it, else plain (the AWS templates' default);
    # True: verified TLS (system CAs and host name) or nothing; False: never TLS.
    ssl: bool | None = None


@dataclass(frozen=True)
class SetPassword:
    """Give ``username`` the password ``new_password``, logged in as ``admin``.

    ``admin`` is the user itself (single user) or a superuser (from the secret's ``masterarn``).
    """

    admin: Credentials
    username: str
    new_password: str = field(repr=False)


@dataclass(frozen=True)
class CloneUser:
    """Make ``new_username`` a login like ``source_username``, with ``password``, logged in as ``admin``."""

    admin: Credentials
    source_username: str
    new_username: str
    password: str = field(repr=False)


class RotationTarget(Protocol):
    """One engine's user management, as the built-in rotators use it."""

    def verify(self, creds: Credentials) -> None:
        """Log in afresh with ``creds`` and run a trivial query (``SELECT 1``, ``PING``); raise on any failure.

        Never reuses a connection: the point is to prove the credentials work right now.
        """
        ...

    def set_password(self, request: SetPassword) -> None:
        """Set a user's password; everything else about the user (privileges, rules, state) is kept.

        Raises if the user does not exist (it is never created here).
        """
        ...

    def clone_user(self, request: CloneUser) -> bool:
        """Ensure ``new_username`` exists, can log in with ``password`` and has the source's privileges.

        A missing user is created with the same privileges and memberships as the source
        (PostgreSQL: member of the source and of the source's roles; MySQL/MariaDB: the source's
        grants; Redis: the source's ACL rules). An existing user tolerates the call: its password
        is set and nothing it has is taken away (an engine may add the source's grants again).
        Returns True when the user was created.
        """
        ...

    def close(self) -> None:
        """Release any connection the target holds; the target may not be used afterwards."""
        ...


class EngineFacts(Protocol):
    """What a rotator must know of an engine before reaching it."""

    @property
    def default_port(self) -> int: ...

    @property
    def max_username(self) -> int | None:
        """The longest user name the server accepts (None: no limit)."""
        ...


class Targets(Protocol):
    """The engines the built-in rotators reach, by the secret JSON convention's ``engine`` value."""

    def facts(self, engine: str) -> EngineFacts:
        """Raises ``KeyError`` for an engine that is not known."""
        ...

    def open(self, engine: str) -> RotationTarget:
        """A target for one rotation step, its errors sanitized; the caller closes it."""
        ...
