"""The Python ceiling: an ASGI app that reads the request and answers a fixed body, nothing else.

Served by ``tumbler server``'s own HTTP stack (``tumbler.server.http.server_options``: uvicorn,
httptools, uvloop, one write a response), it is the fastest any Python server can answer on this
machine: Tumbler's figures are read against it. Run as ``python -m benchmarks.ceiling_app PORT WORKERS``.
The body is read from the file named by CEILING_BODY (Tumbler's own GetSecretValue answer).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

BODY = Path(os.environ["CEILING_BODY"]).read_bytes()
HEADERS = [
    (b"content-type", b"application/x-amz-json-1.1"),
    (b"x-amzn-requestid", b"00000000-0000-4000-8000-000000000000"),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
) -> None:
    assert scope["type"] == "http"  # run with --lifespan off
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    import uvicorn

    from tumbler.server.http import server_options

    port, workers = int(sys.argv[1]), int(sys.argv[2])
    options = server_options("127.0.0.1", port)
    uvicorn.run("benchmarks.ceiling_app:app", workers=workers, lifespan="off", **options)


if __name__ == "__main__":
    main()
