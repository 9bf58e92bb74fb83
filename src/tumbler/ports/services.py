"""The assembled parts that operations and the rotation engine work with."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tumbler.ports.audit import AuditLog, NullAudit
from tumbler.ports.clock import Clock
from tumbler.ports.keyring import Keyring
from tumbler.ports.rotations import StartRotation, not_assembled
from tumbler.ports.runner import FunctionHost, NoFunctions
from tumbler.ports.store import Store


class Authorization(Protocol):
    """Whether a caller may run an operation: ops/authorize.py. Asked before any operation runs, by the server and
    by the in-process client alike; ``ctx`` is the operation's ``ops.context.Context``."""

    def authorize(
        self, ctx: Any, service: str, operation: str, params: Mapping[str, Any], environment: Mapping[str, str]
    ) -> None:
        """Return if the request may run; raise ``core.errors.AccessDenied`` with AWS's message if not."""
        ...

    def refusal(self, ctx: Any, service: str, operation: str, params: Mapping[str, Any]) -> str | None:
        """AWS's AccessDenied message for a request that may not run, else None: for one item of a batch."""
        ...


class NoAuthorization:
    """Allows everything: where nothing is assembled (unit tests of the engine). The server always assembles
    ops/authorize.py."""

    def authorize(
        self, ctx: Any, service: str, operation: str, params: Mapping[str, Any], environment: Mapping[str, str]
    ) -> None:
        return None

    def refusal(self, ctx: Any, service: str, operation: str, params: Mapping[str, Any]) -> str | None:
        return None


@dataclass(frozen=True)
class Services:
    store: Store
    keyring: Keyring
    clock: Clock
    account_id: str
    endpoint: str = "http://127.0.0.1:4590"  # where functions reach this server
    functions: FunctionHost = field(default_factory=NoFunctions)
    audit: AuditLog = field(default_factory=NullAudit)
    wake_rotations: Callable[[], None] = lambda: None  # tells the rotation engine new work is due
    start_rotation: StartRotation = not_assembled  # rotation/start.py, for RotateSecret
    authorization: Authorization = field(default_factory=NoAuthorization)
