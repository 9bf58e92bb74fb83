"""What an operation gets to work with: the assembled parts and the request's identity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from operator import attrgetter
from typing import Any, NamedTuple, cast

from tumbler.ports.audit import AuditLog, NullAudit
from tumbler.ports.clock import Clock
from tumbler.ports.keyring import Keyring
from tumbler.ports.store import Store

Params = dict[str, Any]
Result = dict[str, Any]


@dataclass(frozen=True)
class Services:
    store: Store
    keyring: Keyring
    clock: Clock
    account_id: str
    endpoint: str = "http://127.0.0.1:4590"  # where functions reach this server
    functions: Any = None  # the FunctionHost (ports/runner.py) once the Lambda API is assembled
    audit: AuditLog = field(default_factory=NullAudit)
    wake_rotations: Callable[[], None] = lambda: None  # tells the rotation engine new work is due


ROOT = "root"  # the principal of a request signed with the admin key: until IAM, every request's


class Context(NamedTuple):  # immutable, and built on every request: a tuple costs half a frozen dataclass
    services: Services
    region: str
    now: datetime
    principal: str = ROOT

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def keyring(self) -> Keyring:
        return self.services.keyring

    @property
    def account_id(self) -> str:
        return self.services.account_id


# The same getters in C, in place of the three properties above: every request asks for the store and the
# keyring, and a Python property is a call. The typed bodies above never run; they stay because mypy reads
# them and allows nothing but fields and methods in a NamedTuple's body.
for _part in ("store", "keyring", "account_id"):
    setattr(Context, _part, property(attrgetter(f"services.{_part}")))

# A request's Context from all four fields, in C: ``Context(...)`` runs a generated Python ``__new__``.
context_of = cast(Callable[[tuple[Services, str, datetime, str]], Context], partial(tuple.__new__, Context))


Operation = Callable[[Context, Params], Result]


@dataclass(frozen=True)
class Registered:
    func: Operation
    readonly: bool  # readonly operations run on the event loop; writers in a thread


class Registry:
    """Operations of one service by their model name."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.operations: dict[str, Registered] = {}

    def __call__(self, name: str, *, readonly: bool = False) -> Callable[[Operation], Operation]:
        def register(func: Operation) -> Operation:
            self.operations[name] = Registered(func, readonly)
            return func

        return register
