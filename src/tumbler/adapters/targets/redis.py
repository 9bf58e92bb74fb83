"""Redis (6 and later, ACL users) as a rotation target, through redis-py.

A password change is ``ACL SETUSER name resetpass >new``: SETUSER changes only the rules it is
given, so the user's on/off state, key and channel patterns, command rules and selectors stay as
they are. A clone is ``ACL SETUSER new reset <the source's rules> >password``, its rules rebuilt
from ``ACL GETUSER``. Each command is atomic on the server, so no half-made clone can exist.

Changes are persisted with ``ACL SAVE`` when the server keeps an ACL file; a server configured from
redis.conf alone keeps them in memory (persisting those would take ``CONFIG REWRITE``, which
rewrites the operator's configuration file: left to the operator).

A user can change its own password only if its rules allow ``ACL SETUSER`` (which would let it
change its permissions too): single-user rotation of an ordinary Redis user needs ``masterarn``.

``ssl`` absent means plain TCP: Redis has no in-band TLS negotiation to fall back from.
No pool, for the reasons given in ``postgresql.py``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tumbler.adapters.targets.logins import KeptLogin
from tumbler.ports.target import CloneUser, Credentials, SetPassword, TargetError

CONNECT_TIMEOUT = 5
# Flags a clone keeps: ``reset`` sets sanitize-payload itself, and nopass would defeat the password.
_KEPT_FLAGS = frozenset({"on", "off", "skip-sanitize-payload"})


def connect(creds: Credentials) -> redis.Redis:
    return redis.Redis(
        host=creds.host,
        port=creds.port,
        username=creds.username or None,
        password=creds.password,
        ssl=creds.ssl is True,
        ssl_cert_reqs="required",
        ssl_check_hostname=True,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=CONNECT_TIMEOUT,
        retry=Retry(NoBackoff(), 0),  # the rotation engine retries whole steps
        decode_responses=True,
        single_connection_client=True,
    )


def _ping(client: redis.Redis) -> None:
    # AUTH succeeded when the connection opened; a user not allowed PING is still a working login
    with contextlib.suppress(redis.exceptions.NoPermissionError):
        client.ping()


class RedisTarget:
    def __init__(self) -> None:
        # redis-py reconnects a closed client by itself: a kept one is always usable
        self._login: KeptLogin[redis.Redis] = KeptLogin(connect, _ping, lambda client: True)

    def verify(self, creds: Credentials) -> None:
        self._login.verify(creds)

    def set_password(self, request: SetPassword) -> None:
        client = self._session(request.admin)
        if request.username != request.admin.username:  # a user changing its own password exists, and may lack GETUSER
            _require(client, request.username)
        _command(client, "ACL", "SETUSER", request.username, "resetpass", ">" + request.new_password)
        _save(client)

    def clone_user(self, request: CloneUser) -> bool:
        client = self._session(request.admin)
        rules = rules_of(_require(client, request.source_username))
        created = _user(client, request.new_username) is None
        if created:
            _command(client, "ACL", "SETUSER", request.new_username, "reset", *rules, ">" + request.password)
        else:
            _command(client, "ACL", "SETUSER", request.new_username, "resetpass", ">" + request.password)
        _save(client)
        return created

    def close(self) -> None:
        self._login.close()

    def _session(self, admin: Credentials) -> redis.Redis:
        return self._login.session(admin)


def _user(client: redis.Redis, name: str) -> dict[str, Any] | None:
    reply = _command(client, "ACL", "GETUSER", name)
    if reply is None:
        return None
    if isinstance(reply, list):  # an unparsed RESP2 reply: name, value, name, value...
        reply = dict(zip(reply[::2], reply[1::2], strict=True))
    return dict(reply)


def _require(client: redis.Redis, name: str) -> dict[str, Any]:
    user = _user(client, name)
    if user is None:
        raise TargetError(f"User {name} does not exist")
    return user


def _tokens(value: Any, prefix: str = "") -> list[str]:
    """Redis 7 answers a rule string ("~a %R~b"); Redis 6 a list of bare patterns (["a", "b"])."""
    if isinstance(value, str):
        return value.split()
    return [prefix + str(item) for item in value or ()]


def rules_of(user: dict[str, Any]) -> list[str]:
    """The ACL SETUSER rules that give a user made by ``reset`` the same permissions as ``user``."""
    rules = [flag for flag in user.get("flags", ()) if flag in _KEPT_FLAGS]
    rules += _tokens(user.get("keys"), "~") + _tokens(user.get("channels"), "&")
    rules += _tokens(user.get("commands"))
    for selector in user.get("selectors") or ():
        parts = dict(selector) if isinstance(selector, dict) else dict(zip(selector[::2], selector[1::2], strict=True))
        inner = _tokens(parts.get("keys"), "~") + _tokens(parts.get("channels"), "&") + _tokens(parts.get("commands"))
        rules.append("(" + " ".join(inner) + ")")
    return rules


def _save(client: redis.Redis) -> None:
    # No ACL file configured (or no right to save it): the change lives in memory, as SETUSER made it.
    with contextlib.suppress(redis.ResponseError):
        _command(client, "ACL", "SAVE")


def _command(client: redis.Redis, *args: str) -> Any:
    return client.execute_command(*args)  # type: ignore[no-untyped-call]
