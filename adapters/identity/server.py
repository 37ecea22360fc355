"""Run the identity stand-in: ``hrss-gateway legacy identity``."""

from __future__ import annotations

from adapters.identity.config import DEFAULT_PORT, IdentitySettings
from adapters.identity.provider import create_app
from adapters.standin.serving import run


def serve(
    *, host: str, port: int | None, data: str | None, seed: bool, fd: int | None = None
) -> None:
    port = port or DEFAULT_PORT
    app = create_app(data=data, seed=seed, settings=IdentitySettings.from_env(port))
    run(app, host=host, port=port, fd=fd)
