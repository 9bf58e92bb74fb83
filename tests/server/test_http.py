"""The HTTP layer: uvicorn's protocol sends each response in one write, and loses or reorders nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from tumbler.server.http import FLUSH_AT, OneWriteHttpProtocol, OneWriteTransport

REQUEST = b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    """The socket's side: what was written, in which calls, and what happened to the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))
        self.events.append("write")

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 80), "peername": ("127.0.0.1", 5000)}.get(name, default)

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


App = Callable[[Any, Any, Any], Awaitable[None]]


async def plain_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    body = b'{"ok":true}'
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


async def serve_once(protocol_class: type[HttpToolsProtocol], app: App, data: bytes) -> RecordingTransport:
    config = uvicorn.Config(app, http=protocol_class, lifespan="off", log_level="warning")
    config.load()
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop())
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(data)
    for _ in range(20):  # a few turns of the loop: the app's task, then the flush
        await asyncio.sleep(0)
    protocol.connection_lost(None)
    return transport


def test_a_response_goes_out_in_one_write() -> None:
    sent = asyncio.run(serve_once(OneWriteHttpProtocol, plain_app, REQUEST))
    assert len(sent.writes) == 1
    head, _, body = sent.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body == b'{"ok":true}'
    # uvicorn's own protocol makes two writes of the same bytes: the case this layer is for
    plain = asyncio.run(serve_once(HttpToolsProtocol, plain_app, REQUEST))
    assert len(plain.writes) == 2
    assert b"".join(plain.writes) == sent.writes[0]


def test_pipelined_requests_are_answered_in_order() -> None:
    sent = asyncio.run(serve_once(OneWriteHttpProtocol, plain_app, REQUEST * 3))
    assert b"".join(sent.writes).count(b"HTTP/1.1 200 OK") == 3


def test_writes_in_one_turn_become_one_and_close_sends_them_first() -> None:
    async def scenario() -> RecordingTransport:
        inner = RecordingTransport()
        transport = OneWriteTransport(inner, asyncio.get_running_loop())
        transport.write(b"a")
        transport.write(bytearray(b"b"))
        assert inner.writes == []  # held until the turn ends
        await asyncio.sleep(0)
        assert inner.writes == [b"ab"]
        transport.write(b"c")
        transport.close()  # e.g. a 400 answer followed by close(): the answer must go first
        await asyncio.sleep(0)
        return inner

    inner = asyncio.run(scenario())
    assert inner.writes == [b"ab", b"c"]
    assert inner.events == ["write", "write", "close"]


def test_a_large_write_goes_at_once() -> None:
    async def scenario() -> RecordingTransport:
        inner = RecordingTransport()
        transport = OneWriteTransport(inner, asyncio.get_running_loop())
        transport.write(b"h")
        transport.write(b"x" * FLUSH_AT)
        assert inner.writes == [b"h" + b"x" * FLUSH_AT]  # not held: the socket's flow control applies
        await asyncio.sleep(0)
        return inner

    assert len(asyncio.run(scenario()).writes) == 1


@pytest.mark.parametrize("end", ["abort", "peer_closed"])
def test_nothing_is_written_after_the_connection_ends(end: str) -> None:
    async def scenario() -> RecordingTransport:
        inner = RecordingTransport()
        transport = OneWriteTransport(inner, asyncio.get_running_loop())
        transport.write(b"late")
        if end == "abort":
            transport.abort()
        else:
            inner.closing = True
        await asyncio.sleep(0)
        assert transport.get_write_buffer_size() == 0
        return inner

    assert asyncio.run(scenario()).writes == []
