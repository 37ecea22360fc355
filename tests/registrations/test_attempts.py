"""Only what was sent is an attempt.

A call the gateway holds back itself (its own open circuit breaker, a full
bulkhead) never reached the system: it must not count as an attempt, or a
step's backoff would grow through an outage during which nothing was tried,
and leave the step idle long after the system came back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.domain.model import System
from gateway.registrations.engine import Engine
from gateway.registrations.model import RegistrationState, StepState
from gateway.resilience import CircuitOpen, Saturated
from gateway.store import Store
from gateway.systems import SystemAdapter, Unavailable
from tests.fakes import FakeSystem
from tests.registrations.support import Adapters, hire_row, settle, step_of, submit


class HeldBack:
    """The employment adapter, with its first writes refused on the gateway's side
    as the resilience layer refuses them, before any request goes out."""

    def __init__(self, adapter: SystemAdapter, refusals: list[Unavailable]) -> None:
        self._adapter = adapter
        self._refusals = refusals

    async def register(self, *args: Any, **kwargs: Any) -> str:
        if self._refusals:
            raise self._refusals.pop(0)
        reference: str = await self._adapter.register(*args, **kwargs)  # type: ignore[attr-defined]
        return reference

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapter, name)


async def test_calls_held_back_by_the_gateway_are_not_attempts(
    store: Store,
    adapters: Adapters,
    make_engine: Callable[..., Engine],
    systems: dict[System, FakeSystem],
) -> None:
    refusals: list[Unavailable] = [
        CircuitOpen(System.EMPLOYMENT, "the circuit is open", retry_after=0.0),
        Saturated(System.EMPLOYMENT, "no slot in time"),
        CircuitOpen(System.EMPLOYMENT, "the circuit is open", retry_after=0.0),
    ]
    using = {**adapters.all(), System.EMPLOYMENT: HeldBack(adapters.employment, refusals)}
    engine = make_engine(using=using)
    (registration,) = await submit(store, [hire_row()])

    (done,) = await settle(store, [registration.id], engine)

    assert refusals == []  # every refusal was met on the way
    assert done.state is RegistrationState.COMPLETED
    employment = step_of(done, System.EMPLOYMENT)
    assert employment.state is StepState.DONE
    assert employment.attempts == 1  # the one call that went out
    assert systems[System.EMPLOYMENT].stats().get("employment.register") == 1


async def test_a_failure_the_system_gave_is_an_attempt(
    store: Store,
    adapters: Adapters,
    make_engine: Callable[..., Engine],
) -> None:
    """The counterpart: a refusal from the system's side (it answered 503) counts."""
    refusals: list[Unavailable] = [Unavailable(System.EMPLOYMENT, "HTTP 503")]
    using = {**adapters.all(), System.EMPLOYMENT: HeldBack(adapters.employment, refusals)}
    engine = make_engine(using=using)
    (registration,) = await submit(store, [hire_row()])

    (done,) = await settle(store, [registration.id], engine)

    assert done.state is RegistrationState.COMPLETED
    assert step_of(done, System.EMPLOYMENT).attempts == 2
