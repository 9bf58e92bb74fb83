"""``tumbler keys``: named encryption keys and master key rotation; and the check that a master key
opens a store's data keys before anything is written with it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from tumbler.adapters.crypto.keyring import DEFAULT_KEY_ID, Keyring, master_version_of
from tumbler.adapters.crypto.masterkey import (
    ENV_VAR,
    FILE_NAME,
    MasterKey,
    MasterKeyError,
    existing_master_key,
    load_master_key,
)
from tumbler.core.errors import DecryptionFailure, EncryptionFailure
from tumbler.core.secrets import SecretValue
from tumbler.ops.secretsmanager.common import key_aad
from tumbler.ports.store import TABLES, Store
from tumbler.server.credentials import access_key_aad

if TYPE_CHECKING:
    from tumbler.server.runtime import Runtime

Wrapped = tuple[str, bytes]  # (owner: a secret's ARN or an access key's id, wrapped data key)


class KeyExists(Exception):
    """A named key of that name exists already."""


def create_key(runtime: Runtime, name: str, key_id: str) -> str:
    alias = name.removeprefix("alias/")
    with runtime.store.reader() as reader:
        taken = alias == DEFAULT_KEY_ID or any(a == alias for _, a in reader.kms_keys())
    if taken:
        raise KeyExists(f"a key named {alias} exists already (see tumbler keys list)")
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


# -- does this master key open that data? ---------------------------------------------------------


def one_per_version(wrapped: Iterable[Wrapped]) -> dict[int, Wrapped]:
    """The first data key wrapped under each master key version."""
    found: dict[int, Wrapped] = {}
    for owner, key in wrapped:
        if key:  # a replica has none of its own
            found.setdefault(master_version_of(key), (owner, key))
    return found


def unopened_versions(master: MasterKey, samples: dict[int, Wrapped]) -> list[int]:
    """The master key versions whose sample data key ``master`` cannot open."""
    keyring = Keyring(master)
    failed = []
    for version, (owner, key) in sorted(samples.items()):
        try:  # sealing needs the data key unwrapped: the probe value is thrown away
            keyring.seal(key, _aad(owner), SecretValue(string="probe"), b"probe")
        except (DecryptionFailure, EncryptionFailure):
            failed.append(version)
    return failed


def where(data_dir: Path) -> str:
    return f"${ENV_VAR}" if ENV_VAR in os.environ else str(data_dir / FILE_NAME)


def check_master_key(master: MasterKey | None, samples: dict[int, Wrapped], data_dir: Path, what: str) -> None:
    """Raise MasterKeyError (one line, naming the versions needed) unless ``master`` opens ``samples``."""
    needed = ", ".join(map(str, sorted(samples)))
    if master is None:
        raise MasterKeyError(
            f"{what} holds data keys wrapped under master key version {needed}, and there is no master key: "
            f"put the master.key it was made with in {data_dir} (mode 0600) or set {ENV_VAR}"
        )
    failed = unopened_versions(master, samples)
    if failed:
        raise MasterKeyError(
            f"the master key in {where(data_dir)} does not open {what}'s data keys wrapped under master key "
            f"version {', '.join(map(str, failed))}: use the master key that store was made with"
        )


def master_key_for(store: Store, data_dir: Path) -> MasterKey:
    """The master key to run with: the existing one if it opens the store's data keys; a new one only for
    a store that holds nothing yet. Never a new key for data made with another (it could open none of it)."""
    existing = existing_master_key(data_dir, os.environ)
    with store.transaction() as uow:
        samples = one_per_version(uow.all_wrapped_keys())
    if samples:
        check_master_key(existing, samples, data_dir, "the store")
        assert existing is not None
        return existing
    if existing is None:
        with store.reader() as reader:
            if any(reader.count(t) for t in TABLES):
                raise MasterKeyError(f"the store holds data but {data_dir} has no master key; refusing to create one")
    return existing or load_master_key(data_dir, os.environ)
