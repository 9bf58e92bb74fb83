"""Lambda operations, one module per concept; importing this registers them all."""

from tumbler.ops.lambda_ import functions, invoke, permissions  # noqa: F401 - imported for their @operation registrations
from tumbler.ops.lambda_.common import operation

OPERATIONS = operation.operations
