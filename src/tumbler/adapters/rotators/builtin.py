"""The built-in rotators: AWS's single-user and alternating-users rotation templates, run in-process.

Six functions, ``tumbler-{postgresql,mysql,redis}-{single,multi}-user``, named in RotateSecret's
``RotationLambdaARN`` (``arn:aws:lambda:REGION:ACCOUNT:function:NAME``, any region) and listed by
ListFunctions. The rotation engine drives them through its four steps, labels, retries, history and
events exactly as it drives a user's function: they only answer each step with an ``InvokeResult``.
Like a user's function, they act on secrets only through a Secrets Manager client
(``ports.secrets_client``) and on databases through ``ports.target``, so every rule of the API applies.
The clients are given per invocation and call as the function's execution role (for a user's function
with the handler ``tumbler.builtin.NAME``, its own role), so the role's policies decide every read and
write, the superuser secret's (``masterarn``) included: a built-in has no permissions of its own.

The secret is AWS's JSON convention: ``engine`` (postgres, aurora-postgresql, mysql, aurora-mysql,
mariadb, redis), ``host``, ``port``, ``username``, ``password``, optional ``dbname`` and ``ssl``, and
``masterarn`` (a superuser's secret on the same host: required by the multi-user rotators, optional
for single user, where it makes the superuser set the password instead of the user itself).

Alternating users (multi user): each rotation sets a new password on the user that is *not*
current, so the current user's login stays valid until the next rotation. The other user is
``<username>_clone`` (created from the original, same privileges, on the first rotation) and back
(the AWS convention), or, for two users created beforehand, the one named in ``alternate_username``:
``{"username": "app_blue", "alternate_username": "app_green", ...}`` alternates the two fields.

Settings are fixed, the AWS templates' defaults, shown read-only as each function's Environment.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from tumbler.core.passwords import ROTATION_EXCLUDE_CHARACTERS, PasswordSpec, generate
from tumbler.core.redact import redact
from tumbler.core.secrets import AWSCURRENT, AWSPENDING, AWSPREVIOUS
from tumbler.ports.runner import InvokeResult
from tumbler.ports.secrets_client import Response, SecretsClient, SecretsClientError, SecretsClients
from tumbler.ports.target import CloneUser, Credentials, RotationTarget, SetPassword, TargetError, Targets

log = logging.getLogger("tumbler.rotation.builtins")
NOT_FOUND = "ResourceNotFoundException"

CLONE_SUFFIX = "_clone"
ALTERNATE = "alternate_username"
REQUIRED_FIELDS = ("host", "username", "password", "engine")


@dataclass(frozen=True)
class Family:
    name: str  # as in the function names
    title: str
    engines: tuple[str, ...]  # the ``engine`` values it rotates
    exclude_characters: str  # the AWS template's EXCLUDE_CHARACTERS default


FAMILIES = (
    Family("postgresql", "PostgreSQL", ("postgres", "aurora-postgresql"), ":" + ROTATION_EXCLUDE_CHARACTERS),
    Family("mysql", "MySQL/MariaDB", ("mysql", "aurora-mysql", "mariadb"), ROTATION_EXCLUDE_CHARACTERS),
    Family("redis", "Redis", ("redis",), ROTATION_EXCLUDE_CHARACTERS),
)


class Refused(ValueError):
    """A step refused to go on; reported as the templates' ValueError. Never holds a password."""


class MissingKey(KeyError):
    """A required field is missing from a secret; reported as the templates' KeyError."""

    def __str__(self) -> str:
        return str(self.args[0])


def function_name(family: Family, multi_user: bool) -> str:
    return f"tumbler-{family.name}-{'multi' if multi_user else 'single'}-user"


def rotators(targets: Targets) -> dict[str, BuiltinRotator]:
    """The six built-ins by function name, for ``FunctionHost.builtins``."""
    made = (BuiltinRotator(targets, family, multi) for family in FAMILIES for multi in (False, True))
    return {rotator.name: rotator for rotator in made}


