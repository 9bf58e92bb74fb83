"""The assembled parts that operations and the rotation engine work with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tumbler.ports.audit import AuditLog, NullAudit
from tumbler.ports.clock import Clock
from tumbler.ports.keyring import Keyring
from tumbler.ports.rotations import StartRotation, not_assembled
from tumbler.ports.runner import FunctionHost, NoFunctions
from tumbler.ports.store import Store


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
