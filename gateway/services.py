"""What lives as long as the gateway process: the adapters, the store, the cache.

Built once at start-up from the configuration and shared by every request;
each request gets its own context (``gateway/schema/context.py``) on top.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.employment import EmploymentAdapter
from adapters.labor import LabourAdapter
from adapters.unemployment import UnemploymentAdapter
from gateway.auth import ConfigurationError, HashParams, Passwords, load_or_create_secret
from gateway.cache import GatewayCache
from gateway.config import GatewayConfig
from gateway.domain.model import System
from gateway.registrations.policy import utc_now

if TYPE_CHECKING:
    from gateway.registrations.engine import Engine
from gateway.registrations.service import Registrar
from gateway.store import Store
from gateway.systems import (
    AdapterError,
    EmploymentSystem,
    LabourSystem,
    SystemAdapter,
    UnemploymentSystem,
)


@dataclass
class Gateway:
    config: GatewayConfig
    employment: EmploymentSystem
    labour: LabourSystem
    unemployment: UnemploymentSystem
    store: Store
    cache: GatewayCache
    token_secret: bytes
    audit_key: bytes
    #: The gateway's clock (UTC); tests move it to try the policy's dates.
    clock: Callable[[], dt.datetime] = utc_now
    #: Set when a registration is stored, so that this process's worker starts at once.
    work_submitted: asyncio.Event = field(default_factory=asyncio.Event)
    registrar: Registrar = field(init=False)

    def __post_init__(self) -> None:
        # Through a lambda, so that moving ``clock`` later moves the registrar's too.
        self.registrar = Registrar(
            self.store,
            self.config,
            clock=lambda: self.clock(),
            on_submitted=self.work_submitted.set,
        )

    @property
    def adapters(self) -> dict[System, SystemAdapter]:
        return {
            System.EMPLOYMENT: self.employment,
            System.LABOUR: self.labour,
            System.UNEMPLOYMENT: self.unemployment,
        }

    @classmethod
    async def start(cls, config: GatewayConfig) -> Gateway:
        token_secret = _secret(config, config.token_secret, "token.secret", "HRSS_TOKEN_SECRET")
        audit_key = _secret(config, config.audit_key, "audit.key", "HRSS_AUDIT_KEY")
        store = await Store.open(
            config.store_url, passwords=Passwords(HashParams.from_env()), audit_key=audit_key
        )
        return cls(
            config=config,
            employment=EmploymentAdapter.from_settings(config.system(System.EMPLOYMENT)),
            labour=LabourAdapter.from_settings(config.system(System.LABOUR)),
            unemployment=UnemploymentAdapter.from_settings(config.system(System.UNEMPLOYMENT)),
            store=store,
            cache=GatewayCache(
                config.cache_url,
                # Cache keys are keyed hashes of ID numbers; a key of its own for them.
                key_secret=hmac.new(audit_key, b"cache-keys", hashlib.sha256).digest(),
                worker_ttl_s=config.worker_cache_ttl_s,
                employer_ttl_s=config.employer_cache_ttl_s,
            ),
            token_secret=token_secret,
            audit_key=audit_key,
        )

    def engine_control(self) -> Engine:
        """An engine for a clerk's retry or cancel (the worker loop runs elsewhere)."""
        from gateway.registrations.engine import engine_for

        return engine_for(self)

    async def readiness(self) -> dict[System, str | None]:
        """Each system: None when it answers, else why not (no personal data)."""

        async def check(adapter: SystemAdapter) -> str | None:
            try:
                await adapter.ping()
            except AdapterError as exc:
                return type(exc).__name__
            return None

        results = await asyncio.gather(*(check(a) for a in self.adapters.values()))
        return dict(zip(self.adapters, results, strict=True))

    async def close(self) -> None:
        for adapter in self.adapters.values():
            await adapter.aclose()
        await self.cache.close()
        await self.store.close()


def _secret(config: GatewayConfig, value: str | None, demo_file: str, name: str) -> bytes:
    """A configured secret; in demo mode one kept in the data folder, made on first start."""
    if value:
        return value.encode()
    if not config.demo:
        raise ConfigurationError(f"{name} must be set outside demo mode")
    return load_or_create_secret(Path(config.data_dir) / demo_file)
