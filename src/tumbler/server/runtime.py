"""Assembling the concrete parts into a running server."""

from __future__ import annotations

import asyncio
import json
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
from tumbler.ops.authorize import Authorizer
from tumbler.ops.context import Context
from tumbler.ops.iam import OPERATIONS as IAM
from tumbler.ports.identity import ROLE
from tumbler.ports.services import Services
from tumbler.ports.store import Store
from tumbler.rotation.engine import RotationEngine
from tumbler.rotation.loop import Waker, run_engine
from tumbler.rotation.scheduler import Scheduler
from tumbler.rotation.start import start_rotation
from tumbler.server import credentials, keys, node
from tumbler.server.app import App
from tumbler.server.config import Config
from tumbler.server.scans import Scans
from tumbler.wire.errors import WireError
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
    keyring = open_keyring(config, store)
    credentials.retire_function_key(store, config.data_dir / "function-credentials")
    # Each function calls Tumbler as a session of its execution role; a test may shorten the sessions.
    seconds = int(os.environ.get(SESSION_SECONDS_VARIABLE, credentials.FUNCTION_SESSION_SECONDS))
    roles = credentials.FunctionRoles(lambda: services, seconds)  # services, once assembled below
    functions = FunctionHost(
        store,
        SubprocessRunner(),  # starts nothing until the first invocation
        config.data_dir / "functions",
        config.endpoint,
        roles,
        account_id=config.account_id,
        log_dir=config.data_dir / "logs",
        builtin_role=builtin_role_arn(config.account_id),
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
        authorization=Authorizer(config.authorization),
    )
    # -- built-in rotators: in-process functions, listed by ListFunctions, that call the operations --
    functions.builtins.update(builtin_rotators(Targets()))
    ensure_builtin_role(services, config.region)
    return Runtime(config, services, store, keyring, functions, waker)


# -- the role the built-ins called by their own names (tumbler-postgresql-single-user...) run as --
BUILTIN_ROLE = "tumbler-builtin-rotation"
SESSION_SECONDS_VARIABLE = "TUMBLER_FUNCTION_SESSION_SECONDS"


def builtin_role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{BUILTIN_ROLE}"


def builtin_role_policy(account_id: str) -> str:
    """What the default role may do: change only the secrets whose rotation function is one of the built-ins (the
    pre-2022 form of AWS's rotation-role example, secretsmanager:resource/AllowRotationLambdaArn), and read any
    secret, as the superuser secret (masterarn) of the rotations root configured before execution roles needs.
    An administrator may narrow it; the README says why only administrators should rotate with these names."""
    builtin_functions = f"arn:aws:lambda:*:{account_id}:function:tumbler-*"
    rotate = {
        "Sid": "RotateSecretsConfiguredWithABuiltIn",
        "Effect": "Allow",
        "Action": [f"secretsmanager:{a}" for a in ROTATION_ACTIONS],
        "Resource": "*",
        "Condition": {"ArnLike": {"secretsmanager:resource/AllowRotationLambdaArn": builtin_functions}},
    }
    superusers = {"Sid": "ReadSuperuserSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                  "Resource": "*"}  # fmt: skip
    passwords = {"Effect": "Allow", "Action": "secretsmanager:GetRandomPassword", "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [rotate, superusers, passwords]})


ROTATION_ACTIONS = ("DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage")
LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def ensure_builtin_role(services: Services, region: str) -> None:
    """Create the default role on first start (an administrator may change it after: it is never overwritten)."""
    ctx = Context(services, region, services.clock.now())
    with services.store.reader() as reader:
        if reader.entity(ROLE, BUILTIN_ROLE) is not None:
            return
    description = "Tumbler: what the built-in rotators called by their own names act as"
    try:
        IAM["CreateRole"].func(
            ctx, {"RoleName": BUILTIN_ROLE, "AssumeRolePolicyDocument": LAMBDA_TRUST, "Description": description}
        )
    except WireError as err:
        if err.code != "EntityAlreadyExists":  # another node of a fleet made it first
            raise
        return
    policy = {"RoleName": BUILTIN_ROLE, "PolicyName": "rotate", "PolicyDocument": builtin_role_policy(ctx.account_id)}
    IAM["PutRolePolicy"].func(ctx, policy)


def open_keyring(config: Config, store: Store) -> Keyring:
    master = keys.master_key_for(store, config.data_dir)  # refuses to make a new key for existing data

    def key_names() -> list[tuple[str, str]]:
        with store.reader() as reader:
            return reader.kms_keys()

    return Keyring(master, key_names, reload=lambda: load_master_key(config.data_dir, os.environ))


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
    app.scans = Scans(runtime.config)
    app.on_shutdown.append(app.scans.close)
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
