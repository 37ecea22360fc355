"""The fakes keep to the contracts: the same behaviours, run against each fake
and against the real adapter over its stand-in process, must pass on both.

Each test takes ``kind`` ("fake" or "standin"): the behaviour is written once,
against the Protocol and the switchboard (``faults``/``reset``/``stats``) both
offer. What the engine tests rely on is here: the business refusals with each
system's code (the duplicate, the "already undone" of each undo), what a revoke
or cancel restores, what the queries for reconciliation answer, and how each
fault point reaches the caller (which error, whether the outcome is unknown,
the Retry-After, whether the write was committed), with one write counted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

import pytest

from adapters.employment import EmploymentAdapter
from adapters.labor import LabourAdapter
from adapters.social_insurance import SocialInsuranceAdapter, SocialInsuranceSystem
from adapters.social_insurance.model import SYSTEM as INSURANCE
from adapters.social_insurance.model import AdditionRequest
from adapters.social_insurance.review import SEED_UNITS
from adapters.social_insurance.settings import SocialInsuranceSettings
from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS
from adapters.standin.today import province_today
from adapters.unemployment import UnemploymentAdapter
from gateway.domain.model import (
    ContractEnding,
    ContractState,
    DismissalRequest,
    EmployerProfile,
    EmploymentRegistrationRequest,
    EmploymentState,
    EndReason,
    System,
    UnemploymentRequest,
    UnemploymentState,
)
from gateway.registrations.plan import person_of, term_of
from gateway.settings import SystemSettings
from gateway.systems import (
    AdapterError,
    Duplicate,
    EmploymentSystem,
    LabourSystem,
    NotFound,
    Rejected,
    Unavailable,
    UnemploymentSystem,
)
from tests.conftest import STANDIN_FIXTURES, start_missing
from tests.factories import credit_code
from tests.fakes import FakeEmployment, FakeLabour, FakeSocialInsurance, FakeUnemployment
from tests.registrations.support import END_OF_TERM, START, hire_row

UNIT, OTHER = EMPLOYERS[0], EMPLOYERS[1]
UNIT_SI = SEED_UNITS[0]  # UNIT's insurance number
D = dt.date
LEFT_ON = D(2024, 9, 30)
#: The real adapters' timeout: a dropped answer is given up after this (long enough
#: for a loaded machine to answer the other calls in time).
TIMEOUT = 1.0


class Switches(Protocol):
    def faults(self, **settings: Any) -> dict[str, Any]: ...
    def reset(self) -> None: ...
    def stats(self) -> dict[str, int]: ...


@dataclass
class Systems:
    employment: EmploymentSystem
    labour: LabourSystem
    unemployment: UnemploymentSystem
    insurance: SocialInsuranceSystem
    switches: dict[System, Switches]


def _settings(system: System, url: str) -> SystemSettings:
    prefix = {System.EMPLOYMENT: "EMPLOYMENT", System.LABOUR: "LABOUR"}.get(system, "UNEMPLOYMENT")
    return SystemSettings.from_env(
        system, environ={f"HRSS_{prefix}_URL": url, f"HRSS_{prefix}_TIMEOUT": str(TIMEOUT)}
    )


@pytest.fixture(params=["fake", "standin"])
async def systems(request: pytest.FixtureRequest) -> AsyncIterator[Systems]:
    if request.param == "fake":
        e, la, u, si = FakeEmployment(), FakeLabour(), FakeUnemployment(), FakeSocialInsurance()
        switches: dict[System, Switches] = {
            System.EMPLOYMENT: e, System.LABOUR: la, System.UNEMPLOYMENT: u, INSURANCE: si,
        }  # fmt: skip
        yield Systems(e, la, u, si, switches)
        return
    # The four started side by side, not one by one as the fixtures below are asked for.
    tmp = request.getfixturevalue("tmp_path_factory").getbasetemp()
    start_missing(STANDIN_FIXTURES.values(), request.getfixturevalue("_standins"), tmp)
    running: dict[System, RunningStandin] = {
        System.EMPLOYMENT: request.getfixturevalue("employment_standin"),
        System.LABOUR: request.getfixturevalue("labor_standin"),
        System.UNEMPLOYMENT: request.getfixturevalue("unemployment_standin"),
        INSURANCE: request.getfixturevalue("social_insurance_standin"),
    }
    real = Systems(
        EmploymentAdapter.from_settings(
            _settings(System.EMPLOYMENT, running[System.EMPLOYMENT].url)
        ),
        LabourAdapter.from_settings(_settings(System.LABOUR, running[System.LABOUR].url)),
        UnemploymentAdapter.from_settings(
            _settings(System.UNEMPLOYMENT, running[System.UNEMPLOYMENT].url)
        ),
        SocialInsuranceAdapter.from_settings(
            SocialInsuranceSettings(url=running[INSURANCE].url, timeout=TIMEOUT)
        ),
        dict(running),
    )
    yield real
    for adapter in (real.employment, real.labour, real.unemployment, real.insurance):
        await adapter.aclose()
    for standin in running.values():
        standin.reset()  # shared by the worker's other tests: leave no fault behind


def _hire() -> tuple[EmploymentRegistrationRequest, Any]:
    row = hire_row()
    request = EmploymentRegistrationRequest(
        UNIT.employment_id,
        person_of(row),
        START,
        row.employment_person_category,  # type: ignore[arg-type]
        row.employment_form,  # type: ignore[arg-type]
        row.post or "",
        "370102",
    )
    return request, row


def an_addition(**changes: Any) -> AdditionRequest:
    """A fresh worker's addition to UNIT, insured from START at a wage in range."""
    return replace(
        AdditionRequest(UNIT_SI, person_of(hire_row()), START, Decimal("6000.00")), **changes
    )


