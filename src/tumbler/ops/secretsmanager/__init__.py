"""Secrets Manager operations, one module per concept; importing this registers them all."""

from tumbler.ops.secretsmanager import (  # noqa: F401 - imported for their @operation registrations
    listing,
    passwords,
    policy,
    replication,
    rotation,
    secrets,
    stages,
    tags,
    values,
)
from tumbler.ops.secretsmanager.common import operation

OPERATIONS = operation.operations
