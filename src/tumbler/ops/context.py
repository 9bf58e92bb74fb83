"""What an operation gets to work with: the assembled parts and the request's identity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tumbler.ports.keyring import Keyring
from tumbler.ports.services import Services
from tumbler.ports.store import Store

Params = dict[str, Any]
Result = dict[str, Any]

ROOT = "root"  # the principal of a request signed with the admin key


@dataclass(frozen=True, slots=True)
class Context:
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


Operation = Callable[[Context, Params], Result]


@dataclass(frozen=True)
class Registered:
    func: Operation
    # Point reads answer from one indexed lookup and may run on the event loop; everything else
    # (writes, listings, anything that may scan or wait) runs in a worker thread.
    on_event_loop: bool


class Registry:
    """Operations of one service by their model name."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.operations: dict[str, Registered] = {}

    def __call__(self, name: str, *, on_event_loop: bool = False) -> Callable[[Operation], Operation]:
        def register(func: Operation) -> Operation:
            self.operations[name] = Registered(func, on_event_loop)
            return func

        return register
