"""Follow-ups against the systems: a refused or stuck one never undoes the core, and
it is retried (with corrected data) or cancelled alone; an "already registered"
that matches what was asked is done. Counted in the systems themselves."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import pytest

from adapters.standin.seed import EMPLOYERS
from adapters.standin.today import province_today
from gateway.domain.model import (
    ContractState,
    EmploymentRegistrationRequest,
    EmploymentState,
    EndReason,
    RegistrationRow,
    System,
    UnemploymentRequest,
    UnemploymentState,
)
from gateway.registrations import followups, messages
from gateway.registrations.engine import Engine
from gateway.registrations.followups import stored_row
from gateway.registrations.model import (
    Operation,
    Registration,
    RegistrationState,
    StepKind,
    StepState,
    core_complete,
    follow_ups_left,
)
from gateway.registrations.plan import person_of, to_payload
from gateway.store import Store
from tests.clock import MovableClock
from tests.fakes import FakeSystem
from tests.registrations.support import (
    LEFT_ON,
    START,
    UNIT,
    Adapters,
    contracts,
    employments,
    end_row,
    hire_row,
    registered_unemployed,
    settle,
    step_of,
    submit,
    unemployment_rows,
)
from tests.services import SQL_BACKENDS

OTHER_UNIT = EMPLOYERS[1]
TODAY = province_today()  # the systems' day (the province's)


def no_limits(row: RegistrationRow, operation: Operation) -> list[object]:
    return []


async def hired(store: Store, engine: Engine) -> RegistrationRow:
    row = hire_row()
    (hire,) = await submit(store, [row])
    (done,) = await settle(store, [hire.id], engine)
    assert done.state is RegistrationState.COMPLETED
    return row


async def registered_elsewhere(adapters: Adapters, row: RegistrationRow) -> str:
    """The worker already registered unemployed, after another job: the system
    refuses a second registration (40902)."""
    return await adapters.unemployment.register(
        UnemploymentRequest(
            OTHER_UNIT.unemployment_id, person_of(row), dt.date(2024, 6, 30), EndReason.AGREEMENT
        )
    )


async def refused_follow_up(
    store: Store, engine: Engine, adapters: Adapters, systems: dict[System, FakeSystem]
) -> tuple[RegistrationRow, Registration, str]:
    """An ending whose unemployment registration the system refused; the counts of
    the systems start with the ending."""
    row = await hired(store, engine)
    blocking = await registered_elsewhere(adapters, row)
    for system in systems.values():
        system.reset()
    (ending,) = await submit(store, [end_row(row)])
    (done,) = await settle(store, [ending.id], engine)
    return row, done, blocking


def assert_core_kept_once(systems: dict[System, FakeSystem]) -> None:
    """The ending's core reached each system once, and nothing was undone."""
    employment = systems[System.EMPLOYMENT].stats()
    labour = systems[System.LABOUR].stats()
    assert employment.get("employment.dismiss") == 1
    assert labour.get("TerminateContract") == 1
    assert "employment.revoke" not in employment
    assert "RevokeFiling" not in labour


async def assert_worker_ended(adapters: Adapters, row: RegistrationRow) -> None:
    (record,) = await employments(adapters, row.id_number)
    assert record.state is EmploymentState.DISMISSED
    assert record.dismissal_date == LEFT_ON
    (contract,) = await contracts(adapters, row.id_number)
    assert contract.state is ContractState.RESCINDED
    assert contract.ended_on == LEFT_ON


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_a_refused_follow_up_leaves_the_core_in_every_system_once(
    store: Store, engine: Engine, adapters: Adapters, systems: dict[System, FakeSystem]
) -> None:
    row, done, blocking = await refused_follow_up(store, engine, adapters, systems)

    assert done.state is RegistrationState.NEEDS_ATTENTION
    assert done.failure is None  # nothing refused the registration itself
    assert core_complete(done)
    assert [s.state for s in done.steps if s.kind is StepKind.CORE] == [StepState.DONE] * 2
    (left,) = follow_ups_left(done)
    assert left.operation is Operation.REGISTER_UNEMPLOYMENT
    assert left.state is StepState.REFUSED
    assert left.last_error is not None
    assert left.last_error.code == messages.SYSTEM_DUPLICATE
    assert left.last_error.system_code == "40902"
    said = followups.notice(done)
    assert said is not None
    assert said.code == followups.FOLLOW_UP_NEEDS_ATTENTION
    # The core stays: dismissed and ended, each written once, nothing revoked.
    assert_core_kept_once(systems)
    await assert_worker_ended(adapters, row)
    # Asked once, refused, and checked with one query (the record found is another's).
    assert systems[System.UNEMPLOYMENT].stats().get("djxx.create") == 1
    assert await registered_unemployed(adapters, row.id_number) == [blocking]
    # A person must act: the worker stays locked meanwhile.
    assert await store.registrations.busy_workers([done.person_key or ""]) == [done.person_key]


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_a_follow_up_refused_for_its_date_names_the_rows_end_date(
    store: Store, engine: Engine, adapters: Adapters, systems: dict[System, FakeSystem]
) -> None:
    """The unemployment system refuses a relation that ends after today (40001),
    naming its request's ``relation_ended_on``: the step's error names the row's
    ``end_date``, the input it came from, as a problem of the row would."""
    row = await hired(store, engine)
    (ending,) = await submit(store, [end_row(row, on=TODAY + dt.timedelta(days=1))])

    (done,) = await settle(store, [ending.id], engine)

    assert done.state is RegistrationState.NEEDS_ATTENTION
    assert core_complete(done)
    (left,) = follow_ups_left(done)
    assert left.operation is Operation.REGISTER_UNEMPLOYMENT
    assert left.state is StepState.REFUSED
    assert left.last_error is not None
    assert left.last_error.code == messages.SYSTEM_REJECTED
    assert left.last_error.system_code == "40001"
    assert left.last_error.field == "end_date"


