"""Which registration's step holds a system's reference: what reconciliation asks
before it takes a record found as a step's own (``RegistrationStore.held_by``).
On SQLite and PostgreSQL, through the ``(system, reference)`` index."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gateway.domain.model import System
from gateway.registrations.model import Operation, Registration, StepState
from gateway.store import Store
from gateway.store import tables as t
from tests.store.test_registrations import (
    LEASE,
    NOW,
    step_of,
    submission,
    submit_one,
    worker,
)

INDEX = "ix_steps_system_reference"


async def _hire(store: Store) -> Registration:
    sub = submission()
    return await submit_one(store, worker(sub), sub)


async def _hold(
    store: Store, registration: Registration, operation: Operation, state: StepState, ref: str
) -> None:
    """The registration's step of ``operation`` saved in ``state`` with ``ref``."""
    step = step_of(registration, operation)
    claimed = await store.registrations.claim("holder", now=NOW, lease=LEASE, limit=100)
    assert step.id in {s.id for s in claimed}
    step.state, step.reference, step.attempts = state, ref, 1
    step.lease_owner = step.lease_until = None
    assert await store.registrations.save_step(step, owner="holder", now=NOW)
    for other in claimed:
        if other.id != step.id:  # the others' leases let go again
            other.lease_owner = other.lease_until = None
            assert await store.registrations.save_step(other, owner="holder", now=NOW)


@pytest.mark.parametrize(
    "state",
    [StepState.DONE, StepState.UNDOING, StepState.UNDONE, StepState.STUCK, StepState.UNKNOWN],
    ids=lambda s: s.value,
)
async def test_a_reference_held_by_another_registrations_step_names_it(
    store: Store, state: StepState
) -> None:
    holder, asking = await _hire(store), await _hire(store)
    await _hold(store, holder, Operation.REGISTER_EMPLOYMENT, state, "DJ000000000128")

    found = await store.registrations.held_by(
        System.EMPLOYMENT, "DJ000000000128", other_than=asking.id
    )

    assert found == holder.id


async def test_only_another_registration_of_the_same_system_holds_it(store: Store) -> None:
    holder, asking = await _hire(store), await _hire(store)
    await _hold(store, holder, Operation.REGISTER_EMPLOYMENT, StepState.DONE, "DJ000000000128")
    held = store.registrations.held_by

    # Its own steps are not another's.
    assert await held(System.EMPLOYMENT, "DJ000000000128", other_than=holder.id) is None
    # The same text in another system is another record.
    assert await held(System.LABOUR, "DJ000000000128", other_than=asking.id) is None
    # A reference nobody holds.
    assert await held(System.EMPLOYMENT, "DJ000000000129", other_than=asking.id) is None
    # The same text held in the labour system by a third registration: named there.
    also = await _hire(store)
    await _hold(store, also, Operation.FILE_CONTRACT, StepState.DONE, "DJ000000000128")
    assert await held(System.LABOUR, "DJ000000000128", other_than=asking.id) == also.id
    assert await held(System.LABOUR, "DJ000000000128", other_than=also.id) is None


async def test_the_lookup_has_its_index(store: Store) -> None:
    async with store.db.read() as conn:
        indexes = await conn.run_sync(lambda c: sa.inspect(c).get_indexes("steps"))
        by_name = {i["name"]: i["column_names"] for i in indexes}
        assert by_name.get(INDEX) == ["system", "reference"]
        if conn.dialect.name == "sqlite":
            plan = await conn.execute(
                sa.text(
                    "EXPLAIN QUERY PLAN SELECT registration_id FROM steps"
                    " WHERE system = :s AND reference = :r AND registration_id != :g LIMIT 1"
                ),
                {"s": "employment", "r": "DJ1", "g": "x"},
            )
            assert any(INDEX in str(row[-1]) for row in plan), "the lookup scans the steps"
    assert INDEX in {i.name for i in t.steps.indexes}
