"""Schedules that fire, driven by an injectable clock: no sleeping for real hours.

The scheduler and engine run against a real SQLite store and keyring; the rotation function
is an in-process fake that does what AWS's generic template does, through the operations.
tests/rotation/test_engine.py runs the engine with real functions, out of process.
"""

from __future__ import annotations

import collections
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tumbler.adapters.crypto.keyring import Keyring
from tumbler.adapters.crypto.masterkey import MasterKey
from tumbler.adapters.store.sqlite import SqliteStore
from tumbler.core.rotation import STEPS, State
from tumbler.ops.context import Context
from tumbler.ops.secretsmanager import OPERATIONS
from tumbler.ports.runner import InvokeResult
from tumbler.ports.services import Services
from tumbler.rotation.engine import RotationEngine
from tumbler.rotation.scheduler import Scheduler
from tumbler.rotation.start import start_rotation

FN = "arn:aws:lambda:us-east-1:123456789012:function:fake"
T0 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.t = now

    def now(self) -> datetime:
        return self.t


@dataclass
class FakeFunction:
    """The generic template's four steps, in-process, through the Secrets Manager operations."""

    services: Services | None = None
    calls: list[str] = field(default_factory=list)
    delay: float = 0.0  # seconds each step takes
    gates: dict[str, threading.Event] = field(default_factory=dict)  # secret name -> opened to let its steps run
    before: dict[str, Callable[[], None]] = field(default_factory=dict)  # step -> run before it

    builtins: Any = field(default_factory=lambda: {"fake": None})  # RotateSecret finds it

    def invoke_async(self, region: str, function: str, payload: bytes) -> None:
        raise NotImplementedError

    def invoke(self, region: str, function: str, payload: bytes, *, redact: Any = ()) -> InvokeResult:
        event = json.loads(payload)
        self.calls.append(event["Step"])
        if event["Step"] in self.before:
            self.before[event["Step"]]()
        time.sleep(self.delay)
        gate = next((g for name, g in self.gates.items() if f":secret:{name}-" in event["SecretId"]), None)
        if gate is not None:
            assert gate.wait(10)
        arn, token = event["SecretId"], event["ClientRequestToken"]
        if event["Step"] == "createSecret":
            call(self.services, "PutSecretValue", SecretId=arn, ClientRequestToken=token,
                 SecretString="rotated", VersionStages=["AWSPENDING"])  # fmt: skip
        elif event["Step"] == "finishSecret":
            current = call(self.services, "DescribeSecret", SecretId=arn)["VersionIdsToStages"]
            holder = next(v for v, s in current.items() if "AWSCURRENT" in s)
            call(self.services, "UpdateSecretVersionStage", SecretId=arn, VersionStage="AWSCURRENT",
                 MoveToVersionId=token, RemoveFromVersionId=holder)  # fmt: skip
        return InvokeResult(b"null", None, "", 1.0, False)


def call(services: Services | None, op: str, **params: Any) -> Any:
    assert services is not None
    params = {"ClientRequestToken": str(uuid.uuid4()), **params}  # as an SDK fills it in
    return OPERATIONS[op].func(Context(services, "us-east-1", services.clock.now()), params)


@dataclass
class World:
    services: Services
    clock: Clock
    fn: FakeFunction
    engine: RotationEngine
    scheduler: Scheduler

    def op(self, name: str, **params: Any) -> Any:
        return call(self.services, name, **params)

    def settle(self) -> None:
        while self.engine.run_due():
            pass

    def history(self, name: str) -> list[Any]:
        with self.services.store.reader() as reader:
            secret = reader.find_secret("us-east-1", name)
            assert secret is not None
            return reader.rotations(secret.arn)

    def next_rotation(self, name: str) -> datetime:
        with self.services.store.reader() as reader:
            secret = reader.find_secret("us-east-1", name)
        assert secret is not None
        assert secret.rotation.next_rotation is not None
        return secret.rotation.next_rotation


@pytest.fixture
def world(tmp_path: Path) -> World:
    clock, fn = Clock(T0), FakeFunction()
    store = SqliteStore(tmp_path / "t.db")
    services = Services(store=store, keyring=Keyring(MasterKey.generate()), clock=clock, account_id="123456789012",
                        functions=fn, start_rotation=start_rotation)  # fmt: skip
    fn.services = services
    return World(services, clock, fn, RotationEngine(services), Scheduler(services, rng=random.Random(7)))


def configure(world: World, name: str, rules: dict[str, Any]) -> None:
    world.op("CreateSecret", Name=name, SecretString="initial")
    world.op("RotateSecret", SecretId=name, RotationLambdaARN=FN, RotationRules=rules)
    world.settle()  # RotateSecret rotates immediately


