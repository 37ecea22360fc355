"""The cap on calls in flight, seen from the stand-in's side (``peak_in_flight``),
and the bounded wait for a slot."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS
from gateway.resilience import Saturated
from gateway.systems import NotFound
from tests.resilience.conftest import QUICK, Wrappers, eventually, requests

CODE = EMPLOYERS[0].profile.credit_code


async def test_reads_in_flight_stay_within_the_cap(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    employment = wrappers.employment(
        employment_standin, dataclasses.replace(QUICK, max_in_flight=2, deadline_s=10.0)
    )
    employment_standin.faults(latency_ms=150)
    found = await asyncio.gather(*(employment.find_employer(CODE) for _ in range(10)))
    assert all(f is not None for f in found)
    assert employment_standin.peak_in_flight()["unit.get"] == 2


async def test_writes_in_flight_stay_within_the_cap(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    employment = wrappers.employment(
        employment_standin, dataclasses.replace(QUICK, max_in_flight=1, deadline_s=10.0)
    )
    employment_standin.faults(latency_ms=100)
    results = await asyncio.gather(
        *(employment.revoke("JY-NONE") for _ in range(4)), return_exceptions=True
    )
    assert all(isinstance(r, NotFound) for r in results)
    assert employment_standin.peak_in_flight()["employment.revoke"] == 1


async def test_a_caller_waits_for_a_slot_no_longer_than_its_deadline(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    employment = wrappers.employment(
        employment_standin,
        dataclasses.replace(QUICK, max_in_flight=1, deadline_s=0.3, breaker_threshold=1),
    )
    employment_standin.faults(latency_ms=1500)
    # A write holds the only slot (writes are not cut at the deadline once sent).
    holder = asyncio.create_task(employment.revoke("JY-NONE"))
    await eventually(lambda: requests(employment_standin, "employment.revoke") == 1)

    with pytest.raises(Saturated) as full:
        await employment.find_employer(CODE)
    assert full.value.outcome_unknown is False
    assert requests(employment_standin, "unit.get") == 0
    # A full bulkhead says nothing about the system: the breaker stays closed.
    assert employment.breaker_state == "closed"
    with pytest.raises(NotFound):
        await holder
    employment_standin.faults(latency_ms=0)
    assert await employment.find_employer(CODE) is not None
