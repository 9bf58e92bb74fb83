"""Access keys: the admin key written on first start, and the lookup SigV4 verification uses.

A secret access key must be recoverable (SigV4 is an HMAC), so it is sealed under its own
data key like a secret value; the database never holds it in plain text.
"""

from __future__ import annotations

import configparser
import os
import secrets
import string
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tumbler.core.aad import access_key_aad as access_key_aad  # re-exported: server/keys.py imports it here
from tumbler.core.iam import Principal, PrincipalKind
from tumbler.core.secrets import SecretValue
from tumbler.ops.principals import principal_of
from tumbler.ports.keyring import Keyring
from tumbler.ports.store import AccessKey, FunctionRecord, Store

DEFAULT_KEY = "aws/secretsmanager"
PROFILE = "tumbler"


def new_access_key(store: Store, keyring: Keyring, principal: str) -> tuple[str, str]:
    key_id = "AKIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    secret = secrets.token_urlsafe(30)[:40]
    wrapped = keyring.new_data_key(DEFAULT_KEY, access_key_aad(key_id))
    sealed = keyring.seal(wrapped, access_key_aad(key_id), SecretValue(string=secret), access_key_aad(key_id))
    with store.transaction() as uow:
        uow.put_access_key(AccessKey(key_id, principal, wrapped, sealed))
    return key_id, secret


def read_credentials(path: Path) -> tuple[str, str] | None:
    parser = configparser.ConfigParser()
    if not parser.read(path) or PROFILE not in parser:
        return None
    section = parser[PROFILE]
    return section["aws_access_key_id"], section["aws_secret_access_key"]


def write_credentials(path: Path, key_id: str, secret: str) -> None:
    text = f"[{PROFILE}]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)


def ensure_admin_key(store: Store, keyring: Keyring, path: Path) -> tuple[str, str, bool]:
    """The admin key of this data directory, created on first start; the bool says if it was new."""
    existing = read_credentials(path)
    if existing is not None:
        return existing[0], existing[1], False
    key_id, secret = new_access_key(store, keyring, "admin")
    write_credentials(path, key_id, secret)
    return key_id, secret, True


@dataclass(frozen=True)
class KeyIdentity:
    """What an access key stands for: its secret, its principal, and for an STS session its expiry and the
    SHA-256 of its session token. ``version`` is the identity change counter it was read at (None: a root key,
    which IAM operations never change)."""

    secret: str
    principal: Principal
    expires: datetime | None = None
    token_hash: bytes | None = None
    version: int | None = None


class CredentialLookup:
    """access key id -> secret access key and principal, cached: SigV4 needs it on every request.

    A root key is cached for good (as before there were IAM users); any other entry is checked against the
    identity change counter on use, so a deleted or deactivated key, a deleted user or a changed tag is seen at
    once, on every node. Inactive keys and keys of users or roles that no longer exist are unknown."""

    def __init__(self, store: Store, keyring: Keyring, max_entries: int = 4096, account_id: str = "") -> None:
        self._store = store
        self._keyring = keyring
        self._max = max_entries
        self._account_id = account_id
        self._cache: dict[str, KeyIdentity] = {}
        self._lock = threading.Lock()

    def __call__(self, access_key_id: str) -> str | None:
        found = self.identity(access_key_id)
        return None if found is None else found.secret

    def identity(self, access_key_id: str) -> KeyIdentity | None:
        found = self._cache.get(access_key_id)
        if found is not None and (found.version is None or found.version == self._version()):
            return found
        found = self._load(access_key_id)
        with self._lock:
            if len(self._cache) >= self._max:
                self._cache.clear()
            if found is not None:  # unknown ids are not cached, so a flood of them can't evict real ones
                self._cache[access_key_id] = found
            else:
                self._cache.pop(access_key_id, None)
        return found

    def _version(self) -> int:
        with self._store.reader() as reader:
            return reader.identity_version()

    def _load(self, access_key_id: str) -> KeyIdentity | None:
        with self._store.reader() as reader:
            version = reader.identity_version()
            key = reader.access_key(access_key_id)
            if key is None or key.status != "Active":
                return None
            principal = principal_of(reader, key, self._account_id)
        if principal is None:
            return None
        aad = access_key_aad(access_key_id)
        secret = self._keyring.open(key.wrapped_key, aad, key.sealed_secret, aad).string
        if secret is None:
            return None
        root = principal.kind is PrincipalKind.ROOT and key.expires is None
        return KeyIdentity(secret, principal, key.expires, key.token_hash, None if root else version)


class FunctionCredentials:
    """The access key every function calls Tumbler back with, created on first use.

    Its secret is sealed in the store like any access key; ``function-credentials`` (mode 0600)
    holds only the key's id, so no plaintext secret is written for it. A missing or stale file
    (its key no longer in the store) means a new key. Later each function gets its execution
    role's scoped credentials instead; callers see only this callable.
    """

    def __init__(self, store: Store, keyring: Keyring, path: Path) -> None:
        self._store = store
        self._keyring = keyring
        self._path = path
        self._lock = threading.Lock()
        self._env: dict[str, str] | None = None

    def __call__(self, record: FunctionRecord) -> Mapping[str, str]:
        with self._lock:
            if self._env is None:
                key_id, secret = self._load() or self._create()
                self._env = {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
            return self._env

    def _load(self) -> tuple[str, str] | None:
        try:
            key_id = self._path.read_text().strip()
        except FileNotFoundError:
            return None
        secret = CredentialLookup(self._store, self._keyring)(key_id) if key_id else None
        return (key_id, secret) if secret else None

    def _create(self) -> tuple[str, str]:
        key_id, secret = new_access_key(self._store, self._keyring, principal="lambda")
        staging = self._path.with_name(self._path.name + ".tmp")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(key_id + "\n")
        os.replace(staging, self._path)
        return key_id, secret
