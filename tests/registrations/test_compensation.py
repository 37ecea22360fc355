"""Refusals, undoing, and what a worker that died between two writes leaves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from gateway.domain.model import (
    ContractEnding,
    EmploymentState,
    EndReason,
    LabourContract,
    System,
)
from gateway.registrations import messages
from gateway.registrations.decisions import Write
from gateway.registrations.engine import Engine
from gateway.registrations.model import Registration, RegistrationState, StepError, StepState
from gateway.registrations.plan import person_of, step_request, term_of
from gateway.store import Store
from gateway.systems import LabourSystem
from tests.fakes import FakeSystem
from tests.registrations.support import (
    LEFT_ON,
    UNIT,
    Adapters,
    contracts,
    employments,
    end_row,
    hire_row,
    in_force,
    settle,
    step_of,
    submit,
    unemployment_rows,
)


class LaggingQueries:
    """The labour system, but its first query answers as a lagging read
    replica would: with nothing yet."""

    def __init__(self, real: LabourSystem) -> None:
        self._real = real
        self.system = real.system
        self.lagging = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def query(
        self, id_numbers: Sequence[str], employer_id: str | None = None
    ) -> list[LabourContract]:
        if self.lagging:
            self.lagging -= 1
            return []
        return await self._real.query(id_numbers, employer_id)


async def test_a_duplicate_after_a_lost_write_is_verified_and_adopted(
    store: Store,
    make_engine: Callable[..., Engine],
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    row = hire_row()
    systems[System.LABOUR].faults(error_after_commit=1.0)
    using = {**adapters.all(), System.LABOUR: LaggingQueries(adapters.labour)}
    engine = make_engine(owner="adopting", using=using)
    (registration,) = await submit(store, [row])

    (done,) = await settle(store, [registration.id], engine)

    # Sent once (committed, answer lost), not found by the lagging query, sent
    # again and refused as a duplicate: the record is checked, and it is ours.
    assert done.state is RegistrationState.COMPLETED
    labour = step_of(done, System.LABOUR)
    assert labour.attempts == 2
    assert [c.reference for c in await in_force(adapters, row.id_number)] == [labour.reference]
    assert systems[System.LABOUR].stats().get("FileContract") == 2


async def test_an_ending_found_without_its_reference_cannot_be_undone(
    store: Store,
    engine: Engine,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    hired = hire_row()
    (hire,) = await submit(store, [hired])
    await settle(store, [hire.id], engine)
    # The contract was ended at the labour system's own counter: the ending, a
    # core step, is refused (no contract in force), and the core is undone.
    (contract,) = await in_force(adapters, hired.id_number)
    await adapters.labour.end(
        ContractEnding(UNIT.labour_id, hired.id_number, EndReason.AGREEMENT, dt.date(2024, 8, 1))
    )
    # The dismissal's answer is lost: it is found done, without its own serial.
    systems[System.EMPLOYMENT].faults(commit_then_drop=1.0)
    (ending,) = await submit(store, [end_row(hired)])

    (done,) = await settle(store, [ending.id], engine)

    assert done.state is RegistrationState.NEEDS_ATTENTION
    refused = step_of(done, System.LABOUR)
    assert refused.state is StepState.REFUSED
    assert done.failure == refused.last_error
    assert done.failure is not None
    assert done.failure.system_code == "LD4001"
    dismissal = step_of(done, System.EMPLOYMENT)
    assert dismissal.state is StepState.STUCK
    assert dismissal.reference is None
    assert dismissal.last_error is not None
    assert dismissal.last_error.code == messages.UNDO_IMPOSSIBLE
    # The follow-up never started: the core was refused.
    assert step_of(done, System.UNEMPLOYMENT).state is StepState.SKIPPED
    assert not await unemployment_rows(adapters, hired.id_number)
    # The contract stays as it was ended by hand; the dismissal stays.
    assert [c.reference for c in await contracts(adapters, hired.id_number)] == [contract.reference]
    (record,) = await employments(adapters, hired.id_number)
    assert record.state is EmploymentState.DISMISSED
    assert record.dismissal_date == LEFT_ON
    assert systems[System.EMPLOYMENT].stats().get("employment.dismiss") == 1
    # A person must act: the worker stays locked.
    assert await store.registrations.busy_workers([done.person_key or ""]) == [done.person_key]


@pytest.mark.parametrize("undone", [System.EMPLOYMENT, System.LABOUR], ids=lambda s: s.value)
async def test_an_undo_already_done_counts_as_done(
    undone: System,
    store: Store,
    engine: Engine,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    (registration,) = await submit(store, [hire_row()])
    now = dt.datetime.now(dt.UTC)
    steps = await store.registrations.claim(
        "dead-worker", now=now, lease=dt.timedelta(seconds=30), limit=10
    )
    refusal = StepError(messages.SYSTEM_REJECTED, "拒绝", "refused", system_code="X")
    for step in steps:
        if step.system is undone:
            # Done, then already revoked in that system by the time the undo comes.
            request = step_request(step)
            if undone is System.EMPLOYMENT:
                reference = await adapters.employment.register(request)
                await adapters.employment.revoke(reference)
            else:
                reference = await adapters.labour.file(
                    request.employer_id, request.person, request.term
                )
                await adapters.labour.revoke(reference)
            step.state, step.reference, step.attempts = StepState.UNDOING, reference, 1
            step.next_attempt_at = now
        else:
            step.state, step.last_error, step.attempts = StepState.REFUSED, refusal, 1
        step.lease_owner = step.lease_until = None
        assert await store.registrations.save_step(step, owner="dead-worker", now=now)
    await store.registrations.update_registration(
        registration.id, state=RegistrationState.COMPENSATING, failure=refusal, now=now
    )
    systems[undone].reset()

    (done,) = await settle(store, [registration.id], engine)

    assert done.state is RegistrationState.COMPENSATED
    assert done.failure == refusal
    assert step_of(done, undone).state is StepState.UNDONE
    revoke = "employment.revoke" if undone is System.EMPLOYMENT else "RevokeFiling"
    assert systems[undone].stats().get(revoke) == 1


def _never_decides(registration: Registration, now: dt.datetime) -> list[Write]:
    return []


async def carried_out_undecided(
    store: Store, make_engine: Callable[..., Engine], registration_id: str
) -> Registration:
    """The registration once a dying worker has carried out every step it could."""
    dying = make_engine(owner="dying")
    # It dies after saving each step's result, before deciding what follows.
    dying.steps.decide = _never_decides
    while await dying.run_once():
        pass
    left = await store.registrations.get(registration_id)
    assert left is not None
    return left


async def test_the_sweep_finishes_what_a_dead_worker_left(
    store: Store, engine: Engine, make_engine: Callable[..., Engine], adapters: Adapters
) -> None:
    row = hire_row()
    (registration,) = await submit(store, [row])
    left = await carried_out_undecided(store, make_engine, registration.id)
    assert all(s.state is StepState.DONE for s in left.steps)
    assert left.state is RegistrationState.IN_PROGRESS
    assert await engine.run_once() == 0  # no step left to take: only a sweep sees it

    assert await engine.sweep() == 1

    done = await store.registrations.get(registration.id)
    assert done is not None
    assert done.state is RegistrationState.COMPLETED
    assert await store.registrations.busy_workers([done.person_key or ""]) == []
    assert len(await in_force(adapters, row.id_number)) == 1
    assert await engine.sweep() == 0


async def test_a_late_decision_never_overturns_a_finished_compensation(
    store: Store,
    engine: Engine,
    make_engine: Callable[..., Engine],
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    """A decision taken on an earlier read (a sweep's page, a worker slow to
    write) arrives after the compensation ended: it must change nothing, neither
    send the undone step back to undoing nor reopen the registration."""
    row = hire_row()
    await adapters.labour.file(UNIT.labour_id, person_of(row), term_of(row))
    systems[System.LABOUR].faults(latency_ms=200)  # employment is done first
    (registration,) = await submit(store, [row])
    earlier = await carried_out_undecided(store, make_engine, registration.id)
    assert step_of(earlier, System.EMPLOYMENT).state is StepState.DONE
    assert step_of(earlier, System.LABOUR).state is StepState.REFUSED
    assert await engine.sweep() == 1  # the dying worker left the decision undone
    (done,) = await settle(store, [registration.id], engine)
    assert done.state is RegistrationState.COMPENSATED
    assert step_of(done, System.EMPLOYMENT).state is StepState.UNDONE

    await make_engine(owner="late").decide(earlier, dt.datetime.now(dt.UTC))

    after = await store.registrations.get(registration.id)
    assert after is not None
    assert after.state is RegistrationState.COMPENSATED
    assert [s.state for s in after.steps] == [s.state for s in done.steps]
    assert await engine.run_once() == 0
    assert systems[System.EMPLOYMENT].stats().get("employment.revoke") == 1
