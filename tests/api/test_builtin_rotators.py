"""The built-in rotators end to end: RotateSecret names one, the live server rotates a real database user.

PostgreSQL runs as a private scram-sha-256 cluster for this module; MariaDB and Redis are the
machine's. Users are created here under unique ``tmb_`` names and dropped afterwards.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from tests.adapters.test_targets import Maria, Postgres, Redis, Server
from tests.api.rotation_helpers import ROLE, execution_role, stages, wait_for, zip_of
from tests.api.test_rotation import history, settled
from tests.conftest import LiveServer, free_port
from tests.dbs import SUPERUSER_PASSWORD, MariaDB, PrivatePostgres
from tumbler.adapters.targets import open_target
from tumbler.ports.target import TargetError

OLD = "Initial-pw-0123456789"
FAMILY = {"postgres": "postgresql", "mariadb": "mysql", "redis": "redis"}
BUILTINS = {f"tumbler-{f}-{s}-user" for f in ("postgresql", "mysql", "redis") for s in ("single", "multi")}


@dataclass
class Engine:
    """A server under test, its master secret in Tumbler, and the users made for this module."""

    server: Server
    master_arn: str

    def secret_value(self, user: str, password: str = OLD, **extra: Any) -> dict[str, Any]:
        s = self.server
        value = {"engine": s.engine, "host": s.host, "port": s.port, "username": user, "password": password}
        return {**value, "ssl": False, **({"dbname": s.dbname} if s.dbname else {}), **extra}

    def user(self, password: str = OLD) -> str:
        made = self.server.make_user(password)
        self.server.made.append(made)
        return made

    def can_login(self, user: str, password: str) -> bool:
        target = open_target(self.server.engine)
        try:
            target.verify(self.server.creds(user, password))
        except TargetError:
            return False
        finally:
            target.close()
        return True


@pytest.fixture(scope="module")
def lam(server: LiveServer) -> Any:
    client = server.client("lambda")
    execution_role(client)  # ROLE exists and trusts Lambda
    return client


@pytest.fixture(scope="module")
def postgres_cluster() -> Iterator[PrivatePostgres]:
    with PrivatePostgres.running() as cluster:
        yield cluster


def _master(sm: Any, server: Server) -> str:
    value = {"engine": server.engine, "host": server.host, "port": server.port, "ssl": False}
    value |= {"username": server.admin_user, "password": server.admin_password}
    return str(sm.create_secret(Name=f"master/{uuid.uuid4().hex[:10]}", SecretString=json.dumps(value))["ARN"])


@pytest.fixture(scope="module")
def engines(sm: Any, postgres_cluster: PrivatePostgres) -> Iterator[dict[str, Engine]]:
    pg = Postgres("postgres", "127.0.0.1", postgres_cluster.port, postgres_cluster.superuser, SUPERUSER_PASSWORD)
    pg.dbname = "postgres"
    pg.setup()
    maria = Maria("mariadb", MariaDB.host, MariaDB.port, "root", "")
    maria.setup()
    servers: list[Server] = [pg, maria, Redis("redis", "127.0.0.1", 6379, "default", "")]
    yield {s.engine: Engine(s, _master(sm, s)) for s in servers}
    for s in servers[1:]:  # the private cluster goes away by itself
        for user in s.made:
            s.drop(user)
    maria._run(f"DROP ROLE IF EXISTS `{maria.role}`")


def builtin_arn(lam: Any, name: str, region: str = "eu-west-1") -> str:
    """A built-in's ARN in another region than the secret's: Tumbler's built-ins exist in all of them."""
    parts = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"].split(":")
    return ":".join([*parts[:3], region, *parts[4:]])


def current(sm: Any, name: str) -> dict[str, Any]:
    return dict(json.loads(sm.get_secret_value(SecretId=name)["SecretString"]))


def done(sm: Any, name: str, token: str) -> bool:
    """The rotation finished: its version is AWSCURRENT and no AWSPENDING is left."""
    labels = stages(sm, name)
    return "AWSCURRENT" in labels.get(token, []) and not any("AWSPENDING" in s for s in labels.values())


def rotate(sm: Any, name: str, fn: str, timeout: float = 30.0) -> dict[str, Any]:
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
    wait_for(lambda: done(sm, name, token), timeout=timeout, interval=0.02)
    return current(sm, name)


