"""The rotation journal: every transition written to the store, each in one transaction, before what follows.

A step is marked running (under this node's lease) before the function is invoked, and its outcome
is recorded before the next step runs, so a crash resumes the rotation at the step it was in and
two nodes never run it at once. Audit events are written once their transaction has committed.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from datetime import datetime, timedelta
from typing import Any

from tumbler.core import rotation as machine
from tumbler.core.rotation import Rotation, State
from tumbler.core.secrets import AWSCURRENT, Secret
from tumbler.ports.audit import AuditLog
from tumbler.ports.store import Store, UnitOfWork, background_work
from tumbler.rotation import labels
from tumbler.rotation.invoker import StepOutcome
from tumbler.rotation.scheduler import plan_next

log = logging.getLogger("tumbler.rotation")
Event = tuple[str, Rotation, dict[str, Any]]


class Journal:
    def __init__(
        self, store: Store, audit: AuditLog, node_id: str, lease: timedelta, policy: machine.RetryPolicy
    ) -> None:
        self.store, self.audit, self.node_id, self.lease, self.policy = store, audit, node_id, lease, policy
        self.rng = random.Random()  # backoff jitter and schedule spread, not secrecy

    def claim(self, now: datetime, limit: int, busy: set[str]) -> list[Rotation]:
        """Take the lease on up to ``limit`` due rotations and mark their steps running: one transaction.

        ``busy``: the rotations this node is running, which a claim returns too (it holds their
        leases) and must leave to the threads running them."""
        events: list[Event] = []
        with background_work(), self.store.transaction() as uow:
            claimed = uow.claim_rotations(now, self.node_id, now + self.lease, limit + len(busy))
            resumed = [machine.resume(r) for r in claimed if r.rotation_id not in busy]
            started = [self._start_step(uow, r, now, events) for r in resumed]
        self._emit(events)
        return started

    def record(self, rotation: Rotation, outcome: StepOutcome, now: datetime) -> Rotation | None:
        """The step's outcome, and what it leads to: the next step marked running, a retry, or the end.

        None, with nothing written, when this node lost the lease while the step ran: the rotation was
        cancelled (it stays so) or another node took it over (it is left to that node)."""
        events: list[Event] = []
        with self.store.transaction() as uow:
            if not uow.renew_lease(rotation.rotation_id, self.node_id, now + self.lease):
                log.warning("rotation %s was cancelled or taken over during its step", rotation.rotation_id)
                return None
            if outcome.ok:
                following = self._succeeded(uow, rotation, now, events)
            else:
                following = self._failed(uow, rotation, outcome.error or "step failed", now, events)
        self._emit(events)
        return following

    def renew(self, rotation_ids: list[str], now: datetime) -> None:
        with background_work(), self.store.transaction() as uow:  # rotation work, like the steps it keeps
            for rotation_id in rotation_ids:
                uow.renew_lease(rotation_id, self.node_id, now + self.lease)

    # -- transitions ------------------------------------------------------------------------------
    def _succeeded(self, uow: UnitOfWork, rotation: Rotation, now: datetime, events: list[Event]) -> Rotation:
        advanced = machine.step_succeeded(rotation, now)
        if advanced.state is State.SUCCEEDED:
            return self._finish(uow, advanced, now, events)
        return self._start_step(uow, advanced, now, events)  # the next step is due now

    def _failed(self, uow: UnitOfWork, rotation: Rotation, error: str, now: datetime, events: list[Event]) -> Rotation:
        failed = machine.step_failed(rotation, now, error, self.rng, self.policy)
        if failed.state is State.FAILED:
            return self._finish(uow, failed, now, events)
        events.append(("RotationStepFailed", failed, {"reason": error, "retry_at": failed.not_before.isoformat()}))
        uow.put_rotation(failed)
        return failed

    def _start_step(self, uow: UnitOfWork, rotation: Rotation, now: datetime, events: list[Event]) -> Rotation:
        """Mark the step running, unless AWSCURRENT moved meanwhile. The lease is this node's."""
        abandoned = self._abandon_if_moved(uow, rotation, now, events)
        if abandoned is not None:
            return abandoned
        if rotation.step_index == 0 and rotation.attempt == 1:
            events.append(("RotationStarted", rotation, {}))
        running = dataclasses.replace(rotation, state=State.RUNNING)
        uow.put_rotation(running)
        return running

    def _finish(self, uow: UnitOfWork, rotation: Rotation, now: datetime, events: list[Event]) -> Rotation:
        secret = uow.lock_secret(rotation.region, rotation.secret_arn)
        if secret is not None:
            rotation = labels.settle(uow, secret, rotation, now)
            self._plan_next(uow, secret, now)
        uow.put_rotation(rotation)
        name = "RotationSucceeded" if rotation.state is State.SUCCEEDED else "RotationFailed"
        events.append((name, rotation, {"reason": rotation.last_error}))
        return rotation

    def _abandon_if_moved(
        self, uow: UnitOfWork, rotation: Rotation, now: datetime, events: list[Event]
    ) -> Rotation | None:
        """The rotation's end if AWSCURRENT moved under it (or the secret is gone), else None."""
        if not labels.current_moved(uow, rotation):  # one row: the usual answer
            return None
        secret = uow.lock_secret(rotation.region, rotation.secret_arn)
        current = secret.stages.get(AWSCURRENT) if secret else None
        if secret is not None and not machine.was_abandoned(rotation, current):
            return None
        reason = (
            "The secret was deleted during rotation."
            if secret is None
            else f"{AWSCURRENT} moved to version {current} during rotation."
        )
        abandoned = machine.abandon(rotation, now, reason)
        if secret is not None:
            labels.drop_pending(uow, secret, rotation.token, delete_version=rotation.test_only)
            self._plan_next(uow, secret, now)
        uow.put_rotation(abandoned)
        events.append(("RotationAbandoned", abandoned, {"reason": reason}))
        return abandoned

    def _plan_next(self, uow: UnitOfWork, secret: Secret, now: datetime) -> None:
        """Whatever the outcome, the schedule goes on from the last successful rotation."""
        secret.rotation.next_rotation = plan_next(secret, now, self.rng)
        uow.update_secret(secret)

    def _emit(self, events: list[Event]) -> None:
        for name, rotation, extra in events:
            self.audit.record(
                name,
                secret=rotation.secret_arn,
                version=rotation.token,
                rotation=rotation.rotation_id,
                step=rotation.step,
                attempt=rotation.attempt,
                scheduled=rotation.scheduled,
                **{k: v for k, v in extra.items() if v is not None},
            )
