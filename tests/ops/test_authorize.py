"""Every operation the server serves is authorized: core.iam.actions has its facts (else authorize refuses it)."""

from __future__ import annotations

import pytest

from tumbler.core.iam.actions import OPERATIONS, UNAUTHORIZED_OPERATIONS
from tumbler.ops.iam import OPERATIONS as IAM
from tumbler.ops.lambda_ import OPERATIONS as LAMBDA
from tumbler.ops.secretsmanager import OPERATIONS as SECRETSMANAGER
from tumbler.ops.sts import OPERATIONS as STS

SERVED = [(service, name) for service, ops in (("secretsmanager", SECRETSMANAGER), ("lambda", LAMBDA),
                                               ("iam", IAM), ("sts", STS)) for name in ops]  # fmt: skip


@pytest.mark.parametrize(("service", "operation"), SERVED)
def test_every_served_operation_has_its_facts(service: str, operation: str) -> None:
    assert (service, operation) in OPERATIONS or (service, operation) in UNAUTHORIZED_OPERATIONS
