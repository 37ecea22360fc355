"""Run the identity stand-in: ``hrss-gateway legacy identity``."""

from __future__ import annotations

import uvicorn

from adapters.identity.config import DEFAULT_PORT, IdentitySettings
from adapters.identity.provider import create_app


def serve(*, host: str, port: int | None, data: str | None, seed: bool) -> None:
    port = port or DEFAULT_PORT
    app = create_app(data=data, seed=seed, settings=IdentitySettings.from_env(port))
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        # Query strings carry authorization codes and states.
        access_log=False,
        timeout_graceful_shutdown=1,
    )
