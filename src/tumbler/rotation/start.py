"""Starting a rotation, for RotateSecret (through ``Services.start_rotation``) and the scheduler alike."""

from __future__ import annotations

import dataclasses
import uuid

from tumbler.core import rotation as machine
from tumbler.core.secrets import AWSCURRENT, AWSPENDING, Secret, VersionInfo
from tumbler.ports.rotations import RotationStart
from tumbler.ports.store import UnitOfWork


def start_rotation(uow: UnitOfWork, secret: Secret, start: RotationStart) -> bool:
    """Enqueue a rotation of ``secret`` (locked in ``uow``); whether one was enqueued.

    An unfinished rotation (AWSPENDING on a version that is not AWSCURRENT) is what is due: it is
    begun again, unless it is still running or retrying. Else the new version exists before
    createSecret runs: AWSPENDING, holding ``start.copy`` or no value yet."""
    current = secret.stages.get(AWSCURRENT)
    pending = machine.unfinished(secret.stages)
    if pending is not None:
        if uow.active_rotation(secret.arn) is not None:
            return False
        rotation = machine.begin(_new_id(), secret.arn, secret.region, pending, start.lambda_arn, start.now, current)
    else:
        uow.put_version(secret.arn, VersionInfo(start.token, start.now), start.copy)
        secret.stages = {**secret.stages, AWSPENDING: start.token}
        uow.set_stages(secret.arn, secret.stages)
        uow.update_secret(secret)
        rotation = machine.begin(
            _new_id(), secret.arn, secret.region, start.token, start.lambda_arn, start.now, current,
            immediately=start.immediately,
        )  # fmt: skip
        rotation = dataclasses.replace(rotation, scheduled=start.scheduled, late_by=start.late_by)
    uow.put_rotation(rotation)
    return True


def _new_id() -> str:
    return str(uuid.uuid4())
