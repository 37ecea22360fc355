"""Where each system lives and how to reach it, read once from the environment.

The stand-ins read the same variables for their side of the credentials, so that
the demo needs no configuration: the defaults on both sides match.

This module imports nothing but the standard library and the domain's enums:
the stand-ins, the worker and every command read it at start-up, and
``python -X importtime -c "import gateway.settings"`` stays in the milliseconds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.domain.model import System

#: The embedded store the demo and the commands use when no URL is configured.
DEFAULT_STORE_URL = "sqlite+aiosqlite:///data/gateway.db"

#: Default loopback ports of the stand-ins.
DEFAULT_PORTS: dict[System, int] = {
    System.EMPLOYMENT: 8101,
    System.LABOUR: 8102,
    System.UNEMPLOYMENT: 8103,
}

#: Default credentials, shared by the stand-ins and the gateway (demo only).
DEFAULT_EMPLOYMENT_API_KEY = "demo-employment-key"
DEFAULT_LABOUR_USERNAME = "gateway"
DEFAULT_LABOUR_PASSWORD = "demo-labour-password"  # noqa: S105
DEFAULT_UNEMPLOYMENT_USERNAME = "gateway"
DEFAULT_UNEMPLOYMENT_PASSWORD = "demo-unemployment-password"  # noqa: S105

_PREFIX = {
    System.EMPLOYMENT: "EMPLOYMENT",
    System.LABOUR: "LABOUR",
    System.UNEMPLOYMENT: "UNEMPLOYMENT",
}
_DEFAULT_USER = {
    System.EMPLOYMENT: "",
    System.LABOUR: DEFAULT_LABOUR_USERNAME,
    System.UNEMPLOYMENT: DEFAULT_UNEMPLOYMENT_USERNAME,
}
_DEFAULT_SECRET = {
    System.EMPLOYMENT: DEFAULT_EMPLOYMENT_API_KEY,
    System.LABOUR: DEFAULT_LABOUR_PASSWORD,
    System.UNEMPLOYMENT: DEFAULT_UNEMPLOYMENT_PASSWORD,
}


@dataclass(frozen=True, slots=True)
class SystemSettings:
    """How to reach one system.

    ``secret`` is the employment system's API key, or the password of the
    labour (WS-Security) and unemployment (HTTP Basic) accounts.
    """

    system: System
    url: str
    username: str
    secret: str
    timeout: float = 10.0  # overall deadline of one call, seconds
    connect_timeout: float = 2.0
    max_in_flight: int = 8  # concurrent calls, where the system has no batch query

    @classmethod
    def from_env(
        cls,
        system: System,
        environ: Mapping[str, str] | None = None,
        section: Mapping[str, object] | None = None,
    ) -> SystemSettings:
        """Settings from ``HRSS_<SYSTEM>_URL``, ``_USERNAME``, ``_PASSWORD`` (``_API_KEY``
        for employment), ``_TIMEOUT``, ``_CONNECT_TIMEOUT``, ``_MAX_IN_FLIGHT``; then
        from ``section`` (the system's table of the configuration file, same names in
        lower case); then the defaults, which match the stand-ins'."""
        env = os.environ if environ is None else environ
        file = section or {}
        p = f"HRSS_{_PREFIX[system]}_"
        secret_name = "api_key" if system is System.EMPLOYMENT else "password"

        def pick(name: str, default: object) -> str:
            value = env.get(p + name.upper(), file.get(name, default))
            return str(value)

        return cls(
            system=system,
            url=pick("url", f"http://127.0.0.1:{DEFAULT_PORTS[system]}").rstrip("/"),
            username=pick("username", _DEFAULT_USER[system]),
            secret=pick(secret_name, _DEFAULT_SECRET[system]),
            timeout=float(pick("timeout", 10)),
            connect_timeout=float(pick("connect_timeout", 2)),
            max_in_flight=int(pick("max_in_flight", 8)),
        )