async def _refused(call: Awaitable[object], kind: type[AdapterError], code: str) -> AdapterError:
    with pytest.raises(AdapterError) as raised:
        await call
    # The very class: the engine tells a Duplicate or a NotFound from a Rejected.
    assert type(raised.value) is kind
    assert getattr(raised.value, "system_code", None) == code
    return raised.value


# ---------------------------------------------------------------- employment


async def test_employment_one_registration_per_person_and_its_undoing(systems: Systems) -> None:
    e = systems.employment
    request, _ = _hire()
    number = request.person.id_number
    reference = await e.register(request)
    (record,) = await e.query([number], UNIT.employment_id)
    assert (record.reference, record.state, record.start_date) == (
        reference,
        EmploymentState.EMPLOYED,
        START,
    )
    assert (await _refused(e.register(request), Duplicate, "E3001")).system is System.EMPLOYMENT
    elsewhere = replace(request, employer_id=OTHER.employment_id)
    await _refused(e.register(elsewhere), Duplicate, "E3002")
    await _refused(e.register(replace(request, employer_id="JY3701009999999")), NotFound, "E4004")

    dismissal = DismissalRequest(
        UNIT.employment_id, request.person.id_type, number, LEFT_ON, EndReason.AGREEMENT
    )
    dismissed = await e.dismiss(dismissal)
    (record,) = await e.query([number])
    assert (record.state, record.dismissal_date) == (EmploymentState.DISMISSED, LEFT_ON)
    await _refused(e.dismiss(dismissal), NotFound, "E4001")
    await e.revoke(dismissed)  # the dismissal undone: employed again
    (record,) = await e.query([number])
    assert (record.state, record.dismissal_date) == (EmploymentState.EMPLOYED, None)
    await _refused(e.revoke(dismissed), Rejected, "E3003")
    await e.revoke(reference)
    assert [r.state for r in await e.query([number])] == [EmploymentState.REVOKED]
    await _refused(e.revoke(reference), Rejected, "E3003")
    await _refused(e.revoke("DJ999999999999"), NotFound, "E4002")
    assert await e.query([]) == []


