"""What metrics see: one ``on_call`` per call with its outcome, and the policy's
defaults and checks."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS
from gateway.domain.model import System
from gateway.resilience import Outcome, ResiliencePolicy
from gateway.settings import SystemSettings
from gateway.systems import AdapterError
from tests.resilience.conftest import QUICK, Wrappers, eventually, requests

CODE = EMPLOYERS[0].profile.credit_code


class Calls:
    def __init__(self) -> None:
        self.seen: list[tuple[System, str, Outcome, float]] = []

    def __call__(self, system: System, operation: str, outcome: Outcome, seconds: float) -> None:
        self.seen.append((system, operation, outcome, seconds))

    def outcomes(self) -> list[tuple[str, Outcome]]:
        return [(op, outcome) for _, op, outcome, _ in self.seen]


async def test_every_call_is_reported_once_with_its_outcome(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    calls = Calls()
    policy = dataclasses.replace(QUICK, breaker_threshold=2, read_attempts=3, deadline_s=0.5)
    employment = wrappers.employment(employment_standin, policy, on_call=calls)

    await employment.find_employer(CODE)
    with pytest.raises(AdapterError):
        await employment.revoke("JY-NONE")
    employment_standin.faults(latency_ms=2000)
    with pytest.raises(AdapterError):
        await employment.find_employer(CODE)
    employment_standin.faults(latency_ms=0, down=True)
    with pytest.raises(AdapterError):
        await employment.ping()
    with pytest.raises(AdapterError):
        await employment.ping()

    assert calls.outcomes() == [
        ("find_employer", "ok"),
        ("revoke", "rejected"),
        ("find_employer", "timeout"),
        # The timeout was the first failure, the ping's first try the second:
        # the breaker opened and refused the ping's retry.
        ("ping", "open"),
        ("ping", "open"),
    ]
    assert {s for s, *_ in calls.seen} == {System.EMPLOYMENT}
    assert all(seconds >= 0 for *_, seconds in calls.seen)
    assert requests(employment_standin, "unit.get") == 3


async def test_down_full_and_cancelled_are_reported(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    calls = Calls()
    policy = dataclasses.replace(QUICK, max_in_flight=1, deadline_s=0.3, read_attempts=1)
    employment = wrappers.employment(employment_standin, policy, on_call=calls)
    employment_standin.faults(down=True)
    with pytest.raises(AdapterError):
        await employment.find_employer(CODE)
    employment_standin.faults(down=False, latency_ms=1500)
    holder = asyncio.create_task(employment.revoke("JY-NONE"))
    await eventually(lambda: requests(employment_standin, "employment.revoke") == 1)
    with pytest.raises(AdapterError):
        await employment.find_employer(CODE)
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    assert calls.outcomes() == [
        ("find_employer", "unavailable"),
        ("find_employer", "full"),
        ("revoke", "cancelled"),
    ]


async def test_a_failing_hook_does_not_fail_the_call(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("metrics are down")

    employment = wrappers.employment(employment_standin, on_call=broken)
    assert await employment.find_employer(CODE) is not None


def test_policy_takes_the_deadline_and_the_bulkhead_from_the_system() -> None:
    settings = SystemSettings(System.LABOUR, "http://x", "u", "s", timeout=4.5, max_in_flight=3)
    policy = ResiliencePolicy.for_system(settings, breaker_threshold=7)
    assert (policy.deadline_s, policy.max_in_flight, policy.breaker_threshold) == (4.5, 3, 7)
    assert ResiliencePolicy().read_attempts == 3


@pytest.mark.parametrize(
    "bad",
    [
        {"deadline_s": 0},
        {"max_in_flight": 0},
        {"breaker_threshold": 0},
        {"breaker_recovery_s": 0},
        {"read_attempts": 0},
        {"backoff_base_s": -1},
        {"backoff_base_s": 2, "backoff_cap_s": 1},
    ],
)
def test_policy_refuses_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        ResiliencePolicy(**bad)  # type: ignore[arg-type]


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    policy = ResiliencePolicy(backoff_base_s=0.1, backoff_cap_s=0.5)
    for _ in range(50):
        assert 0.1 <= policy.backoff(1) <= 0.2
        assert 0.2 <= policy.backoff(2) <= 0.3
        assert policy.backoff(5) == 0.5
    assert len({policy.backoff(1) for _ in range(20)}) > 1
