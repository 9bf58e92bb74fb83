"""The HTTP server under the app: uvicorn with httptools and uvloop, each response sent in one write.

uvicorn writes a response's status line and headers as soon as the app sends
``http.response.start``, and the body on the next message: two ``send`` calls a response, and a
client waiting on its socket is woken twice. On a 2-vCPU VM those wake-ups were a third of the
server's CPU for a GetSecretValue. Writes made in one turn of the event loop are now joined and
sent at the start of the next (``benchmarks/README.md`` has the figures).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Past this, buffered bytes are sent at once: an app streaming a large body in one turn of the loop
# must meet the socket's own flow control, not fill memory here.
FLUSH_AT = 64 * 1024


class OneWriteTransport(asyncio.Transport):
    """A transport whose writes in one turn of the event loop reach the socket as one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))
        self._size += len(data)
        if self._size >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        pending, self._pending, self._size = self._pending, [], 0
        if not pending or self._transport.is_closing():
            return  # nothing held, or the connection went away: as a write to a closed transport
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending, self._size = [], 0
        self._transport.abort()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        return self._size + self._transport.get_write_buffer_size()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()


class OneWriteHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a ``OneWriteTransport``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWriteTransport(transport, self.loop))


def server_options(host: str, port: int) -> dict[str, Any]:
    """``uvicorn.run``'s settings for Tumbler, and for the benchmarks' Python ceiling beside it."""
    return {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": OneWriteHttpProtocol,
        "access_log": False,
        "log_level": "warning",
        # No X-Forwarded-* rewriting: nothing here reads the client's address, and it costs every request.
        "proxy_headers": False,
    }