class BuiltinRotator:
    """One built-in function: ``(region, event payload) -> InvokeResult``, as ``FunctionHost`` calls it."""

    def __init__(self, targets: Targets, family: Family, multi_user: bool) -> None:
        self.targets = targets
        self.family, self.multi_user = family, multi_user
        self.name = function_name(family, multi_user)
        self.password = PasswordSpec(exclude_characters=family.exclude_characters)  # length 32, every type
        strategy = "alternating users (needs masterarn)" if multi_user else "single user"
        self.description = f"Tumbler built-in: rotates {family.title} passwords, {strategy}."
        self.environment = {
            "EXCLUDE_CHARACTERS": self.password.exclude_characters,
            "PASSWORD_LENGTH": str(self.password.length),
            "EXCLUDE_NUMBERS": "false",
            "EXCLUDE_PUNCTUATION": "false",
            "EXCLUDE_UPPERCASE": "false",
            "EXCLUDE_LOWERCASE": "false",
            "REQUIRE_EACH_INCLUDED_TYPE": "true",
            **({"CLONE_SUFFIX": CLONE_SUFFIX} if multi_user else {}),
        }
        self.unset = UnsetPasswords()

    def __call__(self, region: str, payload: bytes, clients: SecretsClients) -> InvokeResult:
        """One invocation; ``clients`` call Secrets Manager as the function's execution role."""
        started = time.perf_counter()
        run = Run(self, region, clients)
        try:
            run.handle(orjson.loads(payload))
            body, error = b"null", None
        except Exception as err:
            kind, message = run.failure(err)
            run.info(f"{kind}: {message}", level="ERROR")
            log.warning("%s failed: %s: %s", self.name, kind, message)
            body, error = orjson.dumps({"errorMessage": message, "errorType": kind}), "Unhandled"
        elapsed = (time.perf_counter() - started) * 1000
        return InvokeResult(body, error, run.log(elapsed), elapsed, cold_start=False)


