"""MySQL, Aurora MySQL and MariaDB as a rotation target, through PyMySQL.

A MySQL account is a user *and* a host (``app@'%'``); a secret names only the user, so every
account of that user name is changed, and a clone gets one account per host of its source.
Values (names, hosts, passwords) are PyMySQL parameters; the only SQL built here are the source's
own ``SHOW GRANTS`` lines, with the grantee replaced by the clone's account quoted with backticks
(backticks inside doubled).

MySQL/MariaDB differences handled:

* MariaDB shows the password hash or plugin in ``SHOW GRANTS`` (``IDENTIFIED BY PASSWORD '*…'``,
  ``IDENTIFIED VIA …``); that clause is dropped from a copied grant, the clone gets its own password.
* MariaDB lists ``SET DEFAULT ROLE … FOR account``: re-targeted like a grant. (MySQL 8 keeps default
  roles out of ``SHOW GRANTS``; a clone there gets the role grants but no default roles.)
* A user changing its own password: MariaDB's ``ALTER USER`` needs the CREATE USER privilege even
  then, so MariaDB gets ``SET PASSWORD = PASSWORD(…)``; MySQL (no ``PASSWORD()`` since 8.0) gets
  ``ALTER USER CURRENT_USER() IDENTIFIED BY …``.
* MySQL 5.7 quotes accounts with single quotes, later versions and MariaDB with backticks.
* User name limits (MySQL 32, MariaDB 80) are the registry's, checked before a name is proposed.

No pool, for the reasons given in ``postgresql.py``.
"""

from __future__ import annotations

import re
import ssl as tls
from typing import Any

import pymysql
from pymysql.converters import escape_string
from pymysql.cursors import Cursor

from tumbler.adapters.targets.logins import KeptLogin
from tumbler.ports.target import CloneUser, Credentials, SetPassword, TargetError

CONNECT_TIMEOUT = 5
STATEMENT_TIMEOUT = 30
_IDENTIFIED = re.compile(r" IDENTIFIED (?:BY PASSWORD '[^']*'|VIA .*?)(?= REQUIRE | WITH |$)")
_GRANTEE_AFTER = (" TO ", " FOR ", " FROM ")  # GRANT … TO, SET DEFAULT ROLE … FOR, partial REVOKE … FROM


def connect(creds: Credentials) -> Any:
    options: dict[str, Any] = {}
    if creds.ssl is True:
        options["ssl"] = tls.create_default_context()  # verified: system CAs and host name
    elif creds.ssl is False:
        options["ssl_disabled"] = True  # None: PyMySQL's preferred mode, TLS when the server offers it
    return pymysql.connect(
        host=creds.host,
        port=creds.port,
        user=creds.username,
        password=creds.password,
        database=creds.dbname or None,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=STATEMENT_TIMEOUT,  # the engine runs one step at a time: a hung server must not stall it
        write_timeout=STATEMENT_TIMEOUT,
        autocommit=True,
        charset="utf8mb4",
        **options,
    )


def _ping(conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT 1")


class MySQLTarget:
    def __init__(self) -> None:
        self._login: KeptLogin[Any] = KeptLogin(connect, _ping, lambda conn: bool(conn.open))

    def verify(self, creds: Credentials) -> None:
        self._login.verify(creds)

    def set_password(self, request: SetPassword) -> None:
        with self._session(request.admin).cursor() as cur:
            if request.username == request.admin.username:  # its own password: no privilege needed
                cur.execute(_own_password_statement(cur), (request.new_password,))
                return
            for host in _hosts(cur, request.username, required=True):
                cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (request.username, host, request.new_password))

    def clone_user(self, request: CloneUser) -> bool:
        source, new = request.source_username, request.new_username
        with self._session(request.admin).cursor() as cur:
            existing = set(_hosts(cur, new))
            hosts = _hosts(cur, source, required=True)
            for host in hosts:
                verb = "ALTER" if host in existing else "CREATE"
                cur.execute(f"{verb} USER %s@%s IDENTIFIED BY %s", (new, host, request.password))
                # Grants are copied every time: they only add, so a clone half made by a failed attempt
                # (DDL is not transactional here) is completed by the retry.
                cur.execute("SHOW GRANTS FOR %s@%s", (source, host))
                for (line,) in cur.fetchall():
                    cur.execute(regrant(str(line), source, new, host))
        return not existing.issuperset(hosts)

    def close(self) -> None:
        self._login.close()

    def _session(self, admin: Credentials) -> Any:
        return self._login.session(admin)


def _hosts(cur: Cursor, user: str, *, required: bool = False) -> list[str]:
    cur.execute("SELECT Host FROM mysql.user WHERE User = %s ORDER BY Host", (user,))
    hosts = [str(row[0]) for row in cur.fetchall()]
    if required and not hosts:
        raise TargetError(f"User {user} does not exist")
    return hosts


def _own_password_statement(cur: Cursor) -> str:
    """MariaDB's ALTER USER needs CREATE USER even for oneself; its SET PASSWORD does not. MySQL 8 has no PASSWORD()."""
    cur.execute("SELECT VERSION()")
    row = cur.fetchone()
    if row is not None and "mariadb" in str(row[0]).lower():
        return "SET PASSWORD = PASSWORD(%s)"
    return "ALTER USER CURRENT_USER() IDENTIFIED BY %s"


def quote(name: str) -> str:
    """An identifier or account part in backticks, backticks inside doubled."""
    return "`" + name.replace("`", "``") + "`"


def regrant(line: str, source: str, new: str, host: str) -> str:
    """A ``SHOW GRANTS`` line of ``source@host`` as the same statement for ``new@host``."""
    renderings = (f"{quote(source)}@{quote(host)}", f"'{escape_string(source)}'@'{escape_string(host)}'")
    for account in renderings:
        at = line.rfind(account)
        if at > 0 and line[:at].endswith(_GRANTEE_AFTER):
            tail = _IDENTIFIED.sub("", line[at + len(account) :])
            return f"{line[:at]}{quote(new)}@{quote(host)}{tail}"
    # The line itself is not quoted: it may hold a password hash.
    raise TargetError(f"Cannot copy the grants of user {source}: a SHOW GRANTS line names no account of it")
