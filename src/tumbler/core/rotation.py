"""The rotation state machine: which step runs next, and what a success or failure leads to.

A rotation is persisted after every transition (the journal), so a server that dies
mid-rotation resumes it on restart. Transitions are pure: they take the record, the time
and (for backoff) a random source, and return the next record.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tumbler.core.secrets import AWSCURRENT, AWSPENDING

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
TEST_ONLY = ("testSecret",)  # RotateImmediately=false: test the configuration, change nothing

MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(minutes=5)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing rotation is retried."""

    max_attempts: int = MAX_ATTEMPTS
    base: timedelta = BACKOFF_BASE
    cap: timedelta = BACKOFF_CAP


PREVIOUS_INCOMPLETE = "A previous rotation isn't complete. That rotation will be reattempted."


class State(StrEnum):
    PENDING = "pending"  # waiting for its first run or its next attempt
    RUNNING = "running"  # a worker holds the lease and is running a step
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # attempts exhausted; AWSPENDING stays, as AWS leaves it
    ABANDONED = "abandoned"  # AWSCURRENT was moved by someone else mid-rotation


ACTIVE = frozenset({State.PENDING, State.RUNNING})


@dataclass(frozen=True)
class Rotation:
    rotation_id: str
    secret_arn: str
    region: str
    token: str  # the ClientRequestToken: the new version's id
    lambda_arn: str
    steps: tuple[str, ...]
    created: datetime
    not_before: datetime  # the earliest time the next step may run
    current_at_start: str | None  # AWSCURRENT's version when the rotation began
    step_index: int = 0
    state: State = State.PENDING
    attempt: int = 1
    last_error: str | None = None
    finished: datetime | None = None
    scheduled: bool = False  # started by the schedule rather than a RotateSecret call
    late_by: timedelta | None = None  # how far past its window a scheduled rotation started

    @property
    def step(self) -> str:
        return self.steps[self.step_index]

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def test_only(self) -> bool:
        return self.steps == TEST_ONLY


def begin(
    rotation_id: str,
    secret_arn: str,
    region: str,
    token: str,
    lambda_arn: str,
    now: datetime,
    current: str | None,
    *,
    immediately: bool = True,
) -> Rotation:
    return Rotation(
        rotation_id=rotation_id,
        secret_arn=secret_arn,
        region=region,
        token=token,
        lambda_arn=lambda_arn,
        steps=STEPS if immediately else TEST_ONLY,
        created=now,
        not_before=now,
        current_at_start=current,
    )


def step_succeeded(rotation: Rotation, now: datetime) -> Rotation:
    """Advance to the next step, or finish after the last one."""
    if rotation.step_index + 1 < len(rotation.steps):
        return dataclasses.replace(rotation, step_index=rotation.step_index + 1, not_before=now, last_error=None)
    return dataclasses.replace(rotation, state=State.SUCCEEDED, finished=now, last_error=None)


def step_failed(
    rotation: Rotation, now: datetime, error: str, rng: random.Random, policy: RetryPolicy | None = None
) -> Rotation:
    """Wait to retry the whole rotation after a backoff, or give up. Either way the record shows the
    step that failed, with its attempt and error, until a retry begins (``resume``)."""
    policy = policy or RetryPolicy()
    if rotation.attempt >= policy.max_attempts:
        return dataclasses.replace(rotation, state=State.FAILED, finished=now, last_error=error)
    not_before = now + backoff(rotation.attempt, rng, policy)
    return dataclasses.replace(rotation, state=State.PENDING, not_before=not_before, last_error=error)


def resume(rotation: Rotation) -> Rotation:
    """A claimed rotation as it runs on: a failed attempt's retry is the next attempt, from the first step;
    a first run or a step whose node died goes on where it is."""
    if rotation.state is not State.PENDING or rotation.last_error is None:
        return rotation
    return dataclasses.replace(rotation, attempt=rotation.attempt + 1, step_index=0, last_error=None)


def abandon(rotation: Rotation, now: datetime, reason: str) -> Rotation:
    return dataclasses.replace(rotation, state=State.ABANDONED, finished=now, last_error=reason)


def backoff(attempt: int, rng: random.Random, policy: RetryPolicy | None = None) -> timedelta:
    """Exponential backoff with a cap and 'equal jitter': between half and all of the step."""
    policy = policy or RetryPolicy()
    ceiling: timedelta = min(policy.cap, policy.base * (2 ** (attempt - 1)))
    factor: float = 0.5 + rng.random() / 2
    return ceiling * factor


def was_abandoned(rotation: Rotation, current: str | None) -> bool:
    """AWSCURRENT moved to a version that is neither where it started nor this rotation's."""
    return current not in (rotation.current_at_start, rotation.token)


def unfinished(stages: Mapping[str, str]) -> str | None:
    """The version of an unfinished rotation: AWSPENDING on a version that is not AWSCURRENT."""
    pending, current = stages.get(AWSPENDING), stages.get(AWSCURRENT)
    return pending if pending is not None and pending != current else None
