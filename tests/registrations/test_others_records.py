"""A record the system holds is a step's own only if nothing says it is another's.

The finding (an audit, against a cluster): a worker hired and done; the employment
system down; the same worker hired again under a new key. The second hire's
employment registration is sent into the outage (its outcome unknown), its
contract filing refused (a contract in force): the registration is undone. Once
the employment system is back, reconciling the unknown step found the FIRST
hire's record (the same worker, unit and start date), took it as its own, and the
compensation revoked it: the first hire still said COMPLETED, the system held its
record revoked. The gateway's store knows which references its steps hold: a
record found that another registration's step holds is not this step's.
"""

from __future__ import annotations

import pytest

from gateway.domain.model import ContractState, EmploymentState, RegistrationRow, System
from gateway.registrations import messages
from gateway.registrations.engine import Engine
from gateway.registrations.model import Registration, RegistrationState, StepState
from gateway.store import Store
from tests.fakes import FakeSystem
from tests.fakes.employment import FakeEmployment
from tests.fakes.labour import FakeLabour
from tests.registrations.support import (
    Adapters,
    contracts,
    employments,
    end_row,
    hire_row,
    registered_unemployed,
    run_until,
    settle,
    step_of,
    submit,
)
from tests.services import SQL_BACKENDS


async def _first_hire(
    store: Store, engine: Engine, adapters: Adapters
) -> tuple[RegistrationRow, Registration, str, str]:
    """A hire carried out: its row, the registration, its employment record and
    contract."""
    row = hire_row()
    (first,) = await submit(store, [row])
    (done,) = await settle(store, [first.id], engine)
    assert done.state is RegistrationState.COMPLETED
    employed = step_of(done, System.EMPLOYMENT).reference
    filed = step_of(done, System.LABOUR).reference
    assert employed is not None
    assert filed is not None
    return row, done, employed, filed


async def _read(store: Store, registration_id: str) -> Registration:
    found = await store.registrations.get(registration_id)
    assert found is not None
    return found


