"""How the ASGI app reads a request body: in one message or in parts, and never past its limit."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest

from tumbler.server.app import MAX_BODY, App, Message


def _call(app: App, path: str, method: str, parts: list[bytes]) -> tuple[int, dict[str, Any]]:
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": []}  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


@pytest.fixture
def app() -> App:
    return App(cast(Any, None), cast(Any, None))  # what these requests reach needs neither


@pytest.mark.parametrize(
    "parts",
    [[b"x" * (MAX_BODY + 1)], [b"x" * (MAX_BODY // 2)] * 3, [b"x" * MAX_BODY, b"x"]],
    ids=["one message", "three parts", "one byte over in the last part"],
)
def test_a_body_over_the_limit_is_refused(app: App, parts: list[bytes]) -> None:
    status, answer = _call(app, "/", "POST", parts)
    assert (status, answer["__type"]) == (413, "RequestEntityTooLargeException")


@pytest.mark.parametrize("parts", [[b""], [b"{}"], [b"{", b"}"], [b"x" * (MAX_BODY // 2), b"x" * (MAX_BODY // 2)]])
def test_a_body_within_the_limit_is_read_whole(app: App, parts: list[bytes]) -> None:
    assert _call(app, "/_tumbler/health", "GET", parts) == (200, {"status": "ok"})


def test_a_disconnect_before_the_body_is_whole_answers_nothing(app: App) -> None:
    messages: list[Message] = [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/_tumbler/health", "raw_path": b"/_tumbler/health",
             "query_string": b"", "headers": []}  # fmt: skip
    asyncio.run(app(scope, receive, send))
    assert sent == []  # the health check (or any operation) never ran on half a body
