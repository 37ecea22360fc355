"""uvicorn, on a port or on a listening socket a parent process bound: for
``serve`` (``hrss-gateway cluster`` binds one socket for its gateway processes)
and for the stand-ins (``adapters/standin/process.py`` binds each one's port)."""

from __future__ import annotations

from typing import Any


def run(app: Any, *, host: str, port: int, fd: int | None = None, **options: Any) -> None:
    """Serve ``app`` until a signal stops it; ``options`` are uvicorn's ``Config``'s.
    With ``fd``, on that listening socket (``host`` and ``port`` then only name it)."""
    import socket

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options))
    server.run(sockets=None if fd is None else [socket.socket(fileno=fd)])
