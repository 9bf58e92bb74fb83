"""Assembling the concrete parts into a running server."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import timedelta

from tumbler.adapters.audit import JsonLinesAudit
from tumbler.adapters.clock import SystemClock
from tumbler.adapters.crypto.keyring import Keyring
from tumbler.adapters.crypto.masterkey import load_master_key
from tumbler.adapters.rotators import rotators as builtin_rotators
from tumbler.adapters.runner.host import FunctionHost
from tumbler.adapters.runner.subprocess import SubprocessRunner
from tumbler.adapters.store.sqlite import SqliteStore
from tumbler.adapters.targets import Registry as Targets
from tumbler.ports.services import Services
from tumbler.ports.store import Store
from tumbler.rotation.engine import RotationEngine
from tumbler.rotation.loop import Waker, run_engine
from tumbler.rotation.scheduler import Scheduler
from tumbler.rotation.start import start_rotation
from tumbler.server import credentials, keys, node
from tumbler.server.app import App
from tumbler.server.config import Config
from tumbler.server.secrets_client import InProcessSecrets
from tumbler.wire.sigv4 import Verifier

log = logging.getLogger("tumbler.server")
PURGE_INTERVAL = 60.0


@dataclass
class Runtime:
    config: Config
    services: Services
    store: Store
    keyring: Keyring
    functions: FunctionHost
    waker: Waker


def open_runtime(config: Config) -> Runtime:
    """Open (creating on first use) the data directory's store, master key and keyring."""
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = open_store(config)
    master = keys.master_key_for(store, config.data_dir)  # refuses to make a new key for existing data

    def key_names() -> list[tuple[str, str]]:
        with store.reader() as reader:
            return reader.kms_keys()

    keyring = Keyring(master, key_names, reload=lambda: load_master_key(config.data_dir, os.environ))
    functions = FunctionHost(
        store,
        SubprocessRunner(),  # starts nothing until the first invocation
        config.data_dir / "functions",
        config.endpoint,
        credentials.FunctionCredentials(store, keyring, config.data_dir / "function-credentials"),
        account_id=config.account_id,
        log_dir=config.data_dir / "logs",
    )
    waker = Waker()
    services = Services(
        store=store,
        keyring=keyring,
        clock=SystemClock(),
        account_id=config.account_id,
        endpoint=config.endpoint,
        functions=functions,
        audit=JsonLinesAudit(config.data_dir / "audit.log"),
        wake_rotations=waker,
        start_rotation=start_rotation,
    )
    # -- built-in rotators: in-process functions, listed by ListFunctions, that call the operations --
    functions.builtins.update(builtin_rotators(lambda region: InProcessSecrets(services, region), Targets()))
    return Runtime(config, services, store, keyring, functions, waker)


# -- the store: PostgreSQL when the config names its URL (a fleet of nodes shares it), else SQLite --
def open_store(config: Config) -> Store:
    if config.store and config.store.startswith(("postgresql://", "postgres://")):
        from tumbler.adapters.store.postgres import PostgresStore

        return PostgresStore(config.store)
    return SqliteStore(config.database)


def release_stale_leases(runtime: Runtime) -> None:
    """Drop the leases that cannot be live at this server's start (see ``release_leases``: a store shared by
    nodes keeps them). Called once by the parent process, before any worker starts: never by a worker."""
    with runtime.store.transaction() as uow:
        uow.release_leases()


def build_app(runtime: Runtime) -> App:
    lookup = credentials.CredentialLookup(runtime.store, runtime.keyring, account_id=runtime.services.account_id)
    identities = None if runtime.config.dev else lookup  # --dev: every caller is the root
    verifier = Verifier(lookup, dev=runtime.config.dev)
    app = App(runtime.services, verifier, access_log=runtime.config.access_log, identities=identities)
    app.background.append(lambda: _purge_loop(runtime))
    lease = timedelta(seconds=runtime.config.rotation_lease)
    node_id = node.node_identity(runtime.config.data_dir, runtime.config.node_id)
    engine = RotationEngine(runtime.services, node_id=node_id, policy=runtime.config.retry_policy, lease=lease)
    scheduler = Scheduler(runtime.services)
    app.background.append(lambda: run_engine(engine, scheduler, runtime.waker))
    app.on_shutdown.append(runtime.functions.close)
    return app


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