class UnsetPasswords:
    """(secret ARN, version) of pending values this process generated and no setSecret has used yet.

    setSecret's first call for such a version needs no login with the pending password to learn
    whether it is set already: it cannot be. Any other call (a retry, a rotation resumed after a
    restart, a direct Invoke) finds nothing here and probes. Bounded: an entry that falls out only
    costs that probe."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._versions: dict[tuple[str, str], None] = {}
        self._lock = threading.Lock()

    def add(self, arn: str, token: str) -> None:
        with self._lock:
            self._versions[(arn, token)] = None
            if len(self._versions) > self.LIMIT:
                del self._versions[next(iter(self._versions))]

    def take(self, arn: str, token: str) -> bool:
        """True once for a version that was added: the caller is its first setSecret."""
        with self._lock:
            if (arn, token) not in self._versions:
                return False
            del self._versions[(arn, token)]
            return True


class Run:
    """One invocation: the event's secret and token, what it logged, and every secret value it read."""

    def __init__(self, rotator: BuiltinRotator, region: str, clients: SecretsClients) -> None:
        self.rotator, self.region, self.clients = rotator, region, clients
        self.request_id = str(uuid.uuid4())
        self.lines: list[str] = []
        self.seen: set[str] = set()  # values masked in anything this run reports
        self.arn = self.token = self.step = ""
        self.described: Response = {}  # DescribeSecret as the step began

    # -- the handler, as the templates' lambda_handler -------------------------------------------
    def handle(self, event: Any) -> None:
        if not isinstance(event, dict) or not all(k in event for k in ("SecretId", "ClientRequestToken", "Step")):
            raise MissingKey("The event must have SecretId, ClientRequestToken and Step")
        self.arn, self.token, self.step = str(event["SecretId"]), str(event["ClientRequestToken"]), str(event["Step"])
        self.region = _region_of(self.arn, self.region)
        steps = {
            "createSecret": self.create_secret,
            "setSecret": self.set_secret,
            "testSecret": self.test_secret,
            "finishSecret": self.finish_secret,
        }
        if self.step not in steps:
            raise Refused(f"Invalid step parameter {self.step} for secret {self.arn}")
        if self._staged_for_rotation():
            steps[self.step]()

    def _staged_for_rotation(self) -> bool:
        described = self.described = self.client().describe_secret(SecretId=self.arn)
        if described.get("RotationEnabled") is False:
            raise Refused(f"Secret {self.arn} is not enabled for rotation")
        labels = described.get("VersionIdsToStages", {}).get(self.token)
        if labels is None:
            raise Refused(f"Secret version {self.token} has no stage for rotation of secret {self.arn}.")
        if AWSCURRENT in labels:
            self.info(f"Secret version {self.token} already set as AWSCURRENT for secret {self.arn}.")
            return False
        if AWSPENDING not in labels:
            raise Refused(f"Secret version {self.token} not set as AWSPENDING for rotation of secret {self.arn}.")
        return True

    # -- the four steps --------------------------------------------------------------------------
    def create_secret(self) -> None:
        current = self.secret(self.arn, AWSCURRENT)
        if self._pending_exists():
            self.info(f"createSecret: Successfully retrieved secret for {self.arn}.")
            return
        pending = {**current, "password": generate(self.rotator.password)}
        if self.rotator.multi_user:
            pending.update(self.alternate(current))
        self.seen.add(pending["password"])
        text = json.dumps(pending)
        self.client().put_secret_value(
            SecretId=self.arn, ClientRequestToken=self.token, SecretString=text, VersionStages=[AWSPENDING]
        )
        self.rotator.unset.add(self.arn, self.token)
        self.info(f"createSecret: Successfully put secret for ARN {self.arn} and version {self.token}.")

    def set_secret(self) -> None:
        current, pending = self.secret(self.arn, AWSCURRENT), self.secret(self.arn, AWSPENDING, self.token)
        self._check_same_target(current, pending)  # before anything touches the server
        fresh = self.rotator.unset.take(self.arn, self.token)  # taken before anything can set it
        target = self.rotator.targets.open(current["engine"])
        try:
            if not fresh and _login(target, self.credentials(pending)) is None:
                self.info(f"setSecret: AWSPENDING secret is already set as password for secret arn {self.arn}.")
                return
            if self.rotator.multi_user:
                self._set_alternate(target, current, pending)
            else:
                self._set_single(target, current, pending)
        finally:
            target.close()
        self.info(f"setSecret: Successfully set password for user {pending['username']} for secret arn {self.arn}.")

    def test_secret(self) -> None:
        pending = self.secret(self.arn, AWSPENDING, self.token)
        target = self.rotator.targets.open(pending["engine"])
        try:
            reason = _login(target, self.credentials(pending))
        finally:
            target.close()
        if reason is not None:
            raise Refused(f"Unable to log into database with pending secret of secret ARN {self.arn} ({reason})")
        self.info(f"testSecret: Successfully signed in with AWSPENDING secret in {self.arn}.")

    def finish_secret(self) -> None:
        versions = self.described.get("VersionIdsToStages", {})  # the template describes it again: no change since
        current = next((vid for vid, labels in versions.items() if AWSCURRENT in labels), None)
        if current == self.token:
            self.info(f"finishSecret: Version {current} already marked as AWSCURRENT for {self.arn}")
            return
        self.client().update_secret_version_stage(
            SecretId=self.arn, VersionStage=AWSCURRENT, MoveToVersionId=self.token, RemoveFromVersionId=current
        )
        self.info(f"finishSecret: Successfully set AWSCURRENT stage to version {self.token} for secret {self.arn}.")

    # -- setSecret, by strategy --------------------------------------------------------------------
    def _set_single(self, target: RotationTarget, current: dict[str, Any], pending: dict[str, Any]) -> None:
        login = self._working_login(target, current, pending)  # confused deputy: the rotated login must work
        admin = self._master(target, current) if current.get("masterarn") else login
        target.set_password(SetPassword(admin, pending["username"], pending["password"]))

    def _set_alternate(self, target: RotationTarget, current: dict[str, Any], pending: dict[str, Any]) -> None:
        if not current.get("masterarn"):
            raise MissingKey("masterarn key is missing from secret JSON")
        reason = _login(target, self.credentials(current))
        if reason is not None:
            raise Refused(f"Unable to log into database using current credentials for secret {self.arn} ({reason})")
        master = self._master(target, current)
        request = CloneUser(master, current["username"], pending["username"], pending["password"])
        if target.clone_user(request):
            self.info(f"setSecret: Created user {pending['username']} like {current['username']}.")

    def _working_login(self, target: RotationTarget, current: dict[str, Any], pending: dict[str, Any]) -> Credentials:
        """AWSCURRENT's login, else AWSPREVIOUS's for the same user and host (a rotation finished out of band)."""
        reason = _login(target, self.credentials(current))
        if reason is None:
            return self.credentials(current)
        previous = self._previous()
        same = previous is not None and previous["username"] == pending["username"]
        if previous is not None and same and self._endpoint(previous) == self._endpoint(pending):
            login = self.credentials({**previous, "ssl": current.get("ssl")})
            if _login(target, login) is None:
                return login
        raise Refused(
            f"Unable to log into database with previous, current, or pending secret of secret arn {self.arn} ({reason})"
        )

    def _master(self, target: RotationTarget, current: dict[str, Any]) -> Credentials:
        master_arn = str(current["masterarn"])
        master = self.secret(master_arn, AWSCURRENT)
        host, master_host = self._endpoint(current), self._endpoint(master)
        if master_host != host:
            raise Refused(f"Current database host {host} is not the same host as master {master_host}")
        creds = self.credentials({**master, "dbname": current.get("dbname")})
        reason = _login(target, creds)
        if reason is not None:
            raise Refused(f"Unable to log into database using credentials in master secret {master_arn} ({reason})")
        return creds

    # -- checks on the secrets ---------------------------------------------------------------------
    def _check_same_target(self, current: dict[str, Any], pending: dict[str, Any]) -> None:
        """The pending secret may only name the current user (or its alternate) on the current host."""
        if self.rotator.multi_user:
            expected = self.alternate(current)
            if any(pending.get(key) != value for key, value in expected.items()):
                raise Refused(
                    f"Attempting to modify user {pending['username']} other than current user or clone "
                    f"{current['username']}"
                )
        elif pending["username"] != current["username"]:
            raise Refused(
                f"Attempting to modify user {pending['username']} other than current user {current['username']}"
            )
        host, pending_host = self._endpoint(current), self._endpoint(pending)
        if pending_host != host:
            raise Refused(f"Attempting to modify user for host {pending_host} other than current host {host}")

    def alternate(self, current: dict[str, Any]) -> dict[str, Any]:
        """The fields that make the current secret name the other user of the pair."""
        username, other = str(current["username"]), current.get(ALTERNATE)
        if other:
            return {"username": str(other), ALTERNATE: username}
        if username.endswith(CLONE_SUFFIX):
            return {"username": username[: -len(CLONE_SUFFIX)]}
        limit = self.rotator.targets.facts(current["engine"]).max_username
        if limit is not None and len(username) + len(CLONE_SUFFIX) > limit:
            raise Refused(
                f"Unable to clone user, username length with {CLONE_SUFFIX} appended would exceed {limit} characters"
            )
        return {"username": username + CLONE_SUFFIX}

    def secret(self, secret_id: str, stage: str, token: str | None = None) -> dict[str, Any]:
        """A version's JSON, checked like the templates' get_secret_dict; its password is remembered for masking."""
        client = self.client(_region_of(secret_id, self.region))
        text = client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=stage).get("SecretString")
        try:
            value = json.loads(text) if text is not None else None
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise Refused(f"Invalid secret value json for secret {secret_id}.")
        if value.get("password"):
            self.seen.add(str(value["password"]))
        for key in REQUIRED_FIELDS:
            if key not in value:
                raise MissingKey(f"{key} key is missing from secret JSON")
        if value["engine"] not in self.rotator.family.engines:
            names = " or ".join(f"'{e}'" for e in self.rotator.family.engines)
            raise MissingKey(f"Database engine must be set to {names} in order to use this rotation lambda")
        return value

    def _pending_exists(self) -> bool:
        try:
            self.secret(self.arn, AWSPENDING, self.token)
        except SecretsClientError as err:
            if err.code != NOT_FOUND:
                raise
            return False
        return True

    def _previous(self) -> dict[str, Any] | None:
        try:
            return self.secret(self.arn, AWSPREVIOUS)
        except SecretsClientError as err:
            if err.code != NOT_FOUND:
                raise
            return None
        except (Refused, MissingKey):
            return None

    # -- plumbing ---------------------------------------------------------------------------------
    def credentials(self, secret: dict[str, Any]) -> Credentials:
        """The login a secret's JSON describes; ``port`` defaults to the engine's."""
        port = self._port(secret)
        dbname = str(secret["dbname"]) if secret.get("dbname") else None
        host, user, password = str(secret["host"]), str(secret["username"]), str(secret["password"])
        return Credentials(host, port, user, password, dbname, _ssl(secret.get("ssl")))

    def _endpoint(self, secret: dict[str, Any]) -> str:
        return f"{secret['host']}:{self._port(secret)}"

    def _port(self, secret: dict[str, Any]) -> int:
        return int(secret.get("port") or self.rotator.targets.facts(secret["engine"]).default_port)

    def client(self, region: str | None = None) -> SecretsClient:
        return self.clients(region or self.region)

    def info(self, message: str, level: str = "INFO") -> None:
        """A log line in the Lambda Python runtime's format."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        self.lines.append(f"[{level}]\t{stamp}\t{self.request_id}\t{redact(message, self.seen)}")

    def failure(self, err: Exception) -> tuple[str, str]:
        """The Lambda errorType and errorMessage for ``err``, with every value this run read masked."""
        if isinstance(err, SecretsClientError):
            kind, message = err.code, err.message
        elif isinstance(err, Refused | TargetError):
            kind, message = "ValueError", str(err)
        elif isinstance(err, KeyError):
            kind, message = "KeyError", str(err)
        else:
            kind, message = type(err).__name__, str(err)
        return kind, redact(message, self.seen)

    def log(self, elapsed_ms: float) -> str:
        rid = self.request_id
        report = f"REPORT RequestId: {rid}\tDuration: {elapsed_ms:.2f} ms\tBilled Duration: {int(elapsed_ms) + 1} ms"
        body = "".join(line + "\n" for line in self.lines)
        return f"START RequestId: {rid} Version: $LATEST\n{body}END RequestId: {rid}\n{report}\n"


def _ssl(value: Any) -> bool | None:
    """The templates' reading of ``ssl``: a boolean, or "true"/"false" in any case; anything else is unset."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _login(target: RotationTarget, creds: Credentials) -> str | None:
    """None if ``creds`` log in; else why not (the target's errors hold no password)."""
    try:
        target.verify(creds)
    except TargetError as err:
        return str(err)
    return None


def _region_of(secret_id: str, default: str) -> str:
    parts = secret_id.split(":")
    return parts[3] if len(parts) > 6 and parts[0] == "arn" and parts[2] == "secretsmanager" else default
