"""Rotation schedules that fire: turn due secrets into rotations, and plan each secret's next one.

The schedule lives in the store (``next_rotation``, an indexed column holding the moment the
next rotation starts), so a tick asks only for what is due: its cost grows with the due
rotations, not with the number of secrets, and nothing is kept in memory between ticks.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import datetime, timedelta

from tumbler.core import schedule
from tumbler.core.secrets import Secret
from tumbler.ports.rotations import RotationStart
from tumbler.ports.services import Services
from tumbler.ports.store import UnitOfWork
from tumbler.rotation.start import start_rotation

log = logging.getLogger("tumbler.rotation")


def plan_next(secret: Secret, now: datetime, rng: random.Random) -> datetime | None:
    """When the secret's next scheduled rotation starts: a moment inside its next window.

    The window is the one due after the last rotation; if it has already closed (the server
    was down), the moment is ``now``, so a missed rotation is caught up at once.
    """
    rotation = secret.rotation
    if not rotation.enabled or not rotation.rules or not rotation.lambda_arn:
        return None
    rules = schedule.parse_rules(rotation.rules)
    window = schedule.next_window(rules, rotation.last_rotated, secret.created, rotation.last_rotated or secret.created)
    if schedule.is_overdue(window, now):
        return now
    if window.start <= now:  # inside the window already: start within what is left of it
        window = schedule.Window(now, window.end)
    return schedule.pick_moment(window, rng)


class Scheduler:
    def __init__(self, services: Services, *, rng: random.Random | None = None) -> None:
        self.services = services
        self.rng = rng or random.Random()  # spreads load; not a secret

    def tick(self, limit: int = 100) -> int:
        """Start every scheduled rotation that is due; the number started."""
        now = self.services.clock.now()
        started = 0
        with self.services.store.reader() as reader:  # an idle tick takes no write lock
            due = reader.due_scheduled(now, limit)
        if not due:
            return 0
        with self.services.store.transaction() as uow:
            for region, arn in due:
                secret = uow.lock_secret(region, arn)
                if secret is not None and self._start(uow, secret, now):
                    started += 1
        if started:
            self.services.wake_rotations()
        return started

    def _start(self, uow: UnitOfWork, secret: Secret, now: datetime) -> bool:
        due_at = secret.rotation.next_rotation
        secret.rotation.next_rotation = None  # planned again when this rotation ends
        if due_at is not None and due_at > now:  # planned anew since our due list was read
            return False
        uow.update_secret(secret)
        if due_at is None or not secret.rotation.enabled or not secret.rotation.lambda_arn or secret.is_deleted:
            return False
        if uow.active_rotation(secret.arn) is not None:
            return False  # already rotating (or retrying): never started twice
        late_by = self._late_by(secret, now)
        start = RotationStart(str(uuid.uuid4()), secret.rotation.lambda_arn, now, scheduled=True, late_by=late_by)
        started = start_rotation(uow, secret, start)
        if started and late_by:
            log.info("scheduled rotation of %s started %s after its window closed", secret.arn, late_by)
        return started

    def _late_by(self, secret: Secret, now: datetime) -> timedelta | None:
        rules = schedule.parse_rules(secret.rotation.rules or {})
        anchor = secret.rotation.last_rotated or secret.created
        return schedule.late_by(schedule.next_window(rules, secret.rotation.last_rotated, secret.created, anchor), now)
