"""One conformance suite for every rotation target, against real servers.

PostgreSQL is a private cluster with scram-sha-256 (tests/dbs.py); MariaDB and Redis are the
machine's. Every user is created here under a unique ``tmb_`` name and dropped afterwards.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import redis
from psycopg import sql

from tests.dbs import SUPERUSER_PASSWORD, MariaDB, PrivatePostgres
from tumbler.adapters.targets import REDACTED, describe, open_target, secrets_of
from tumbler.adapters.targets.mysql import regrant
from tumbler.adapters.targets.redis import rules_of
from tumbler.ports.target import CloneUser, Credentials, RotationTarget, SetPassword, TargetError

OLD, NEW = "Old-pw-0123456789", "New-pw-9876543210"


def unique(prefix: str = "tmb") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@dataclass
class Server:
    """One engine under test: an admin login, and users made with some privileges to compare."""

    engine: str
    host: str
    port: int
    admin_user: str
    admin_password: str
    dbname: str | None = None
    made: list[str] = field(default_factory=list)

    @property
    def admin(self) -> Credentials:
        return self.creds(self.admin_user, self.admin_password)

    def creds(self, user: str, password: str) -> Credentials:
        return Credentials(self.host, self.port, user, password, self.dbname, ssl=False)

    def make_user(self, password: str) -> str:
        raise NotImplementedError

    def privileges(self, user: str) -> Any:
        """What the user may do, in a form equal for two users with the same privileges."""
        raise NotImplementedError

    def drop(self, user: str) -> None:
        raise NotImplementedError


@dataclass
class Postgres(Server):
    group: str = field(default_factory=lambda: unique("tmb_group"))
    table: str = field(default_factory=lambda: unique("tmb_table"))

    def _run(self, statement: sql.Composable) -> list[tuple[Any, ...]]:
        with psycopg.connect(
            host=self.host, port=self.port, user=self.admin_user, password=self.admin_password, dbname="postgres"
        ) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    def setup(self) -> None:
        self._run(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(self.group)))
        self._run(sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(self.table)))

    def make_user(self, password: str) -> str:
        user = unique()
        role = sql.Identifier(user)
        self._run(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(password)))
        self._run(sql.SQL("GRANT {} TO {}").format(sql.Identifier(self.group), role))
        self._run(sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(self.table), role))
        return user

    def privileges(self, user: str) -> Any:
        query = sql.SQL(
            "SELECT has_table_privilege({u}, {t}, 'SELECT'), has_table_privilege({u}, {t}, 'INSERT'),"
            " pg_has_role({u}, {g}, 'MEMBER'), rolcanlogin FROM pg_roles WHERE rolname = {u}"
        ).format(u=sql.Literal(user), t=sql.Literal(self.table), g=sql.Literal(self.group))
        return self._run(query)

    def drop(self, user: str) -> None:
        self._run(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))

    def set_here(self, user: str, password: str) -> None:
        """The password set by the server itself, hashed with a salt of its own."""
        self._run(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(user), sql.Literal(password)))


@dataclass
class Maria(Server):
    role: str = field(default_factory=lambda: unique("tmb_role"))

    def _run(self, statement: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = MariaDB().connect()
        try:
            with conn.cursor() as cur:
                cur.execute(statement, args or None)
                return list(cur.fetchall())
        finally:
            conn.close()

    def setup(self) -> None:
        self._run(f"CREATE ROLE `{self.role}`")
        self._run(f"GRANT INSERT ON test.* TO `{self.role}`")

    def make_user(self, password: str) -> str:
        user = unique()
        self._run("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
        self._run(f"GRANT SELECT ON test.* TO `{user}`@`%`")
        self._run(f"GRANT `{self.role}` TO `{user}`@`%`")
        self._run(f"SET DEFAULT ROLE `{self.role}` FOR `{user}`@`%`")
        return user

    def privileges(self, user: str) -> Any:
        lines = [str(row[0]) for row in self._run("SHOW GRANTS FOR %s@'%%'", (user,))]
        return sorted(re.sub(r" IDENTIFIED BY PASSWORD '[^']*'", "", line).replace(f"`{user}`", "U") for line in lines)

    def drop(self, user: str) -> None:
        self._run("DROP USER IF EXISTS %s@'%%'", (user,))


@dataclass
class Redis(Server):
    RULES = ("on", "~app:*", "%R~ro:*", "&chan", "-@all", "+get", "+set", "(~sel:* +hget)")

    def _client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, decode_responses=True)

    def make_user(self, password: str) -> str:
        user = unique()
        self._client().execute_command("ACL", "SETUSER", user, *self.RULES, ">" + password)
        return user

    def privileges(self, user: str) -> Any:
        found = self._client().execute_command("ACL", "GETUSER", user)
        flags = sorted(f for f in found["flags"] if f != "sanitize-payload")
        return {"flags": flags, **{k: found[k] for k in ("commands", "keys", "channels", "selectors")}}

    def drop(self, user: str) -> None:
        self._client().execute_command("ACL", "DELUSER", user)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with PrivatePostgres.running() as cluster:
        server = Postgres("postgres", "127.0.0.1", cluster.port, cluster.superuser, SUPERUSER_PASSWORD, "postgres")
        server.setup()
        yield server


@pytest.fixture(scope="module")
def mariadb() -> Iterator[Maria]:
    server = Maria("mariadb", MariaDB.host, MariaDB.port, "root", "")
    server.setup()
    yield server
    for user in server.made:
        server.drop(user)
    server._run(f"DROP ROLE IF EXISTS `{server.role}`")


@pytest.fixture(scope="module")
def redis_server() -> Iterator[Redis]:
    server = Redis("redis", "127.0.0.1", 6379, "default", "")
    yield server
    for user in server.made:
        server.drop(user)


@pytest.fixture(params=["postgres", "mariadb", "redis"])
def server(request: pytest.FixtureRequest) -> Server:
    fixture = {"postgres": "postgres", "mariadb": "mariadb", "redis": "redis_server"}[request.param]
    found: Server = request.getfixturevalue(fixture)
    return found


@pytest.fixture
def target(server: Server) -> Iterator[RotationTarget]:
    opened = open_target(server.engine)
    yield opened
    opened.close()


def user_of(server: Server, password: str = OLD) -> str:
    user = server.make_user(password)
    server.made.append(user)
    return user


def works(target: RotationTarget, creds: Credentials) -> bool:
    try:
        target.verify(creds)
    except TargetError:
        return False
    return True


# -- the contract ------------------------------------------------------------------------------------
def test_verify(server: Server, target: RotationTarget) -> None:
    user = user_of(server)
    target.verify(server.creds(user, OLD))
    with pytest.raises(TargetError):
        target.verify(server.creds(user, NEW))


def test_set_password_by_admin(server: Server, target: RotationTarget) -> None:
    user = user_of(server)
    before = server.privileges(user)
    target.set_password(SetPassword(server.admin, user, NEW))
    assert not works(target, server.creds(user, OLD))
    assert works(target, server.creds(user, NEW))
    assert server.privileges(user) == before  # only the password changed


@pytest.mark.parametrize("server", ["postgres", "mariadb"], indirect=True)
def test_set_password_by_the_user_itself(server: Server, target: RotationTarget) -> None:
    user = user_of(server)
    target.set_password(SetPassword(server.creds(user, OLD), user, NEW))
    assert not works(target, server.creds(user, OLD))
    assert works(target, server.creds(user, NEW))


@pytest.fixture
def pg_target() -> Iterator[RotationTarget]:
    opened = open_target("postgres")
    yield opened
    opened.close()


@pytest.mark.parametrize("password", ["Pässwörd-0123456789", "ﬁ-ligature-ⅸ-0123"])  # SASLprep'd by libpq
def test_set_password_outside_ascii(postgres: Postgres, pg_target: RotationTarget, password: str) -> None:
    user = user_of(postgres)
    pg_target.set_password(SetPassword(postgres.admin, user, password))
    assert works(pg_target, postgres.creds(user, password))
    assert not works(pg_target, postgres.creds(user, OLD))


def test_role_names_are_matched_exactly(postgres: Postgres) -> None:
    """A role is found by its exact name, whatever it needs quoting for; one differing in case is not it."""
    odd = f'Tmb "Odd" {uuid.uuid4().hex[:6]}.Name'
    postgres._run(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(odd), sql.Literal(OLD)))
    postgres.made.append(odd)
    target = open_target("postgres")
    try:
        target.set_password(SetPassword(postgres.admin, odd, NEW))
        assert works(target, postgres.creds(odd, NEW))
        for other in (odd.lower(), odd.upper()):
            with pytest.raises(TargetError, match="does not exist"):
                target.set_password(SetPassword(postgres.admin, other, NEW))
    finally:
        target.close()


def test_set_password_never_creates_a_user(server: Server, target: RotationTarget) -> None:
    missing = unique("tmb_missing")
    with pytest.raises(TargetError, match=f"{missing} does not exist"):
        target.set_password(SetPassword(server.admin, missing, NEW))
    assert not works(target, server.creds(missing, NEW))


def test_clone_user(server: Server, target: RotationTarget) -> None:
    user = user_of(server)
    clone = user + "_clone"
    server.made.append(clone)
    assert target.clone_user(CloneUser(server.admin, user, clone, NEW)) is True
    assert works(target, server.creds(clone, NEW))
    assert works(target, server.creds(user, OLD))  # the source is untouched
    assert server.privileges(clone) == server.privileges(user)


def test_clone_user_tolerates_an_existing_clone(server: Server, target: RotationTarget) -> None:
    user = user_of(server)
    clone = user + "_clone"
    server.made.append(clone)
    target.clone_user(CloneUser(server.admin, user, clone, OLD))
    assert target.clone_user(CloneUser(server.admin, user, clone, NEW)) is False
    assert works(target, server.creds(clone, NEW))
    assert not works(target, server.creds(clone, OLD))
    assert server.privileges(clone) == server.privileges(user)


def test_clone_of_a_missing_user_fails(server: Server, target: RotationTarget) -> None:
    missing = unique("tmb_missing")
    with pytest.raises(TargetError, match=f"{missing} does not exist"):
        target.clone_user(CloneUser(server.admin, missing, missing + "_clone", NEW))


def test_errors_contain_no_password(server: Server, target: RotationTarget) -> None:
    secret = "Leak-" + uuid.uuid4().hex
    # The server echoes the user name in its refusal: a name holding the password shows the sanitizer at work.
    with pytest.raises(TargetError) as raised:
        target.verify(server.creds(f"tmb_{secret}", secret))
    assert secret not in str(raised.value)
    assert REDACTED in str(raised.value) or server.engine == "redis"  # Redis does not echo the name
    down = Credentials(server.host, 1, "someone", secret, server.dbname, ssl=False)
    for call in (
        lambda: target.verify(down),
        lambda: target.set_password(SetPassword(down, "someone", secret)),
        lambda: target.clone_user(CloneUser(down, "someone", "other", secret)),
    ):
        with pytest.raises(TargetError) as raised:
            call()
        assert secret not in str(raised.value)
        assert raised.value.__cause__ is None
        assert raised.value.__context__ is None  # the driver's exception holds the connection's parameters


# -- pieces, without a server ----------------------------------------------------------------------
def test_sanitizer_masks_every_secret_field_in_every_form() -> None:
    request = CloneUser(Credentials("h", 1, "admin", 'adm"in'), "a", "b", "n\\ew")
    assert sorted(secrets_of(request)) == sorted(['adm"in', "n\\ew"])
    text = describe(RuntimeError('adm"in adm\\"in n\\ew n\\\\ew'), secrets_of(request))
    assert text == "RuntimeError: **** **** **** ****"
    assert "password" not in repr(request)
    assert "n\\ew" not in repr(request)


def test_regrant_rewrites_only_the_grantee() -> None:
    line = "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*2B60229' REQUIRE SSL WITH GRANT OPTION"
    assert (
        regrant(line, "app", "app_clone", "%") == "GRANT USAGE ON *.* TO `app_clone`@`%` REQUIRE SSL WITH GRANT OPTION"
    )
    line = "GRANT ALL PRIVILEGES ON *.* TO `app`@`%` IDENTIFIED VIA unix_socket OR mysql_native_password USING 'x'"
    assert regrant(line, "app", "b`x", "%") == "GRANT ALL PRIVILEGES ON *.* TO `b``x`@`%`"
    assert regrant("SET DEFAULT ROLE `r` FOR `app`@`%`", "app", "c", "%") == "SET DEFAULT ROLE `r` FOR `c`@`%`"
    assert regrant("GRANT SELECT ON `db`.* TO 'app'@'%'", "app", "c", "%") == "GRANT SELECT ON `db`.* TO `c`@`%`"
    with pytest.raises(TargetError) as raised:
        regrant("GRANT USAGE ON *.* TO `other`@`%` IDENTIFIED BY PASSWORD '*2B60229'", "app", "c", "%")
    assert "2B60229" not in str(raised.value)


def test_redis_rules_rebuild_a_user() -> None:
    user = {
        "flags": ["on", "nopass", "sanitize-payload"],
        "passwords": ["abc"],
        "commands": "-@all +get",
        "keys": "~app:* %R~ro:*",
        "channels": "&chan",
        "selectors": [{"commands": "-@all +hget", "keys": "~sel:*", "channels": ""}],
    }
    assert rules_of(user) == ["on", "~app:*", "%R~ro:*", "&chan", "-@all", "+get", "(~sel:* -@all +hget)"]
    redis6 = {"flags": ["off", "allkeys"], "commands": "+@all", "keys": ["*"], "channels": ["news"]}
    assert rules_of(redis6) == ["off", "~*", "&news", "+@all"]
