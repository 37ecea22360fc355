"""LabourAdapter against the running stand-in: operations, errors, batching, timeouts."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.labor import LabourAdapter
from adapters.standin.process import RunningStandin
from gateway.domain.model import (
    ContractEnding,
    ContractState,
    ContractTerm,
    ContractType,
    Education,
    EmployerProfile,
    EmploymentForm,
    EndReason,
    FilingPersonCategory,
    Gender,
    IdType,
    Person,
    System,
)
from gateway.settings import SystemSettings
from gateway.systems import Duplicate, NotFound, Rejected, Unavailable
from tests import factories

SEED_RENEWED = "37010219850312002X"
SEED_EMPLOYER = "91370102MA3C4TLQ2N"
LEGACY_WORDS = re.compile(
    r"idNumber|Worker|Contract|employerCode|filingNo|FileContract|RenewContract|"
    r"TerminateContract|RevokeFiling|QueryContracts|GetEmployer|RegisterEmployer|"
    r"Client\.|LD\d{4}"
)


def settings_for(standin: RunningStandin, **changes: object) -> SystemSettings:
    base = SystemSettings.from_env(System.LABOUR)
    return dataclasses.replace(base, url=standin.url, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def adapter(labor_standin: RunningStandin) -> AsyncIterator[LabourAdapter]:
    a = LabourAdapter.from_settings(settings_for(labor_standin, timeout=5.0))
    yield a
    await a.aclose()


def person(id_number: str | None = None, **changes: object) -> Person:
    p = Person(
        IdType.RESIDENT_ID,
        id_number or factories.resident_id(),
        "王小明",
        Gender.MALE,
        "01",
        Education.POSTGRADUATE,
        factories.mobile(),
        "山东省济南市历下区泉城路1号",
        "山东省济南市历下区文化东路2号",
    )
    return dataclasses.replace(p, **changes)  # type: ignore[arg-type]


def term(start: dt.date = dt.date(2024, 3, 1), **changes: object) -> ContractTerm:
    t = ContractTerm(
        ContractType.FIXED_TERM,
        start,
        start.replace(year=start.year + 3) - dt.timedelta(days=1),
        FilingPersonCategory.URBAN_EMPLOYEE,
        EmploymentForm.FULL_TIME,
        "工程师",
        "370102",
    )
    return dataclasses.replace(t, **changes)  # type: ignore[arg-type]


def profile() -> EmployerProfile:
    return EmployerProfile(factories.credit_code(), "济南测试科技有限公司", "370102", "李娜", None)


async def new_employer(adapter: LabourAdapter) -> str:
    return (await adapter.ensure_employer(profile())).employer_id


# ---------------------------------------------------------------- employers


async def test_find_and_ensure_employer(adapter: LabourAdapter) -> None:
    seeded = await adapter.find_employer(SEED_EMPLOYER)
    assert seeded is not None
    assert seeded.employer_id == "LD370102000001"
    assert seeded.profile.division == "370102"
    assert seeded.profile.contact == "王敏"
    assert await adapter.find_employer(factories.credit_code()) is None

    p = profile()
    opened = await adapter.ensure_employer(p)
    assert opened.created
    assert opened.system is System.LABOUR
    again = await adapter.ensure_employer(dataclasses.replace(p, name="改名后的单位"))
    assert (again.employer_id, again.created) == (opened.employer_id, False)
    found = await adapter.find_employer(p.credit_code)
    assert found is not None
    assert found.profile == p


# ---------------------------------------------------------------- contracts


async def test_file_renew_end_revoke_and_query(adapter: LabourAdapter) -> None:
    employer = await new_employer(adapter)
    worker = person()
    first = await adapter.file(employer, worker, term())
    second = await adapter.renew(
        employer,
        worker.id_number,
        term(dt.date(2027, 3, 1), contract_type=ContractType.OPEN_ENDED, end_date=None),
    )
    ended = await adapter.end(
        ContractEnding(employer, worker.id_number, EndReason.BY_UNIT_NO_FAULT, dt.date(2028, 1, 31))
    )
    assert len({first, second, ended}) == 3

    old, current = await adapter.query([worker.id_number], employer)
    assert (old.reference, old.state) == (first, ContractState.SUPERSEDED)
    assert (current.reference, current.state) == (second, ContractState.RESCINDED)
    assert current.end_reason is EndReason.BY_UNIT_NO_FAULT
    assert current.ended_on == dt.date(2028, 1, 31)
    assert current.term.contract_type is ContractType.OPEN_ENDED
    assert current.term.end_date is None
    assert old.person == worker
    assert old.term == term()
    assert old.filed_at is not None
    assert old.filed_at.utcoffset() == dt.timedelta(hours=8)

    await adapter.revoke(ended)
    states = [c.state for c in await adapter.query([worker.id_number])]
    assert states == [ContractState.SUPERSEDED, ContractState.IN_FORCE]
    await adapter.revoke(second)
    await adapter.revoke(first)
    states = [c.state for c in await adapter.query([worker.id_number])]
    assert states == [ContractState.REVOKED, ContractState.REVOKED]


async def test_termination_reads_back_as_its_representative(adapter: LabourAdapter) -> None:
    employer = await new_employer(adapter)
    worker = person(education=Education.ILLITERATE)
    await adapter.file(employer, worker, term())
    await adapter.end(
        ContractEnding(employer, worker.id_number, EndReason.RETIREMENT, dt.date(2026, 5, 1))
    )
    [record] = await adapter.query([worker.id_number])
    assert record.state is ContractState.TERMINATED
    assert record.end_reason is EndReason.EXPIRY  # art. 44's cases are one code there
    assert record.person.education is Education.OTHER  # 90 covers both


async def test_seeded_renewal_reads_as_superseded_and_in_force(adapter: LabourAdapter) -> None:
    records = await adapter.query([SEED_RENEWED, factories.resident_id()])
    assert [r.state for r in records] == [ContractState.SUPERSEDED, ContractState.IN_FORCE]
    assert records[0].person.education is Education.BACHELOR


async def test_query_of_nothing_calls_nothing(
    adapter: LabourAdapter, labor_standin: RunningStandin
) -> None:
    assert await adapter.query([]) == []
    assert "QueryContracts" not in labor_standin.stats()


# ------------------------------------------------------------------ errors


async def test_business_errors_are_mapped(adapter: LabourAdapter) -> None:
    employer = await new_employer(adapter)
    worker = person()
    await adapter.file(employer, worker, term())

    with pytest.raises(Duplicate) as dup:
        await adapter.file(employer, worker, term(dt.date(2025, 1, 1)))
    assert dup.value.system_code
    assert dup.value.system is System.LABOUR

    with pytest.raises(NotFound):
        await adapter.renew(employer, factories.resident_id(), term())
    with pytest.raises(NotFound):
        await adapter.file("LD370102999997", person(), term())
    with pytest.raises(NotFound):
        await adapter.revoke("BA370102202401019999999")

    ending = ContractEnding(employer, worker.id_number, EndReason.AGREEMENT, dt.date(2025, 1, 1))
    reference = await adapter.end(ending)
    with pytest.raises(Rejected) as state:
        await adapter.end(ending)
    assert type(state.value) is Rejected
    assert state.value.system_code
    await adapter.revoke(reference)
    with pytest.raises(Rejected) as twice:
        await adapter.revoke(reference)
    assert type(twice.value) is Rejected


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"locality": "3701"}, "locality"),
        ({"start_date": dt.date(2030, 1, 1)}, "end_date"),  # end before start
        ({"post": " "}, "post"),
    ],
)
async def test_validation_names_the_unified_field(
    adapter: LabourAdapter, change: dict[str, object], field: str
) -> None:
    employer = await new_employer(adapter)
    with pytest.raises(Rejected) as refused:
        await adapter.file(employer, person(), dataclasses.replace(term(), **change))  # type: ignore[arg-type]
    assert type(refused.value) is Rejected
    assert refused.value.field == field


async def test_validation_of_person_and_employer_fields(adapter: LabourAdapter) -> None:
    employer = await new_employer(adapter)
    worker = person(mobile="12345678901", ethnicity="77")
    with pytest.raises(Rejected) as refused:
        await adapter.file(employer, worker, term())
    assert refused.value.field in ("ethnicity", "mobile")
    bad = dataclasses.replace(profile(), division="37A102")
    with pytest.raises(Rejected) as employer_refused:
        await adapter.ensure_employer(bad)
    assert employer_refused.value.field == "division"


# -------------------------------------------------------- batching and WSDL


async def test_query_is_chunked_by_hundred_within_max_in_flight(
    labor_standin: RunningStandin,
) -> None:
    a = LabourAdapter.from_settings(settings_for(labor_standin, max_in_flight=2))
    try:
        await a.ping()  # the WSDL is loaded before the latency applies
        labor_standin.reset()
        labor_standin.faults(latency_ms=200)
        numbers = [factories.resident_id() for _ in range(229)] + [SEED_RENEWED]
        records = await a.query(numbers + numbers[:10])  # repeats are asked once
        assert [r.person.id_number for r in records] == [SEED_RENEWED, SEED_RENEWED]
        assert labor_standin.stats()["QueryContracts"] == 3
        stats = await asyncio.to_thread(httpx.get, labor_standin.url + "/__sim/stats")
        peak = stats.json()["peak_in_flight"]
        assert peak["QueryContracts"] == 2
    finally:
        await a.aclose()


async def test_wsdl_is_fetched_once(labor_standin: RunningStandin) -> None:
    a = LabourAdapter.from_settings(settings_for(labor_standin))
    try:
        await asyncio.gather(*(a.find_employer(SEED_EMPLOYER) for _ in range(5)))
        for _ in range(5):
            await a.query([SEED_RENEWED])
        stats = labor_standin.stats()
        assert stats["wsdl"] == 1
        assert stats["GetEmployer"] == 5
        assert stats["QueryContracts"] == 5
    finally:
        await a.aclose()


async def test_injected_http_client_is_used_and_left_open(labor_standin: RunningStandin) -> None:
    seen: list[str] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
        a = LabourAdapter.from_settings(settings_for(labor_standin), client=http)
        await a.ping()
        await a.aclose()
        assert not http.is_closed
        assert seen == ["/ldgx/services/FilingService"]


async def test_service_is_bound_to_settings_url_not_the_wsdl_address(
    labor_standin: RunningStandin,
) -> None:
    # The WSDL names the address it was fetched at; the calls must go to settings.url
    # even when the two differ (a proxy): here "localhost" versus 127.0.0.1.
    url = labor_standin.url.replace("127.0.0.1", "localhost")
    hosts: list[str] = []

    async def record(request: httpx.Request) -> None:
        hosts.append(request.url.host)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
        settings = dataclasses.replace(settings_for(labor_standin), url=url)
        a = LabourAdapter.from_settings(settings, client=http)
        await a.ping()
        assert hosts == ["localhost"]


# ---------------------------------------------------------- unavailability


async def test_server_error_after_commit_is_outcome_unknown(
    adapter: LabourAdapter, labor_standin: RunningStandin
) -> None:
    employer = await new_employer(adapter)
    labor_standin.faults(error_after_commit=1.0)
    # Refused before any commit: the business answer comes through.
    with pytest.raises(NotFound):
        await adapter.renew(employer, factories.resident_id(), term())
    worker = person()
    labor_standin.reset()
    await adapter.file(employer, worker, term())
    labor_standin.faults(error_after_commit=1.0)
    with pytest.raises(Unavailable) as after:
        await adapter.renew(employer, worker.id_number, term(dt.date(2027, 3, 1)))
    assert after.value.outcome_unknown is True


async def test_a_value_xml_cannot_carry_is_refused_before_sending(
    adapter: LabourAdapter, labor_standin: RunningStandin
) -> None:
    labor_standin.reset()
    with pytest.raises(Rejected) as refused:
        await adapter.find_employer("91370102MA3C4TLQ2\x10")
    assert refused.value.system is System.LABOUR
    assert "GetEmployer" not in labor_standin.stats()
