"""Servers of other shapes than the stand-ins, for the adapters' tests.

The adapters must work with any server that honours a contract, not only with
our stand-ins. A test writes such a server as a small ASGI app (usually one
that forwards to the stand-in and rewrites its answers in a way the contract
allows) and serves it here: uvicorn on a free loopback port, in a thread with
its own event loop, so that the adapter meets it over real HTTP.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn
from starlette.requests import Request

from adapters.standin.process import free_port

#: Request headers a forwarding server does not pass on (httpx sets its own).
_HOP_HEADERS = frozenset({"host", "content-length", "connection", "accept-encoding"})


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` on a free loopback port; its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"server-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def forward(request: Request, upstream: str) -> httpx.Response:
    """``request`` sent on to ``upstream`` (same method, path, query, headers and body)."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.request(
            request.method,
            upstream + request.url.path,
            params=request.query_params.multi_items(),
            content=await request.body(),
            headers=headers,
        )
