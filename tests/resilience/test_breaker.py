"""The circuit breaker against the real stand-ins: it opens after consecutive
infrastructure failures, then fails fast without calling the system; half-opens
after the recovery time, lets one call try, and closes or reopens on its outcome."""

from __future__ import annotations

import asyncio

import pytest

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS
from gateway.errors import from_adapter
from gateway.resilience import CircuitOpen, ResiliencePolicy
from gateway.systems import NotFound, Rejected, Unavailable
from tests.resilience.conftest import QUICK, Wrappers, eventually, requests

CODE = EMPLOYERS[0].profile.credit_code


def policy(threshold: int, recovery: float = 60.0, attempts: int = 1) -> ResiliencePolicy:
    return ResiliencePolicy(
        deadline_s=QUICK.deadline_s,
        breaker_threshold=threshold,
        breaker_recovery_s=recovery,
        read_attempts=attempts,
        backoff_base_s=0.01,
        backoff_cap_s=0.05,
    )


async def open_breaker(system: object, standin: RunningStandin, threshold: int) -> None:
    """``threshold`` failed reads against a system that is down."""
    standin.faults(down=True)
    for _ in range(threshold):
        with pytest.raises(Unavailable) as failed:
            await system.find_employer(CODE)  # type: ignore[attr-defined]
        assert not isinstance(failed.value, CircuitOpen)


