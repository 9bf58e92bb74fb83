"""The request context: the parts an operation reaches through it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast
from unittest import mock

from tumbler.ops.context import Context, Services


def test_the_context_reaches_the_services_parts() -> None:
    store, keyring = mock.sentinel.store, mock.sentinel.keyring
    services = Services(store=cast(Any, store), keyring=cast(Any, keyring), clock=cast(Any, None), account_id="1234")
    ctx = Context(services, "eu-west-1", datetime(2026, 12, 5, tzinfo=UTC))
    assert (ctx.store, ctx.keyring, ctx.account_id, ctx.region) == (store, keyring, "1234", "eu-west-1")
    assert ctx._replace(region="us-east-1").store is store
