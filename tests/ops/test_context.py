"""The request context and the checks every Secrets Manager operation shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast
from unittest import mock

import pytest

from tumbler.core.errors import InvalidInput
from tumbler.ops.context import ROOT, Context, Services, context_of
from tumbler.ops.secretsmanager.common import check_secret_id


def test_the_context_reaches_the_services_parts() -> None:
    store, keyring = mock.sentinel.store, mock.sentinel.keyring
    services = Services(store=cast(Any, store), keyring=cast(Any, keyring), clock=cast(Any, None), account_id="1234")
    ctx = Context(services, "eu-west-1", datetime(2026, 12, 5, tzinfo=UTC))
    assert (ctx.store, ctx.keyring, ctx.account_id, ctx.region) == (store, keyring, "1234", "eu-west-1")
    assert ctx._replace(region="us-east-1").store is store


def test_context_of_makes_the_same_context_as_the_class() -> None:
    services = Services(store=cast(Any, None), keyring=cast(Any, None), clock=cast(Any, None), account_id="1234")
    now = datetime(2026, 12, 5, tzinfo=UTC)
    assert Context._fields == ("services", "region", "now", "principal")  # context_of is given all of them
    made = context_of((services, "eu-west-1", now, ROOT))
    assert type(made) is Context
    assert made == Context(services, "eu-west-1", now)
    assert (made.region, made.now, made.principal, made.account_id) == ("eu-west-1", now, "root", "1234")


def test_a_remembered_secret_id_check_still_refuses_a_bad_one_every_time() -> None:
    assert check_secret_id("prod/db") == check_secret_id("prod/db") == "prod/db"
    for _ in range(2):  # a refusal is never remembered as an answer
        with pytest.raises(InvalidInput):
            check_secret_id("prod db")
