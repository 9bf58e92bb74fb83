"""The rotation engine against a real SQLite store and keyring, with a rotation function run out of
process by the real subprocess runner: its event, a retry with backoff, a crash and its resumption,
and a lease kept while a long step runs.

The function here only reports what it was asked (it calls nothing back), so the rotations are
RotateImmediately=false ones: testSecret alone, on a copy of the current value, which the engine
settles by dropping that copy. tests/api/ runs full rotations through a live server.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tumbler.adapters.crypto.keyring import Keyring
from tumbler.adapters.crypto.masterkey import MasterKey
from tumbler.adapters.runner.host import FunctionHost
from tumbler.adapters.runner.subprocess import SubprocessRunner
from tumbler.adapters.store.sqlite import SqliteStore
from tumbler.core.rotation import RetryPolicy, Rotation, State
from tumbler.ops.context import Context
from tumbler.ops.secretsmanager import OPERATIONS
from tumbler.ports.runner import Execution
from tumbler.ports.secrets_client import SecretsClients
from tumbler.ports.services import Services
from tumbler.ports.store import FunctionRecord
from tumbler.rotation.engine import RotationEngine
from tumbler.rotation.start import start_rotation

ACCOUNT, REGION = "123456789012", "us-east-1"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:reporter"
VALUE = "initial-value-7f3a9c"  # the secret's value, which no error may show
T0 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
# What `lambda add-permission --principal secretsmanager.amazonaws.com --source-account ACCOUNT` stores.
INVOKE_POLICY = json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": [{
    "Sid": "SecretsManager", "Effect": "Allow", "Principal": {"Service": "secretsmanager.amazonaws.com"},
    "Action": "lambda:InvokeFunction", "Resource": FUNCTION,
    "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}}]})  # fmt: skip

# Appends each event it gets to $EVENTS; fails while $FAILS holds a number above zero (counting it
# down), with the secret's value in the error; sleeps $SLEEP seconds first.
HANDLER = """
import json, os, pathlib, time

def lambda_handler(event, context):
    time.sleep(float(os.environ.get("SLEEP", "0")))
    with open(os.environ["EVENTS"], "a") as out:
        out.write(json.dumps(event) + "\\n")
    fails = pathlib.Path(os.environ["FAILS"])
    left = int(fails.read_text() or 0) if fails.exists() else 0
    if left > 0:
        fails.write_text(str(left - 1))
        raise ValueError("cannot log in with " + os.environ["VALUE"])
    return None
