"""The small interfaces the core and the operations call; adapters implement them.

Import from here: a port that moves between modules keeps its name (tests/test_ports.py guards it).
"""

from tumbler.ports.audit import AuditLog, NullAudit
from tumbler.ports.clock import Clock
from tumbler.ports.keyring import Keyring
from tumbler.ports.rotations import RotationStart, StartRotation
from tumbler.ports.runner import (
    BuiltinFunction,
    FunctionHost,
    FunctionRunner,
    FunctionSpec,
    InvokeRequest,
    InvokeResult,
    NoFunctions,
)
from tumbler.ports.secrets_client import SecretsClient, SecretsClientError, SecretsClients
from tumbler.ports.services import Services
from tumbler.ports.store import TABLES, AccessKey, FunctionRecord, Reader, Store, StoredValue, UnitOfWork, ValueRead
from tumbler.ports.target import CloneUser, Credentials, EngineFacts, RotationTarget, SetPassword, TargetError, Targets

__all__ = [
    "TABLES",
    "AccessKey",
    "AuditLog",
    "BuiltinFunction",
    "Clock",
    "CloneUser",
    "Credentials",
    "EngineFacts",
    "FunctionHost",
    "FunctionRecord",
    "FunctionRunner",
    "FunctionSpec",
    "InvokeRequest",
    "InvokeResult",
    "Keyring",
    "NoFunctions",
    "NullAudit",
    "Reader",
    "RotationStart",
    "RotationTarget",
    "SecretsClient",
    "SecretsClientError",
    "SecretsClients",
    "Services",
    "SetPassword",
    "StartRotation",
    "Store",
    "StoredValue",
    "TargetError",
    "Targets",
    "UnitOfWork",
    "ValueRead",
]