async def test_each_system_opens_a_unit_once_and_binds_it_after(systems: Systems) -> None:
    profile = EmployerProfile(credit_code(), "济南一致性测试有限公司", "370102", "王敏", "0531-1")
    adapters = (systems.employment, systems.labour, systems.unemployment, systems.insurance)
    for adapter in adapters:
        assert await adapter.find_employer(profile.credit_code) is None
        opened = await adapter.ensure_employer(profile)
        assert opened.created
        again = await adapter.ensure_employer(profile)
        assert (again.created, again.employer_id) == (False, opened.employer_id)
        found = await adapter.find_employer(profile.credit_code)
        assert found is not None
        assert (found.employer_id, found.profile.name) == (opened.employer_id, profile.name)
        seed = await adapter.find_employer(OTHER.profile.credit_code)
        assert seed is not None
        ids = {
            System.EMPLOYMENT: OTHER.employment_id,
            System.LABOUR: OTHER.labour_id,
            System.UNEMPLOYMENT: OTHER.unemployment_id,
            INSURANCE: SEED_UNITS[1],
        }
        assert seed.employer_id == ids[adapter.system]


# -------------------------------------------------------------------- labour


async def test_labour_one_contract_in_force_renewed_ended_and_revoked(systems: Systems) -> None:
    la = systems.labour
    row = hire_row()
    person, term = person_of(row), term_of(row)
    number = person.id_number
    first = await la.file(UNIT.labour_id, person, term)
    await _refused(la.file(UNIT.labour_id, person, term), Duplicate, "LD2002")
    renewed = replace(term, start_date=END_OF_TERM + dt.timedelta(days=1), end_date=D(2030, 2, 28))
    renewal = await la.renew(UNIT.labour_id, number, renewed)
    await _refused(la.renew(UNIT.labour_id, hire_row().id_number, renewed), NotFound, "LD3002")

    def states(contracts: list[Any]) -> dict[str, ContractState]:
        return {c.reference: c.state for c in contracts}

    assert states(await la.query([number], UNIT.labour_id)) == {
        first: ContractState.SUPERSEDED,
        renewal: ContractState.IN_FORCE,
    }
    await _refused(la.revoke(first), Rejected, "LD4003")  # a later filing stands
    await la.revoke(renewal)
    assert states(await la.query([number])) == {
        first: ContractState.IN_FORCE,
        renewal: ContractState.REVOKED,
    }
    await _refused(la.revoke(renewal), Rejected, "LD4002")

    ending = await la.end(ContractEnding(UNIT.labour_id, number, EndReason.AGREEMENT, LEFT_ON))
    found = {c.reference: c for c in await la.query([number], UNIT.labour_id)}
    assert (found[first].state, found[first].ended_on) == (ContractState.RESCINDED, LEFT_ON)
    no_contract = ContractEnding(UNIT.labour_id, number, EndReason.AGREEMENT, LEFT_ON)
    await _refused(la.end(no_contract), Rejected, "LD4001")
    await la.revoke(ending)
    assert states(await la.query([number]))[first] is ContractState.IN_FORCE
    await _refused(la.revoke(ending), Rejected, "LD4002")
    stranger = ContractEnding(UNIT.labour_id, hire_row().id_number, EndReason.AGREEMENT, LEFT_ON)
    await _refused(la.end(stranger), NotFound, "LD3002")


# -------------------------------------------------------------- unemployment


async def test_unemployment_one_active_registration_and_its_cancelling(systems: Systems) -> None:
    u = systems.unemployment
    person = person_of(hire_row())
    request = UnemploymentRequest(UNIT.unemployment_id, person, LEFT_ON, EndReason.AGREEMENT)
    reference = await u.register(request)
    (row,) = await u.query_person(person.id_number)
    assert (row.reference, row.state, row.relation_ended_on, row.employer_id) == (
        reference,
        UnemploymentState.REGISTERED,
        LEFT_ON,
        UNIT.unemployment_id,
    )
    duplicate = await _refused(u.register(request), Duplicate, "40902")
    assert isinstance(duplicate, Duplicate)
    assert duplicate.existing_reference == reference
    tomorrow = replace(request, relation_ended_on=province_today() + dt.timedelta(days=1))
    assert (await _refused(u.register(tomorrow), Rejected, "40001")).field == "relation_ended_on"
    await u.cancel(reference)
    assert [r.state for r in await u.query([person.id_number])] == [UnemploymentState.CANCELLED]
    await _refused(u.cancel(reference), Rejected, "40903")
    await _refused(u.cancel("SYDJ20240101999999"), NotFound, "40402")


