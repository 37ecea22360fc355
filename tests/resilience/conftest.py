"""Wrapped adapters over the real stand-in processes, and small helpers to drive them.

Each test builds its wrappers with the policy it tries (short deadlines and
recovery times, so that the breaker's life fits in a test) over the real
adapters, and they are closed when the test ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from adapters.employment import EmploymentAdapter
from adapters.labor import LabourAdapter
from adapters.standin.process import RunningStandin
from adapters.unemployment import UnemploymentAdapter
from gateway.domain.model import System
from gateway.resilience import OnCall, ResiliencePolicy, Resilient
from gateway.settings import SystemSettings

_PREFIX = {
    System.EMPLOYMENT: "EMPLOYMENT",
    System.LABOUR: "LABOUR",
    System.UNEMPLOYMENT: "UNEMPLOYMENT",
}


def settings_for(standin: RunningStandin, system: System, **changes: Any) -> SystemSettings:
    """The system's settings pointing at ``standin``: a 3 s timeout unless changed."""
    base = SystemSettings.from_env(system, environ={f"HRSS_{_PREFIX[system]}_URL": standin.url})
    return dataclasses.replace(base, **{"timeout": 3.0, **changes})


#: Fast backoff, so that retries cost the tests little.
QUICK = ResiliencePolicy(deadline_s=3.0, backoff_base_s=0.01, backoff_cap_s=0.05)


class Wrappers:
    """Builds wrapped real adapters and closes them afterwards."""

    def __init__(self) -> None:
        self.made: list[Any] = []

    def employment(
        self,
        standin: RunningStandin,
        policy: ResiliencePolicy = QUICK,
        *,
        on_call: OnCall | None = None,
        **kwargs: Any,
    ) -> Any:
        adapter = EmploymentAdapter.from_settings(settings_for(standin, System.EMPLOYMENT))
        wrapped = Resilient(adapter, policy, on_call=on_call, **kwargs)
        self.made.append(wrapped)
        return wrapped

    def labour(
        self,
        standin: RunningStandin,
        policy: ResiliencePolicy = QUICK,
        *,
        on_call: OnCall | None = None,
        **kwargs: Any,
    ) -> Any:
        adapter = LabourAdapter.from_settings(settings_for(standin, System.LABOUR))
        wrapped = Resilient(adapter, policy, on_call=on_call, **kwargs)
        self.made.append(wrapped)
        return wrapped

    def unemployment(
        self,
        standin: RunningStandin,
        policy: ResiliencePolicy = QUICK,
        *,
        on_call: OnCall | None = None,
        **kwargs: Any,
    ) -> Any:
        adapter = UnemploymentAdapter.from_settings(settings_for(standin, System.UNEMPLOYMENT))
        wrapped = Resilient(adapter, policy, on_call=on_call, **kwargs)
        self.made.append(wrapped)
        return wrapped


@pytest.fixture
async def wrappers() -> AsyncIterator[Wrappers]:
    made = Wrappers()
    yield made
    for wrapped in made.made:
        await wrapped.aclose()


def requests(standin: RunningStandin, operation: str | None = None) -> int:
    """Requests the stand-in received since its reset: of one operation, or of all
    but the WSDL (which the labour adapter fetches once)."""
    stats = standin.stats()
    if operation is not None:
        return stats.get(operation, 0)
    return sum(n for op, n in stats.items() if op != "wsdl")


async def eventually(condition: Callable[[], bool], *, within: float = 10.0) -> None:
    """Wait until ``condition()`` holds; fail if it does not within ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.02)
