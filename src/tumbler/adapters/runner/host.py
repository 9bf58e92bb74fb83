"""Runs stored functions: finds one, unpacks its code (once per package), hands it to the runner.

This is what the Lambda ``Invoke`` operation and Secrets Manager rotation call. Code is
unpacked into ``code_dir/<sha256 hex>/``, so an unchanged package is unpacked only once,
by any number of functions, and a new package never disturbs a warm worker of the old one.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import shutil
import tempfile
import threading
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from tumbler.core.arns import function_arn, function_not_found, parse_function_id
from tumbler.core.errors import NotFound
from tumbler.core.packages import unsafe_member
from tumbler.ports.runner import (
    BuiltinFunction,
    Execution,
    ExecutionRoles,
    FunctionRunner,
    FunctionSpec,
    InvokeRequest,
    InvokeResult,
    Secrets,
    nothing_to_mask,
)
from tumbler.ports.store import FunctionRecord, Store

log = logging.getLogger("tumbler.functions")
# A function whose handler is ``tumbler.builtin.NAME`` runs the built-in ``tumbler-NAME`` as its own role.
BUILTIN_HANDLER = "tumbler.builtin."
BUILTIN_TIMEOUT = 900  # a built-in's own connect timeouts bound it; its credentials outlive Lambda's longest


class FunctionHost:
    """``ports.runner.FunctionHost``: ``invoke`` a function by name, partial ARN or ARN; ``invoke_async``
    for Event invocations."""

    def __init__(
        self,
        store: Store,
        runner: FunctionRunner,
        code_dir: Path,
        endpoint: str,
        roles: ExecutionRoles,
        *,
        account_id: str,
        builtin_role: str = "",
        log_dir: Path | None = None,
        event_workers: int = 4,
    ) -> None:
        self._log_dir = log_dir  # one file per invocation, already redacted by the runner
        self._store = store
        self._runner = runner
        self._code_dir = code_dir
        self._endpoint = endpoint
        self._roles = roles
        self._account_id = account_id
        self._builtin_role = builtin_role  # what the built-ins called by their own names run as
        # Checked before the store: a built-in function needs no package and no worker process.
        self.builtins: dict[str, BuiltinFunction] = {}
        self._unpacking = threading.Lock()
        self._events = ThreadPoolExecutor(max_workers=event_workers, thread_name_prefix="tumbler-event")

    def invoke(self, region: str, function: str, payload: bytes, *, redact: Secrets = nothing_to_mask) -> InvokeResult:
        """Run the function and wait for it. ``redact``: the values that must not appear in its log, asked
        for by the runner when the function has ended (the log is written masked, or not at all)."""
        name, fn_region = self._locate(region, function)
        if name in self.builtins:
            return self._run_builtin(name, fn_region, payload)
        record = self._record(fn_region, name)
        if record.config["Handler"].startswith(BUILTIN_HANDLER):
            return self._run_builtin_handler(record, payload)
        request = self._request(record, payload, redact)
        result = self._runner.invoke(self._spec(record), request)
        self._keep_log(record.name, request.request_id, result.log)
        return result

    def invoke_async(self, region: str, function: str, payload: bytes) -> None:
        """An Event invocation: the function must exist now; it runs later, on a background thread."""
        name, fn_region = self._locate(region, function)
        if name in self.builtins:
            self._events.submit(self._run_builtin_event, name, fn_region, payload)
            return
        record = self._record(fn_region, name)
        self._events.submit(self._run_event, record, payload)

    def close(self) -> None:
        """Drop queued Event invocations and stop every worker (running ones are killed)."""
        self._events.shutdown(wait=False, cancel_futures=True)
        self._runner.close()

    def _locate(self, region: str, function: str) -> tuple[str, str]:
        """(name, region) of a function identifier; a full ARN names its own region."""
        name, qualifier, arn_region, account = parse_function_id(function)
        fn_region = arn_region or region
        if (account or self._account_id) != self._account_id or qualifier not in (None, "$LATEST"):
            raise NotFound(function_not_found(function_arn(fn_region, account or self._account_id, name, qualifier)))
        return name, fn_region

    def _record(self, region: str, name: str) -> FunctionRecord:
        with self._store.reader() as reader:
            record = reader.function(region, name)
        if record is None:
            raise NotFound(function_not_found(function_arn(region, self._account_id, name)))
        return record

    def _spec(self, record: FunctionRecord) -> FunctionSpec:
        config = record.config
        return FunctionSpec(
            arn=record.arn,
            name=record.name,
            handler=config["Handler"],
            runtime=config["Runtime"],
            code_dir=self._unpacked(record),
            code_sha256=config["CodeSha256"],
            environment=config.get("Environment", {}).get("Variables", {}),
            timeout=config["Timeout"],
            memory_size=config["MemorySize"],
            role=config.get("Role", ""),
        )

    def _request(self, record: FunctionRecord, payload: bytes, redact: Secrets) -> InvokeRequest:
        return InvokeRequest(
            event=payload,
            request_id=str(uuid.uuid4()),
            credentials=self._roles.credentials(_execution(record)),
            endpoint=self._endpoint,
            region=record.region,
            redact=redact,
        )

    def _unpacked(self, record: FunctionRecord) -> Path:
        """The package's directory, unpacked on first use: into a temporary directory, then renamed."""
        target = self._code_dir / base64.b64decode(record.config["CodeSha256"]).hex()
        if target.is_dir():
            return target
        with self._unpacking:  # one thread unpacks; a rename race with another process is harmless
            if target.is_dir():
                return target
            self._code_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=self._code_dir))
            try:
                _extract(record.code_zip, staging)
                os.rename(staging, target)
            except OSError:
                if not target.is_dir():
                    raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return target

    def _keep_log(self, name: str, request_id: str, text: str) -> None:
        if self._log_dir is None:
            return
        folder = self._log_dir / name
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        fd = os.open(folder / f"{stamp}-{request_id}.log", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)

    def _run_builtin(self, name: str, region: str, payload: bytes) -> InvokeResult:
        """A built-in called by its own name: it runs as the documented default role."""
        execution = Execution(self._builtin_role, name, region, BUILTIN_TIMEOUT)
        return self.builtins[name](region, payload, self._roles.secrets_clients(execution))

    def _run_builtin_handler(self, record: FunctionRecord, payload: bytes) -> InvokeResult:
        """A user's function whose handler names a built-in: the built-in runs as the function's own role."""
        builtin = self.builtins.get("tumbler-" + record.config["Handler"].removeprefix(BUILTIN_HANDLER))
        if builtin is None:  # CreateFunction refuses an unknown one; this Tumbler may be older than the function
            raise NotFound(f"Function {record.arn} names a built-in handler this server does not have")
        result = builtin(record.region, payload, self._roles.secrets_clients(_execution(record)))
        self._keep_log(record.name, str(uuid.uuid4()), result.log)
        return result

    def _run_event(self, record: FunctionRecord, payload: bytes) -> None:
        try:
            if record.config["Handler"].startswith(BUILTIN_HANDLER):
                result = self._run_builtin_handler(record, payload)
            else:
                request = self._request(record, payload, nothing_to_mask)
                result = self._runner.invoke(self._spec(record), request)
                self._keep_log(record.name, request.request_id, result.log)
        except Exception:
            log.exception("event invocation of %s could not run", record.arn)
            return
        if result.function_error:  # the payload may hold anything: only say that it failed
            log.warning("event invocation of %s ended with a function error", record.arn)

    def _run_builtin_event(self, name: str, region: str, payload: bytes) -> None:
        try:
            self._run_builtin(name, region, payload)
        except Exception:
            log.exception("event invocation of built-in %s failed", name)


def _execution(record: FunctionRecord) -> Execution:
    config = record.config
    return Execution(config.get("Role", ""), record.name, record.region, config.get("Timeout", BUILTIN_TIMEOUT))


def _extract(code: bytes, into: Path) -> None:
    """Unpack a zip, refusing any entry that would land outside ``into``."""
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        members = archive.infolist()
        if any(unsafe_member(m.filename) for m in members):
            raise ValueError("the deployment package has entries outside its own directory")
        for member in members:
            archive.extract(member, into)
