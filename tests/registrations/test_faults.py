"""Each system's fault points: nothing lost, nothing doubled, counted in the systems.

Against the in-memory systems of ``tests/fakes``, whose switches are the
stand-ins' own; the same fault points over real processes are the proofs of
``tests/proof/test_faults.py``. The scan of the logs for personal data goes
through the real adapters and stand-ins, since it is their logs too.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

import pytest

from adapters.standin.process import RunningStandin
from gateway.domain.model import EmploymentState, EndReason, System, UnemploymentRequest
from gateway.registrations import messages
from gateway.registrations.engine import ClerkActionRefused, Engine
from gateway.registrations.model import Registration, RegistrationState, StepState
from gateway.registrations.plan import person_of
from gateway.store import Store
from tests.clock import MovableClock
from tests.fakes import FakeSystem
from tests.registrations.support import (
    UNIT,
    Adapters,
    employed,
    employments,
    end_row,
    hire_row,
    in_force,
    registered_unemployed,
    run_until,
    settle,
    step_of,
    submit,
)

#: The write each system's step sends, as the stand-in counts it.
WRITE = {
    System.EMPLOYMENT: "employment.register",
    System.LABOUR: "FileContract",
    System.UNEMPLOYMENT: "djxx.create",
}
#: The query each system's reconciliation asks.
QUERY = {
    System.EMPLOYMENT: "employment.query",
    System.LABOUR: "QueryContracts",
    System.UNEMPLOYMENT: "djxx.by_person",
}


async def _faulted_registration(
    system: System, store: Store, engine: Engine, fake: FakeSystem, **faults: object
) -> tuple[str, Registration]:
    """A registration whose ``system`` step meets ``faults``; the worker's ID number."""
    hired = hire_row()
    if system is System.UNEMPLOYMENT:
        (hire,) = await submit(store, [hired])
        await settle(store, [hire.id], engine)
        rows = [end_row(hired)]
    else:
        rows = [hired]
    fake.reset()
    fake.faults(**faults)
    (registration,) = await submit(store, rows)
    return hired.id_number, registration