def test_after_days_fires_inside_the_next_day_window(world: World) -> None:
    configure(world, "s1", {"AutomaticallyAfterDays": 2})
    due = world.next_rotation("s1")
    assert datetime(2026, 3, 12, tzinfo=UTC) <= due < datetime(2026, 3, 13, tzinfo=UTC)
    described = world.op("DescribeSecret", SecretId="s1")
    assert described["NextRotationDate"] == datetime(2026, 3, 12, 23, 59, 59, tzinfo=UTC)
    world.clock.t = due - timedelta(seconds=1)
    assert world.scheduler.tick() == 0
    world.clock.t = due
    assert world.scheduler.tick() == 1
    assert world.scheduler.tick() == 0  # never started twice
    world.settle()
    runs = world.history("s1")
    assert [r.state for r in runs] == [State.SUCCEEDED, State.SUCCEEDED]
    assert runs[0].scheduled
    assert runs[0].late_by is None
    assert datetime(2026, 3, 14, tzinfo=UTC) <= world.next_rotation("s1") < datetime(2026, 3, 15, tzinfo=UTC)


def test_missed_window_is_caught_up_and_marked_late(world: World) -> None:
    configure(world, "s2", {"AutomaticallyAfterDays": 1})
    world.clock.t = datetime(2026, 3, 15, 6, tzinfo=UTC)  # the server was down through the 11th
    assert world.scheduler.tick() == 1
    world.settle()
    late = world.history("s2")[0]
    assert late.state is State.SUCCEEDED
    assert late.late_by == datetime(2026, 3, 15, 6, tzinfo=UTC) - datetime(2026, 3, 12, tzinfo=UTC)
    assert world.next_rotation("s2") >= datetime(2026, 3, 16, tzinfo=UTC)  # from the late rotation on


def test_a_running_rotation_is_not_started_twice(world: World) -> None:
    configure(world, "s3", {"AutomaticallyAfterDays": 1})
    world.op("RotateSecret", SecretId="s3")  # a manual rotation, still pending
    world.clock.t = world.next_rotation("s3") + timedelta(days=1)
    assert world.scheduler.tick() == 0
    world.settle()
    assert len(world.history("s3")) == 2  # the first and the manual one; no scheduled one


def test_rotations_run_side_by_side_and_each_step_once(world: World) -> None:
    """Slots are refilled while other rotations still run; a claim never hands out one that is running."""
    world.fn.delay = 0.01
    for i in range(20):
        world.op("CreateSecret", Name=f"p{i}", SecretString="initial")
        world.op("RotateSecret", SecretId=f"p{i}", RotationLambdaARN=FN)
    assert world.engine.run_due() == 20
    assert collections.Counter(world.fn.calls) == dict.fromkeys(STEPS, 20)
    assert all(run.state is State.SUCCEEDED for i in range(20) for run in world.history(f"p{i}"))


def test_a_rotation_is_abandoned_before_finishsecret_when_awscurrent_moved_during_its_steps(world: World) -> None:
    """A value put by hand during testSecret stays current: the rotation is abandoned before its next step."""
    world.op("CreateSecret", Name="moved", SecretString="initial")
    world.op("RotateSecret", SecretId="moved", RotationLambdaARN=FN)
    manual: dict[str, Any] = {}
    world.fn.before["testSecret"] = lambda: manual.update(
        world.op("PutSecretValue", SecretId="moved", SecretString="manual")
    )
    assert world.engine.run_due() == 1  # abandoned when testSecret's outcome is journaled, not on a second claim
    assert world.fn.calls == ["createSecret", "setSecret", "testSecret"]
    assert world.history("moved")[0].state is State.ABANDONED
    assert world.op("GetSecretValue", SecretId="moved")["VersionId"] == manual["VersionId"]


def test_a_rotation_cancelled_during_a_step_runs_no_further_step(world: World) -> None:
    """Cancelled during testSecret: its outcome is not journaled, finishSecret never runs, and AWSCURRENT
    stays where it was."""
    world.op("CreateSecret", Name="cancelled", SecretString="initial")
    before = world.op("GetSecretValue", SecretId="cancelled")["VersionId"]
    world.op("RotateSecret", SecretId="cancelled", RotationLambdaARN=FN)
    world.fn.before["testSecret"] = lambda: world.op("CancelRotateSecret", SecretId="cancelled")
    world.settle()
    assert world.fn.calls == ["createSecret", "setSecret", "testSecret"]
    assert world.history("cancelled")[0].state is State.ABANDONED
    assert world.op("GetSecretValue", SecretId="cancelled")["VersionId"] == before


