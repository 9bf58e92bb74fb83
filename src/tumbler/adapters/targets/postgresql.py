"""PostgreSQL (and Aurora PostgreSQL) as a rotation target, through psycopg 3.

No connection pool: a step opens at most one admin connection, reuses it for that step's calls
and closes it with the target. Rotations are rare, a pool would keep superuser sessions open
between them (and hold a stale password once the master secret is itself rotated), and ``verify``
must log in afresh anyway.

Passwords are sent as verifiers computed on this side (as ``psql``'s ``\\password`` does with
``PQencryptPasswordConn``), so the plaintext never reaches the server's statement log. The login
that next uses a password set here presents the keys its verifier was made from (``scram.py``).
"""

from __future__ import annotations

import secrets
from typing import Any

import psycopg
from psycopg import sql

from tumbler.adapters.targets import scram
from tumbler.adapters.targets.logins import KeptLogin
from tumbler.adapters.targets.scram import DerivationCheck, FreshKeys, ScramKeys
from tumbler.ports.target import CloneUser, Credentials, SetPassword, TargetError

CONNECT_TIMEOUT = 5
DEFAULT_DBNAME = "postgres"
Connection = psycopg.Connection[Any]
_SSLMODES = {None: "prefer", True: "verify-full", False: "disable"}
LIBPQ_TAKES_SCRAM_KEYS = psycopg.pq.version() >= 180000  # the options ``scram_client_key``, ``scram_server_key``
FRESH = FreshKeys()  # the keys of passwords set here, for the login that tests each
DERIVATION = DerivationCheck()  # whether verifiers and keys are made here at all


def connect(creds: Credentials) -> Connection:
    keys = FRESH.take(creds)
    if keys is not None:
        try:
            return _connect(creds, keys.libpq_options())
        except psycopg.OperationalError as err:
            if not _refused_login(err):
                raise  # the server is down or slow: logging in again would only wait again
    return _connect(creds, {})


def _refused_login(err: psycopg.OperationalError) -> bool:
    """The server asked for a password and refused what it got (for keys: say a pooler that keeps a
    verifier of its own); then the password decides."""
    return err.pgconn is not None and bool(err.pgconn.used_password)


def _connect(creds: Credentials, options: dict[str, Any]) -> Connection:
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
        **options,
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
        keys = _alter_password(conn, method, request.username, request.new_password)
        _remember(request.admin, request.username, request.new_password, keys)

    def clone_user(self, request: CloneUser) -> bool:
        conn = self._session(request.admin)
        with conn.transaction():  # all or nothing: a half-made clone never exists
            created, keys = _clone(conn, request)
        _remember(request.admin, request.new_username, request.password, keys)  # once committed
        return created

    def close(self) -> None:
        self._login.close()

    def _session(self, admin: Credentials) -> Connection:
        return self._login.session(admin)


def _clone(conn: Connection, request: CloneUser) -> tuple[bool, ScramKeys | None]:
    """Whether the clone was created (else its password was set), and its password's keys if made here."""
    _require(conn, request.source_username)
    method, exists = _encryption_and_role(conn, request.new_username)
    if exists:
        return False, _alter_password(conn, method, request.new_username, request.password)
    new = sql.Identifier(request.new_username)
    verifier, keys = _verifier(conn, method, request.new_username, request.password)
    conn.execute(sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD {}").format(new, sql.Literal(verifier)))
    # Member of the source (its privileges, and objects it owns) and of each of its roles, as the
    # AWS multi-user template does; an existing clone is never granted again, so alternating back
    # to the original user cannot make a circular membership.
    for role in [request.source_username, *_memberships(conn, request.source_username)]:
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), new))
    return True, keys


def _remember(admin: Credentials, username: str, password: str, keys: ScramKeys | None) -> None:
    """Keep ``keys`` for the next login as ``username`` with ``password`` (on the admin's host: the
    rotators check that the pending secret names the same host and port)."""
    if keys is not None and LIBPQ_TAKES_SCRAM_KEYS:
        FRESH.put((admin.host, admin.port, username), password, keys)


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


def _verifier(conn: Connection, method: str | None, role: str, password: str) -> tuple[str, ScramKeys | None]:
    """The password as the server's ``password_encryption`` (``method``) stores it, and its keys if made here.

    SCRAM-SHA-256 verifiers of ASCII passwords (SASLprep leaves those as they are) are made here, as
    libpq makes them (checked once a process): this PBKDF2 lets other threads run meanwhile, libpq's
    holds the GIL for milliseconds. Anything else (md5, other passwords) is left to libpq."""
    if method == "scram-sha-256" and scram.derivable(password) and DERIVATION.agrees(lambda p: _libpq(conn, p)):
        iterations = int(conn.info.parameter_status("scram_iterations") or scram.ITERATIONS)
        keys = ScramKeys.derive(password, secrets.token_bytes(scram.SALT_BYTES), iterations)
        return keys.verifier(), keys
    return _libpq(conn, password, role, method), None


def _libpq(conn: Connection, password: str, role: str = "", method: str | None = "scram-sha-256") -> str:
    """The verifier libpq makes (``PQencryptPasswordConn``); the role name only salts md5."""
    algorithm = method.encode() if method is not None else None
    return conn.pgconn.encrypt_password(password.encode(), role.encode(), algorithm).decode("ascii")


def _alter_password(conn: Connection, method: str | None, role: str, password: str) -> ScramKeys | None:
    verifier, keys = _verifier(conn, method, role, password)
    conn.execute(sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier)))
    return keys
