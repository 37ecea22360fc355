"""Where each system lives and how to reach it, read once from the environment.

The stand-ins read the same variables for their side of the credentials, so that
the demo needs no configuration: the defaults on both sides match.

Each system declares its own variables and defaults (``SystemSpec.settings``,
``gateway.registry``); the three older systems read theirs through
``SystemSettings.read``. This module imports nothing but the standard library
and the domain's enums:
the stand-ins, the worker and every command read it at start-up, and
``python -X importtime -c "import gateway.settings"`` stays in the milliseconds.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.domain.model import System

#: The embedded store the demo and the commands use when no URL is configured.
DEFAULT_STORE_URL = "sqlite+aiosqlite:///data/gateway.db"


def sqlite_file(store_url: str) -> str | None:
    """The file of a SQLite store URL (relative to the working directory, as the
    driver opens it), or None for any other store."""
    from sqlalchemy.engine import make_url  # here: building a parser loads no SQLAlchemy

    url = make_url(store_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return url.database


#: Older names of defaults that now live with each system (``adapters/<package>/system.py``).
_MOVED = {
    "DEFAULT_EMPLOYMENT_API_KEY": ("adapters.employment.system", "DEFAULT_API_KEY"),
    "DEFAULT_LABOUR_USERNAME": ("adapters.labor.system", "DEFAULT_USERNAME"),
    "DEFAULT_LABOUR_PASSWORD": ("adapters.labor.system", "DEFAULT_PASSWORD"),
    "DEFAULT_UNEMPLOYMENT_USERNAME": ("adapters.unemployment.system", "DEFAULT_USERNAME"),
    "DEFAULT_UNEMPLOYMENT_PASSWORD": ("adapters.unemployment.system", "DEFAULT_PASSWORD"),
}


def __getattr__(name: str) -> Any:
    """``DEFAULT_PORTS`` and the demo credentials, where they used to be."""
    if name == "DEFAULT_PORTS":
        from gateway.registry import registry

        return {s.system: s.standin.port for s in registry() if s.standin is not None}
    if name in _MOVED:
        module, attribute = _MOVED[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    def read(
        cls,
        system: System,
        environ: Mapping[str, str],
        section: Mapping[str, object],
        *,
        port: int,
        secret: str,
        secret_name: str = "password",  # noqa: S107 - the setting's name, not a secret
        username: str = "",
    ) -> SystemSettings:
        """Settings from ``HRSS_<SYSTEM>_URL``, ``_USERNAME``, ``_<SECRET_NAME>``,
        ``_TIMEOUT``, ``_CONNECT_TIMEOUT``, ``_MAX_IN_FLIGHT``; then from ``section``
        (the system's table of the configuration file, same names in lower case);
        then the defaults given, which match the stand-in's."""
        p = f"HRSS_{system.value.upper()}_"

        def pick(name: str, default: object) -> str:
            return str(environ.get(p + name.upper(), section.get(name, default)))

        def number(name: str, default: float, cast: type[float] | type[int]) -> Any:
            raw = pick(name, default)
            try:
                return cast(raw)
            except ValueError:
                where = p + name.upper() if p + name.upper() in environ else name
                what = "a whole number" if cast is int else "a number"
                raise ValueError(f"{where}: expected {what}, not {raw[:40]!r}") from None

        return cls(
            system=system,
            url=pick("url", f"http://127.0.0.1:{port}").rstrip("/"),
            username=pick("username", username),
            secret=pick(secret_name, secret),
            timeout=number("timeout", 10, float),
            connect_timeout=number("connect_timeout", 2, float),
            max_in_flight=number("max_in_flight", 8, int),
        )

    @classmethod
    def from_env(
        cls,
        system: System,
        environ: Mapping[str, str] | None = None,
        section: Mapping[str, object] | None = None,
    ) -> SystemSettings:
        """The settings of ``system`` as its package reads them (``SystemSpec.settings``),
        for the systems whose settings are of this shape."""
        from gateway.registry import registry

        env = os.environ if environ is None else environ
        settings = registry().get(system).settings(env, section or {})
        if not isinstance(settings, SystemSettings):
            raise TypeError(f"the {system} system has settings of its own shape")
        return settings
