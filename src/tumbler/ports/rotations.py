"""Starting a rotation: what RotateSecret and the scheduler both do, written once (``rotation/start.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tumbler.core.secrets import Secret
from tumbler.ports.store import UnitOfWork


@dataclass(frozen=True)
class RotationStart:
    """A rotation to enqueue for a secret locked in the caller's transaction."""

    token: str  # the new version's id (ClientRequestToken)
    lambda_arn: str
    now: datetime
    immediately: bool = True  # RotateImmediately=false: only testSecret runs, on a copy of the current value
    copy: bytes | None = None  # that copy, sealed for the new version (None: the version has no value yet)
    scheduled: bool = False
    late_by: timedelta | None = None  # a scheduled rotation started after its window closed


# Enqueue it: reattempt the secret's unfinished rotation if it has one (``core.rotation.unfinished``;
# unless that one is still running or retrying), else reserve the new version under AWSPENDING and
# queue its first step. Returns whether a rotation was enqueued.
StartRotation = Callable[[UnitOfWork, Secret, RotationStart], bool]


def not_assembled(uow: UnitOfWork, secret: Secret, start: RotationStart) -> bool:
    raise RuntimeError("no rotation engine is assembled")
