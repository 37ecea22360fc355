"""A probe asks a system whether it is back, through a breaker that is open,
against the real stand-ins: an answer closes the breaker at once, without
waiting for its recovery time; no answer keeps it open."""

from __future__ import annotations

import pytest

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS
from gateway.resilience import CircuitOpen
from tests.resilience.conftest import Wrappers, requests
from tests.resilience.test_breaker import open_breaker, policy

CODE = EMPLOYERS[0].profile.credit_code


async def test_a_probe_through_an_open_breaker_closes_it_once_the_system_answers(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    employment = wrappers.employment(employment_standin, policy(threshold=2, recovery=600))
    await open_breaker(employment, employment_standin, 2)
    assert employment.breaker_state == "open"

    # Still down: the probe reaches the system (one request), is not answered,
    # and the breaker stays open; calls keep failing fast without reaching it.
    before = requests(employment_standin)
    assert await employment.probe() is False
    assert requests(employment_standin) == before + 1
    assert employment.breaker_state == "open"
    with pytest.raises(CircuitOpen):
        await employment.find_employer(CODE)
    employment_standin.faults(down=False)
    with pytest.raises(CircuitOpen):
        await employment.find_employer(CODE)
    assert requests(employment_standin) == before + 1

    # Back: one probe, well before the 600 s of recovery, closes the breaker.
    assert await employment.probe() is True
    assert employment.breaker_state == "closed"
    assert requests(employment_standin) == before + 2
    assert (await employment.find_employer(CODE)) is not None


async def test_a_probe_of_a_system_whose_breaker_is_closed_is_a_ping(
    labor_standin: RunningStandin, wrappers: Wrappers
) -> None:
    labour = wrappers.labour(labor_standin, policy(threshold=2, recovery=600))
    assert await labour.probe() is True
    assert labour.breaker_state == "closed"
    labor_standin.faults(down=True)
    assert await labour.probe() is False
    assert labour.breaker_state == "closed"  # one failure of two: not open yet
