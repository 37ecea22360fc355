"""Run one stand-in: ``hrss-gateway legacy <system>``, for every registered system.

Which stand-in, on which default port, with which credentials: each system's
registration says (``SystemSpec.standin``, ``gateway.registry``).
"""

from __future__ import annotations

import os
from typing import Any

from gateway.domain.model import System
from gateway.registry import registry

#: Every name the command line takes for a stand-in (older spellings included),
#: and its system.
SYSTEMS: dict[str, System] = {
    name: spec.system
    for spec in registry()
    if spec.standin is not None
    for name in (spec.cli_name, *spec.aliases)
}


def create_app(name: str, *, data: str | None = None, seed: bool = False) -> Any:
    """The ASGI app of one stand-in, its credentials read from the environment.

    ``name`` is any name of the system (``labour``, or the older ``labor``)."""
    spec = registry().named(name)
    if spec.standin is None:
        raise KeyError(f"the {spec.key} system has no stand-in")
    return spec.standin.app(spec.settings(os.environ, {}), data, seed)


def default_port(name: str) -> int:
    standin = registry().named(name).standin
    if standin is None:
        raise KeyError(f"no stand-in is called {name!r}")
    return standin.port


def serve(
    name: str,
    *,
    host: str,
    port: int | None,
    data: str | None,
    seed: bool,
    fd: int | None = None,
) -> None:
    from adapters.standin.serving import run

    run(create_app(name, data=data, seed=seed), host=host, port=port or default_port(name), fd=fd)
