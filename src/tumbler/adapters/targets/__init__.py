"""Rotation targets by engine name; every target handed out is wrapped in the password sanitizer.

The sanitizer is the one place that keeps passwords out of errors (as OpenBao wraps every database
plugin in a middleware): whatever a driver raises becomes a ``TargetError`` whose message has every
password of the request masked, raised outside the handler so that it holds no reference to the
driver's exception (psycopg's carries the connection's parameters, password included): not even a
traceback printed by ``log.exception`` can carry one. A request field declared ``repr=False`` is a
secret; new request fields are covered by declaring them so.

Drivers are imported on first use, so a server that rotates no database never loads them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from tumbler.core.redact import REDACTED, redact
from tumbler.ports.target import CloneUser, Credentials, RotationTarget, SetPassword, TargetError

MAX_MESSAGE = 400
T = TypeVar("T")


def _postgresql() -> RotationTarget:
    from tumbler.adapters.targets.postgresql import PostgresTarget

    return PostgresTarget()


def _mysql() -> RotationTarget:
    from tumbler.adapters.targets.mysql import MySQLTarget

    return MySQLTarget()


def _redis() -> RotationTarget:
    from tumbler.adapters.targets.redis import RedisTarget

    return RedisTarget()


@dataclass(frozen=True)
class Engine:
    """An ``engine`` value of the secret JSON convention."""

    family: str  # which built-in rotators accept it: "postgresql", "mysql" or "redis"
    factory: Callable[[], RotationTarget]
    default_port: int
    max_username: int | None  # the longest user name the server accepts


ENGINES: dict[str, Engine] = {
    "postgres": Engine("postgresql", _postgresql, 5432, 63),
    "aurora-postgresql": Engine("postgresql", _postgresql, 5432, 63),
    "mysql": Engine("mysql", _mysql, 3306, 32),
    "aurora-mysql": Engine("mysql", _mysql, 3306, 32),
    "mariadb": Engine("mysql", _mysql, 3306, 80),
    "redis": Engine("redis", _redis, 6379, None),
}


def open_target(engine: str) -> RotationTarget:
    """The target for an ``engine`` value (a key of ``ENGINES``), sanitized."""
    return Sanitized(ENGINES[engine].factory())


def secrets_of(request: Any) -> Iterator[str]:
    """Every secret in a request value: the string fields declared ``repr=False``, at any depth."""
    if not dataclasses.is_dataclass(request) or isinstance(request, type):
        return
    for item in dataclasses.fields(request):
        value = getattr(request, item.name)
        if isinstance(value, str) and not item.repr:
            yield value
        else:
            yield from secrets_of(value)


def describe(err: BaseException, secrets: Iterable[str]) -> str:
    """One line about ``err``, at most ``MAX_MESSAGE`` characters, with the secrets masked."""
    text = str(err) if isinstance(err, TargetError) else f"{type(err).__name__}: {err}"
    text = " ".join(redact(text, secrets).split())  # masked before anything else, so no secret is cut in half
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


class Registry:
    """``ports.target.Targets``: the engines above."""

    def facts(self, engine: str) -> Engine:
        return ENGINES[engine]

    def open(self, engine: str) -> RotationTarget:
        return open_target(engine)


class Sanitized:
    """A target whose every error is a ``TargetError`` without a password in it."""

    def __init__(self, inner: RotationTarget) -> None:
        self._inner = inner

    def verify(self, creds: Credentials) -> None:
        self._guard(lambda: self._inner.verify(creds), creds)

    def set_password(self, request: SetPassword) -> None:
        self._guard(lambda: self._inner.set_password(request), request)

    def clone_user(self, request: CloneUser) -> bool:
        return self._guard(lambda: self._inner.clone_user(request), request)

    def close(self) -> None:
        self._guard(self._inner.close, None)

    @staticmethod
    def _guard(call: Callable[[], T], request: Any) -> T:
        try:
            return call()
        except Exception as err:
            message = describe(err, secrets_of(request))
        raise TargetError(message)  # out here: no __context__ keeps the driver's exception alive


__all__ = ["ENGINES", "REDACTED", "Engine", "Registry", "Sanitized", "TargetError", "describe", "open_target", "redact"]
