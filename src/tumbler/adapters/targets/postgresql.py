"""PostgreSQL (and Aurora PostgreSQL) as a rotation target, through psycopg 3.

No connection pool: a step opens at most one admin connection, reuses it for that step's calls
and closes it with the target. Rotations are rare, a pool would keep superuser sessions open
between them (and hold a stale password once the master secret is itself rotated), and ``verify``
must log in afresh anyway.

Passwords are sent as verifiers computed on this side (as ``psql``'s ``\\password`` does with
``PQencryptPasswordConn``), so the plaintext never reaches the server's statement log.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from tumbler.adapters.targets.logins import KeptLogin
from tumbler.ports.target import CloneUser, Credentials, SetPassword, TargetError

CONNECT_TIMEOUT = 5
DEFAULT_DBNAME = "postgres"
Connection = psycopg.Connection[Any]
_SSLMODES = {None: "prefer", True: "verify-full", False: "disable"}


def connect(creds: Credentials) -> Connection:
    return psycopg.connect(
        host=creds.host,
        port=creds.port,
        user=creds.username,
        password=creds.password,
        dbname=creds.dbname or DEFAULT_DBNAME,
        connect_timeout=CONNECT_TIMEOUT,
        application_name="tumbler-rotation",
        autocommit=True,
        sslmode=_SSLMODES[creds.ssl],
        # "system": the operating system's CAs, as the AWS templates verify against (libpq 16 and later)
        sslrootcert="system" if creds.ssl and psycopg.pq.version() >= 160000 else None,
    )


class PostgresTarget:
    def __init__(self) -> None:
        self._login: KeptLogin[Connection] = KeptLogin(connect, _ping, lambda conn: not conn.closed)

    def verify(self, creds: Credentials) -> None:
        self._login.verify(creds)

    def set_password(self, request: SetPassword) -> None:
        conn = self._session(request.admin)
        method, exists = _encryption_and_role(conn, request.username)
        if not exists:
            raise _no_role(request.username)
        _alter_password(conn, method, request.username, request.new_password)

    def clone_user(self, request: CloneUser) -> bool:
        conn = self._session(request.admin)
        with conn.transaction():  # all or nothing: a half-made clone never exists
            return _clone(conn, request)

    def close(self) -> None:
        self._login.close()

    def _session(self, admin: Credentials) -> Connection:
        return self._login.session(admin)


def _clone(conn: Connection, request: CloneUser) -> bool:
    """Whether the clone was created (else its password was set)."""
    _require(conn, request.source_username)
    method, exists = _encryption_and_role(conn, request.new_username)
    if exists:
        _alter_password(conn, method, request.new_username, request.password)
        return False
    new = sql.Identifier(request.new_username)
    verifier = _verifier(conn, method, request.new_username, request.password)
    conn.execute(sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD {}").format(new, sql.Literal(verifier)))
    # Member of the source (its privileges, and objects it owns) and of each of its roles, as the
    # AWS multi-user template does; an existing clone is never granted again, so alternating back
    # to the original user cannot make a circular membership.
    for role in [request.source_username, *_memberships(conn, request.source_username)]:
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), new))
    return True


def _ping(conn: Connection) -> None:
    conn.execute("SELECT 1")


# Whether the role named by the parameter exists: one lookup in the catalog cache. The view pg_roles
# costs a fresh session (every rotation's) ~0.5 ms more of the server's CPU, planning the view and
# loading what it joins.
_ROLE_EXISTS = "to_regrole(quote_ident(%s)) IS NOT NULL"


def _exists(conn: Connection, role: str) -> bool:
    row = conn.execute("SELECT " + _ROLE_EXISTS, (role,)).fetchone()
    return row is not None and bool(row[0])


def _require(conn: Connection, role: str) -> None:
    if not _exists(conn, role):
        raise _no_role(role)


def _no_role(role: str) -> TargetError:
    return TargetError(f"Role {role} does not exist")


def _memberships(conn: Connection, role: str) -> list[str]:
    rows = conn.execute(
        "SELECT DISTINCT g.rolname FROM pg_auth_members m"
        " JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member"
        " WHERE u.rolname = %s ORDER BY 1",
        (role,),
    ).fetchall()
    return [str(row[0]) for row in rows]


def _encryption_and_role(conn: Connection, role: str) -> tuple[str | None, bool]:
    """The server's ``password_encryption``, and whether ``role`` exists: one round trip for both."""
    row = conn.execute("SELECT current_setting('password_encryption'), " + _ROLE_EXISTS, (role,)).fetchone()
    return (None, False) if row is None else (str(row[0]), bool(row[1]))


def _verifier(conn: Connection, method: str | None, role: str, password: str) -> str:
    """The password as the server's ``password_encryption`` (``method``) stores it, made by libpq
    (``PQencryptPasswordConn``); the role name only salts md5."""
    algorithm = method.encode() if method is not None else None
    return conn.pgconn.encrypt_password(password.encode(), role.encode(), algorithm).decode("ascii")


def _alter_password(conn: Connection, method: str | None, role: str, password: str) -> None:
    verifier = _verifier(conn, method, role, password)
    conn.execute(sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier)))
