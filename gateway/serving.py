"""uvicorn, on a port or on a listening socket a parent process bound: for
``serve`` (``hrss-gateway cluster`` binds one socket for its gateway processes)
and for the stand-ins (``adapters/standin/process.py`` binds each one's port)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.profile import RequestLimits


def run(app: Any, *, host: str, port: int, fd: int | None = None, **options: Any) -> None:
    """Serve ``app`` until a signal stops it; ``options`` are uvicorn's ``Config``'s.
    With ``fd``, on that listening socket (``host`` and ``port`` then only name it)."""
    import socket

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options))
    server.run(sockets=None if fd is None else [socket.socket(fileno=fd)])


def gateway_options(limits: RequestLimits) -> dict[str, Any]:
    """uvicorn's settings that the gateway's request limits decide: a WebSocket
    message may be as large as a request body and no larger (uvicorn's own limit is
    16 MiB; one over is answered by closing the socket with 1009, message too big)."""
    return {"ws_max_size": limits.max_body_bytes}