def _assert_first_untouched(
    now: Registration,
    systems: dict[System, FakeSystem],
    employed: str,
    filed: str,
) -> None:
    assert now.state is RegistrationState.COMPLETED
    assert step_of(now, System.EMPLOYMENT).reference == employed
    assert step_of(now, System.LABOUR).reference == filed
    employment = systems[System.EMPLOYMENT]
    labour = systems[System.LABOUR]
    assert isinstance(employment, FakeEmployment)
    assert isinstance(labour, FakeLabour)
    # What the system holds: the first hire's record still employed (zt=1), its
    # contract still in force; nothing was asked to be revoked.
    assert employment.records[employed].state is EmploymentState.EMPLOYED
    assert labour.contracts[filed].state is ContractState.IN_FORCE
    assert employment.stats().get("employment.revoke") is None
    assert labour.stats().get("RevokeFiling") is None


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_compensation_never_revokes_another_registrations_record(
    store: Store,
    engine: Engine,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    row, first, employed, filed = await _first_hire(store, engine, adapters)
    for system in systems.values():
        system.reset()
    # The employment system down: the second hire's write is sent, its outcome unknown.
    systems[System.EMPLOYMENT].faults(down=True)
    (second,) = await submit(store, [hire_row(row.id_number)])

    async def refused_and_unknown() -> bool:
        now = await _read(store, second.id)
        return (
            now.state is RegistrationState.COMPENSATING
            and step_of(now, System.LABOUR).state is StepState.REFUSED
            and step_of(now, System.EMPLOYMENT).state is StepState.UNKNOWN
        )

    await run_until(refused_and_unknown, engine)
    systems[System.EMPLOYMENT].faults(down=False)
    (done,) = await settle(store, [second.id], engine)

    # The second hire is undone: its contract filing refused (a contract in force),
    # its employment registration found to be the first hire's, so nothing of its
    # own to undo.
    assert done.state is RegistrationState.COMPENSATED
    assert done.failure is not None
    assert done.failure.code == messages.SYSTEM_DUPLICATE
    assert done.failure.system_code == "LD2002"
    employment = step_of(done, System.EMPLOYMENT)
    assert employment.state is StepState.SKIPPED
    assert employment.reference != employed
    assert employment.reference is None
    # Sent once into the outage, never again.
    assert systems[System.EMPLOYMENT].stats().get("employment.register") == 1
    # The first hire is as it was, at the gateway and in the systems.
    _assert_first_untouched(await _read(store, first.id), systems, employed, filed)
    assert [r.reference for r in await employments(adapters, row.id_number)] == [employed]
    assert [c.reference for c in await contracts(adapters, row.id_number)] == [filed]


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_another_registrations_record_is_not_adopted_going_forward(
    store: Store,
    engine: Engine,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    """Both systems down: both writes of the second hire of unknown outcome. The
    employment system back first: the record found is the first hire's, so the
    write is sent again, under the usual rules, and refused as a duplicate on its
    second attempt; what is found then is still the first hire's: a refusal, not
    an adoption. The labour system back: its contract found is the first hire's
    too, so nothing of the second's to undo."""
    row, first, employed, filed = await _first_hire(store, engine, adapters)
    for system in systems.values():
        system.reset()
        system.faults(down=True)
    (second,) = await submit(store, [hire_row(row.id_number)])

    async def both_unknown() -> bool:
        now = await _read(store, second.id)
        return all(s.state is StepState.UNKNOWN and s.attempts == 1 for s in now.steps)

    await run_until(both_unknown, engine)
    systems[System.EMPLOYMENT].faults(down=False)

    async def employment_decided() -> bool:
        now = await _read(store, second.id)
        return step_of(now, System.EMPLOYMENT).state in (StepState.REFUSED, StepState.DONE)

    await run_until(employment_decided, engine)
    systems[System.LABOUR].faults(down=False)
    (done,) = await settle(store, [second.id], engine)

    assert done.state is RegistrationState.COMPENSATED
    employment = step_of(done, System.EMPLOYMENT)
    assert employment.attempts == 2
    assert employment.reference is None
    assert employment.last_error is not None
    assert employment.last_error.code == messages.SYSTEM_DUPLICATE
    assert employment.last_error.system_code == "E3001"
    assert done.failure == employment.last_error
    labour = step_of(done, System.LABOUR)
    assert labour.state is StepState.SKIPPED
    assert labour.reference is None
    assert systems[System.EMPLOYMENT].stats().get("employment.register") == 2
    assert systems[System.LABOUR].stats().get("FileContract") == 1
    _assert_first_untouched(await _read(store, first.id), systems, employed, filed)


async def test_a_lost_write_of_its_own_is_still_found(
    store: Store,
    engine: Engine,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    """The rule reads the store only when a record is found, and a record no other
    registration holds is found as before: committed, its answer lost, it is done."""
    row = hire_row()
    systems[System.EMPLOYMENT].faults(commit_then_drop=1.0)
    (hire,) = await submit(store, [row])

    async def unknown() -> bool:
        now = await _read(store, hire.id)
        return step_of(now, System.EMPLOYMENT).state is StepState.UNKNOWN

    await run_until(unknown, engine)
    systems[System.EMPLOYMENT].faults(commit_then_drop=0.0)
    (done,) = await settle(store, [hire.id], engine)

    assert done.state is RegistrationState.COMPLETED
    employment = step_of(done, System.EMPLOYMENT)
    assert employment.attempts == 1
    assert [r.reference for r in await employments(adapters, row.id_number)] == [
        employment.reference
    ]
    assert systems[System.EMPLOYMENT].stats().get("employment.register") == 1


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_a_follow_up_still_adopts_another_registrations_record_as_found_existing(
    store: Store,
    engine: Engine,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    """Kept as it was: on a first attempt's "already exists", a follow-up adopts the
    record found as someone else's (``FOUND_EXISTING``, never undone), even when
    another registration of the gateway holds it. Here an ending with the
    unemployment registration, done; the same ending submitted again: each ending
    is found as filed, and the unemployment registration is the first's."""
    row = hire_row()
    (hire,) = await submit(store, [row])
    await settle(store, [hire.id], engine)
    (ending,) = await submit(store, [end_row(row)])
    (ended,) = await settle(store, [ending.id], engine)
    assert ended.state is RegistrationState.COMPLETED
    registered = step_of(ended, System.UNEMPLOYMENT).reference
    assert registered is not None
    for system in systems.values():
        system.reset()

    (again,) = await submit(store, [end_row(row)])
    (done,) = await settle(store, [again.id], engine)

    assert done.state is RegistrationState.COMPLETED
    unemployment = step_of(done, System.UNEMPLOYMENT)
    assert unemployment.state is StepState.DONE
    assert unemployment.reference == registered
    assert unemployment.last_error is not None
    assert unemployment.last_error.code == messages.FOUND_EXISTING
    assert await registered_unemployed(adapters, row.id_number) == [registered]
    assert systems[System.UNEMPLOYMENT].stats().get("djxx.create") == 1


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_a_follow_up_after_a_lost_answer_takes_another_registrations_record_as_found(
    store: Store,
    engine: Engine,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    """The unemployment registration an earlier ending made, met by the same ending
    submitted again, whose follow-up's first answer was lost: the record found is
    not what the lost write made (another registration holds it), so it is sent
    again, refused as already registered, and adopted as someone else's
    (``FOUND_EXISTING``, which no compensation undoes), never as this
    registration's own."""
    row = hire_row()
    (hire,) = await submit(store, [row])
    await settle(store, [hire.id], engine)
    (ending,) = await submit(store, [end_row(row)])
    (ended,) = await settle(store, [ending.id], engine)
    registered = step_of(ended, System.UNEMPLOYMENT).reference
    assert registered is not None
    for system in systems.values():
        system.reset()
    # Every call fails with a server error: the write's outcome is unknown.
    systems[System.UNEMPLOYMENT].faults(error_rate=1.0)
    (again,) = await submit(store, [end_row(row)])

    async def unknown() -> bool:
        now = await _read(store, again.id)
        return step_of(now, System.UNEMPLOYMENT).state is StepState.UNKNOWN

    await run_until(unknown, engine)
    systems[System.UNEMPLOYMENT].faults(error_rate=0.0)
    (done,) = await settle(store, [again.id], engine)

    assert done.state is RegistrationState.COMPLETED
    unemployment = step_of(done, System.UNEMPLOYMENT)
    assert unemployment.state is StepState.DONE
    assert unemployment.reference == registered
    assert unemployment.attempts == 2
    assert unemployment.last_error is not None
    assert unemployment.last_error.code == messages.FOUND_EXISTING
    assert await registered_unemployed(adapters, row.id_number) == [registered]
    assert (await _read(store, ending.id)).state is RegistrationState.COMPLETED
