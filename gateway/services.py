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
from typing import TYPE_CHECKING, Any

import httpx

from adapters.employment import EmploymentAdapter
from adapters.employment.limits import LIMITS as EMPLOYMENT_LIMITS
from adapters.http import tls_context
from adapters.labor import LabourAdapter
from adapters.labor.limits import LIMITS as LABOUR_LIMITS
from adapters.unemployment import UnemploymentAdapter
from adapters.unemployment.limits import LIMITS as UNEMPLOYMENT_LIMITS
from gateway.auth import ConfigurationError, HashParams, Passwords, load_or_create_secret
from gateway.cache import GatewayCache
from gateway.config import GatewayConfig
from gateway.domain.limits import Limits
from gateway.domain.model import System
from gateway.http.ratelimit import LoginThrottle
from gateway.observability import GatewayMetrics, with_request_id
from gateway.oidc import OidcVerifier
from gateway.registrations.policy import utc_now
from gateway.resilience import (
    ResiliencePolicy,
    ResilientEmployment,
    ResilientLabour,
    ResilientUnemployment,
)

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

#: What each system takes (its contract's "Limits"), checked before anything is sent.
SYSTEM_LIMITS: dict[System, Limits] = {
    System.EMPLOYMENT: EMPLOYMENT_LIMITS,
    System.LABOUR: LABOUR_LIMITS,
    System.UNEMPLOYMENT: UNEMPLOYMENT_LIMITS,
}


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
    metrics: GatewayMetrics
    login_throttle: LoginThrottle
    http_clients: list[httpx.AsyncClient] = field(default_factory=list)
    #: The gateway's clock (UTC); tests move it to try the policy's dates.
    clock: Callable[[], dt.datetime] = utc_now
    #: Set when a registration is stored, so that this process's worker starts at once.
    work_submitted: asyncio.Event = field(default_factory=asyncio.Event)
    registrar: Registrar = field(init=False)
    #: Checks the identity platform's tokens; None when no provider is trusted.
    oidc: OidcVerifier | None = None

    def __post_init__(self) -> None:
        # Through a lambda, so that moving ``clock`` later moves the registrar's too.
        self.registrar = Registrar(
            self.store,
            self.config,
            clock=lambda: self.clock(),
            limits=SYSTEM_LIMITS,
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
    async def start(
        cls, config: GatewayConfig, *, metrics: GatewayMetrics | None = None
    ) -> Gateway:
        token_secret = _secret(config, config.token_secret, "token.secret", "HRSS_TOKEN_SECRET")
        audit_key = _secret(config, config.audit_key, "audit.key", "HRSS_AUDIT_KEY")
        store = await Store.open(
            config.store_url,
            passwords=Passwords(HashParams.from_env()),
            audit_key=audit_key,
            audit_retention=config.audit_retention(),
        )
        metrics = metrics or GatewayMetrics(config.observability)
        # One HTTP client per system, whose requests carry the caller's request id.
        clients = {s: with_request_id(httpx.AsyncClient(verify=tls_context())) for s in System}

        def resilient(system: System, adapter: Any, wrapper: Any) -> Any:
            policy = ResiliencePolicy.for_system(
                config.system(system),
                breaker_threshold=config.breaker_threshold,
                breaker_recovery_s=config.breaker_recovery_s,
                read_attempts=config.read_attempts,
                backoff_base_s=config.backoff_base_s,
                backoff_cap_s=config.backoff_cap_s,
            )
            wrapped = wrapper(adapter, policy, on_call=metrics.on_call)
            metrics.watch_breaker(system.value, lambda: wrapped.breaker_state)
            return wrapped

        settings = config.system
        gateway = cls(
            config=config,
            employment=resilient(
                System.EMPLOYMENT,
                EmploymentAdapter.from_settings(
                    settings(System.EMPLOYMENT), client=clients[System.EMPLOYMENT]
                ),
                ResilientEmployment,
            ),
            labour=resilient(
                System.LABOUR,
                LabourAdapter.from_settings(settings(System.LABOUR), client=clients[System.LABOUR]),
                ResilientLabour,
            ),
            unemployment=resilient(
                System.UNEMPLOYMENT,
                UnemploymentAdapter.from_settings(
                    settings(System.UNEMPLOYMENT), client=clients[System.UNEMPLOYMENT]
                ),
                ResilientUnemployment,
            ),
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
            metrics=metrics,
            login_throttle=LoginThrottle(config.rate_limits, config.cache_url, hash_key=audit_key),
            http_clients=list(clients.values()),
        )
        if config.oidc is not None:
            provider = httpx.AsyncClient(verify=tls_context())
            gateway.http_clients.append(provider)
            gateway.oidc = OidcVerifier(config.oidc, provider)
        metrics.watch_cache(gateway.cache)
        # One clock for the store and the engines: a test that moves the gateway's moves both.
        store.db.clock = lambda: gateway.clock()
        return gateway

    def engine_control(self) -> Engine:
        """An engine for a clerk's retry or cancel (the worker loop runs elsewhere)."""
        from gateway.registrations.wiring import engine_for

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
        for client in self.http_clients:  # injected: the adapters leave them open
            await client.aclose()
        await self.login_throttle.aclose()
        await self.cache.close()
        await self.store.close()


def _secret(config: GatewayConfig, value: str | None, demo_file: str, name: str) -> bytes:
    """A configured secret; in demo mode one kept in the data folder, made on first start."""
    if value:
        return value.encode()
    if not config.demo:
        raise ConfigurationError(f"{name} must be set outside demo mode")
    return load_or_create_secret(Path(config.data_dir) / demo_file)