async def test_opens_after_threshold_then_fails_fast_without_calling(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    employment = wrappers.employment(employment_standin, policy(threshold=4, recovery=60))
    assert employment.breaker_state == "closed"
    await open_breaker(employment, employment_standin, 3)
    assert employment.breaker_state == "closed"
    await open_breaker(employment, employment_standin, 1)
    assert employment.breaker_state == "open"
    assert requests(employment_standin, "unit.get") == 4

    for _ in range(6):
        with pytest.raises(CircuitOpen) as refused:
            await employment.find_employer(CODE)
        assert refused.value.outcome_unknown is False
        assert refused.value.retry_after is not None
        assert 0 < refused.value.retry_after <= 60
    # Writes are refused as fast, and as surely not sent.
    with pytest.raises(CircuitOpen) as refused:
        await employment.revoke("JY-NONE")
    assert refused.value.outcome_unknown is False
    assert requests(employment_standin) == 4


async def test_retries_count_towards_the_threshold(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    # Three tries of one read, two of the next: the third try finds it open.
    employment = wrappers.employment(employment_standin, policy(threshold=5, attempts=3))
    employment_standin.faults(down=True)
    with pytest.raises(Unavailable):
        await employment.find_employer(CODE)
    with pytest.raises(CircuitOpen):
        await employment.find_employer(CODE)
    assert requests(employment_standin, "unit.get") == 5


async def test_half_opens_after_recovery_and_closes_on_success(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    employment = wrappers.employment(employment_standin, policy(threshold=2, recovery=0.5))
    await open_breaker(employment, employment_standin, 2)
    assert employment.breaker_state == "open"
    await eventually(lambda: employment.breaker_state == "half-open")
    employment_standin.faults(down=False)

    found = await employment.find_employer(CODE)
    assert found is not None
    assert employment.breaker_state == "closed"
    assert requests(employment_standin, "unit.get") == 3


async def test_half_open_lets_one_call_try(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    employment = wrappers.employment(employment_standin, policy(threshold=2, recovery=0.3))
    await open_breaker(employment, employment_standin, 2)
    await eventually(lambda: employment.breaker_state == "half-open")
    # Healthy again but slow, so that the trying call is still out when the others come.
    employment_standin.faults(down=False, latency_ms=300)

    results = await asyncio.gather(
        *(employment.find_employer(CODE) for _ in range(5)), return_exceptions=True
    )
    answered = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, CircuitOpen)]
    assert len(answered) == 1
    assert len(refused) == 4
    assert requests(employment_standin, "unit.get") == 3
    assert employment.breaker_state == "closed"
    # Closed: everyone is let through again.
    await asyncio.gather(*(employment.find_employer(CODE) for _ in range(3)))
    assert requests(employment_standin, "unit.get") == 6


async def test_a_failed_try_reopens(employment_standin: RunningStandin, wrappers: Wrappers) -> None:
    employment = wrappers.employment(employment_standin, policy(threshold=2, recovery=0.3))
    await open_breaker(employment, employment_standin, 2)
    await eventually(lambda: employment.breaker_state == "half-open")

    with pytest.raises(Unavailable) as failed:
        await employment.find_employer(CODE)
    assert not isinstance(failed.value, CircuitOpen)
    assert employment.breaker_state == "open"
    with pytest.raises(CircuitOpen):
        await employment.find_employer(CODE)
    assert requests(employment_standin, "unit.get") == 3


async def test_business_refusals_do_not_open_it(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    employment = wrappers.employment(employment_standin, policy(threshold=2))
    for _ in range(5):
        with pytest.raises(NotFound):
            await employment.revoke("JY-NONE")
    assert employment.breaker_state == "closed"
    assert requests(employment_standin, "employment.revoke") == 5


async def test_only_consecutive_failures_count(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    # An answer between two failures, even a refusal, shows the system is up.
    employment = wrappers.employment(employment_standin, policy(threshold=2))
    for _ in range(3):
        await open_breaker(employment, employment_standin, 1)
        employment_standin.faults(down=False)
        with pytest.raises(Rejected):
            await employment.revoke("JY-NONE")
    assert employment.breaker_state == "closed"


async def test_each_system_has_its_own_circuit(
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    wrappers: Wrappers,
) -> None:
    from purgatory import AsyncCircuitBreakerFactory

    shared = AsyncCircuitBreakerFactory()
    employment = wrappers.employment(employment_standin, policy(threshold=2), breakers=shared)
    labour = wrappers.labour(labor_standin, policy(threshold=2), breakers=shared)
    await open_breaker(labour, labor_standin, 2)
    assert labour.breaker_state == "open"

    assert await employment.find_employer(CODE) is not None
    assert employment.breaker_state == "closed"


async def test_reads_cut_short_after_waiting_for_a_slot_do_not_open_it(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    """The finding: a burst of lookups (4,000 representations in one request) queued
    behind the bulkhead, each then cut short by what was left of its deadline, opened
    every breaker of a gateway whose systems answered every call in time, and every
    caller lost the systems for the breaker's recovery time. The call that held the
    slot answered within the deadline; the one that waited for it is cut short and
    says nothing of the system."""
    employment = wrappers.employment(
        employment_standin,
        ResiliencePolicy(deadline_s=1.2, max_in_flight=1, breaker_threshold=1, read_attempts=1),
    )
    # The first answers after 0.7 s; the second, queued as long, has 0.5 s of its 1.2.
    employment_standin.faults(latency_ms=700)
    held, queued = await asyncio.gather(
        employment.find_employer(CODE), employment.find_employer(CODE), return_exceptions=True
    )
    assert not isinstance(held, BaseException)
    assert isinstance(queued, Unavailable)
    assert employment.breaker_state == "closed"
    # A call that had its deadline to itself and no answer in it still opens it.
    employment_standin.faults(latency_ms=1500)
    with pytest.raises(Unavailable):
        await employment.find_employer(CODE)
    assert employment.breaker_state == "open"


async def test_a_call_held_back_says_what_the_system_did_to_open_the_breaker(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    """The audit's finding: a system turning calls away (its request quota) opened the
    breaker, and the calls held back since were reported as the system not answering.
    Held back, a call carries the failure it was held back after; a call that succeeds
    clears it."""
    employment = wrappers.employment(employment_standin, policy(threshold=2, recovery=60))
    employment_standin.faults(maintenance=True, retry_after_s=7)
    for _ in range(2):
        with pytest.raises(Unavailable) as failed:
            await employment.find_employer(CODE)
        assert failed.value.retry_after == 7
        assert failed.value.turned_away is failed.value
    with pytest.raises(CircuitOpen) as refused:
        await employment.find_employer(CODE)
    assert refused.value.held_back_after is failed.value
    assert refused.value.turned_away is failed.value
    said = from_adapter(refused.value).extensions
    assert said is not None
    assert "turned requests away" in said["message_en"]
    assert "holds calls to it back" in said["message_en"]
    assert "employment system" in said["message_en"]
    assert "暂不受理" in said["message_zh"]

    down = wrappers.employment(employment_standin, policy(threshold=1, recovery=60))
    employment_standin.faults(maintenance=False, down=True)
    with pytest.raises(Unavailable):
        await down.find_employer(CODE)
    with pytest.raises(CircuitOpen) as refused:
        await down.find_employer(CODE)
    assert refused.value.held_back_after is not None
    assert refused.value.turned_away is None  # silence: no answer to quote
    said = from_adapter(refused.value).extensions
    assert said is not None
    assert "is not answering" in said["message_en"]
