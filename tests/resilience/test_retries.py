"""Reads are retried, within their deadline; writes never are.

Counted by the stand-ins' ``/__sim/stats``: what reached the system is what
the wrapper sent.
"""

from __future__ import annotations

import dataclasses

import pytest

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS, WORKERS
from gateway.domain.identifiers import uscc_check
from gateway.domain.model import EmployerProfile
from gateway.resilience import DeadlineExceeded
from gateway.systems import Unavailable
from tests.resilience.conftest import QUICK, Wrappers, requests

UNIT = EMPLOYERS[0]
CODE = UNIT.profile.credit_code
PERSON = next(w for w in WORKERS if w.employer == 0).person.id_number

#: Retries that never open the breaker, so that only retrying is measured.
PATIENT = dataclasses.replace(QUICK, breaker_threshold=1000)


async def test_reads_succeed_through_an_error_rate(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    employment = wrappers.employment(
        employment_standin, dataclasses.replace(PATIENT, read_attempts=20)
    )
    employment_standin.faults(error_rate=0.5)
    for _ in range(30):
        assert await employment.find_employer(CODE) is not None
    # Half the requests failed, and each failure was tried again.
    assert requests(employment_standin, "unit.get") > 30


async def test_a_read_is_tried_read_attempts_times(
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
    wrappers: Wrappers,
) -> None:
    policy = dataclasses.replace(PATIENT, read_attempts=3)
    employment = wrappers.employment(employment_standin, policy)
    labour = wrappers.labour(labor_standin, policy)
    unemployment = wrappers.unemployment(unemployment_standin, policy)
    # The labour adapter fetches its WSDL on its first call: before the faults.
    await labour.ping()
    for standin in (employment_standin, labor_standin, unemployment_standin):
        standin.reset()
        standin.faults(error_rate=1.0)

    with pytest.raises(Unavailable):
        await employment.query([PERSON], UNIT.employment_id)
    with pytest.raises(Unavailable):
        await labour.query([PERSON], UNIT.labour_id)
    with pytest.raises(Unavailable):
        await unemployment.query_person(PERSON)
    assert requests(employment_standin) == 3
    assert requests(labor_standin) == 3
    assert requests(unemployment_standin) == 3


async def test_writes_are_never_retried(
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
    wrappers: Wrappers,
) -> None:
    policy = dataclasses.replace(PATIENT, read_attempts=5)
    employment = wrappers.employment(employment_standin, policy)
    labour = wrappers.labour(labor_standin, policy)
    unemployment = wrappers.unemployment(unemployment_standin, policy)
    await labour.ping()
    for standin in (employment_standin, labor_standin, unemployment_standin):
        standin.reset()
        standin.faults(error_rate=1.0)
    body = "91370102MA3RETRY0"
    profile = EmployerProfile(body + uscc_check(body), "重试测试有限公司", "370102")

    with pytest.raises(Unavailable) as lost:
        await employment.revoke("JY-NONE")
    assert lost.value.outcome_unknown is True
    with pytest.raises(Unavailable):
        await employment.ensure_employer(profile)
    with pytest.raises(Unavailable):
        await labour.revoke("LD-NONE")
    with pytest.raises(Unavailable):
        await unemployment.cancel("SY-NONE")
    assert employment_standin.stats() == {"employment.revoke": 1, "unit.open": 1}
    assert requests(labor_standin) == 1
    assert requests(unemployment_standin) == 1


async def test_no_retry_when_the_system_says_to_come_back_after_the_deadline(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    employment = wrappers.employment(employment_standin, PATIENT)
    employment_standin.faults(maintenance=True, retry_after_s=60)
    with pytest.raises(Unavailable) as failed:
        await employment.find_employer(CODE)
    assert failed.value.retry_after == 60
    assert requests(employment_standin, "unit.get") == 1


async def test_no_retry_whose_backoff_would_pass_the_deadline(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    policy = dataclasses.replace(
        PATIENT, deadline_s=1.0, backoff_base_s=5.0, backoff_cap_s=5.0, read_attempts=5
    )
    employment = wrappers.employment(employment_standin, policy)
    employment_standin.faults(error_rate=1.0)
    with pytest.raises(Unavailable):
        await employment.find_employer(CODE)
    assert requests(employment_standin, "unit.get") == 1


async def test_retries_end_at_the_deadline(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    # Each try takes 0.4 s and fails: a 1 s deadline leaves room for three at most.
    policy = dataclasses.replace(PATIENT, deadline_s=1.0, read_attempts=10)
    employment = wrappers.employment(employment_standin, policy)
    employment_standin.faults(error_rate=1.0, latency_ms=400)
    with pytest.raises(Unavailable):
        await employment.find_employer(CODE)
    assert 1 < requests(employment_standin, "unit.get") <= 3


async def test_a_slow_read_is_cut_at_the_deadline(
    employment_standin: RunningStandin, wrappers: Wrappers
) -> None:
    # The adapter's own deadline (3 s) is longer: the wrapper's cuts the read.
    policy = dataclasses.replace(PATIENT, deadline_s=0.5)
    employment = wrappers.employment(employment_standin, policy)
    employment_standin.faults(latency_ms=10_000)
    with pytest.raises(DeadlineExceeded) as late:
        await employment.find_employer(CODE)
    assert late.value.outcome_unknown is False
    assert requests(employment_standin, "unit.get") == 1
