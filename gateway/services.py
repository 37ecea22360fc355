"""What lives as long as the gateway process: the adapters, the store, the cache.

Built once at start-up from the configuration and shared by every request;
each request gets its own context (``gateway/schema/context.py``) on top.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx

from adapters.http import tls_context
from gateway.auth import (
    MIN_SECRET_BYTES,
    ConfigurationError,
    HashParams,
    Passwords,
    load_or_create_secret,
)
from gateway.cache import GatewayCache
from gateway.config import GatewayConfig
from gateway.domain.limits import Limits
from gateway.domain.model import System
from gateway.events import Events, PostgresEvents, RedisEvents, events_for
from gateway.following import Following
from gateway.http.ratelimit import LoginThrottle
from gateway.observability import GatewayMetrics, with_request_id
from gateway.oidc import OidcVerifier
from gateway.registrations.policy import utc_now
from gateway.registry import registry
from gateway.resilience import ResiliencePolicy, Resilient

if TYPE_CHECKING:
    from gateway.registrations.engine import Engine
from gateway.registrations.service import Registrar
from gateway.store import Store
from gateway.store.database import shown_url, store_timeouts
from gateway.systems import (
    AdapterError,
    EmploymentSystem,
    LabourSystem,
    SystemAdapter,
    UnemploymentSystem,
)


def system_limits(systems: Iterable[System] | None = None) -> dict[System, Limits]:
    """What each system takes (its contract's "Limits"), checked before anything is sent."""
    chosen = registry().systems if systems is None else tuple(systems)
    return {s: registry().get(s).limits() for s in chosen}


#: How often a subscription reads its registration with in-process events only.
LOCAL_SUBSCRIPTION_POLL_S = 0.2


#: One line at start: which store this process uses, its password hidden. Without
#: ``HRSS_STORE_URL`` that is a SQLite file under the directory it started in.
log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Gateway:
    config: GatewayConfig
    #: The adapter of each system switched on (``config.systems``), behind its
    #: bulkhead and breaker, in the registry's order.
    adapters: dict[System, SystemAdapter]
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
    #: Wake-ups between processes (gateway/events.py): in-process until ``start``
    #: puts the configured carrier in its place.
    events: Events = field(init=False)
    #: The subscriptions of this process and their shared poll (gateway/following.py).
    following: Following = field(init=False)
    #: Checks the identity platform's tokens; None when no provider is trusted.
    oidc: OidcVerifier | None = None
    #: The accounts with a form being imported in this process (``importRegistrationForm``).
    importing: set[int] = field(default_factory=set, init=False, repr=False)
    #: The accounts with an export being written in this process (``/forms/registrations.xlsx``).
    exporting: set[int] = field(default_factory=set, init=False, repr=False)
    #: The threads that read, check, mark and export forms (``in_workbook_thread``).
    _workbooks: ThreadPoolExecutor = field(init=False, repr=False)
    #: The last look at the systems (``readiness``): when, and what it found.
    _readiness: tuple[float, dict[System, str | None]] | None = field(
        default=None, init=False, repr=False
    )
    _readiness_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.events = Events(on_work=self.work_submitted.set)
        # Through lambdas, so that moving ``clock`` or replacing ``events`` later
        # reaches the registrar and the store too.
        self.registrar = Registrar(
            self.store,
            self.config,
            clock=lambda: self.clock(),
            limits=system_limits(self.adapters),
            on_submitted=lambda: self.events.work(),
        )
        self.store.registrations.on_change = lambda ids: self.events.changed(ids)
        self._workbooks = ThreadPoolExecutor(
            self.config.forms.workbook_threads, thread_name_prefix="hrss-workbooks"
        )
        self.following = Following(
            lambda ids: self.store.registrations.versions(ids),
            poll_s=lambda: self.subscription_poll_s,
            per_account=self.config.subscriptions_per_account,
        )

    # The core systems by name, for the views and plans built on them.

    @property
    def employment(self) -> EmploymentSystem:
        return cast(EmploymentSystem, self.adapters[System.EMPLOYMENT])

    @employment.setter
    def employment(self, adapter: EmploymentSystem) -> None:
        self.adapters[System.EMPLOYMENT] = adapter

    @property
    def labour(self) -> LabourSystem:
        return cast(LabourSystem, self.adapters[System.LABOUR])

    @labour.setter
    def labour(self, adapter: LabourSystem) -> None:
        self.adapters[System.LABOUR] = adapter

    @property
    def unemployment(self) -> UnemploymentSystem:
        return cast(UnemploymentSystem, self.adapters[System.UNEMPLOYMENT])

    @unemployment.setter
    def unemployment(self, adapter: UnemploymentSystem) -> None:
        self.adapters[System.UNEMPLOYMENT] = adapter

    @classmethod
    async def start(
        cls, config: GatewayConfig, *, metrics: GatewayMetrics | None = None
    ) -> Gateway:
        token_secret, audit_key = secrets_of(config)
        # Every wait on the store bounded as configured (gateway/store/database.py).
        with store_timeouts(config.store_timeouts()):
            store = await Store.open(
                config.store_url,
                passwords=Passwords(HashParams.from_env()),
                audit_key=audit_key,
                audit_retention=config.audit_retention(),
            )
        metrics = metrics or GatewayMetrics(config.observability)
        # One HTTP client per system, whose requests carry the caller's request id.
        clients = {
            s: with_request_id(httpx.AsyncClient(verify=tls_context())) for s in config.systems
        }

        def resilient(system: System, settings: Any) -> SystemAdapter:
            spec = registry().get(system)
            policy = ResiliencePolicy.for_system(
                settings,
                breaker_threshold=config.breaker_threshold,
                breaker_recovery_s=config.breaker_recovery_s,
                read_attempts=config.read_attempts,
                backoff_base_s=config.backoff_base_s,
                backoff_cap_s=config.backoff_cap_s,
            )
            wrapped = Resilient(
                spec.adapter(settings, clients[system]),
                policy,
                on_call=metrics.on_call,
                reads=spec.reads,
                writes=spec.writes,
            )
            metrics.watch_breaker(system.value, lambda: wrapped.breaker_state)
            return cast(SystemAdapter, wrapped)

        gateway = cls(
            config=config,
            adapters={s: resilient(s, settings) for s, settings in config.systems.items()},
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
        gateway.events = events_for(
            config.events_url,
            store_url=config.store_url,
            cache_url=config.cache_url,
            channel=config.events_channel,
            on_work=gateway.work_submitted.set,
        )
        gateway.events.counted = metrics.on_event
        metrics.watch_subscriptions(lambda: gateway.following.followed)
        if isinstance(gateway.events, PostgresEvents | RedisEvents):
            metrics.watch_events(gateway.events.kind, gateway.events.listening.is_set)
        await gateway.events.start()
        log.info("store %s, events %s", shown_url(config.store_url), gateway.events.kind)
        # One clock for the store and the engines: a test that moves the gateway's moves both.
        store.db.clock = lambda: gateway.clock()
        return gateway

    @property
    def subscription_poll_s(self) -> float:
        """How often the versions of the registrations followed are read when nothing
        woke their subscriptions (``gateway/following.py``): often with in-process
        events (another process on the same SQLite file wakes no one), seldom when
        every process carries its changes to the others."""
        if self.config.subscription_poll_s is not None:
            return self.config.subscription_poll_s
        return LOCAL_SUBSCRIPTION_POLL_S if self.events.kind == "local" else 2.0

    def engine_control(self) -> Engine:
        """An engine for a clerk's retry or cancel (the worker loop runs elsewhere)."""
        from gateway.registrations.wiring import engine_for

        return engine_for(self)

    async def readiness(self) -> dict[System, str | None]:
        """Each system: None when it answers, else why not (no personal data).

        Asked again only when the last answer is older than ``readiness_cache_s``,
        and by one request at a time, the others waiting for its answer: ``/readyz``
        needs no sign-in and is not rate limited, and each look calls every system,
        so that a flood of probes would have been a flood on the systems, the
        social-insurance one's quota (20 calls a second) spent on them."""
        ttl = self.config.readiness_cache_s
        fresh = self._fresh_readiness(ttl)
        if fresh is not None:
            return fresh
        async with self._readiness_lock:
            fresh = self._fresh_readiness(ttl)
            if fresh is not None:
                return fresh
            found = await self._ask_readiness()
            self._readiness = (time.monotonic(), found)
            return dict(found)

    def _fresh_readiness(self, ttl: float) -> dict[System, str | None] | None:
        if self._readiness is None or ttl <= 0:
            return None
        at, found = self._readiness
        return dict(found) if time.monotonic() - at < ttl else None

    async def _ask_readiness(self) -> dict[System, str | None]:
        async def check(system: System, adapter: SystemAdapter) -> str | None:
            try:
                await registry().get(system).health(adapter)
            except AdapterError as exc:
                return type(exc).__name__
            return None

        results = await asyncio.gather(*(check(s, a) for s, a in self.adapters.items()))
        return dict(zip(self.adapters, results, strict=True))

    async def in_workbook_thread(self, work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``work(*args, **kwargs)`` on one of the form threads (``workbook_threads``),
        off the event loop, after the work queued before it."""
        call = functools.partial(work, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._workbooks, call)

    async def close(self) -> None:
        self._workbooks.shutdown(wait=False, cancel_futures=True)
        await self.following.close()
        await self.events.close()
        for adapter in self.adapters.values():
            await adapter.aclose()
        for client in self.http_clients:  # injected: the adapters leave them open
            await client.aclose()
        await self.login_throttle.aclose()
        await self.cache.close()
        await self.store.close()


def secrets_of(config: GatewayConfig) -> tuple[bytes, bytes]:
    """The token secret and the audit key; ``ConfigurationError`` naming the one
    missing outside demo mode (``serve`` asks before its server starts)."""
    return (
        _secret(config, config.token_secret, "token.secret", "HRSS_TOKEN_SECRET"),
        _secret(config, config.audit_key, "audit.key", "HRSS_AUDIT_KEY"),
    )


def _secret(config: GatewayConfig, value: str | None, demo_file: str, name: str) -> bytes:
    """A configured secret, at least ``MIN_SECRET_BYTES`` long (as ``secret_from_env``
    has it: a shorter one failed every sign-in, not the start); in demo mode one kept
    in the data folder, made on first start."""
    if value:
        key = value.encode()
        if len(key) < MIN_SECRET_BYTES:
            raise ConfigurationError(f"{name} must be at least {MIN_SECRET_BYTES} bytes")
        return key
    if not config.demo:
        raise ConfigurationError(f"{name} must be set outside demo mode")
    return load_or_create_secret(Path(config.data_dir) / demo_file)
