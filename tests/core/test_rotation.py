import dataclasses
import random
from datetime import UTC, datetime, timedelta

from tumbler.core import rotation as machine
from tumbler.core.rotation import STEPS, TEST_ONLY, State

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def begin(**kw: object) -> machine.Rotation:
    return machine.begin("r1", "arn:s", "us-east-1", "tok", "arn:f", T0, "v1", **kw)  # type: ignore[arg-type]


def test_steps_in_aws_order() -> None:
    r = begin()
    seen = []
    while r.active:
        seen.append(r.step)
        r = machine.step_succeeded(r, T0)
    assert seen == list(STEPS)
    assert r.state is State.SUCCEEDED
    assert r.finished == T0


def test_test_only_runs_test_secret() -> None:
    r = begin(immediately=False)
    assert r.steps == TEST_ONLY
    assert r.test_only
    assert machine.step_succeeded(r, T0).state is State.SUCCEEDED


def test_failure_restarts_from_first_step_after_backoff() -> None:
    r = machine.step_succeeded(machine.step_succeeded(begin(), T0), T0)
    assert r.step == "testSecret"
    failed = machine.step_failed(r, T0, "boom", random.Random(1))
    # until the retry begins, the record shows the step that failed, with its attempt and error
    assert (failed.state, failed.step, failed.attempt, failed.last_error) == (State.PENDING, "testSecret", 1, "boom")
    assert T0 + timedelta(seconds=1) <= failed.not_before <= T0 + timedelta(seconds=2)
    retry = machine.resume(failed)
    assert (retry.state, retry.step, retry.attempt, retry.last_error) == (State.PENDING, "createSecret", 2, None)


def test_resume_leaves_a_first_run_and_a_running_step_where_they_are() -> None:
    first = begin()
    assert machine.resume(first) == first
    running = dataclasses.replace(machine.step_succeeded(first, T0), state=State.RUNNING)
    assert machine.resume(running) == running


def test_attempts_exhausted_fails() -> None:
    r = begin()
    rng = random.Random(2)
    for _ in range(machine.MAX_ATTEMPTS - 1):
        r = machine.step_failed(r, T0, "x", rng)
        assert r.state is State.PENDING
        r = machine.resume(r)
    r = machine.step_failed(r, T0, "last", rng)
    assert (r.state, r.last_error, r.finished) == (State.FAILED, "last", T0)


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(3)
    ceilings = [machine.BACKOFF_BASE * 2 ** (n - 1) for n in range(1, 12)]
    for attempt, ceiling in enumerate(ceilings, start=1):
        top = min(ceiling, machine.BACKOFF_CAP)
        delay = machine.backoff(attempt, rng)
        assert top / 2 <= delay <= top


def test_backoff_jitter_spreads() -> None:
    rng = random.Random(4)
    delays = {machine.backoff(3, rng) for _ in range(50)}
    assert len(delays) > 40


def test_abandoned_when_current_moves_elsewhere() -> None:
    r = begin()
    assert not machine.was_abandoned(r, "v1")
    assert not machine.was_abandoned(r, "tok")
    assert machine.was_abandoned(r, "someone-else")
    assert machine.abandon(r, T0, "why").state is State.ABANDONED


def test_unfinished_is_awspending_on_a_version_that_is_not_awscurrent() -> None:
    assert machine.unfinished({"AWSCURRENT": "a", "AWSPENDING": "b"}) == "b"
    assert machine.unfinished({"AWSCURRENT": "a", "AWSPENDING": "a"}) is None  # finished, not yet settled
    assert machine.unfinished({"AWSCURRENT": "a"}) is None
