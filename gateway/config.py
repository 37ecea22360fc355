"""The gateway's configuration: a TOML file, overridden by environment variables.

Read once at start-up. Every setting has a default that runs the demo on one
machine; ``docs/configuration.md`` lists them all.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.domain.model import System
from gateway.settings import SystemSettings

DEFAULT_STORE_URL = "sqlite+aiosqlite:///data/gateway.db"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    store_url: str = DEFAULT_STORE_URL
    cache_url: str = "memory://"  # or redis://host:port/db, shared by several gateways
    token_secret: str | None = None  # required outside demo mode
    token_ttl_s: int = 8 * 3600
    audit_key: str | None = None  # HMAC key for worker references in the audit log
    worker_cache_ttl_s: float = 30.0  # a worker's records, invalidated by our own writes
    employer_cache_ttl_s: float = 600.0  # employer bindings
    account_cache_ttl_s: float = 5.0  # signed-in accounts: how long a disabling may take
    #: Roles that see full ID and mobile numbers in a single-worker query.
    reveal_roles: tuple[str, ...] = ("employer", "clerk")
    #: Separate (per-system) handling is refused from this date (鲁人社字〔2020〕129号).
    transition_start: dt.date = dt.date(2020, 11, 1)
    mandatory_from: dt.date = dt.date(2021, 5, 1)
    #: How long one step may take, retries included, before it needs attention.
    step_deadline_s: float = 24 * 3600
    #: How long idempotency keys are kept (at least 24 hours).
    idempotency_ttl_s: float = 48 * 3600
    #: Carry registrations out in the background of ``serve`` (else: ``hrss-gateway worker``).
    run_worker: bool = True
    worker_concurrency: int = 16
    graphiql: bool = False
    demo: bool = False
    data_dir: str = "data"
    systems: dict[System, SystemSettings] = field(default_factory=dict)

    def system(self, system: System) -> SystemSettings:
        return self.systems[system]

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> GatewayConfig:
        """The file's ``[gateway]`` and ``[systems.<name>]`` tables, then ``HRSS_*``
        variables, then ``overrides`` (command-line flags)."""
        env = os.environ if environ is None else environ
        doc: dict[str, Any] = {}
        if path:
            with open(path, "rb") as f:
                doc = tomllib.load(f)
        gw: dict[str, Any] = dict(doc.get("gateway", {}))
        systems_doc: dict[str, Any] = doc.get("systems", {})

        def pick(name: str, default: Any, cast: Any = str) -> Any:
            raw = env.get("HRSS_" + name.upper(), gw.get(name, default))
            if raw is None:
                return None
            if cast is bool and isinstance(raw, str):
                return raw.strip().lower() in ("1", "true", "yes", "on")
            return cast(raw)

        d = cls()
        values: dict[str, Any] = {
            "host": pick("host", d.host),
            "port": pick("port", d.port, int),
            "store_url": pick("store_url", d.store_url),
            "cache_url": pick("cache_url", d.cache_url),
            "token_secret": pick("token_secret", None),
            "token_ttl_s": pick("token_ttl_s", d.token_ttl_s, int),
            "audit_key": pick("audit_key", None),
            "worker_cache_ttl_s": pick("worker_cache_ttl_s", d.worker_cache_ttl_s, float),
            "employer_cache_ttl_s": pick("employer_cache_ttl_s", d.employer_cache_ttl_s, float),
            "account_cache_ttl_s": pick("account_cache_ttl_s", d.account_cache_ttl_s, float),
            "transition_start": pick("transition_start", d.transition_start, _date),
            "mandatory_from": pick("mandatory_from", d.mandatory_from, _date),
            "step_deadline_s": pick("step_deadline_s", d.step_deadline_s, float),
            "idempotency_ttl_s": pick("idempotency_ttl_s", d.idempotency_ttl_s, float),
            "run_worker": pick("run_worker", d.run_worker, bool),
            "worker_concurrency": pick("worker_concurrency", d.worker_concurrency, int),
            "graphiql": pick("graphiql", d.graphiql, bool),
            "data_dir": pick("data_dir", d.data_dir),
        }
        roles = env.get("HRSS_REVEAL_ROLES", gw.get("reveal_roles"))
        if roles is not None:
            values["reveal_roles"] = tuple(
                r.strip() for r in (roles.split(",") if isinstance(roles, str) else roles)
            )
        values["systems"] = {
            system: SystemSettings.from_env(system, env, systems_doc.get(_FILE_NAMES[system], {}))
            for system in System
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _date(value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value  # TOML has dates of its own
    return dt.date.fromisoformat(str(value))


#: Names of the systems' tables in the configuration file.
_FILE_NAMES = {
    System.EMPLOYMENT: "employment",
    System.LABOUR: "labor",
    System.UNEMPLOYMENT: "unemployment",
}
