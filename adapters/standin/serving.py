"""A stand-in's HTTP server, on a port or on the socket its starter bound."""

from __future__ import annotations

from typing import Any

from gateway.serving import run as serve


def run(app: Any, *, host: str, port: int, fd: int | None) -> None:
    """Serve ``app`` on ``host:port``, or on the listening socket ``fd`` that the
    process starting it bound (``adapters.standin.process``): then no other
    process can take the port between its choice and the stand-in's start."""
    serve(
        app,
        host=host,
        port=port,
        fd=fd,
        log_level="warning",
        # Access logs would carry query strings: ID numbers in some systems',
        # authorization codes and states in the identity provider's.
        access_log=False,
        # commit_then_drop leaves stalled requests behind; do not wait for them.
        timeout_graceful_shutdown=1,
    )
