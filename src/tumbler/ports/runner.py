"""The function-runner port: run a Lambda function's Python handler, outside the server process.

The runner behaves as AWS Lambda's Python runtime does for the function: the same
environment variables, context object, logging, error payloads and warm reuse of
execution environments. What it returns is what the Lambda ``Invoke`` API answers.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


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


@dataclass(frozen=True)
class InvokeRequest:
    event: bytes  # the JSON payload
    request_id: str
    credentials: Mapping[str, str]  # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
    endpoint: str  # the Tumbler endpoint URL the function calls back
    region: str
    redact: Sequence[str] = ()  # strings (secret values) that must never appear in the log


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
