"""``EmploymentAdapter`` against the running stand-in: operations, errors, batching, deadlines."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from adapters.employment import EmploymentAdapter
from adapters.http import parse_retry_after
from adapters.standin.process import RunningStandin
from gateway.domain.model import (
    DismissalRequest,
    Education,
    EmployerProfile,
    EmploymentForm,
    EmploymentPersonCategory,
    EmploymentRegistrationRequest,
    EmploymentState,
    EndReason,
    Gender,
    IdType,
    Person,
    System,
)
from gateway.settings import SystemSettings
from gateway.systems import (
    Duplicate,
    NotFound,
    Rejected,
)
from tests import factories
from tests.employment import api

# Element codes of the legacy dictionary: none may appear in what leaves the adapter.
LEGACY_NAME = re.compile(r"\b(?:aa[a-z]\d{3}|ac[a-z]\d{3}|bcc03[xy]|ywlsh)\b")


def settings_for(url: str, **changes: Any) -> SystemSettings:
    base = SystemSettings.from_env(System.EMPLOYMENT)
    values: dict[str, Any] = {
        "url": url,
        "timeout": 3.0,
        "connect_timeout": 1.0,
        "max_in_flight": 2,
        **changes,
    }
    return dataclasses.replace(base, **values)


@pytest.fixture
async def make_adapter(
    employment_standin: RunningStandin,
) -> AsyncIterator[Callable[..., EmploymentAdapter]]:
    made: list[EmploymentAdapter] = []

    def make(url: str | None = None, **changes: Any) -> EmploymentAdapter:
        adapter = EmploymentAdapter.from_settings(
            settings_for(url or employment_standin.url, **changes)
        )
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.aclose()


@pytest.fixture
def adapter(make_adapter: Callable[..., EmploymentAdapter]) -> EmploymentAdapter:
    return make_adapter()


def profile(**changes: Any) -> EmployerProfile:
    values: dict[str, Any] = {
        "credit_code": factories.credit_code(),
        "name": "济南测试制造有限公司",
        "division": "370102",
        "contact": "王敏",
        "phone": "0531-86150001",
        **changes,
    }
    return EmployerProfile(**values)


def person(**changes: Any) -> Person:
    values: dict[str, Any] = {
        "id_type": IdType.RESIDENT_ID,
        "id_number": factories.resident_id(),
        "name": "李小龙",
        "gender": Gender.MALE,
        "ethnicity": "01",
        "education": Education.BACHELOR,
        "mobile": factories.mobile(),
        "household_address": "山东省济南市历下区泉城路100号",
        "current_address": "山东省济南市历下区文化东路200号",
        **changes,
    }
    return Person(**values)


def hire(employer_id: str, who: Person, **changes: Any) -> EmploymentRegistrationRequest:
    values: dict[str, Any] = {
        "employer_id": employer_id,
        "person": who,
        "start_date": dt.date(2024, 3, 1),
        "person_category": EmploymentPersonCategory.COLLEGE_GRADUATE,
        "employment_form": EmploymentForm.FULL_TIME,
        "post": "装配工",
        "locality": "370102",
        **changes,
    }
    return EmploymentRegistrationRequest(**values)


def ending(employer_id: str, who: Person, reason: EndReason) -> DismissalRequest:
    return DismissalRequest(employer_id, who.id_type, who.id_number, dt.date(2024, 12, 31), reason)


async def new_employer(adapter: EmploymentAdapter) -> str:
    return (await adapter.ensure_employer(profile())).employer_id


# ------------------------------------------------------------- the shape


async def test_closes_only_the_client_it_made(employment_standin: RunningStandin) -> None:
    async with httpx.AsyncClient() as shared:
        borrowed = EmploymentAdapter.from_settings(
            settings_for(employment_standin.url), client=shared
        )
        await borrowed.ping()
        await borrowed.aclose()
        assert not shared.is_closed
    own = EmploymentAdapter.from_settings(settings_for(employment_standin.url))
    await own.ping()
    await own.aclose()
    with pytest.raises(RuntimeError):
        await own.ping()


# ------------------------------------------------------------- employers


async def test_ensure_employer_opens_then_binds(adapter: EmploymentAdapter) -> None:
    wanted = profile()
    opened = await adapter.ensure_employer(wanted)
    assert opened.created
    assert re.fullmatch(r"JY3701\d{8}", opened.employer_id)
    bound = await adapter.ensure_employer(wanted)
    assert not bound.created
    assert bound.employer_id == opened.employer_id
    found = await adapter.find_employer(wanted.credit_code)
    assert found is not None
    assert (found.employer_id, found.profile, found.system) == (
        opened.employer_id,
        wanted,
        System.EMPLOYMENT,
    )


async def test_find_employer_of_an_unknown_code_is_none(adapter: EmploymentAdapter) -> None:
    assert await adapter.find_employer(factories.credit_code()) is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"division": "3701"}, "division"), ({"credit_code": "9137"}, "credit_code")],
)
async def test_refused_employer_fields_are_named_in_unified_terms(
    adapter: EmploymentAdapter, changes: dict[str, str], field: str
) -> None:
    with pytest.raises(Rejected) as refused:
        await adapter.ensure_employer(profile(**changes))
    assert refused.value.system_code == "E1001"
    assert refused.value.field == field
    assert not LEGACY_NAME.search(str(refused.value))


# --------------------------------------------------------------- writes


async def test_register_then_query(adapter: EmploymentAdapter) -> None:
    employer_id = await new_employer(adapter)
    who = person()
    reference = await adapter.register(hire(employer_id, who))
    [record] = await adapter.query([who.id_number])
    assert record.reference == reference
    assert record.person == who
    assert (record.employer_id, record.state, record.start_date) == (
        employer_id,
        EmploymentState.EMPLOYED,
        dt.date(2024, 3, 1),
    )
    assert record.person_category is EmploymentPersonCategory.COLLEGE_GRADUATE
    assert record.employment_form is EmploymentForm.FULL_TIME
    assert (record.post, record.locality) == ("装配工", "370102")
    assert (record.dismissal_date, record.dismissal_reason) == (None, None)
    assert record.system_person_id


async def test_register_duplicates_and_unknown_employer(adapter: EmploymentAdapter) -> None:
    employer_id = await new_employer(adapter)
    who = person()
    await adapter.register(hire(employer_id, who))
    with pytest.raises(Duplicate) as same:
        await adapter.register(hire(employer_id, who))
    assert same.value.system_code == "E3001"
    with pytest.raises(Duplicate) as other:
        await adapter.register(hire(await new_employer(adapter), who))
    assert other.value.system_code == "E3002"
    with pytest.raises(NotFound) as unknown:
        await adapter.register(hire("JY379900999999", person()))
    assert unknown.value.system_code == "E4004"


async def test_a_refused_registration_field_is_named_in_unified_terms(
    adapter: EmploymentAdapter,
) -> None:
    employer_id = await new_employer(adapter)
    with pytest.raises(Rejected) as refused:
        await adapter.register(hire(employer_id, person(), locality="3701"))
    assert refused.value.system_code == "E1001"
    assert refused.value.field == "employment_locality"
    assert not LEGACY_NAME.search(str(refused.value))
    with pytest.raises(Rejected) as mobile:
        await adapter.register(hire(employer_id, person(mobile="1390531")))
    assert mobile.value.field == "mobile"


async def test_dismiss_and_revoke(adapter: EmploymentAdapter) -> None:
    employer_id = await new_employer(adapter)
    who = person()
    registration = await adapter.register(hire(employer_id, who))
    dismissal = await adapter.dismiss(ending(employer_id, who, EndReason.BY_UNIT_NO_FAULT))
    assert dismissal != registration
    [record] = await adapter.query([who.id_number])
    assert record.state is EmploymentState.DISMISSED
    assert record.dismissal_date == dt.date(2024, 12, 31)
    # Coarse on the system's side: dismissed by the unit comes back as art. 39.
    assert record.dismissal_reason is EndReason.BY_UNIT_FOR_CAUSE
    with pytest.raises(NotFound) as again:
        await adapter.dismiss(ending(employer_id, who, EndReason.AGREEMENT))
    assert again.value.system_code == "E4001"

    await adapter.revoke(dismissal)
    [record] = await adapter.query([who.id_number])
    assert (record.state, record.dismissal_reason) == (EmploymentState.EMPLOYED, None)
    await adapter.revoke(registration)
    [record] = await adapter.query([who.id_number])
    assert record.state is EmploymentState.REVOKED
    with pytest.raises(Rejected) as spent:
        await adapter.revoke(registration)
    assert type(spent.value) is Rejected
    assert spent.value.system_code == "E3003"
    with pytest.raises(NotFound) as unknown:
        await adapter.revoke("XX000000000000")
    assert unknown.value.system_code == "E4002"


async def test_a_macao_permit_is_sent_as_05_and_read_back_as_one_type(
    adapter: EmploymentAdapter, employment_standin: RunningStandin
) -> None:
    employer_id = await new_employer(adapter)
    who = person(
        id_type=IdType.HK_MACAO_PERMIT,
        id_number="M" + factories.mobile()[3:],
        ethnicity="97",
        education=Education.OTHER,
    )
    await adapter.register(hire(employer_id, who))
    [raw] = api.query(employment_standin, [who.id_number])
    assert raw["aac058"] == "05"
    [record] = await adapter.query([who.id_number])
    assert record.person == who
    await adapter.dismiss(ending(employer_id, who, EndReason.CLOSURE))


async def test_a_permit_number_without_h_or_m_is_refused_before_sending(
    adapter: EmploymentAdapter, employment_standin: RunningStandin
) -> None:
    who = person(id_type=IdType.HK_MACAO_PERMIT, id_number="X12345678")
    with pytest.raises(Rejected) as refused:
        await adapter.register(hire("JY370100000101", who))
    assert refused.value.field == "id_number"
    assert refused.value.system_code is None
    assert "X12345678" not in str(refused.value)
    assert employment_standin.stats() == {}


# ---------------------------------------------------------------- reads


async def test_query_is_chunked_by_fifty_with_bounded_concurrency(
    adapter: EmploymentAdapter, employment_standin: RunningStandin
) -> None:
    employer_id = await new_employer(adapter)
    known = [person() for _ in range(2)]
    for who in known:
        await adapter.register(hire(employer_id, who))
    numbers = [factories.resident_id() for _ in range(118)] + [w.id_number for w in known]
    employment_standin.reset()
    employment_standin.faults(latency_ms=200)
    records = await adapter.query(numbers)
    assert sorted(r.person.id_number for r in records) == sorted(w.id_number for w in known)
    assert employment_standin.stats() == {"employment.query": 3}
    # max_in_flight is 2 in these settings: two chunks at once, never three.
    assert employment_standin.peak_in_flight()["employment.query"] == 2


async def test_query_sends_each_number_once_and_nothing_for_none(
    adapter: EmploymentAdapter, employment_standin: RunningStandin
) -> None:
    assert await adapter.query([]) == []
    assert employment_standin.stats() == {}
    number = factories.resident_id()
    assert await adapter.query([number] * 60) == []
    assert employment_standin.stats() == {"employment.query": 1}


async def test_query_for_one_employer(adapter: EmploymentAdapter) -> None:
    first, second = await new_employer(adapter), await new_employer(adapter)
    who = person()
    await adapter.register(hire(first, who, start_date=dt.date(2023, 1, 1)))
    await adapter.dismiss(ending(first, who, EndReason.EXPIRY))
    await adapter.register(hire(second, who, start_date=dt.date(2025, 1, 1)))
    everything = await adapter.query([who.id_number])
    assert [r.employer_id for r in everything] == [second, first]
    assert [r.employer_id for r in await adapter.query([who.id_number], first)] == [first]


async def test_list_by_employer_pages_and_filters(adapter: EmploymentAdapter) -> None:
    employer_id = await new_employer(adapter)
    people = [person() for _ in range(3)]
    for who in people:
        await adapter.register(hire(employer_id, who))
    await adapter.dismiss(ending(employer_id, people[0], EndReason.DEATH))
    first = await adapter.list_by_employer(employer_id, page=1, size=2)
    second = await adapter.list_by_employer(employer_id, page=2, size=2)
    assert (first.total, len(first.items), second.total, len(second.items)) == (3, 2, 3, 1)
    listed = {r.person.id_number for r in first.items + second.items}
    assert listed == {w.id_number for w in people}
    dismissed = await adapter.list_by_employer(employer_id, state=EmploymentState.DISMISSED)
    assert dismissed.total == 1
    assert dismissed.items[0].dismissal_reason is EndReason.OTHER_TERMINATION
    with pytest.raises(ValueError, match="size"):
        await adapter.list_by_employer(employer_id, size=101)
    with pytest.raises(ValueError, match="page"):
        await adapter.list_by_employer(employer_id, page=0)


# -------------------------------------------------------------- failures


def test_retry_after_reads_seconds_and_dates() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = email.utils.format_datetime(
        dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90), usegmt=True
    )
    seconds = parse_retry_after(later)
    assert seconds is not None
    assert 80 <= seconds <= 90


# ------------------------------------------------------- personal data