# -- the functions themselves ------------------------------------------------------------------------
def test_list_functions_shows_the_builtins(lam: Any) -> None:
    listed = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    assert set(listed) >= BUILTINS
    config = lam.get_function(FunctionName="tumbler-postgresql-multi-user")["Configuration"]
    assert (config["Runtime"], config["Handler"], config["CodeSize"]) == ("python3.12", "tumbler.builtin", 0)
    assert "PostgreSQL" in config["Description"]
    assert "alternating users" in config["Description"]
    assert config["Environment"]["Variables"]["CLONE_SUFFIX"] == "_clone"
    assert config["Environment"]["Variables"]["PASSWORD_LENGTH"] == "32"
    assert lam.get_function_configuration(FunctionName="tumbler-redis-single-user")["FunctionName"] == (
        "tumbler-redis-single-user"
    )
    assert listed["tumbler-mysql-single-user"]["FunctionArn"].endswith(":function:tumbler-mysql-single-user")


def test_builtins_are_read_only(lam: Any) -> None:
    for call in (
        lambda: lam.delete_function(FunctionName="tumbler-mysql-multi-user"),
        lambda: lam.update_function_configuration(FunctionName="tumbler-mysql-multi-user", Timeout=5),
        lambda: lam.update_function_code(FunctionName="tumbler-mysql-multi-user", ZipFile=b"PK"),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        error = raised.value.response["Error"]
        assert error["Code"] == "InvalidParameterValueException"
        assert "built-in" in error["Message"]
    assert lam.get_function(FunctionName="tumbler-mysql-multi-user")["Configuration"]["Timeout"] == 900
    with pytest.raises(ClientError) as raised:  # a stored function may not take a built-in's name
        lam.create_function(
            FunctionName="tumbler-mysql-multi-user",
            Runtime="python3.12",
            Role=ROLE,
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": zip_of("generic_rotation.py")},
        )
    assert raised.value.response["Error"]["Code"] == "ResourceConflictException"


# -- rotations ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["postgres", "mariadb", "redis"])
def test_single_user(sm: Any, lam: Any, engines: dict[str, Engine], engine: str, name: str) -> None:
    db = engines[engine]
    user = db.user()
    # A Redis user may not change its own password (that takes ACL SETUSER): the master does it.
    extra = {"masterarn": db.master_arn} if engine == "redis" else {}
    sm.create_secret(Name=name, SecretString=json.dumps(db.secret_value(user, **extra)))
    rotated = rotate(sm, name, builtin_arn(lam, f"tumbler-{FAMILY[engine]}-single-user"))
    assert rotated["username"] == user
    assert rotated["password"] != OLD
    assert len(rotated["password"]) == 32
    assert db.can_login(user, rotated["password"])
    assert not db.can_login(user, OLD)


@pytest.mark.parametrize("engine", ["postgres", "mariadb", "redis"])
def test_alternating_users(sm: Any, lam: Any, engines: dict[str, Engine], engine: str, name: str) -> None:
    db = engines[engine]
    user = db.user()
    db.server.made.append(f"{user}_clone")
    sm.create_secret(Name=name, SecretString=json.dumps(db.secret_value(user, masterarn=db.master_arn)))
    fn = builtin_arn(lam, f"tumbler-{FAMILY[engine]}-multi-user")
    first = rotate(sm, name, fn)
    assert first["username"] == f"{user}_clone"
    assert db.can_login(first["username"], first["password"])
    assert db.can_login(user, OLD)  # the other user still works
    assert db.server.privileges(first["username"]) == db.server.privileges(user)
    second = rotate(sm, name, fn)
    assert second["username"] == user  # alternates back
    assert db.can_login(user, second["password"])
    assert not db.can_login(user, OLD)
    assert db.can_login(first["username"], first["password"])


def test_alternating_a_pair_created_beforehand(sm: Any, lam: Any, engines: dict[str, Engine], name: str) -> None:
    db = engines["postgres"]
    blue, green = db.user(), db.user("Green-pw-0123456789")
    value = db.secret_value(blue, masterarn=db.master_arn, alternate_username=green)
    sm.create_secret(Name=name, SecretString=json.dumps(value))
    fn = builtin_arn(lam, "tumbler-postgresql-multi-user")
    first = rotate(sm, name, fn)
    assert (first["username"], first["alternate_username"]) == (green, blue)
    assert db.can_login(green, first["password"])
    assert db.can_login(blue, OLD)
    second = rotate(sm, name, fn)
    assert (second["username"], second["alternate_username"]) == (blue, green)
    assert db.can_login(blue, second["password"])


# -- the pending password's login probe ------------------------------------------------------------------
def failed_logins(cluster: PrivatePostgres, user: str) -> int:
    """Logins refused for ``user`` so far, from the cluster's own log."""
    text = (cluster.data.parent / "log").read_text(errors="replace")
    return text.count(f'password authentication failed for user "{user}"')


def test_a_first_set_secret_does_not_probe_the_password_it_generated(
    sm: Any, lam: Any, engines: dict[str, Engine], postgres_cluster: PrivatePostgres, name: str
) -> None:
    db = engines["postgres"]
    user = db.user()
    sm.create_secret(Name=name, SecretString=json.dumps(db.secret_value(user)))
    rotated = rotate(sm, name, builtin_arn(lam, "tumbler-postgresql-single-user"))
    assert db.can_login(user, rotated["password"])
    assert failed_logins(postgres_cluster, user) == 0  # no login was tried with a password not yet set


def own_builtin(lam: Any, secret_name: str, builtin: str) -> str:
    """A function of one's own naming a built-in handler, run as a role that may write any secret."""
    name = f"{secret_name.replace('/', '-')}-{builtin}"
    return str(lam.create_function(FunctionName=name, Runtime="python3.12", Role=execution_role(lam),
                                   Handler=f"tumbler.builtin.{builtin}", Code={})["FunctionName"])  # fmt: skip


def test_a_repeated_set_secret_probes_and_changes_nothing(
    sm: Any, lam: Any, engines: dict[str, Engine], postgres_cluster: PrivatePostgres, name: str
) -> None:
    """A pending value this process did not just generate (a retry, a resumed rotation, an Invoke) may be
    set already: setSecret logs in with it first. The built-in is invoked by hand on a secret with no rotation
    configured, so it runs as a function of one's own naming the built-in handler, with a role that may write
    any secret (the built-ins' default role may change only secrets they rotate)."""
    rotator = own_builtin(lam, name, "postgresql-single-user")
    db = engines["postgres"]
    user = db.user()
    sm.create_secret(Name=name, SecretString=json.dumps(db.secret_value(user)))
    pending = db.secret_value(user, "Pending-pw-0123456789")
    token = sm.put_secret_value(SecretId=name, SecretString=json.dumps(pending), VersionStages=["AWSPENDING"])[
        "VersionId"
    ]
    event = json.dumps({"Step": "setSecret", "SecretId": name, "ClientRequestToken": token})
    logs = []
    for _ in range(2):
        answer = lam.invoke(FunctionName=rotator, Payload=event, LogType="Tail")
        assert "FunctionError" not in answer
        logs.append(base64.b64decode(answer["LogResult"]).decode())
    assert failed_logins(postgres_cluster, user) == 1  # the first probe, before the password was set
    assert "AWSPENDING secret is already set" in logs[1]
    assert db.can_login(user, pending["password"])


# -- refusals and failures -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("strategy", "tamper", "refusal"),
    [
        ("single", {"username": "tumbler_admin"}, "Attempting to modify user tumbler_admin other than current user"),
        ("single", {"port": 1}, "Attempting to modify user for host 127.0.0.1:1 other than current host"),
        ("multi", {"host": "localhost"}, "Attempting to modify user for host localhost:"),
    ],
    ids=["single-other-user", "single-other-port", "multi-other-host"],
)
def test_a_tampered_pending_secret_is_refused(
    server: LiveServer,
    sm: Any,
    lam: Any,
    engines: dict[str, Engine],
    name: str,
    strategy: str,
    tamper: dict[str, Any],
    refusal: str,
) -> None:
    db = engines["postgres"]
    user = db.user()
    sm.create_secret(Name=name, SecretString=json.dumps(db.secret_value(user, masterarn=db.master_arn)))
    fn = builtin_arn(lam, f"tumbler-postgresql-{strategy}-user")
    planted = "Planted-pw-0123456789"
    alternate = {"username": f"{user}_clone"} if strategy == "multi" else {}
    value = {**db.secret_value(user, planted, masterarn=db.master_arn), **alternate, **tamper}
    token = str(uuid.uuid4())  # planted as AWSPENDING first: the rotation of that version takes it as created
    sm.put_secret_value(
        SecretId=name, ClientRequestToken=token, SecretString=json.dumps(value), VersionStages=["AWSPENDING"]
    )
    assert sm.rotate_secret(SecretId=name, RotationLambdaARN=fn, ClientRequestToken=token)["VersionId"] == token
    final = wait_for(lambda: settled(server, name), timeout=60)
    assert final["state"] == "failed"
    assert final["attempt"] == 3
    assert final["last_error"].startswith(f"setSecret: ValueError: {refusal}")
    assert planted not in json.dumps(history(server, name))
    assert db.can_login(user, OLD)  # nothing was changed
    assert db.can_login(db.server.admin_user, db.server.admin_password)


