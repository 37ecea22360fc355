"""What the engine tests share: rows, submitting, running engines until quiet,
and counting records in the systems themselves (in-memory fakes, or the
stand-ins through real adapters)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from adapters.standin.seed import EMPLOYERS, SeedEmployer
from gateway.domain.model import Business as RowBusiness
from gateway.domain.model import (
    ContractState,
    ContractType,
    Education,
    EmployerProfile,
    EmploymentForm,
    EmploymentPersonCategory,
    EmploymentRecord,
    EmploymentState,
    EndReason,
    FilingPersonCategory,
    Gender,
    IdType,
    LabourContract,
    RegistrationRow,
    System,
    UnemploymentRegistration,
    UnemploymentState,
)
from gateway.registrations.engine import Engine
from gateway.registrations.model import (
    Channel,
    Registration,
    RegistrationState,
    Step,
    Submission,
    request_hash,
)
from gateway.registrations.plan import new_id, plan_account, plan_row
from gateway.registrations.ports import Created
from gateway.store import Store
from gateway.systems import EmploymentSystem, LabourSystem, SystemAdapter, UnemploymentSystem
from tests.factories import mobile, resident_id

D = dt.date
#: The seed employer the tests hire at: its id in each system is known.
UNIT: SeedEmployer = EMPLOYERS[0]
START = D(2024, 3, 1)
END_OF_TERM = D(2027, 2, 28)
LEFT_ON = D(2024, 9, 30)


@dataclass
class Adapters:
    employment: EmploymentSystem
    labour: LabourSystem
    unemployment: UnemploymentSystem

    def all(self) -> dict[System, SystemAdapter]:
        return {
            System.EMPLOYMENT: self.employment,
            System.LABOUR: self.labour,
            System.UNEMPLOYMENT: self.unemployment,
        }


def unit_ids(unit: SeedEmployer = UNIT) -> dict[System, str | None]:
    return {
        System.EMPLOYMENT: unit.employment_id,
        System.LABOUR: unit.labour_id,
        System.UNEMPLOYMENT: unit.unemployment_id,
    }


def hire_row(id_number: str | None = None, *, start: dt.date = START) -> RegistrationRow:
    return RegistrationRow(
        business=RowBusiness.HIRE,
        name="测试工",
        gender=Gender.MALE,
        ethnicity="01",
        id_type=IdType.RESIDENT_ID,
        id_number=id_number or resident_id(),
        mobile=mobile(),
        household_address="山东省济南市历下区泉城路10号",
        current_address="山东省济南市历下区泉城路10号",
        education=Education.BACHELOR,
        contract_type=ContractType.FIXED_TERM,
        start_date=start,
        contract_end_date=END_OF_TERM,
        employment_person_category=EmploymentPersonCategory.NEW_URBAN_ENTRANT,
        filing_person_category=FilingPersonCategory.URBAN_EMPLOYEE,
        employment_form=EmploymentForm.FULL_TIME,
        post="装配工",
        employment_locality="370102",
        labour_filing_locality="370102",
    )


def renew_row(hired: RegistrationRow, *, start: dt.date, end: dt.date) -> RegistrationRow:
    from dataclasses import replace

    return replace(hired, business=RowBusiness.RENEW, start_date=start, contract_end_date=end)


def end_row(
    hired: RegistrationRow,
    *,
    on: dt.date = LEFT_ON,
    reason: EndReason = EndReason.AGREEMENT,
    unemployment: bool = True,
) -> RegistrationRow:
    from dataclasses import replace

    return replace(
        hired,
        business=RowBusiness.END,
        end_reason=reason,
        end_date=on,
        register_unemployment=unemployment,
    )


def plan(
    rows: Sequence[RegistrationRow],
    *,
    deadline: dt.timedelta = dt.timedelta(minutes=5),
    unit: SeedEmployer = UNIT,
) -> tuple[str, list[Registration]]:
    submission_id = new_id()
    now = dt.datetime.now(dt.UTC)
    return submission_id, [
        plan_row(
            row,
            unit.profile.credit_code,
            unit.profile.division,
            unit_ids(unit),
            submission_id=submission_id,
            channel=Channel.SERVICE_WINDOW,
            actor_id=None,
            actor_username=None,
            warnings=[],
            now=now,
            step_deadline=deadline,
        )
        for row in rows
    ]


async def store_all(
    store: Store, submission_id: str, registrations: list[Registration]
) -> list[Registration]:
    now = dt.datetime.now(dt.UTC)
    submission = Submission(
        id=submission_id,
        actor_id=None,
        idempotency_key=new_id(),
        request_hash=request_hash([r.id for r in registrations]),
        registration_ids=tuple(r.id for r in registrations),
        created_at=now,
        expires_at=now + dt.timedelta(days=1),
    )
    outcome = await store.registrations.submit(submission, registrations)
    assert isinstance(outcome, Created), outcome
    return outcome.registrations


async def submit(
    store: Store, rows: Sequence[RegistrationRow], *, deadline: dt.timedelta | None = None
) -> list[Registration]:
    submission_id, registrations = plan(
        rows, **({"deadline": deadline} if deadline is not None else {})
    )
    return await store_all(store, submission_id, registrations)


async def submit_account(store: Store, profile: EmployerProfile) -> Registration:
    submission_id = new_id()
    registration = plan_account(
        profile,
        submission_id=submission_id,
        channel=Channel.GOVERNMENT_PORTAL,
        actor_id=None,
        actor_username=None,
        warnings=[],
        now=dt.datetime.now(dt.UTC),
        step_deadline=dt.timedelta(minutes=5),
    )
    (stored,) = await store_all(store, submission_id, [registration])
    return stored


def at_rest(registration: Registration) -> bool:
    return registration.state.is_final or registration.state is RegistrationState.NEEDS_ATTENTION


async def settle(
    store: Store, ids: Sequence[str], *engines: Engine, within: float = 30.0
) -> list[Registration]:
    """Run the engines until every registration is final or needs attention."""
    deadline = time.monotonic() + within
    while True:
        found = [await store.registrations.get(i) for i in ids]
        current = [r for r in found if r is not None]
        if len(current) == len(ids) and all(at_rest(r) for r in current):
            return current
        if time.monotonic() > deadline:
            states = [(r.state.value, [s.state.value for s in r.steps]) for r in current]
            raise AssertionError(f"registrations did not settle: {states}")
        counts = await asyncio.gather(*(e.run_once() for e in engines))
        if not any(counts):
            await asyncio.sleep(0.03)


async def run_until(
    condition: Callable[[], Awaitable[bool]], *engines: Engine, within: float = 15.0
) -> None:
    """Run the engines until ``condition()`` holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {condition.__name__}")
        counts = await asyncio.gather(*(e.run_once() for e in engines))
        if not any(counts):
            await asyncio.sleep(0.03)


