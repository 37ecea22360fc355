"""The retry schedule: exponential, capped, fully jittered, never before Retry-After."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import GatewayConfig
from gateway.registrations.backoff import Backoff
from gateway.registrations.wiring import backoff_for

attempts = st.integers(min_value=1, max_value=10_000)
seconds = st.floats(min_value=0, max_value=3600, allow_nan=False)


@given(attempt=attempts, seed=st.integers())
def test_full_jitter_stays_between_zero_and_the_capped_exponential(attempt: int, seed: int) -> None:
    b = Backoff(base=0.5, factor=2.0, cap=60.0, jitter=1.0, rng=random.Random(seed))
    assert 0.0 <= b.delay(attempt) <= min(60.0, 0.5 * 2.0 ** min(attempt - 1, 100))


@given(attempt=attempts, retry_after=seconds, seed=st.integers())
def test_never_sooner_than_retry_after(attempt: int, retry_after: float, seed: int) -> None:
    b = Backoff(base=1.0, factor=3.0, cap=30.0, rng=random.Random(seed))
    assert b.delay(attempt, retry_after) >= retry_after


def test_without_jitter_the_delay_doubles_up_to_the_cap() -> None:
    b = Backoff(base=1.0, factor=2.0, cap=10.0, jitter=0.0)
    assert [b.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_jitter_spreads_retries() -> None:
    b = Backoff(base=1.0, factor=2.0, cap=100.0, rng=random.Random(7))
    assert len({b.delay(5) for _ in range(20)}) == 20


@pytest.mark.parametrize(
    "settings",
    [{"base": -1.0}, {"cap": -1.0}, {"factor": 0.5}, {"jitter": 1.5}],
)
def test_nonsense_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**settings)


def test_the_workers_schedule_comes_from_the_configuration() -> None:
    default = backoff_for(GatewayConfig.load(environ={}))
    assert (default.base, default.cap) == (1.0, 300.0)
    fast = backoff_for(
        GatewayConfig.load(
            environ={"HRSS_STEP_BACKOFF_BASE_S": "0.1", "HRSS_STEP_BACKOFF_CAP_S": "1"}
        )
    )
    assert (fast.base, fast.cap) == (0.1, 1.0)
    with pytest.raises(ValueError, match="backoff"):
        backoff_for(GatewayConfig.load(environ={"HRSS_STEP_BACKOFF_CAP_S": "-1"}))
