"""Several engines on one store, and workers that die mid-step."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable

import pytest

from gateway.domain.model import System
from gateway.registrations.engine import Engine
from gateway.registrations.model import RegistrationState, StepState
from gateway.registrations.plan import step_request
from gateway.store import Store
from tests.fakes import FakeSystem
from tests.registrations.support import (
    Adapters,
    at_rest,
    employed,
    hire_row,
    in_force,
    settle,
    step_of,
    submit,
)
from tests.services import SQL_BACKENDS

BATCH = 24


@pytest.mark.parametrize("store_url", SQL_BACKENDS, indirect=True)
async def test_two_engines_never_carry_out_a_step_twice(
    open_store: Callable[[], Awaitable[Store]],
    make_engine: Callable[..., Engine],
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    # Two stores on one database: two worker processes' views of it.
    first, second = await open_store(), await open_store()
    rows = [hire_row() for _ in range(BATCH)]
    registrations = await submit(first, rows)
    # Both engines call the same systems, as two worker processes would.
    patient = adapters.all()
    engines = [
        make_engine(
            on=first, using=patient, owner="worker-a", concurrency=4, lease=dt.timedelta(seconds=60)
        ),
        make_engine(
            on=second,
            using=patient,
            owner="worker-b",
            concurrency=4,
            lease=dt.timedelta(seconds=60),
        ),
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(e.run(stop, poll_interval=0.02)) for e in engines]
    ids = [r.id for r in registrations]
    try:
        deadline = time.monotonic() + 60
        while True:
            current = [await first.registrations.get(i) for i in ids]
            if all(r is not None and at_rest(r) for r in current):
                break
            assert time.monotonic() < deadline, "the batch did not finish"
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*tasks)

    done = [r for r in current if r is not None]
    assert [r.state for r in done] == [RegistrationState.COMPLETED] * BATCH
    for row, registration in zip(rows, done, strict=True):
        assert await employed(adapters, row.id_number) == [
            step_of(registration, System.EMPLOYMENT).reference
        ]
        assert [c.reference for c in await in_force(adapters, row.id_number)] == [
            step_of(registration, System.LABOUR).reference
        ]
        assert all(s.attempts == 1 for s in registration.steps)
    # No fault was injected: each write reached its system exactly once.
    assert systems[System.EMPLOYMENT].stats().get("employment.register") == BATCH
    assert systems[System.LABOUR].stats().get("FileContract") == BATCH


async def _die_after_deciding(store: Store, system: System, *, now: dt.datetime) -> None:
    """What a worker leaves when it dies right after saving SENDING: the step
    SENDING, leased to it until its lease runs out."""
    claimed = await store.registrations.claim(
        "dead-worker", now=now, lease=dt.timedelta(milliseconds=300), limit=10
    )
    for step in claimed:
        if step.system is system:
            step.state = StepState.SENDING
            step.attempts = 1
            assert await store.registrations.save_step(step, owner="dead-worker", now=now)


@pytest.mark.parametrize("committed", [True, False], ids=["write_committed", "never_sent"])
async def test_a_step_left_sending_is_reconciled_first(
    committed: bool,
    store: Store,
    engine: Engine,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
) -> None:
    row = hire_row()
    (registration,) = await submit(store, [row])
    await _die_after_deciding(store, System.EMPLOYMENT, now=dt.datetime.now(dt.UTC))
    if committed:
        # The dead worker's write reached the system before it died.
        before = await store.registrations.get(registration.id)
        assert before is not None
        await adapters.employment.register(step_request(step_of(before, System.EMPLOYMENT)))
    systems[System.EMPLOYMENT].reset()

    # The other steps are free at once; the dead worker's only once its lease ran out.
    (done,) = await settle(store, [registration.id], engine)

    assert done.state is RegistrationState.COMPLETED
    step = step_of(done, System.EMPLOYMENT)
    assert await employed(adapters, row.id_number) == [step.reference]
    sent_again = systems[System.EMPLOYMENT].stats().get("employment.register", 0)
    assert (sent_again, step.attempts) == ((0, 1) if committed else (1, 2))


async def test_a_lost_lease_stops_the_worker_that_had_it(
    store: Store, engine: Engine, systems: dict[System, FakeSystem]
) -> None:
    (registration,) = await submit(store, [hire_row()])
    now = dt.datetime.now(dt.UTC)
    claimed = await store.registrations.claim(
        "slow-worker", now=now, lease=dt.timedelta(seconds=30), limit=10
    )
    assert len(claimed) == 2
    # Another worker took the step after the slow one's lease ran out.
    later = now + dt.timedelta(minutes=1)
    retaken = await store.registrations.claim(
        engine.owner, now=later, lease=dt.timedelta(seconds=30), limit=10
    )
    assert {s.id for s in retaken} == {s.id for s in claimed}
    # The slow worker carries on with its stale copy: its first save fails and
    # it sends nothing.
    slow = Engine(store.registrations, engine.adapters, owner="slow-worker")
    await slow.carry_out(claimed[0])
    assert sum(systems[System.EMPLOYMENT].stats().values()) == 0
    assert sum(systems[System.LABOUR].stats().values()) == 0
    current = await store.registrations.get(registration.id)
    assert current is not None
    assert all(s.state is StepState.PENDING and s.attempts == 0 for s in current.steps)
