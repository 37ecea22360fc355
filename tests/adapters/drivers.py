"""One small driver per system for the adapters' conformance suite (``test_conformance.py``).

A driver says, for its system, how to build the adapter over settings, which
stand-in fixture serves it, one read and one write of its contract, how to tell
whether a write was committed, what wrong credentials look like and what the
system answers them, how maintenance leaves a write's outcome, and which
refusals may not carry personal data or legacy names. Each behaviour of
``test_conformance.py`` is written once against these.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from adapters.employment import EmploymentAdapter
from adapters.labor import LabourAdapter
from adapters.social_insurance import SocialInsuranceAdapter, SocialInsuranceSystem
from adapters.social_insurance.model import SYSTEM as SOCIAL_INSURANCE
from adapters.social_insurance.model import AdditionRequest
from adapters.social_insurance.review import SEED_UNITS
from adapters.social_insurance.settings import SocialInsuranceSettings
from adapters.standin.today import province_today
from adapters.unemployment import UnemploymentAdapter
from gateway.domain.model import EmployerProfile, EndReason, IdType, Person, System
from gateway.settings import SystemSettings
from gateway.systems import EmploymentSystem, LabourSystem, UnemploymentSystem
from tests import factories
from tests.employment.test_adapter import LEGACY_NAME as EMPLOYMENT_NAMES
from tests.employment.test_adapter import ending, hire
from tests.employment.test_adapter import person as employment_person
from tests.labor.test_adapter import LEGACY_WORDS as LABOUR_NAMES
from tests.labor.test_adapter import person as labour_person
from tests.labor.test_adapter import term
from tests.social_insurance.test_adapter import LEGACY_NAMES as SOCIAL_INSURANCE_NAMES
from tests.unemployment.test_adapter import LEGACY_NAMES as UNEMPLOYMENT_NAMES
from tests.unemployment.test_adapter import a_person, a_request

Adapter = Any  # one of the four adapters; each test asserts the Protocol it satisfies
#: Calls the system refuses, and the personal data they carry.
Refusals = tuple[list[Callable[[], Awaitable[object]]], tuple[str, ...]]


@dataclass(frozen=True)
class Write:
    """One write of the system's contract, ready to send, and how to see it was committed."""

    #: Sent through the adapter given: the one that prepared it, or one with other settings.
    send: Callable[[Adapter], Awaitable[object]]
    committed: Callable[[Adapter], Awaitable[bool]]
    #: The personal data it carries, which no error may repeat.
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Driver:
    name: str
    #: The fixture of the worker's shared stand-in process (``tests/conftest.py``).
    standin: str
    protocol: type
    system: Any
    #: The adapter over settings: ``make(url, client=None, **setting_changes)``.
    make: Callable[..., Adapter]
    #: Settings that the system refuses as wrong credentials, and its code for that.
    wrong_credentials: dict[str, str]
    credentials_code: str
    #: Operation names of ``/__sim/stats`` that are no call of the contract.
    not_operations: frozenset[str]
    #: A write on a unit the adapter opens first (``new_write(adapter)``).
    new_write: Callable[[Adapter], Awaitable[Write]]
    #: A write that needs nothing from the system first (nothing may be listening).
    blind_write: Callable[[Adapter], Awaitable[object]]
    #: Whether a write answered "maintenance" may have reached the system.
    maintenance_write_unknown: bool
    #: Legacy names of the contract, none of which may leave the adapter.
    legacy_names: re.Pattern[str]
    #: Business refusals that carry personal data: (the refusals, that data).
    refusals: Callable[[Adapter], Awaitable[Refusals]]
    #: Whether the dripping-answer case applies (labour reads its WSDL first).
    drips: bool = True


async def read(adapter: Adapter) -> object:
    """A read every system answers: a unit nobody registered."""
    result: object = await adapter.find_employer(factories.credit_code())
    return result


def _profile() -> EmployerProfile:
    return EmployerProfile(
        factories.credit_code(), "济南一致性测试有限公司", "370102", "王敏", None
    )


async def _employer(adapter: Adapter) -> str:
    employer_id: str = (await adapter.ensure_employer(_profile())).employer_id
    return employer_id


def _secrets(person: Person) -> tuple[str, ...]:
    values = (person.id_number, person.mobile, person.household_address, person.current_address)
    return tuple(v for v in values if v)


