"""Staging labels at a rotation's end: what a finished, failed, test-only or abandoned rotation leaves."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from tumbler.core import rotation as machine
from tumbler.core.rotation import Rotation, State
from tumbler.core.secrets import AWSCURRENT, AWSPENDING, Secret
from tumbler.ports.store import Reader, UnitOfWork


def settle(uow: UnitOfWork, secret: Secret, rotation: Rotation, now: datetime) -> Rotation:
    """Labels after the last step: a finished rotation drops AWSPENDING; a test-only one its version.

    A rotation whose finishSecret did not move AWSCURRENT to its version failed."""
    if rotation.test_only:
        drop_pending(uow, secret, rotation.token, delete_version=True)
        return rotation
    if rotation.state is not State.SUCCEEDED:
        return rotation  # a failed rotation leaves AWSPENDING in place, as AWS does
    if secret.stages.get(AWSCURRENT) != rotation.token:
        error = f"finishSecret did not move {AWSCURRENT} to version {rotation.token}."
        return dataclasses.replace(rotation, state=State.FAILED, last_error=error)
    drop_pending(uow, secret, rotation.token, delete_version=False)
    secret.rotation.last_rotated = now
    secret.last_changed = now  # the caller writes the secret, with its next rotation date
    return rotation


def drop_pending(uow: UnitOfWork, secret: Secret, token: str, *, delete_version: bool) -> None:
    """AWSPENDING off the rotation's version (and the version itself, if asked and no label is left on it)."""
    stages = {label: vid for label, vid in secret.stages.items() if not (label == AWSPENDING and vid == token)}
    if stages != secret.stages:
        uow.set_stages(secret.arn, stages)
        secret.stages = stages
    if delete_version and token not in stages.values():
        uow.delete_versions(secret.arn, [token])


def current_moved(reader: Reader, rotation: Rotation) -> bool:
    """AWSCURRENT is on neither the version the rotation started from nor its own (or on none)."""
    staged = reader.value_by_stage(rotation.secret_arn, AWSCURRENT)
    return staged is None or machine.was_abandoned(rotation, staged.version_id)
