"""Rotation functions in the AWS template style against real PostgreSQL and MariaDB users, and crash safety."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.rotation_helpers import create_function, current_is, wait_for
from tests.api.test_rotation import events_of, history, settled
from tests.conftest import LiveServer
from tests.dbs import MariaDB, PrivatePostgres


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres.running() as cluster:
        yield cluster


def test_postgresql_single_user_rotation(server: LiveServer, sm: Any, postgres: PrivatePostgres, name: str) -> None:
    old = secrets.token_urlsafe(16)
    user = postgres.create_user(old)
    value = {"engine": "postgres", "host": "127.0.0.1", "port": postgres.port, "username": user, "password": old}
    sm.create_secret(Name=name, SecretString=json.dumps({**value, "dbname": "postgres"}))
    fn = create_function(server.client("lambda"), "postgres_single_user.py")
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
    wait_for(lambda: current_is(sm, name, token), timeout=60)
    new = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["password"]
    assert new != old
    assert postgres.can_login(user, new)
    assert not postgres.can_login(user, old)
    assert json.loads(sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"])["password"] == old


def test_mariadb_single_user_rotation(server: LiveServer, sm: Any, name: str) -> None:
    db = MariaDB()
    old = secrets.token_urlsafe(16)
    user = db.create_user(old)
    value = {"engine": "mariadb", "host": db.host, "port": db.port, "username": user, "password": old}
    sm.create_secret(Name=name, SecretString=json.dumps(value))
    fn = create_function(server.client("lambda"), "mysql_single_user.py")
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
    wait_for(lambda: current_is(sm, name, token), timeout=60)
    new = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["password"]
    assert db.can_login(user, new)
    assert not db.can_login(user, old)


def test_server_killed_mid_rotation_resumes_after_restart(tmp_path: Path, name: str) -> None:
    events = tmp_path / "events.jsonl"
    live = LiveServer(tmp_path / "data", env={"TUMBLER_ROTATION_BACKOFF": "0.2"}).start()
    try:
        sm = live.client()
        env = {"SLEEP_STEP": "setSecret", "SLEEP_SECONDS": "3", "EVENTS_FILE": str(events)}
        fn = create_function(live.client("lambda"), "generic_rotation.py", env)
        sm.create_secret(Name=name, SecretString=json.dumps({"username": "app", "password": "p"}))
        token = sm.rotate_secret(SecretId=name, RotationLambdaARN=fn)["VersionId"]
        wait_for(lambda: [e["Step"] for e in events_of(events)][-1:] == ["setSecret"])
        live.stop(kill=True)  # SIGKILL while setSecret runs
        assert history(live, name)[0]["state"] == "running"
        live.start()
        wait_for(lambda: current_is(live.client(), name, token), timeout=60)
        final = wait_for(lambda: settled(live, name))
        assert final["state"] == "succeeded"
        steps = [e["Step"] for e in events_of(events)]
        assert steps == ["createSecret", "setSecret", "setSecret", "testSecret", "finishSecret"]  # resumed, not redone
        assert len(history(live, name)) == 1  # the same rotation, never a second one
    finally:
        live.stop()