def test_set_secret_refusal_through_invoke(sm: Any, lam: Any, engines: dict[str, Engine], name: str) -> None:
    db = engines["postgres"]
    user = db.user()
    sm.create_secret(Name=name, SecretString=json.dumps(db.secret_value(user, masterarn=db.master_arn)))
    planted = "Planted-pw-0123456789"
    value = db.secret_value("tumbler_admin", planted, masterarn=db.master_arn)
    token = sm.put_secret_value(SecretId=name, SecretString=json.dumps(value), VersionStages=["AWSPENDING"])[
        "VersionId"
    ]
    event = {"Step": "setSecret", "SecretId": name, "ClientRequestToken": token}
    rotator = own_builtin(lam, name, "postgresql-multi-user")  # invoked by hand: see the test above
    answer = lam.invoke(FunctionName=rotator, Payload=json.dumps(event), LogType="Tail")
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == f"Attempting to modify user tumbler_admin other than current user or clone {user}"
    assert planted not in json.dumps(answer, default=str)


def test_a_server_that_is_down_fails_after_retries(
    server: LiveServer, sm: Any, lam: Any, engines: dict[str, Engine], name: str
) -> None:
    db = engines["postgres"]
    down = {**db.secret_value("nobody"), "port": free_port()}
    sm.create_secret(Name=name, SecretString=json.dumps(down))
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=builtin_arn(lam, "tumbler-postgresql-single-user"))[
        "VersionId"
    ]
    final = wait_for(lambda: settled(server, name), timeout=60)
    assert (final["state"], final["attempt"]) == ("failed", 3)
    assert final["last_error"].startswith(
        "setSecret: ValueError: Unable to log into database with previous, current, or pending secret of secret arn"
    )
    assert "Connection refused" in final["last_error"]
    assert stages(sm, name)[token] == ["AWSPENDING"]  # left in place, as AWS does
    pending = json.loads(sm.get_secret_value(SecretId=name, VersionStage="AWSPENDING")["SecretString"])
    assert pending["password"] not in json.dumps(history(server, name))


