"""What an operation gets to work with: the assembled parts and the request's identity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tumbler.core.iam import Principal, PrincipalKind
from tumbler.ports.keyring import Keyring
from tumbler.ports.services import Services
from tumbler.ports.store import Store

Params = dict[str, Any]
Result = dict[str, Any]


def root_principal(account_id: str) -> Principal:
    """The account root: the admin key's principal, and any caller in ``--dev`` mode."""
    return Principal(PrincipalKind.ROOT, f"arn:aws:iam::{account_id}:root", account_id, account_id)


_ROOT = Principal(PrincipalKind.ROOT, "")  # stands for the root of the context's account


@dataclass(frozen=True, slots=True)
class Context:
    """``caller``: who signed the request (the account root when not given); ``access_key_id``: the key it signed
    with ("" for the root's), which names an STS session and so its session policy (``principal_policies``)."""

    services: Services
    region: str
    now: datetime
    caller: Principal = _ROOT
    access_key_id: str = ""

    def __post_init__(self) -> None:
        if self.caller is _ROOT:
            object.__setattr__(self, "caller", root_principal(self.services.account_id))

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
    # Point reads answer from one indexed lookup and may run on the event loop; a listing, which pages
    # through many secrets, runs in the server's scan process (server/scans.py); everything else
    # (writes, anything that may wait) runs in a worker thread.
    on_event_loop: bool = False
    in_scan_process: bool = False


class Registry:
    """Operations of one service by their model name."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.operations: dict[str, Registered] = {}

    def __call__(
        self, name: str, *, on_event_loop: bool = False, in_scan_process: bool = False
    ) -> Callable[[Operation], Operation]:
        def register(func: Operation) -> Operation:
            self.operations[name] = Registered(func, on_event_loop, in_scan_process)
            return func

        return register
