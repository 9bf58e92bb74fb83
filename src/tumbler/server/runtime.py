"""Assembling the concrete parts into a running server."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tumbler.adapters.clock import SystemClock
from tumbler.adapters.crypto.keyring import Keyring
from tumbler.adapters.crypto.masterkey import load_master_key
from tumbler.adapters.runner.host import FunctionHost
from tumbler.adapters.runner.subprocess import SubprocessRunner
from tumbler.adapters.store.sqlite import SqliteStore
from tumbler.ops.context import Services
from tumbler.ports.store import FunctionRecord, Store
from tumbler.server import credentials
from tumbler.server.app import App
from tumbler.server.config import Config
from tumbler.wire.sigv4 import Verifier

log = logging.getLogger("tumbler.server")
PURGE_INTERVAL = 60.0


@dataclass
class Runtime:
    config: Config
    services: Services
    store: SqliteStore
    keyring: Keyring
    functions: FunctionHost


def open_runtime(config: Config) -> Runtime:
    """Open (creating on first use) the data directory's store, master key and keyring."""
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = SqliteStore(config.database)
    master = load_master_key(config.data_dir, os.environ)

    def key_names() -> list[tuple[str, str]]:
        with store.reader() as reader:
            return reader.kms_keys()

    keyring = Keyring(master, key_names, reload=lambda: load_master_key(config.data_dir, os.environ))
    functions = FunctionHost(
        store,
        SubprocessRunner(),  # starts nothing until the first invocation
        config.data_dir / "functions",
        config.endpoint,
        FunctionCredentials(store, keyring, config.data_dir / "function-credentials"),
        account_id=config.account_id,
    )
    services = Services(
        store=store,
        keyring=keyring,
        clock=SystemClock(),
        account_id=config.account_id,
        endpoint=config.endpoint,
        functions=functions,
    )
    return Runtime(config, services, store, keyring, functions)


def build_app(runtime: Runtime) -> App:
    lookup = credentials.CredentialLookup(runtime.store, runtime.keyring)
    app = App(runtime.services, Verifier(lookup, dev=runtime.config.dev), access_log=runtime.config.access_log)
    app.background.append(lambda: _purge_loop(runtime))
    app.on_shutdown.append(runtime.functions.close)
    return app


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
        secret = credentials.CredentialLookup(self._store, self._keyring)(key_id) if key_id else None
        return (key_id, secret) if secret else None

    def _create(self) -> tuple[str, str]:
        key_id, secret = credentials.new_access_key(self._store, self._keyring, principal="lambda")
        staging = self._path.with_name(self._path.name + ".tmp")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(key_id + "\n")
        os.replace(staging, self._path)
        return key_id, secret


def purge_due(runtime: Runtime) -> int:
    """Remove secrets whose recovery window has ended."""
    now = runtime.services.clock.now()
    with runtime.store.transaction() as uow:
        due = uow.due_deletions(now)
        for arn in due:
            uow.delete_secret(arn)
    return len(due)


async def _purge_loop(runtime: Runtime) -> None:
    while True:
        try:
            purged = await asyncio.to_thread(purge_due, runtime)
            if purged:
                log.info("purged %d secrets whose recovery window ended", purged)
        except Exception:
            log.exception("purging deleted secrets failed; will retry")
        await asyncio.sleep(PURGE_INTERVAL)
