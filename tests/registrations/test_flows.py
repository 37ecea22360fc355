"""Registrations carried out end to end, counted in the stand-ins themselves."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.standin.seed import EMPLOYERS
from gateway.cache import GatewayCache
from gateway.domain.model import ContractState, EmployerProfile, EmploymentState, System
from gateway.registrations import messages
from gateway.registrations.engine import Engine
from gateway.registrations.model import RegistrationState, StepState
from gateway.registrations.plan import person_of, term_of
from gateway.store import EmployerRecord, Store
from tests.factories import credit_code
from tests.fakes import FakeSystem
from tests.registrations.support import (
    LEFT_ON,
    START,
    UNIT,
    Adapters,
    contracts,
    employed,
    employments,
    end_row,
    hire_row,
    in_force,
    registered_unemployed,
    renew_row,
    settle,
    step_of,
    submit,
    submit_account,
    unemployment_rows,
)
from tests.services import SQL_BACKENDS


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_hire_reaches_both_systems_once(
    store: Store,
    engine: Engine,
    adapters: Adapters,
    cache: GatewayCache,
    systems: dict[System, FakeSystem],
) -> None:
    rows = [hire_row(), hire_row()]
    registrations = await submit(store, rows)
    # A stale view of the first worker, cached before the hire.
    stale_key = cache.worker_key(System.EMPLOYMENT, UNIT.employment_id, rows[0].id_number)
    await cache.set(stale_key, ["stale"], ttl=60)

    done = await settle(store, [r.id for r in registrations], engine)

    for row, registration in zip(rows, done, strict=True):
        assert registration.state is RegistrationState.COMPLETED
        assert all(s.state is StepState.DONE and s.reference for s in registration.steps)
        assert await employed(adapters, row.id_number) == [
            step_of(registration, System.EMPLOYMENT).reference
        ]
        assert [c.reference for c in await in_force(adapters, row.id_number)] == [
            step_of(registration, System.LABOUR).reference
        ]
        assert all(s.attempts == 1 for s in registration.steps)
    assert await cache.get(stale_key) is None
    assert await store.registrations.busy_workers([r.person_key or "" for r in done]) == []
    # No fault injected: every write was sent exactly once.
    assert systems[System.EMPLOYMENT].stats().get("employment.register") == 2
    assert systems[System.LABOUR].stats().get("FileContract") == 2


async def test_ending_registers_unemployment_only_after_stage_zero(
    store: Store, engine: Engine, adapters: Adapters
) -> None:
    hired = hire_row()
    (hire,) = await submit(store, [hired])
    await settle(store, [hire.id], engine)

    (ending,) = await submit(store, [end_row(hired)])
    # The first round takes stage 0 only, though there is room for more.
    assert await engine.run_once() == 2
    after_first = await store.registrations.get(ending.id)
    assert after_first is not None
    stage0 = [s for s in after_first.steps if s.stage == 0]
    assert [s.state for s in stage0] == [StepState.DONE, StepState.DONE]
    unemployment = step_of(after_first, System.UNEMPLOYMENT)
    assert unemployment.attempts == 0
    assert unemployment.next_attempt_at is not None
    assert await registered_unemployed(adapters, hired.id_number) == []

    (done,) = await settle(store, [ending.id], engine)
    assert done.state is RegistrationState.COMPLETED
    (record,) = await employments(adapters, hired.id_number)
    assert record.state is EmploymentState.DISMISSED
    assert record.dismissal_date == LEFT_ON
    (contract,) = await contracts(adapters, hired.id_number)
    assert contract.state is ContractState.RESCINDED
    assert contract.ended_on == LEFT_ON
    assert await registered_unemployed(adapters, hired.id_number) == [
        step_of(done, System.UNEMPLOYMENT).reference
    ]


async def test_renewal_supersedes_the_contract_in_force(
    store: Store, engine: Engine, adapters: Adapters
) -> None:
    hired = hire_row()
    (hire,) = await submit(store, [hired])
    await settle(store, [hire.id], engine)
    new_start = dt.date(2027, 3, 1)
    (renewal,) = await submit(store, [renew_row(hired, start=new_start, end=dt.date(2030, 2, 28))])

    (done,) = await settle(store, [renewal.id], engine)

    assert done.state is RegistrationState.COMPLETED
    states = {c.term.start_date: c.state for c in await contracts(adapters, hired.id_number)}
    assert states == {START: ContractState.SUPERSEDED, new_start: ContractState.IN_FORCE}
    (current,) = await in_force(adapters, hired.id_number)
    assert current.reference == step_of(done, System.LABOUR).reference


async def test_account_opening_opens_a_new_unit_and_binds_its_three_ids(
    store: Store, engine: Engine, adapters: Adapters
) -> None:
    profile = EmployerProfile(credit_code(), "济南测试开户有限公司", "370102", "王敏", "0531-1")
    registration = await submit_account(store, profile)

    (done,) = await settle(store, [registration.id], engine)

    assert done.state is RegistrationState.COMPLETED
    bound = await store.employers.get(profile.credit_code)
    assert bound is not None
    for system, adapter in adapters.all().items():
        found = await adapter.find_employer(profile.credit_code)
        assert found is not None
        assert bound.system_id(system) == found.employer_id == step_of(done, system).reference


async def test_account_opening_binds_units_that_already_exist(
    store: Store, engine: Engine, systems: dict[System, FakeSystem]
) -> None:
    seed = EMPLOYERS[1]
    # The gateway knows the unit, but not yet its ids in the systems.
    await store.employers.upsert(
        EmployerRecord(seed.profile.credit_code, seed.profile.name, seed.profile.division)
    )
    registration = await submit_account(store, seed.profile)

    (done,) = await settle(store, [registration.id], engine)

    assert done.state is RegistrationState.COMPLETED
    bound = await store.employers.get(seed.profile.credit_code)
    assert bound is not None
    assert (bound.employment_id, bound.labour_id, bound.unemployment_id) == (
        seed.employment_id,
        seed.labour_id,
        seed.unemployment_id,
    )


async def test_labour_refusal_revokes_the_employment_registration(
    store: Store,
    engine: Engine,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    row = hire_row()
    # A contract in force for this worker is already filed with the unit.
    await adapters.labour.file(UNIT.labour_id, person_of(row), term_of(row))
    # The labour system answers late, so that the employment registration is done first.
    systems[System.LABOUR].faults(latency_ms=400)
    (registration,) = await submit(store, [row])

    (done,) = await settle(store, [registration.id], engine)

    assert done.state is RegistrationState.COMPENSATED
    labour = step_of(done, System.LABOUR)
    assert labour.state is StepState.REFUSED
    assert labour.last_error is not None
    assert labour.last_error.code == messages.SYSTEM_DUPLICATE
    assert done.failure == labour.last_error
    employment = step_of(done, System.EMPLOYMENT)
    assert employment.state is StepState.UNDONE
    assert employment.reference
    (record,) = await employments(adapters, row.id_number)
    assert record.reference == employment.reference
    assert record.state is EmploymentState.REVOKED
    assert await employed(adapters, row.id_number) == []
    assert systems[System.EMPLOYMENT].stats().get("employment.revoke") == 1
    # The contract filed before stays: it was not this registration's.
    assert len(await in_force(adapters, row.id_number)) == 1
    assert await store.registrations.busy_workers([done.person_key or ""]) == []
    assert not await unemployment_rows(adapters, row.id_number)