async def test_a_stuck_follow_up_leaves_the_core(
    store: Store,
    make_engine: Callable[..., Engine],
    adapters: Adapters,
    systems: dict[System, FakeSystem],
    clock: MovableClock,
) -> None:
    engine = make_engine(owner="stuck")
    row = await hired(store, engine)
    for system in systems.values():
        system.reset()
    systems[System.UNEMPLOYMENT].faults(down=True)
    (ending,) = await submit(store, [end_row(row)], deadline=dt.timedelta(seconds=30))

    async def unemployment_tried() -> bool:
        found = await store.registrations.get(ending.id)
        return found is not None and step_of(found, System.UNEMPLOYMENT).attempts > 0

    while not await unemployment_tried():
        await engine.run_once()
    clock.advance(60)
    (done,) = await settle(store, [ending.id], engine)

    assert done.state is RegistrationState.NEEDS_ATTENTION
    assert core_complete(done)
    (left,) = follow_ups_left(done)
    assert left.state is StepState.STUCK
    assert left.last_error is not None
    assert left.last_error.code == messages.DEADLINE_PASSED
    assert_core_kept_once(systems)
    await assert_worker_ended(adapters, row)


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_retrying_with_corrected_data_completes_it(
    store: Store, engine: Engine, adapters: Adapters, systems: dict[System, FakeSystem]
) -> None:
    row, done, blocking = await refused_follow_up(store, engine, adapters, systems)
    # The blocking registration is cancelled at the system's own counter.
    await adapters.unemployment.cancel(blocking)
    step = step_of(done, System.UNEMPLOYMENT)
    corrected = followups.correct(
        done, step, {"mobile": "13712345678"}, today=TODAY, limits=no_limits
    )
    assert corrected.problems == []

    await engine.retry_follow_up(
        done.id,
        Operation.REGISTER_UNEMPLOYMENT,
        payload=corrected.payload,
        row=to_payload(corrected.row),
    )
    (finished,) = await settle(store, [done.id], engine)

    assert finished.state is RegistrationState.COMPLETED
    assert follow_ups_left(finished) == []
    unemployment = step_of(finished, System.UNEMPLOYMENT)
    assert unemployment.state is StepState.DONE
    (registered,) = [
        r
        for r in await unemployment_rows(adapters, row.id_number)
        if r.state is UnemploymentState.REGISTERED
    ]
    assert registered.reference == unemployment.reference
    assert registered.employer_id == UNIT.unemployment_id
    assert registered.person.mobile == "13712345678"  # what was sent is the correction
    assert stored_row(finished).mobile == "13712345678"
    # The core was not touched again.
    assert_core_kept_once(systems)
    assert systems[System.UNEMPLOYMENT].stats().get("djxx.create") == 2
    assert await store.registrations.busy_workers([finished.person_key or ""]) == []


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_cancelling_the_follow_up_completes_with_the_core_kept(
    store: Store, engine: Engine, adapters: Adapters, systems: dict[System, FakeSystem]
) -> None:
    row, done, blocking = await refused_follow_up(store, engine, adapters, systems)

    finished = await engine.cancel_follow_up(done.id, Operation.REGISTER_UNEMPLOYMENT)

    assert finished.state is RegistrationState.COMPLETED
    assert finished.failure is None
    unemployment = step_of(finished, System.UNEMPLOYMENT)
    assert unemployment.state is StepState.SKIPPED
    assert unemployment.last_error is not None
    assert unemployment.last_error.code == followups.FOLLOW_UP_CANCELLED
    said = followups.notice(finished)
    assert said is not None
    assert said.code == followups.FOLLOW_UP_CANCELLED
    assert_core_kept_once(systems)
    await assert_worker_ended(adapters, row)
    assert systems[System.UNEMPLOYMENT].stats().get("djxx.create") == 1
    assert await registered_unemployed(adapters, row.id_number) == [blocking]
    assert await store.registrations.busy_workers([finished.person_key or ""]) == []
    # Done once: a second cancel finds nothing waiting.
    with pytest.raises(followups.FollowUpActionRefused) as again:
        await engine.cancel_follow_up(done.id, Operation.REGISTER_UNEMPLOYMENT)
    assert again.value.code == "FOLLOW_UP_NOT_WAITING"


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_two_people_acting_on_one_follow_up_at_once_act_once(
    store: Store,
    engine: Engine,
    make_engine: Callable[..., Engine],
    open_store: Callable[[], Awaitable[Store]],
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    """The employer retries while a clerk, on another gateway, cancels: one wins."""
    row, done, blocking = await refused_follow_up(store, engine, adapters, systems)
    await adapters.unemployment.cancel(blocking)
    other = make_engine(on=await open_store(), owner="other")

    outcomes = await asyncio.gather(
        engine.retry_follow_up(done.id, Operation.REGISTER_UNEMPLOYMENT),
        other.cancel_follow_up(done.id, Operation.REGISTER_UNEMPLOYMENT),
        return_exceptions=True,
    )

    refused = [o for o in outcomes if isinstance(o, followups.FollowUpActionRefused)]
    assert len(refused) == 1, outcomes
    assert refused[0].code in ("FOLLOW_UP_NOT_WAITING", "CORE_NOT_COMPLETE")
    (finished,) = await settle(store, [done.id], engine)
    assert finished.state is RegistrationState.COMPLETED
    unemployment = step_of(finished, System.UNEMPLOYMENT)
    retried = isinstance(outcomes[1], followups.FollowUpActionRefused)
    assert unemployment.state is (StepState.DONE if retried else StepState.SKIPPED)
    assert len(await registered_unemployed(adapters, row.id_number)) == (1 if retried else 0)
    assert_core_kept_once(systems)


async def test_a_clerks_retry_of_the_registration_sends_the_refused_follow_up_again(
    store: Store, engine: Engine, adapters: Adapters, systems: dict[System, FakeSystem]
) -> None:
    row, done, blocking = await refused_follow_up(store, engine, adapters, systems)
    await adapters.unemployment.cancel(blocking)

    await engine.retry(done.id)
    (finished,) = await settle(store, [done.id], engine)

    assert finished.state is RegistrationState.COMPLETED
    assert await registered_unemployed(adapters, row.id_number) == [
        step_of(finished, System.UNEMPLOYMENT).reference
    ]
    assert_core_kept_once(systems)


async def test_a_clerks_cancel_of_the_registration_still_undoes_the_core(
    store: Store, engine: Engine, adapters: Adapters, systems: dict[System, FakeSystem]
) -> None:
    row, done, _ = await refused_follow_up(store, engine, adapters, systems)

    await engine.cancel(done.id)
    (finished,) = await settle(store, [done.id], engine)

    assert finished.state is RegistrationState.CANCELLED
    assert [s.state for s in finished.steps if s.kind is StepKind.CORE] == [StepState.UNDONE] * 2
    assert systems[System.EMPLOYMENT].stats().get("employment.revoke") == 1
    assert systems[System.LABOUR].stats().get("RevokeFiling") == 1
    (record,) = await employments(adapters, row.id_number)
    assert record.state is EmploymentState.EMPLOYED
    (contract,) = await contracts(adapters, row.id_number)
    assert contract.state is ContractState.IN_FORCE


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_an_already_registered_that_matches_is_done_with_its_reference(
    store: Store, engine: Engine, adapters: Adapters, systems: dict[System, FakeSystem]
) -> None:
    row = await hired(store, engine)
    # Registered by hand at the system, for this unit and this very ending.
    existing = await adapters.unemployment.register(
        UnemploymentRequest(UNIT.unemployment_id, person_of(row), LEFT_ON, EndReason.AGREEMENT)
    )
    for system in systems.values():
        system.reset()
    (ending,) = await submit(store, [end_row(row)])

    (done,) = await settle(store, [ending.id], engine)

    assert done.state is RegistrationState.COMPLETED
    unemployment = step_of(done, System.UNEMPLOYMENT)
    assert unemployment.state is StepState.DONE
    assert unemployment.reference == existing
    assert unemployment.attempts == 1
    assert unemployment.last_error is not None
    assert unemployment.last_error.code == messages.FOUND_EXISTING
    assert await registered_unemployed(adapters, row.id_number) == [existing]
    assert systems[System.UNEMPLOYMENT].stats().get("djxx.create") == 1
    assert_core_kept_once(systems)


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_a_core_refusal_of_an_ending_undoes_the_core_and_skips_the_follow_up(
    store: Store, engine: Engine, adapters: Adapters, systems: dict[System, FakeSystem]
) -> None:
    # Employed, but no contract was ever filed: the labour system refuses the ending.
    row = hire_row()
    await adapters.employment.register(
        EmploymentRegistrationRequest(
            UNIT.employment_id,
            person_of(row),
            START,
            row.employment_person_category,  # type: ignore[arg-type]
            row.employment_form,  # type: ignore[arg-type]
            row.post or "",
            row.employment_locality or "",
        )
    )
    (ending,) = await submit(store, [end_row(row)])

    (done,) = await settle(store, [ending.id], engine)

    assert done.state is RegistrationState.COMPENSATED
    assert done.failure is not None
    assert step_of(done, System.LABOUR).state is StepState.REFUSED
    assert step_of(done, System.EMPLOYMENT).state is StepState.UNDONE
    assert step_of(done, System.UNEMPLOYMENT).state is StepState.SKIPPED
    assert not core_complete(done)
    assert followups.notice(done) is None
    (record,) = await employments(adapters, row.id_number)
    assert record.state is EmploymentState.EMPLOYED
    assert await unemployment_rows(adapters, row.id_number) == []


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_an_ending_on_record_takes_the_unemployment_registration_asked_for_later(
    store: Store, engine: Engine, adapters: Adapters, systems: dict[System, FakeSystem]
) -> None:
    """The finding: a worker dismissed without the unemployment registration came back
    to the window for it. Asked separately, it is closed (the integrated registration
    only); asked with the ending again, the systems refused the ending they already
    held ("no valid registration", "no contract in force") and the registration ended
    compensated, the unemployment registration skipped. Each system's ending is found
    as asked (the same worker, unit, kind and date) and adopted; the unemployment
    registration follows; nothing is written twice, nothing undone."""
    row = await hired(store, engine)
    (first,) = await submit(store, [end_row(row, unemployment=False)])
    (ended,) = await settle(store, [first.id], engine)
    assert ended.state is RegistrationState.COMPLETED
    for system in systems.values():
        system.reset()

    (again,) = await submit(store, [end_row(row)])
    (done,) = await settle(store, [again.id], engine)

    assert done.state is RegistrationState.COMPLETED, done
    for system in (System.EMPLOYMENT, System.LABOUR):
        step = step_of(done, system)
        assert step.state is StepState.DONE
        assert step.last_error is not None
        assert step.last_error.code == messages.FOUND_EXISTING
        assert "not made by this registration" in step.last_error.message_en
    assert step_of(done, System.UNEMPLOYMENT).state is StepState.DONE
    (registered,) = await unemployment_rows(adapters, row.id_number)
    assert registered.relation_ended_on == LEFT_ON
    # Each ending asked once more and refused, nothing undone, still ended as before.
    assert_core_kept_once(systems)
    await assert_worker_ended(adapters, row)


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_an_ending_on_record_on_another_day_is_still_refused(
    store: Store, engine: Engine, adapters: Adapters, systems: dict[System, FakeSystem]
) -> None:
    """Only the ending as asked is adopted: another date is the system's refusal, as
    before, and the registration is compensated, the unemployment registration skipped."""
    row = await hired(store, engine)
    (first,) = await submit(store, [end_row(row, unemployment=False)])
    await settle(store, [first.id], engine)

    (again,) = await submit(store, [end_row(row, on=LEFT_ON - dt.timedelta(days=1))])
    (done,) = await settle(store, [again.id], engine)

    assert done.state is RegistrationState.COMPENSATED
    refused = [step_of(done, s).state for s in (System.EMPLOYMENT, System.LABOUR)]
    assert StepState.REFUSED in refused
    assert step_of(done, System.UNEMPLOYMENT).state is StepState.SKIPPED
    assert await unemployment_rows(adapters, row.id_number) == []
    await assert_worker_ended(adapters, row)