async def _records(system: System, adapters: Adapters, id_number: str) -> list[str]:
    if system is System.EMPLOYMENT:
        return await employed(adapters, id_number)
    if system is System.LABOUR:
        return [c.reference for c in await in_force(adapters, id_number)]
    return await registered_unemployed(adapters, id_number)


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param({"commit_then_drop": 1.0}, id="commit_then_drop"),
        pytest.param({"error_after_commit": 1.0}, id="error_after_commit"),
    ],
)
@pytest.mark.parametrize("system", list(System), ids=[s.value for s in System])
async def test_a_lost_answer_is_reconciled_not_resent(
    system: System,
    faults: dict[str, object],
    store: Store,
    engine: Engine,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    fake = systems[system]
    id_number, registration = await _faulted_registration(system, store, engine, fake, **faults)

    (done,) = await settle(store, [registration.id], engine)

    assert done.state is RegistrationState.COMPLETED
    step = step_of(done, system)
    assert step.state is StepState.DONE
    assert step.attempts == 1  # found by asking, never sent again
    assert await _records(system, adapters, id_number) == [step.reference]
    stats = fake.stats()
    assert stats.get(WRITE[system]) == 1
    # The answer was lost indeed: the engine had to ask.
    assert stats.get(QUERY[system], 0) >= 2  # its own, and the count above


async def test_systems_down_then_up(
    store: Store,
    engine: Engine,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    row = hire_row()
    systems[System.EMPLOYMENT].faults(down=True)
    systems[System.LABOUR].faults(down=True)
    (registration,) = await submit(store, [row])

    async def every_step_failed() -> bool:
        current = await store.registrations.get(registration.id)
        assert current is not None
        return all(step.last_error is not None for step in current.steps)

    await run_until(every_step_failed, engine)
    during = await store.registrations.get(registration.id)
    assert during is not None
    assert during.state is RegistrationState.IN_PROGRESS
    waiting = {
        messages.SYSTEM_UNAVAILABLE,
        messages.OUTCOME_UNKNOWN,
        messages.RECONCILE_UNAVAILABLE,
    }
    for step in during.steps:
        assert step.state is not StepState.DONE
        assert step.last_error is not None
        assert step.last_error.code in waiting

    systems[System.EMPLOYMENT].reset()
    systems[System.LABOUR].reset()
    (done,) = await settle(store, [registration.id], engine)

    assert done.state is RegistrationState.COMPLETED
    assert await employed(adapters, row.id_number) == [step_of(done, System.EMPLOYMENT).reference]
    assert [c.reference for c in await in_force(adapters, row.id_number)] == [
        step_of(done, System.LABOUR).reference
    ]
    assert systems[System.EMPLOYMENT].stats().get("employment.register") == 1
    assert systems[System.LABOUR].stats().get("FileContract") == 1


async def test_maintenance_retry_after_is_honoured(
    store: Store,
    engine: Engine,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
    clock: MovableClock,
) -> None:
    fake = systems[System.UNEMPLOYMENT]
    id_number, registration = await _faulted_registration(
        System.UNEMPLOYMENT, store, engine, fake, maintenance=True, retry_after_s=2
    )

    deadline = time.monotonic() + 10
    while fake.stats().get("djxx.create", 0) < 1:
        assert time.monotonic() < deadline, "the unemployment step was never sent"
        await engine.run_once()
    refused_at = clock()
    fake.reset()  # maintenance over at once: only Retry-After holds the step back
    current = await store.registrations.get(registration.id)
    assert current is not None
    step = step_of(current, System.UNEMPLOYMENT)
    assert step.state is StepState.PENDING
    assert step.attempts == 1
    assert step.next_attempt_at is not None
    assert step.updated_at is not None
    assert step.next_attempt_at - step.updated_at >= dt.timedelta(seconds=1.9)

    # The backoff alone would retry within 0.4 s; nothing is sent before 2 s. The
    # engine's clock, not the test, waits: past the backoff, short of the 2 s.
    clock.advance(1.0)
    while await engine.run_once():
        pass
    assert fake.stats().get("djxx.create", 0) == 0

    # Then past the Retry-After.
    clock.advance(1.0)
    (done,) = await settle(store, [registration.id], engine)
    assert done.state is RegistrationState.COMPLETED
    finished = step_of(done, System.UNEMPLOYMENT)
    assert finished.attempts == 2
    assert finished.finished_at is not None
    assert finished.finished_at - refused_at >= dt.timedelta(seconds=1.8)
    assert await registered_unemployed(adapters, id_number) == [finished.reference]
    assert fake.stats().get("djxx.create") == 1


async def _stuck_hire(
    store: Store, engine: Engine, systems: dict[System, FakeSystem], clock: MovableClock
) -> tuple[str, Registration]:
    """A hire whose labour step passed its deadline while the system was down."""
    row = hire_row()
    systems[System.LABOUR].faults(down=True)
    (registration,) = await submit(store, [row], deadline=dt.timedelta(minutes=1))

    async def labour_failed() -> bool:
        current = await store.registrations.get(registration.id)
        assert current is not None
        labour = step_of(current, System.LABOUR)
        return labour.attempts >= 1 and labour.state is not StepState.SENDING

    # The employment step is done, the labour one failed at least once; then the
    # minute passes on the engine's clock, and the next attempt finds it past.
    await run_until(labour_failed, engine)
    clock.advance(61)
    (stuck,) = await settle(store, [registration.id], engine, within=15)
    assert stuck.state is RegistrationState.NEEDS_ATTENTION
    labour = step_of(stuck, System.LABOUR)
    assert labour.state is StepState.STUCK
    assert labour.last_error is not None
    assert labour.last_error.code == messages.DEADLINE_PASSED
    assert step_of(stuck, System.EMPLOYMENT).state is StepState.DONE
    # Still this registration's worker: nothing else may be filed for them meanwhile.
    assert await store.registrations.busy_workers([stuck.person_key or ""]) == [stuck.person_key]
    systems[System.LABOUR].reset()
    return row.id_number, stuck


async def test_deadline_then_retry_completes(
    store: Store,
    engine: Engine,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
    clock: MovableClock,
) -> None:
    id_number, stuck = await _stuck_hire(store, engine, systems, clock)

    retried = await engine.retry(stuck.id)
    assert retried.state is RegistrationState.IN_PROGRESS
    labour = step_of(retried, System.LABOUR)
    assert labour.state is StepState.UNKNOWN
    assert labour.deadline_at is not None
    assert labour.deadline_at > clock() + dt.timedelta(minutes=4)
    (done,) = await settle(store, [stuck.id], engine)

    assert done.state is RegistrationState.COMPLETED
    assert await employed(adapters, id_number) == [step_of(done, System.EMPLOYMENT).reference]
    assert [c.reference for c in await in_force(adapters, id_number)] == [
        step_of(done, System.LABOUR).reference
    ]
    with pytest.raises(ClerkActionRefused) as refused:
        await engine.retry(done.id)
    assert refused.value.code == "REGISTRATION_NOT_NEEDING_ATTENTION"
    # Named in Chinese in the Chinese message (it read "当前状态为 COMPLETED").
    assert "“已办结”" in refused.value.message_zh
    assert "COMPLETED" not in refused.value.message_zh


async def test_deadline_then_cancel_undoes_what_was_done(
    store: Store,
    engine: Engine,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
    clock: MovableClock,
) -> None:
    id_number, stuck = await _stuck_hire(store, engine, systems, clock)

    await engine.cancel(stuck.id)
    (done,) = await settle(store, [stuck.id], engine)

    assert done.state is RegistrationState.CANCELLED
    assert done.failure is not None
    assert done.failure.code == messages.CANCELLED
    assert step_of(done, System.EMPLOYMENT).state is StepState.UNDONE
    assert step_of(done, System.LABOUR).state is StepState.SKIPPED
    (record,) = await employments(adapters, id_number)
    assert record.state is EmploymentState.REVOKED
    assert await in_force(adapters, id_number) == []
    assert await store.registrations.busy_workers([done.person_key or ""]) == []
    with pytest.raises(ClerkActionRefused):
        await engine.cancel("no-such-registration")


async def test_no_personal_data_in_the_worker_logs_or_step_errors(
    store: Store,
    make_engine: Callable[..., Engine],
    standin_adapters: Adapters,
    standins: dict[System, RunningStandin],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Over the stand-ins and the real adapters: what they log is scanned too.
    engine = make_engine(owner="test-engine", using=standin_adapters.all())
    adapters = standin_adapters
    caplog.set_level(logging.DEBUG)
    hired = hire_row()
    (hire,) = await submit(store, [hired])
    await settle(store, [hire.id], engine)
    # Every path that logs or records an error: a lost answer, a system down, a refusal.
    standins[System.LABOUR].faults(error_after_commit=1.0)
    standins[System.UNEMPLOYMENT].faults(down=True)
    (ending,) = await submit(store, [end_row(hired)])

    async def unemployment_failed() -> bool:
        current = await store.registrations.get(ending.id)
        assert current is not None
        return step_of(current, System.UNEMPLOYMENT).last_error is not None

    await run_until(unemployment_failed, engine)
    standins[System.UNEMPLOYMENT].reset()
    await adapters.unemployment.register(
        UnemploymentRequest(
            UNIT.unemployment_id, person_of(hired), dt.date(2024, 8, 1), EndReason.AGREEMENT
        )
    )
    (waiting,) = await settle(store, [ending.id], engine)
    # The follow-up was refused: the core stays, and the registration waits.
    assert waiting.state is RegistrationState.NEEDS_ATTENTION
    assert step_of(waiting, System.UNEMPLOYMENT).state is StepState.REFUSED
    # A clerk cancels it all: the ending was found done without its own filing
    # number, so it cannot be undone.
    await engine.cancel(waiting.id)
    (done,) = await settle(store, [ending.id], engine)
    assert done.state is RegistrationState.NEEDS_ATTENTION
    assert step_of(done, System.LABOUR).last_error == messages.undo_impossible(
        System.LABOUR, step_of(done, System.LABOUR).operation
    )

    ours = [r for r in caplog.records if r.name.startswith(("gateway", "adapters"))]
    assert any(r.name == "gateway.registrations.engine" for r in ours)
    text = "\n".join(r.getMessage() for r in ours)
    errors = [s.last_error for s in done.steps if s.last_error] + [done.failure]
    text += "\n".join(f"{e.message_zh} {e.message_en}" for e in errors if e)
    for personal in (hired.id_number, hired.mobile or "", hired.household_address or ""):
        assert personal not in text
