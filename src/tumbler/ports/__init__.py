"""The small interfaces the core and the operations call; adapters implement them.

Import from here: a port that moves between modules keeps its name (tests/test_ports.py guards it).
"""

from tumbler.ports.audit import AuditLog, NullAudit
from tumbler.ports.clock import Clock
from tumbler.ports.keyring import Keyring
from tumbler.ports.runner import FunctionRunner, FunctionSpec, InvokeRequest, InvokeResult
from tumbler.ports.services import Services
from tumbler.ports.store import TABLES, AccessKey, FunctionRecord, Reader, Store, StoredValue, UnitOfWork, ValueRead
from tumbler.ports.target import CloneUser, Credentials, RotationTarget, SetPassword, TargetError

__all__ = [
    "TABLES",
    "AccessKey",
    "AuditLog",
    "Clock",
    "CloneUser",
    "Credentials",
    "FunctionRecord",
    "FunctionRunner",
    "FunctionSpec",
    "InvokeRequest",
    "InvokeResult",
    "Keyring",
    "NullAudit",
    "Reader",
    "RotationTarget",
    "Services",
    "SetPassword",
    "Store",
    "StoredValue",
    "TargetError",
    "UnitOfWork",
    "ValueRead",
]