# -- continuity: clients that re-read AWSCURRENT while rotations run -------------------------------------
def pg_connect(value: dict[str, Any]) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=value["host"],
        port=value["port"],
        user=value["username"],
        password=value["password"],
        dbname="postgres",
        connect_timeout=5,
    )


def login_failures(server: LiveServer, db: Engine, name: str, rotations: int, fn: str, sm: Any) -> tuple[int, int]:
    """(failed, attempted) logins of a client that re-reads AWSCURRENT and reconnects in a loop."""
    stop = threading.Event()
    counts = {"ok": 0, "failed": 0}
    client = server.client()

    def loop() -> None:
        while not stop.is_set():
            value = json.loads(client.get_secret_value(SecretId=name)["SecretString"])
            try:
                with pg_connect(value) as conn:
                    conn.execute("SELECT 1")
                counts["ok"] += 1
            except psycopg.OperationalError:
                counts["failed"] += 1

    def attempts() -> int:
        return counts["ok"] + counts["failed"]

    worker = threading.Thread(target=loop, daemon=True)
    worker.start()
    try:
        for _ in range(rotations):
            rotate(sm, name, fn)
            floor = attempts() + 2  # every rotation is followed by logins before the next one starts
            wait_for(lambda floor=floor: attempts() >= floor, timeout=30, interval=0.01)
    finally:
        stop.set()
        worker.join(timeout=10)
    return counts["failed"], attempts()


def test_continuity_of_alternating_users(
    server: LiveServer,
    sm: Any,
    lam: Any,
    engines: dict[str, Engine],
    name: str,
    record_property: Callable[[str, Any], None],
) -> None:
    db = engines["postgres"]
    user = db.user()
    sm.create_secret(Name=name, SecretString=json.dumps(db.secret_value(user, masterarn=db.master_arn)))
    started = time.monotonic()
    failed, attempted = login_failures(server, db, name, 20, builtin_arn(lam, "tumbler-postgresql-multi-user"), sm)
    record_property("alternating_users_failed_logins", f"{failed}/{attempted}")
    took = time.monotonic() - started
    print(f"\nalternating users, 20 rotations in {took:.1f} s: {failed} of {attempted} logins failed")
    assert attempted >= 40
    assert failed == 0


def test_continuity_of_single_user_is_measured(
    server: LiveServer,
    sm: Any,
    lam: Any,
    engines: dict[str, Engine],
    name: str,
    record_property: Callable[[str, Any], None],
) -> None:
    db = engines["postgres"]
    user = db.user()
    sm.create_secret(Name=name, SecretString=json.dumps(db.secret_value(user)))
    started = time.monotonic()
    failed, attempted = login_failures(server, db, name, 20, builtin_arn(lam, "tumbler-postgresql-single-user"), sm)
    record_property("single_user_failed_logins", f"{failed}/{attempted}")
    took = time.monotonic() - started
    print(f"\nsingle user, 20 rotations in {took:.1f} s: {failed} of {attempted} logins failed")
    assert (
        attempted >= 40
    )  # the failures are reported, not asserted: single user can fail between setSecret and finishSecret
