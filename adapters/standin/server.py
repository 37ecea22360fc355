"""Run one stand-in: ``hrss-gateway legacy employment|labor|unemployment``."""

from __future__ import annotations

import importlib
from typing import Any

import uvicorn

from gateway.domain.model import System
from gateway.settings import DEFAULT_PORTS, SystemSettings

#: The command-line name of each system (the legacy documents say "labor").
SYSTEMS: dict[str, System] = {
    "employment": System.EMPLOYMENT,
    "labor": System.LABOUR,
    "unemployment": System.UNEMPLOYMENT,
}


def create_app(name: str, *, data: str | None = None, seed: bool = False) -> Any:
    """The ASGI app of one stand-in, its credentials read from the environment."""
    system = SYSTEMS[name]
    module = importlib.import_module(f"adapters.{name}.standin")
    return module.create_app(data=data, seed=seed, settings=SystemSettings.from_env(system))


def serve(name: str, *, host: str, port: int | None, data: str | None, seed: bool) -> None:
    app = create_app(name, data=data, seed=seed)
    uvicorn.run(
        app,
        host=host,
        port=port or DEFAULT_PORTS[SYSTEMS[name]],
        log_level="warning",
        # Access logs would carry query strings, and some carry ID numbers.
        access_log=False,
        # commit_then_drop leaves stalled requests behind; do not wait for them.
        timeout_graceful_shutdown=1,
    )
