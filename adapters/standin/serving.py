"""A stand-in's HTTP server: uvicorn, on a port or on a socket its parent bound."""

from __future__ import annotations

import socket
from typing import Any

import uvicorn


def run(app: Any, *, host: str, port: int, fd: int | None) -> None:
    """Serve ``app`` on ``host:port``, or on the listening socket ``fd`` that the
    process starting it bound (``adapters.standin.process``): then no other
    process can take the port between its choice and the stand-in's start."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        # Access logs would carry query strings: ID numbers in some systems',
        # authorization codes and states in the identity provider's.
        access_log=False,
        # commit_then_drop leaves stalled requests behind; do not wait for them.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    server.run(sockets=None if fd is None else [socket.socket(fileno=fd)])
