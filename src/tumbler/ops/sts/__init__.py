"""STS operations (query protocol); importing this registers them."""

from tumbler.ops.sts import sessions  # noqa: F401 - imported for its registrations
from tumbler.ops.sts.sessions import operation

OPERATIONS = operation.operations
