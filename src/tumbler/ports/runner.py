"""The function ports: the host that runs functions by name, and the runner under it.

The runner behaves as AWS Lambda's Python runtime does for the function: the same
environment variables, context object, logging, error payloads and warm reuse of
execution environments. What it returns is what the Lambda ``Invoke`` API answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tumbler.core.arns import function_not_found
from tumbler.core.errors import NotFound
from tumbler.ports.secrets_client import SecretsClients


@dataclass(frozen=True)
class FunctionSpec:
    """A function's code and configuration; a warm worker serves only an identical spec."""

    arn: str
    name: str
    handler: str  # "module.function", e.g. "lambda_function.lambda_handler"
    runtime: str  # "python3.12" etc.; the server's own Python runs it
    code_dir: Path  # the unpacked deployment package (it carries its dependencies)
    code_sha256: str
    environment: Mapping[str, str]
    timeout: int  # seconds
    memory_size: int = 128  # MB; reported, not enforced
    role: str = ""


def nothing_to_mask() -> Sequence[str]:
    return ()


# The secret values an invocation's log and error must not show. It is asked once the function has
# ended, before anything it printed is kept: a value the function stored while it ran is among them.
Secrets = Callable[[], Sequence[str]]


@dataclass(frozen=True)
class InvokeRequest:
    event: bytes  # the JSON payload
    request_id: str
    credentials: Mapping[str, str]  # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
    endpoint: str  # the Tumbler endpoint URL the function calls back
    region: str
    redact: Secrets = nothing_to_mask


@dataclass(frozen=True)
class InvokeResult:
    payload: bytes  # the handler's JSON-serialised return value, or Lambda's error object
    function_error: str | None  # None, or "Unhandled" (X-Amz-Function-Error)
    log: str  # the invocation's output with START/END/REPORT lines, redacted
    duration_ms: float  # the invoke phase, as REPORT's Duration
    cold_start: bool
    init_duration_ms: float | None = field(default=None)  # set on a cold start


class FunctionRunner(Protocol):
    def invoke(self, fn: FunctionSpec, request: InvokeRequest) -> InvokeResult:
        """Run one invocation; thread-safe. A function error is a result, never an exception."""
        ...

    def close(self) -> None:
        """Stop every worker process."""
        ...


@dataclass(frozen=True)
class Execution:
    """Who a function runs as: the session ``function`` (its name, the session name) holds of ``role_arn``, which
    must stay valid for ``lifetime`` seconds (the function's timeout) from when it is handed out."""

    role_arn: str
    function: str
    region: str
    lifetime: int


class ExecutionRoles(Protocol):
    """Each function's execution role, assumed for it as Lambda does (session name = the function name).

    Both raise ``core.errors.InvalidParameter`` with Lambda's message when the role does not exist or no
    longer trusts ``lambda.amazonaws.com``."""

    def credentials(self, execution: Execution) -> Mapping[str, str]:
        """AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN of the role session, renewed before
        it would expire within ``execution.lifetime``."""
        ...

    def secrets_clients(self, execution: Execution) -> SecretsClients:
        """Secrets Manager, called in-process as that role session (for the built-in rotators)."""
        ...


class BuiltinFunction(Protocol):
    """A function that ships with Tumbler and runs in its process (the built-in rotators): it acts on secrets
    only through the clients it is given, which call as the function's execution role."""

    @property
    def description(self) -> str: ...

    @property
    def environment(self) -> Mapping[str, str]:
        """Its fixed settings, shown read-only as the function's Environment."""
        ...

    def __call__(self, region: str, payload: bytes, clients: SecretsClients) -> InvokeResult:
        """Run one invocation; a function error is a result, never an exception."""
        ...


class FunctionHost(Protocol):
    """Functions by name, partial ARN or ARN: what Invoke, the Lambda operations and rotation call."""

    @property
    def builtins(self) -> Mapping[str, BuiltinFunction]:
        """The built-in functions by name: they exist in every region and are read-only."""
        ...

    def invoke(self, region: str, function: str, payload: bytes, *, redact: Secrets = nothing_to_mask) -> InvokeResult:
        """Run the function and wait for it. ``redact``: the values that must not appear in its log.

        Raises ``NotFound`` for a function that does not exist."""
        ...

    def invoke_async(self, region: str, function: str, payload: bytes) -> None:
        """An Event invocation: the function must exist now (else ``NotFound``); it runs later."""
        ...


class NoFunctions:
    """The host where no function host is assembled: no function exists."""

    builtins: Mapping[str, BuiltinFunction] = {}

    def invoke(self, region: str, function: str, payload: bytes, *, redact: Secrets = nothing_to_mask) -> InvokeResult:
        raise NotFound(function_not_found(function))

    def invoke_async(self, region: str, function: str, payload: bytes) -> None:
        raise NotFound(function_not_found(function))
