"""Every operation of the pinned Secrets Manager model is served, or named in tests/model_gaps.py."""

from __future__ import annotations

import botocore.session

from tests.model_gaps import NOT_YET_SERVED
from tumbler.ops.secretsmanager import OPERATIONS


def model_operations() -> set[str]:
    return set(botocore.session.get_session().get_service_model("secretsmanager").operation_names)


def test_every_operation_of_the_pinned_model_is_served() -> None:
    missing = model_operations() - set(OPERATIONS)
    assert missing == set(NOT_YET_SERVED), f"not served and not listed: {sorted(missing - NOT_YET_SERVED)}"


def test_nothing_served_is_missing_from_the_model() -> None:
    assert set(OPERATIONS) <= model_operations()