# -------------------------------------------------------------- fault points


async def _write(systems: Systems, system: System) -> tuple[Callable[[], Awaitable[object]], Any]:
    """Each system's step write, and how to see whether it was committed."""
    if system is System.EMPLOYMENT:
        request, _ = _hire()

        async def employed() -> int:
            return len(await systems.employment.query([request.person.id_number]))

        return lambda: systems.employment.register(request), employed
    if system is System.LABOUR:
        row = hire_row()

        async def filed() -> int:
            return len(await systems.labour.query([row.id_number]))

        return lambda: systems.labour.file(UNIT.labour_id, person_of(row), term_of(row)), filed
    if system is INSURANCE:
        addition = an_addition()

        async def declared() -> int:
            p = addition.person
            found = await systems.insurance.find_declarations(UNIT_SI, p.id_type, p.id_number)
            return len(found)

        return lambda: systems.insurance.declare_addition(addition), declared
    person = person_of(hire_row())
    request = UnemploymentRequest(UNIT.unemployment_id, person, LEFT_ON, EndReason.AGREEMENT)

    async def registered() -> int:
        return len(await systems.unemployment.query_person(person.id_number))

    return lambda: systems.unemployment.register(request), registered


def _operations(switches: Switches) -> dict[str, int]:
    return {name: n for name, n in switches.stats().items() if name != "wsdl"}


WRITE = {
    System.EMPLOYMENT: "employment.register",
    System.LABOUR: "FileContract",
    System.UNEMPLOYMENT: "djxx.create",
    INSURANCE: "declarations.addition",
}
#: Every system the behaviours run on: the three, and social insurance.
SYSTEMS = [*System, INSURANCE]

#: The fault, and what the caller then knows: (outcome unknown, Retry-After, committed).
FAULTS: dict[str, tuple[dict[str, Any], dict[System, tuple[bool, float | None, int]]]] = {
    "down": (
        {"down": True},
        {
            System.EMPLOYMENT: (True, None, 0),
            System.LABOUR: (True, None, 0),
            System.UNEMPLOYMENT: (False, None, 0),
            INSURANCE: (False, None, 0),
        },
    ),
    "maintenance": (
        {"maintenance": True, "retry_after_s": 7},
        {
            System.EMPLOYMENT: (True, 7.0, 0),
            System.LABOUR: (True, 7.0, 0),
            System.UNEMPLOYMENT: (False, 7.0, 0),
            INSURANCE: (False, 7.0, 0),
        },
    ),
    "error_rate": ({"error_rate": 1.0}, {s: (True, None, 0) for s in SYSTEMS}),
    "commit_then_drop": (
        {"commit_then_drop": 1.0, "stall_s": 5 * TIMEOUT},
        {s: (True, None, 1) for s in SYSTEMS},
    ),
    "error_after_commit": ({"error_after_commit": 1.0}, {s: (True, None, 1) for s in SYSTEMS}),
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("system", SYSTEMS, ids=[s.value for s in SYSTEMS])
async def test_each_fault_point_reaches_the_caller_alike(
    system: System, fault: str, systems: Systems
) -> None:
    settings, expected = FAULTS[fault]
    write, committed = await _write(systems, system)
    switches = systems.switches[system]
    assert await committed() == 0  # and the labour client has its WSDL before the fault
    switches.reset()
    switches.faults(**settings)

    with pytest.raises(Unavailable) as raised:
        await write()

    # Refused or not, the call is counted (the labour client's one fetch of the
    # WSDL, made once per adapter, is no operation of the contract).
    assert _operations(switches) == {WRITE[system]: 1}
    switches.reset()
    assert raised.value.system is system
    unknown, retry_after, records = expected[system]
    assert (raised.value.outcome_unknown, raised.value.retry_after) == (unknown, retry_after)
    switches.faults(latency_ms=50)
    # Whether the write was committed, asked of a slow system: it answers, once.
    assert await committed() == records
    assert sum(_operations(switches).values()) == 1
