"""An engine built from a started gateway: its store, adapters, cache and settings."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING, Any

from gateway.registrations.backoff import Backoff
from gateway.registrations.engine import Engine, new_owner

if TYPE_CHECKING:
    from gateway.config import GatewayConfig
    from gateway.services import Gateway


def backoff_for(config: GatewayConfig) -> Backoff:
    """The configured retry schedule of steps (``HRSS_STEP_BACKOFF_BASE_S`` / ``_CAP_S``):
    production waits from 1 s up to 5 minutes; a test deployment proves the same
    promises at a fraction of a second."""
    return Backoff(base=config.step_backoff_base_s, cap=config.step_backoff_cap_s)


def engine_for(gateway: Gateway, **overrides: Any) -> Engine:
    """An engine over a started gateway's store, adapters and cache.

    The lease outlasts a few calls at the slowest system's timeout, so that it
    never runs out under a worker that is only waiting for an answer.
    """
    config = gateway.config
    slowest = max((settings.timeout for settings in config.systems.values()), default=10.0)
    options: dict[str, Any] = {
        "employers": gateway.store.employers,
        "cache": gateway.cache,
        "owner": new_owner(),
        "lease": dt.timedelta(seconds=max(config.worker_lease_s, 4 * slowest)),
        "concurrency": config.worker_concurrency,
        "step_deadline": dt.timedelta(seconds=config.step_deadline_s),
        "backoff": backoff_for(config),
        "probe_interval": config.system_probe_interval_s,
        # Through a lambda: a test that moves the gateway's clock moves the worker's.
        "clock": lambda: gateway.clock(),
    }
    options.update(overrides)
    return Engine(gateway.store.registrations, gateway.adapters, **options)


async def run_worker(
    gateway: Gateway, *, stop: asyncio.Event, poll_interval: float = 1.0, **overrides: Any
) -> None:
    """Carry registrations out until ``stop`` is set: the background task of
    ``hrss-gateway serve`` and the body of ``hrss-gateway worker``."""
    await engine_for(gateway, **overrides).run(stop, poll_interval, gateway.work_submitted)
