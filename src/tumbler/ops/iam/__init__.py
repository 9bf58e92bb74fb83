"""IAM operations (query protocol), one module per concept; importing this registers them all."""

from tumbler.ops.iam import entities, groups, keys, policies, roles, users  # noqa: F401 - imported for their registrations
from tumbler.ops.iam.common import operation

OPERATIONS = operation.operations
