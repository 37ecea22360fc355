"""UnemploymentAdapter against the running stand-in, over real HTTP on loopback."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from adapters.standin import seed
from adapters.standin.process import RunningStandin
from adapters.standin.today import province_today
from adapters.unemployment import UnemploymentAdapter
from gateway.domain.model import (
    Education,
    EmployerProfile,
    EndReason,
    Gender,
    IdType,
    Person,
    System,
    UnemploymentRequest,
    UnemploymentState,
)
from gateway.settings import (
    DEFAULT_UNEMPLOYMENT_PASSWORD,
    DEFAULT_UNEMPLOYMENT_USERNAME,
    SystemSettings,
)
from gateway.systems import Duplicate, NotFound, Rejected
from tests import factories

LEGACY_NAMES = re.compile(r"\b(zjhm|zjlx|xm|sjhm|hjdz|jzdz|dwbh|djbh|syyy|tyshxydm|errcode)\b")


def settings_for(url: str, **changes: Any) -> SystemSettings:
    base = SystemSettings(
        system=System.UNEMPLOYMENT,
        url=url,
        username=DEFAULT_UNEMPLOYMENT_USERNAME,
        secret=DEFAULT_UNEMPLOYMENT_PASSWORD,
        timeout=5.0,
        connect_timeout=1.0,
    )
    return replace(base, **changes)


@pytest.fixture
async def make_adapter(
    unemployment_standin: RunningStandin,
) -> AsyncIterator[Callable[..., UnemploymentAdapter]]:
    made: list[UnemploymentAdapter] = []

    def make(**changes: Any) -> UnemploymentAdapter:
        adapter = UnemploymentAdapter.from_settings(
            settings_for(unemployment_standin.url, **changes)
        )
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.aclose()


@pytest.fixture
def adapter(make_adapter: Callable[..., UnemploymentAdapter]) -> UnemploymentAdapter:
    return make_adapter()


def a_person(**changes: Any) -> Person:
    base = Person(
        id_type=IdType.RESIDENT_ID,
        id_number=factories.resident_id(),
        name="欧阳娜娜",
        gender=Gender.FEMALE,
        ethnicity="03",
        education=Education.BACHELOR,
        mobile=factories.mobile(),
        household_address="山东省济南市历下区泉城路1号",
        current_address=None,
    )
    return replace(base, **changes)


def a_request(
    employer_id: str, person: Person | None = None, **changes: Any
) -> UnemploymentRequest:
    base = UnemploymentRequest(
        employer_id=employer_id,
        person=person or a_person(),
        relation_ended_on=dt.date.today() - dt.timedelta(days=3),
        reason=EndReason.EXPIRY,
    )
    return replace(base, **changes)


async def new_employer(adapter: UnemploymentAdapter) -> str:
    binding = await adapter.ensure_employer(
        EmployerProfile(factories.credit_code(), "烟台蓬莱葡萄酒有限公司", "370614")
    )
    return binding.employer_id


def sim_stats(standin: RunningStandin) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(standin.url + "/__sim/stats", timeout=5).json()
    return stats


def assert_clean(error: Exception, *secrets: str | None) -> None:
    """No personal value and no legacy field name in what leaves the adapter."""
    text = str(error)
    for secret in secrets:
        if secret:
            assert secret not in text
    assert not LEGACY_NAMES.search(text), text


# ------------------------------------------------------------------ shape


# -------------------------------------------------------------- employers


async def test_find_employer(adapter: UnemploymentAdapter) -> None:
    employer = seed.EMPLOYERS[1]
    binding = await adapter.find_employer(employer.profile.credit_code)
    assert binding is not None
    assert binding.employer_id == employer.unemployment_id
    assert binding.profile == replace(employer.profile, contact=None, phone=None)
    assert binding.created is False
    assert await adapter.find_employer(factories.credit_code()) is None


async def test_ensure_employer_opens_then_binds(adapter: UnemploymentAdapter) -> None:
    profile = EmployerProfile(factories.credit_code(), "威海海洋食品有限公司", "371002", "李四")
    opened = await adapter.ensure_employer(profile)
    assert opened.created is True
    assert re.fullmatch(r"SY371002\d{4}", opened.employer_id)

    again = await adapter.ensure_employer(replace(profile, name="威海海洋食品股份有限公司"))
    assert again.created is False
    assert again.employer_id == opened.employer_id
    assert again.profile.name == "威海海洋食品有限公司"  # as the system holds it


async def test_invalid_employer_is_rejected_naming_the_unified_field(
    adapter: UnemploymentAdapter,
) -> None:
    with pytest.raises(Rejected) as caught:
        await adapter.ensure_employer(EmployerProfile(factories.credit_code(), "某单位", "3701"))
    assert (caught.value.system_code, caught.value.field) == ("40001", "division")
    assert_clean(caught.value)


# ---------------------------------------------------------- registrations


async def test_register_query_and_cancel(adapter: UnemploymentAdapter) -> None:
    employer_id = await new_employer(adapter)
    request = a_request(employer_id, reason=EndReason.ECONOMIC_LAYOFF)
    reference = await adapter.register(request)

    [record] = await adapter.query_person(request.person.id_number)
    assert record.reference == reference
    assert record.employer_id == employer_id
    assert record.person == request.person
    assert record.relation_ended_on == request.relation_ended_on
    assert record.registered_on == province_today()
    assert record.state is UnemploymentState.REGISTERED
    # the system only knows "rescinded by the unit": it reads back without a fault
    assert record.reason is EndReason.BY_UNIT_NO_FAULT

    await adapter.cancel(reference)
    [cancelled] = await adapter.query_person(request.person.id_number)
    assert cancelled.state is UnemploymentState.CANCELLED

    with pytest.raises(Rejected) as caught:
        await adapter.cancel(reference)
    assert type(caught.value) is Rejected
    assert caught.value.system_code == "40903"
    with pytest.raises(NotFound) as missing:
        await adapter.cancel("SYDJ000000")
    assert missing.value.system_code == "40402"


async def test_every_id_type_round_trips(adapter: UnemploymentAdapter) -> None:
    employer_id = await new_employer(adapter)
    n = factories.mobile()[-8:]
    people = [
        a_person(id_type=IdType.HK_MACAO_PERMIT, id_number=f"M{n}"),
        a_person(id_type=IdType.TAIWAN_PERMIT, id_number=n),
        a_person(id_type=IdType.FOREIGN_PASSPORT, id_number=f"E{n}", name="JOHN SMITH"),
        a_person(gender=Gender.MALE, education=Education.OTHER, ethnicity="98"),
    ]
    for person in people:
        await adapter.register(a_request(employer_id, person))
    found = await adapter.query([p.id_number for p in people])
    assert [r.person for r in found] == people


async def test_second_active_registration_is_a_duplicate_with_the_existing_reference(
    adapter: UnemploymentAdapter,
) -> None:
    employer_id = await new_employer(adapter)
    request = a_request(employer_id)
    reference = await adapter.register(request)
    with pytest.raises(Duplicate) as caught:
        await adapter.register(request)
    error = caught.value
    assert (error.system_code, error.field, error.existing_reference) == (
        "40902",
        "id_number",
        reference,
    )
    assert_clean(error, request.person.id_number, request.person.name, request.person.mobile)


async def test_unknown_employer_is_not_found(adapter: UnemploymentAdapter) -> None:
    with pytest.raises(NotFound) as caught:
        await adapter.register(a_request("SY3799990000"))
    assert (caught.value.system_code, caught.value.field) == ("40401", "employer_id")


@pytest.mark.parametrize(
    ("person_changes", "field"),
    [
        ({"mobile": "12345678901"}, "mobile"),
        ({"ethnicity": "60"}, "ethnicity"),
        ({"id_number": "370102198001010010"}, "id_number"),
    ],
)
async def test_refused_fields_come_back_under_unified_names(
    adapter: UnemploymentAdapter, person_changes: dict[str, Any], field: str
) -> None:
    employer_id = await new_employer(adapter)
    request = a_request(employer_id, a_person(**person_changes))
    with pytest.raises(Rejected) as caught:
        await adapter.register(request)
    assert (caught.value.system_code, caught.value.field) == ("40001", field)
    p = request.person
    assert_clean(caught.value, p.id_number, p.name, p.mobile, p.household_address)


async def test_a_name_outside_gbk_is_refused_before_sending(
    adapter: UnemploymentAdapter, unemployment_standin: RunningStandin
) -> None:
    employer_id = await new_employer(adapter)
    unemployment_standin.reset()
    request = a_request(employer_id, a_person(name="王𠮷"))
    with pytest.raises(Rejected) as caught:
        await adapter.register(request)
    assert caught.value.field == "name"
    assert caught.value.system_code is None
    assert_clean(caught.value, "王𠮷", request.person.id_number)
    assert sim_stats(unemployment_standin)["total"] == 0


async def test_query_is_one_call_per_person_bounded_in_flight(
    make_adapter: Callable[..., UnemploymentAdapter], unemployment_standin: RunningStandin
) -> None:
    adapter = make_adapter(max_in_flight=3)
    employer_id = await new_employer(adapter)
    people = [a_person() for _ in range(30)]
    registered = [people[4], people[17], people[29]]
    for person in registered:
        await adapter.register(a_request(employer_id, person))

    unemployment_standin.reset()
    unemployment_standin.faults(latency_ms=40)
    records = await adapter.query([p.id_number for p in people] + [people[4].id_number])

    assert [r.person for r in records] == registered  # in the order asked, duplicates once
    stats = sim_stats(unemployment_standin)
    assert stats["operations"] == {"djxx.by_person": 30}
    assert 1 < stats["peak_in_flight"]["djxx.by_person"] <= 3


async def test_list_by_employer_reads_pages_of_20(
    adapter: UnemploymentAdapter, unemployment_standin: RunningStandin
) -> None:
    employer_id = await new_employer(adapter)
    references = [await adapter.register(a_request(employer_id)) for _ in range(25)]
    newest_first = references[::-1]

    unemployment_standin.reset()
    first = await adapter.list_by_employer(employer_id)
    second = await adapter.list_by_employer(employer_id, page=2)
    assert (first.total, second.total) == (25, 25)
    assert [r.reference for r in first.items] == newest_first[:20]
    assert [r.reference for r in second.items] == newest_first[20:]
    assert unemployment_standin.stats() == {"djxx.by_unit": 2}

    # larger pages and pages across the system's boundaries are assembled
    everything = await adapter.list_by_employer(employer_id, size=30)
    assert [r.reference for r in everything.items] == newest_first
    middle = await adapter.list_by_employer(employer_id, page=3, size=7)
    assert [r.reference for r in middle.items] == newest_first[14:21]
    assert all(r.employer_id == employer_id for r in everything.items)

    empty = await adapter.list_by_employer(employer_id, page=9)
    assert (empty.items, empty.total) == ([], 25)
    with pytest.raises(Rejected) as caught:
        await adapter.list_by_employer(employer_id, page=0)
    assert caught.value.field == "page"


# ---------------------------------------------------------------- failures