# ---------------------------------------------------------------- employment


def _employment(url: str, client: httpx.AsyncClient | None = None, **changes: Any) -> Adapter:
    base = SystemSettings.from_env(System.EMPLOYMENT)
    values = {"url": url, "timeout": 3.0, "connect_timeout": 1.0, **changes}
    return EmploymentAdapter.from_settings(dataclasses.replace(base, **values), client=client)


async def _employment_write(adapter: Adapter) -> Write:
    employer_id, who = await _employer(adapter), employment_person()

    async def committed(adapter: Adapter) -> bool:
        return len(await adapter.query([who.id_number])) == 1

    return Write(lambda adapter: adapter.register(hire(employer_id, who)), committed, _secrets(who))


async def _employment_refusals(adapter: Adapter) -> Refusals:
    employer_id, who = await _employer(adapter), employment_person()
    await adapter.register(hire(employer_id, who))
    return [
        lambda: adapter.register(hire(employer_id, who)),  # E3001
        lambda: adapter.register(hire(employer_id, dataclasses.replace(who, mobile="139053"))),
        lambda: adapter.register(hire("JY379900999999", who)),  # no such unit
        lambda: adapter.dismiss(
            ending(employer_id, dataclasses.replace(who, id_number="1"), EndReason.EXPIRY)
        ),
        # An HK/Macao permit type for a resident ID number: refused before sending.
        lambda: adapter.register(
            hire(
                employer_id,
                employment_person(id_type=IdType.HK_MACAO_PERMIT, id_number=who.id_number),
            )
        ),
    ], (*_secrets(who), who.name)


EMPLOYMENT = Driver(
    name="employment",
    standin="employment_standin",
    protocol=EmploymentSystem,
    system=System.EMPLOYMENT,
    make=_employment,
    wrong_credentials={"secret": "not-the-key"},
    credentials_code="E0401",
    not_operations=frozenset(),
    new_write=_employment_write,
    blind_write=lambda a: a.register(hire("JY370100000101", employment_person())),
    # The answer came from the server: as far as the adapter can tell, the write
    # may have reached the system.
    maintenance_write_unknown=True,
    legacy_names=EMPLOYMENT_NAMES,
    refusals=_employment_refusals,
)


# -------------------------------------------------------------------- labour


def _labour(url: str, client: httpx.AsyncClient | None = None, **changes: Any) -> Adapter:
    base = SystemSettings.from_env(System.LABOUR)
    values = {"url": url, "timeout": 3.0, "connect_timeout": 1.0, **changes}
    return LabourAdapter.from_settings(dataclasses.replace(base, **values), client=client)


async def _labour_write(adapter: Adapter) -> Write:
    employer_id, who = await _employer(adapter), labour_person()

    async def committed(adapter: Adapter) -> bool:
        return len(await adapter.query([who.id_number])) == 1

    return Write(lambda adapter: adapter.file(employer_id, who, term()), committed, _secrets(who))


async def _labour_refusals(adapter: Adapter) -> Refusals:
    employer_id, who = await _employer(adapter), labour_person()
    await adapter.file(employer_id, who, term())
    return [
        lambda: adapter.file(employer_id, who, term(dt.date(2025, 1, 1))),  # one in force already
        lambda: adapter.file(employer_id, labour_person(id_number="370102199001011230"), term()),
        lambda: adapter.file(employer_id, labour_person(mobile="10000000000"), term()),
        lambda: adapter.renew(employer_id, factories.resident_id(), term()),
    ], (*_secrets(who), "370102199001011230")


LABOUR = Driver(
    name="labour",
    standin="labor_standin",
    protocol=LabourSystem,
    system=System.LABOUR,
    make=_labour,
    wrong_credentials={"secret": "not-the-password"},
    credentials_code="Client.Authentication",
    not_operations=frozenset({"wsdl"}),  # fetched once per adapter, before its first call
    new_write=_labour_write,
    blind_write=lambda a: a.file("LD370102000001", labour_person(), term()),
    maintenance_write_unknown=True,
    legacy_names=LABOUR_NAMES,
    refusals=_labour_refusals,
    drips=False,
)


# -------------------------------------------------------------- unemployment


