"""Access keys: the admin key written on first start, the lookup SigV4 verification uses, and the execution-role
sessions functions call Tumbler with.

A secret access key must be recoverable (SigV4 is an HMAC), so it is sealed under its own
data key like a secret value; the database never holds it in plain text.
"""

from __future__ import annotations

import configparser
import os
import secrets
import string
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tumbler.core.aad import access_key_aad as access_key_aad  # re-exported: server/keys.py imports it here
from tumbler.core.errors import InvalidParameter
from tumbler.core.iam import Principal, PrincipalKind
from tumbler.core.secrets import SecretValue
from tumbler.ops.context import Context
from tumbler.ops.lambda_.functions import ROLE_NOT_ASSUMABLE
from tumbler.ops.principals import principal_of
from tumbler.ops.sts.sessions import LAMBDA, issue_role_session, service_may_assume
from tumbler.ports.keyring import Keyring
from tumbler.ports.runner import Execution
from tumbler.ports.secrets_client import SecretsClient, SecretsClients
from tumbler.ports.services import Services
from tumbler.ports.store import AccessKey, Store
from tumbler.server.secrets_client import InProcessSecrets

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


FUNCTION_SESSION_SECONDS = 3600  # how long each execution-role session a function gets lasts
RENEW_MARGIN = timedelta(seconds=60)  # beyond the function's timeout: a session must outlive the invocation


@dataclass(frozen=True)
class _RoleSession:
    environment: Mapping[str, str]  # AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
    access_key_id: str
    principal: Principal
    expires: datetime


class FunctionRoles:
    """``ports.runner.ExecutionRoles``: each function runs as its execution role, as on Lambda.

    The role is assumed for the service principal ``lambda.amazonaws.com`` (its trust policy must allow it) with
    the function's name as the session name, through the same session issuance as STS AssumeRole. A session is
    kept per function and role and renewed when it would expire before the function's timeout (plus a margin)
    has passed, so an invocation never starts with credentials that end during it; a warm worker gets the new
    ones with its next invocation. ``session_seconds`` is how long each session lasts.
    """

    def __init__(self, services: Callable[[], Services], session_seconds: int = FUNCTION_SESSION_SECONDS) -> None:
        self._services = services  # called when needed: the host these roles serve is part of the services
        self._seconds = session_seconds
        self._sessions: dict[tuple[str, str, str], _RoleSession] = {}
        self._lock = threading.Lock()

    def credentials(self, execution: Execution) -> Mapping[str, str]:
        return self._session(execution).environment

    def secrets_clients(self, execution: Execution) -> SecretsClients:
        session = self._session(execution)

        def client(region: str) -> SecretsClient:
            return InProcessSecrets(self._services(), region, session.principal, session.access_key_id)

        return client

    def _session(self, execution: Execution) -> _RoleSession:
        key = (execution.region, execution.function, execution.role_arn)
        now = self._services().clock.now()
        with self._lock:  # one session per function at a time, however many invocations ask at once
            found = self._sessions.get(key)
            if found is None or found.expires - now < timedelta(seconds=execution.lifetime) + RENEW_MARGIN:
                found = self._sessions[key] = self._assume(execution, now)
            return found

    def _assume(self, execution: Execution, now: datetime) -> _RoleSession:
        ctx = Context(self._services(), execution.region, now)
        with ctx.store.reader() as reader:
            role = service_may_assume(reader, execution.role_arn, LAMBDA, now)
        if role is None:
            raise InvalidParameter(ROLE_NOT_ASSUMABLE)
        issued = issue_role_session(ctx, role, execution.function, self._seconds)["Credentials"]
        key_id = issued["AccessKeyId"]
        with ctx.store.reader() as reader:
            key = reader.access_key(key_id)
            principal = principal_of(reader, key, ctx.account_id) if key is not None else None
        if principal is None:  # the role was deleted in between
            raise InvalidParameter(ROLE_NOT_ASSUMABLE)
        environment = {
            "AWS_ACCESS_KEY_ID": key_id,
            "AWS_SECRET_ACCESS_KEY": issued["SecretAccessKey"],
            "AWS_SESSION_TOKEN": issued["SessionToken"],
        }
        return _RoleSession(environment, key_id, principal, issued["Expiration"])


def retire_function_key(store: Store, path: Path) -> None:
    """Delete the key every function used to call Tumbler with (its id in ``function-credentials``): it stood for
    the account root. Functions now get their execution role's credentials."""
    try:
        key_id = path.read_text().strip()
    except FileNotFoundError:
        return
    if key_id:
        with store.transaction() as uow:
            if uow.access_key(key_id) is not None:
                uow.delete_access_key(key_id)
    path.unlink(missing_ok=True)