def step_of(registration: Registration, system: System) -> Step:
    (step,) = [s for s in registration.steps if s.system is system]
    return step


# ------------------------------------------------------ what the systems hold


async def employments(
    adapters: Adapters, id_number: str, unit: SeedEmployer = UNIT
) -> list[EmploymentRecord]:
    return await adapters.employment.query([id_number], unit.employment_id)


async def employed(adapters: Adapters, id_number: str, start: dt.date = START) -> list[str]:
    """References of the worker's EMPLOYED records at the unit starting on ``start``."""
    return [
        r.reference
        for r in await employments(adapters, id_number)
        if r.state is EmploymentState.EMPLOYED and r.start_date == start
    ]


async def contracts(
    adapters: Adapters, id_number: str, unit: SeedEmployer = UNIT
) -> list[LabourContract]:
    return await adapters.labour.query([id_number], unit.labour_id)


async def in_force(adapters: Adapters, id_number: str) -> list[LabourContract]:
    return [c for c in await contracts(adapters, id_number) if c.state is ContractState.IN_FORCE]


async def unemployment_rows(adapters: Adapters, id_number: str) -> list[UnemploymentRegistration]:
    return await adapters.unemployment.query_person(id_number)


async def registered_unemployed(adapters: Adapters, id_number: str) -> list[str]:
    return [
        r.reference
        for r in await unemployment_rows(adapters, id_number)
        if r.state is UnemploymentState.REGISTERED
    ]