"""


class Clock:
    def __init__(self, now: datetime | None) -> None:
        self.t = now  # None: the real time

    def now(self) -> datetime:
        return self.t or datetime.now(UTC)


@dataclass
class World:
    services: Services
    clock: Clock
    tmp: Path

    def op(self, name: str, **params: Any) -> Any:
        params = {"ClientRequestToken": str(uuid.uuid4()), **params}  # as an SDK fills it in
        return OPERATIONS[name].func(Context(self.services, REGION, self.services.clock.now()), params)

    def engine(self, **options: Any) -> RotationEngine:
        return RotationEngine(self.services, **options)

    def events(self) -> list[dict[str, Any]]:
        path = self.tmp / "events.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def fail_next(self, times: int) -> None:
        (self.tmp / "fails").write_text(str(times))

    def rotation(self, name: str) -> Rotation:
        with self.services.store.reader() as reader:
            secret = reader.find_secret(REGION, name)
            assert secret is not None
            return reader.rotations(secret.arn)[0]

    def rotate(self, name: str) -> str:
        self.op("CreateSecret", Name=name, SecretString=VALUE)
        rotated = self.op("RotateSecret", SecretId=name, RotationLambdaARN=FUNCTION, RotateImmediately=False)
        return str(rotated["VersionId"])


def package(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


class NoRoles:
    """Execution roles for a host whose functions never call back: no credentials."""

    def credentials(self, execution: Execution) -> Mapping[str, str]:
        return {}

    def secrets_clients(self, execution: Execution) -> SecretsClients:
        raise AssertionError("no built-in runs here")


def make_world(tmp_path: Path, now: datetime | None, sleep: float = 0.0) -> Iterator[World]:
    store, clock, runner = SqliteStore(tmp_path / "t.db"), Clock(now), SubprocessRunner()
    code = package({"lambda_function.py": HANDLER})
    env = {"EVENTS": str(tmp_path / "events.jsonl"), "FAILS": str(tmp_path / "fails"), "VALUE": VALUE,
           "SLEEP": str(sleep)}  # fmt: skip
    config = {"FunctionName": "reporter", "FunctionArn": FUNCTION, "Handler": "lambda_function.lambda_handler",
              "Runtime": "python3.12", "Timeout": 30, "MemorySize": 128, "Environment": {"Variables": env},
              "CodeSha256": base64.b64encode(hashlib.sha256(code).digest()).decode()}  # fmt: skip
    with store.transaction() as uow:
        uow.put_function(FunctionRecord(FUNCTION, "reporter", REGION, config, code, INVOKE_POLICY))
    host = FunctionHost(store, runner, tmp_path / "code", "http://127.0.0.1:9", NoRoles(), account_id=ACCOUNT)
    services = Services(store=store, keyring=Keyring(MasterKey.generate()), clock=clock, account_id=ACCOUNT,
                        functions=host, start_rotation=start_rotation)  # fmt: skip
    try:
        yield World(services, clock, tmp_path)
    finally:
        host.close()
        store.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path, T0)


def test_an_out_of_process_function_gets_aws_event_and_the_rotation_settles(world: World) -> None:
    token = world.rotate("oop")
    assert world.engine().run_due() == 1
    rotation = world.rotation("oop")
    assert (rotation.state, rotation.attempt, rotation.finished) == (State.SUCCEEDED, 1, T0)
    event = {"Step": "testSecret", "SecretId": rotation.secret_arn, "ClientRequestToken": token}
    assert world.events() == [{**event, "RotationToken": rotation.rotation_id}]
    versions = world.op("ListSecretVersionIds", SecretId="oop")["Versions"]
    assert [v["VersionStages"] for v in versions] == [["AWSCURRENT"]]  # the test-only copy is gone


def test_a_failed_step_is_retried_after_a_capped_jittered_backoff_with_its_error_masked(world: World) -> None:
    world.rotate("retry")
    world.fail_next(1)
    policy = RetryPolicy(max_attempts=3, base=timedelta(seconds=10), cap=timedelta(seconds=15))
    engine = world.engine(policy=policy)
    assert engine.run_due() == 1
    waiting = world.rotation("retry")
    assert (waiting.state, waiting.step, waiting.attempt) == (State.PENDING, "testSecret", 1)  # what failed
    assert T0 + timedelta(seconds=5) <= waiting.not_before <= T0 + timedelta(seconds=10)
    assert waiting.last_error is not None
    assert "ValueError: cannot log in with ****" in waiting.last_error
    assert VALUE not in waiting.last_error
    world.clock.t = waiting.not_before - timedelta(milliseconds=1)
    assert engine.run_due() == 0  # not due yet
    world.clock.t = waiting.not_before
    assert engine.run_due() == 1
    done = world.rotation("retry")
    assert (done.state, done.attempt, done.last_error) == (State.SUCCEEDED, 2, None)
    assert len(world.events()) == 2


def test_attempts_are_capped_and_the_rotation_fails(world: World) -> None:
    world.rotate("exhausted")
    world.fail_next(5)
    engine = world.engine(policy=RetryPolicy(max_attempts=2, base=timedelta(seconds=1)))
    engine.run_due()
    world.clock.t = world.rotation("exhausted").not_before
    engine.run_due()
    failed = world.rotation("exhausted")
    assert (failed.state, failed.attempt) == (State.FAILED, 2)
    assert failed.last_error is not None
    assert VALUE not in failed.last_error


def test_a_rotation_whose_node_died_mid_step_is_resumed_once_its_lease_expires(world: World) -> None:
    world.rotate("crash")
    lease = timedelta(seconds=30)
    dead = world.engine(node_id="dead", lease=lease)
    (claimed,) = dead.journal.claim(T0, 1, set())  # marked running, then the node died before invoking
    assert world.rotation("crash").state is State.RUNNING
    survivor = world.engine(node_id="survivor", lease=lease)
    assert survivor.run_due() == 0  # the dead node's lease still holds
    world.clock.t = T0 + lease + timedelta(seconds=1)
    assert survivor.run_due() == 1
    resumed = world.rotation("crash")
    assert (resumed.rotation_id, resumed.state) == (claimed.rotation_id, State.SUCCEEDED)
    assert [e["Step"] for e in world.events()] == ["testSecret"]


def test_a_lease_is_renewed_while_a_long_step_runs(tmp_path: Path) -> None:
    """The step outlasts the lease several times over: no other node takes the rotation, and the step runs once."""
    for world in make_world(tmp_path, None, sleep=1.5):
        world.rotate("long")
        lease = timedelta(seconds=0.4)
        running = threading.Thread(target=world.engine(node_id="a", lease=lease).run_due)
        running.start()
        other, taken = world.engine(node_id="b", lease=lease), 0
        while running.is_alive():
            taken += other.run_due()
            time.sleep(0.05)
        running.join()
        assert taken == 0
        assert world.rotation("long").state is State.SUCCEEDED
        assert len(world.events()) == 1