def test_work_enqueued_during_a_long_rotation_starts_at_once(world: World) -> None:
    """A free slot takes a new rotation when it is enqueued (the server's waker nudges the engine), not
    when a running rotation ends: a function that runs for minutes holds up nothing else."""
    world.fn.gates["slow"] = threading.Event()
    world.op("CreateSecret", Name="slow", SecretString="initial")
    world.op("RotateSecret", SecretId="slow", RotationLambdaARN=FN)
    running = threading.Thread(target=world.engine.run_due)
    running.start()
    try:
        deadline = time.monotonic() + 10
        while not world.fn.calls and time.monotonic() < deadline:
            time.sleep(0.01)
        world.op("CreateSecret", Name="fast", SecretString="initial")
        world.op("RotateSecret", SecretId="fast", RotationLambdaARN=FN)
        world.engine.nudge()
        while world.history("fast")[0].state is not State.SUCCEEDED and time.monotonic() < deadline:
            time.sleep(0.01)
        assert world.history("fast")[0].state is State.SUCCEEDED
        assert world.history("slow")[0].state is State.RUNNING  # still in its first step
    finally:
        world.fn.gates["slow"].set()
        running.join()
    assert world.history("slow")[0].state is State.SUCCEEDED


def test_cancel_stops_the_schedule(world: World) -> None:
    configure(world, "s4", {"AutomaticallyAfterDays": 1})
    world.op("CancelRotateSecret", SecretId="s4")
    world.clock.t += timedelta(days=5)
    assert world.scheduler.tick() == 0
    assert "NextRotationDate" not in world.op("DescribeSecret", SecretId="s4")


def test_rate_hours_windows_start_on_the_grid(world: World) -> None:
    configure(world, "s5", {"ScheduleExpression": "rate(6 hours)"})  # rotated at 09:30 -> next window 12:00-13:00
    due = world.next_rotation("s5")
    assert datetime(2026, 3, 10, 12, tzinfo=UTC) <= due < datetime(2026, 3, 10, 13, tzinfo=UTC)
    shown = world.op("DescribeSecret", SecretId="s5")["RotationRules"]
    assert shown == {"ScheduleExpression": "rate(6 hours)", "AutomaticallyAfterDays": 1}


def test_cron_window_starts_at_the_expression_hour(world: World) -> None:
    configure(world, "s6", {"ScheduleExpression": "cron(0 16 ? * 6 *)", "Duration": "2h"})  # Fridays 16:00 UTC
    due = world.next_rotation("s6")
    assert datetime(2026, 3, 13, 16, tzinfo=UTC) <= due < datetime(2026, 3, 13, 18, tzinfo=UTC)  # Friday the 13th


def test_invalid_rules_change_nothing(world: World) -> None:
    from tumbler.core.errors import InvalidParameter

    world.op("CreateSecret", Name="s7", SecretString="v")
    for rules in ({"AutomaticallyAfterDays": 0}, {"ScheduleExpression": "rate(2 hours)"},
                  {"AutomaticallyAfterDays": 1, "ScheduleExpression": "rate(1 day)"}):  # fmt: skip
        with pytest.raises(InvalidParameter):
            world.op("RotateSecret", SecretId="s7", RotationLambdaARN=FN, RotationRules=rules)
    described = world.op("DescribeSecret", SecretId="s7")
    assert "RotationEnabled" not in described
    assert list(described["VersionIdsToStages"].values()) == [["AWSCURRENT"]]


def test_start_hours_spread_over_the_day(world: World) -> None:
    for i in range(240):
        configure(world, f"spread-{i}", {"AutomaticallyAfterDays": 1})
    moments = [world.next_rotation(f"spread-{i}") for i in range(240)]
    hours = collections.Counter(m.hour for m in moments)
    assert all(datetime(2026, 3, 11, tzinfo=UTC) <= m < datetime(2026, 3, 12, tzinfo=UTC) for m in moments)
    assert len(hours) >= 20  # 240 draws over 24 hours: a constant or narrow pick fails this
    assert max(hours.values()) <= 25
    early = sum(1 for m in moments if m.minute < 15)
    assert early > 240 * 0.5  # minutes weighted towards the top of the hour


def test_a_new_scheduler_finds_what_is_due(world: World) -> None:
    configure(world, "s8", {"AutomaticallyAfterDays": 1})
    world.clock.t = world.next_rotation("s8")
    fresh = Scheduler(world.services)  # a restarted server: the schedule lives in the store
    assert fresh.tick() == 1
