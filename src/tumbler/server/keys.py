"""``tumbler keys``: named encryption keys and master key rotation."""

from __future__ import annotations

import os

from tumbler.adapters.crypto.masterkey import load_master_key
from tumbler.ops.secretsmanager.common import key_aad
from tumbler.server.credentials import access_key_aad
from tumbler.server.runtime import Runtime


def create_key(runtime: Runtime, name: str, key_id: str) -> str:
    alias = name.removeprefix("alias/")
    with runtime.store.transaction() as uow:
        uow.put_kms_key(key_id, alias, runtime.services.clock.now())
    return key_id


def rotate_master_key(runtime: Runtime) -> tuple[int, int]:
    """Add a master key version, then re-wrap every data key under it; values are untouched.

    The new version is saved before any data key uses it, so a crash in between loses nothing:
    the old versions stay in the key file and rotating again finishes the job.
    """
    master = load_master_key(runtime.config.data_dir, os.environ).add_version()
    master.save(runtime.config.data_dir)
    runtime.keyring.use_master(master)
    count = 0
    with runtime.store.transaction() as uow:
        for owner, wrapped in list(uow.all_wrapped_keys()):
            rewrapped = runtime.keyring.rewrap(wrapped, _aad(owner))
            if rewrapped is not None:
                uow.set_wrapped_key(owner, rewrapped)
                count += 1
    return master.current_version, count


def _aad(owner: str) -> bytes:
    """Secrets bind their data key to the ARN, access keys to their id."""
    return key_aad(owner) if owner.startswith("arn:") else access_key_aad(owner)