def _unemployment(url: str, client: httpx.AsyncClient | None = None, **changes: Any) -> Adapter:
    base = SystemSettings.from_env(System.UNEMPLOYMENT)
    values = {"url": url, "timeout": 3.0, "connect_timeout": 1.0, **changes}
    return UnemploymentAdapter.from_settings(dataclasses.replace(base, **values), client=client)


async def _unemployment_write(adapter: Adapter) -> Write:
    request = a_request(await _employer(adapter))

    async def committed(adapter: Adapter) -> bool:
        return len(await adapter.query_person(request.person.id_number)) == 1

    return Write(lambda adapter: adapter.register(request), committed, _secrets(request.person))


async def _unemployment_refusals(
    adapter: Adapter,
) -> Refusals:
    employer_id = await _employer(adapter)
    request = a_request(employer_id)
    await adapter.register(request)
    tomorrow = province_today() + dt.timedelta(days=1)
    return [
        lambda: adapter.register(request),  # one active registration already
        lambda: adapter.register(dataclasses.replace(request, relation_ended_on=tomorrow)),
        lambda: adapter.register(a_request("SY3799009999", request.person)),  # no such unit
        lambda: adapter.register(a_request(employer_id, a_person(name="王\U00020000"))),  # not GBK
    ], (*_secrets(request.person), request.person.name)


UNEMPLOYMENT = Driver(
    name="unemployment",
    standin="unemployment_standin",
    protocol=UnemploymentSystem,
    system=System.UNEMPLOYMENT,
    make=_unemployment,
    wrong_credentials={"secret": "not-the-password"},
    credentials_code="40100",
    not_operations=frozenset(),
    new_write=_unemployment_write,
    blind_write=lambda a: a.register(a_request("SY3701020001")),
    # Maintenance is answered before the request is read: nothing was written.
    maintenance_write_unknown=False,
    legacy_names=UNEMPLOYMENT_NAMES,
    refusals=_unemployment_refusals,
)


# ----------------------------------------------------------- social insurance


def _social_insurance(url: str, client: httpx.AsyncClient | None = None, **changes: Any) -> Adapter:
    values = {"url": url, "timeout": 3.0, "connect_timeout": 1.0, **changes}
    settings = dataclasses.replace(SocialInsuranceSettings(url=url), **values)
    return SocialInsuranceAdapter.from_settings(settings, client=client)


def _addition(employer_id: str, person: Person | None = None) -> AdditionRequest:
    return AdditionRequest(
        employer_id, person or a_person(), dt.date.today() - dt.timedelta(days=5), Decimal("6200")
    )


async def _social_insurance_write(adapter: Adapter) -> Write:
    employer_id = await _employer(adapter)
    request = _addition(employer_id)
    number = request.person.id_number

    async def committed(adapter: Adapter) -> bool:
        found = await adapter.find_declarations(employer_id, IdType.RESIDENT_ID, number)
        return len(found) == 1

    return Write(
        lambda adapter: adapter.declare_addition(request), committed, _secrets(request.person)
    )


async def _social_insurance_refusals(
    adapter: Adapter,
) -> Refusals:
    employer_id = await _employer(adapter)
    request = _addition(employer_id)
    await adapter.declare_addition(request)
    return [
        lambda: adapter.declare_addition(request),  # one under review already
        lambda: adapter.declare_addition(
            _addition("SB379900999999", request.person)
        ),  # no such unit
        lambda: adapter.declare_addition(
            _addition(employer_id, dataclasses.replace(request.person, id_number="1"))
        ),
    ], (*_secrets(request.person), request.person.name)


SOCIAL_INSURANCE_DRIVER = Driver(
    name="social_insurance",
    standin="social_insurance_standin",
    protocol=SocialInsuranceSystem,
    system=SOCIAL_INSURANCE,
    make=_social_insurance,
    wrong_credentials={"app_secret": "not-the-secret"},
    credentials_code="4010",
    not_operations=frozenset(),
    new_write=_social_insurance_write,
    blind_write=lambda a: a.declare_addition(_addition(SEED_UNITS[0])),
    maintenance_write_unknown=False,
    legacy_names=SOCIAL_INSURANCE_NAMES,
    refusals=_social_insurance_refusals,
)

DRIVERS = [EMPLOYMENT, LABOUR, UNEMPLOYMENT, SOCIAL_INSURANCE_DRIVER]
