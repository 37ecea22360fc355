"""Steps waiting for a system that was down are taken as soon as it answers.

The labour system goes down under a batch of hires: its steps back off far
ahead (10 minutes here) and its breaker opens for 10 minutes. Once it answers
again, the worker's probe closes the breaker and makes the waiting steps due,
so that every hire completes at once, though neither the backoff, nor the
breaker's recovery time, nor the worker's poll (10 minutes too) would have
taken them before then. Each write still reaches its system once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable

import pytest

from gateway.domain.model import System
from gateway.registrations.backoff import Backoff
from gateway.registrations.engine import Engine
from gateway.registrations.model import RegistrationState, StepState
from gateway.registrations.recovery import Recovery
from gateway.resilience import CircuitOpen, ResiliencePolicy, Resilient
from gateway.store import Store
from gateway.systems import Unavailable
from tests.clock import MovableClock
from tests.fakes import FakeSystem
from tests.registrations.support import (
    Adapters,
    hire_row,
    in_force,
    run_until,
    settle,
    submit,
)

TEN_MINUTES = 600.0
#: A breaker that opens after two failures and stays open for ten minutes.
SLOW_TO_RECOVER = ResiliencePolicy(
    deadline_s=1.0, breaker_threshold=2, breaker_recovery_s=TEN_MINUTES, read_attempts=1
)


async def test_a_system_back_from_an_outage_has_its_waiting_steps_taken_at_once(
    store: Store,
    adapters: Adapters,
    systems: dict[System, FakeSystem],
    make_engine: Callable[..., Engine],
    clock: MovableClock,
) -> None:
    labour = Resilient(adapters.labour, SLOW_TO_RECOVER)
    engine = make_engine(
        using={**adapters.all(), System.LABOUR: labour},
        backoff=Backoff(base=TEN_MINUTES, cap=TEN_MINUTES, jitter=0.0),
        probe_interval=0.05,
    )
    systems[System.LABOUR].faults(down=True)
    rows = [hire_row() for _ in range(6)]
    registrations = await submit(store, rows)
    ids = [r.id for r in registrations]
    stop = asyncio.Event()
    worker = asyncio.create_task(engine.run(stop, poll_interval=TEN_MINUTES))

    async def labour_waiting() -> bool:
        found = [await store.registrations.get(i) for i in ids]
        steps = [s for r in found if r for s in r.steps if s.system is System.LABOUR]
        return all(
            s.state in (StepState.PENDING, StepState.UNKNOWN)
            and s.next_attempt_at is not None
            and s.next_attempt_at > clock() + dt.timedelta(minutes=9)
            for s in steps
        )

    await run_until(labour_waiting, within=10.0)  # the worker task runs them
    assert labour.breaker_state == "open"
    assert engine.recovery is not None
    assert engine.recovery.watching() == {System.LABOUR}
    sent_while_down = systems[System.LABOUR].stats().get("FileContract", 0)

    systems[System.LABOUR].faults(down=False)
    done = await settle(store, ids, within=10.0)
    stop.set()
    await worker

    assert [r.state for r in done] == [RegistrationState.COMPLETED] * len(rows)
    assert labour.breaker_state == "closed"
    assert engine.recovery.watching() == frozenset()
    # No clock was moved: the backoff of ten minutes never ran out.
    for row in rows:
        assert len(await in_force(adapters, row.id_number)) == 1
    # Sent twice while down (the breaker's threshold), once each when back.
    assert sent_while_down == 2
    assert systems[System.LABOUR].stats()["FileContract"] == sent_while_down + len(rows)


async def test_a_system_failing_with_its_breaker_closed_is_not_probed(
    store: Store, adapters: Adapters, clock: MovableClock
) -> None:
    labour = Resilient(adapters.labour, SLOW_TO_RECOVER)
    recovery = Recovery(store.registrations, {System.LABOUR: labour}, clock=clock, interval=0.01)
    recovery.failed(System.LABOUR)  # one failure of two: the breaker is still closed
    assert recovery.watching() == frozenset()
    await recovery.aclose()


async def test_a_system_that_said_when_to_come_back_is_not_probed(
    store: Store, adapters: Adapters, systems: dict[System, FakeSystem], clock: MovableClock
) -> None:
    """A quota's 429 or a maintenance's 503 with ``Retry-After``: the system is up
    and its steps wait what it said; probing would spend the quota they need."""
    labour = Resilient(adapters.labour, SLOW_TO_RECOVER)
    recovery = Recovery(store.registrations, {System.LABOUR: labour}, clock=clock, interval=0.01)
    systems[System.LABOUR].faults(maintenance=True, retry_after_s=1)
    for _ in range(2):
        with pytest.raises(Unavailable) as said:
            await labour.ping()
    assert labour.breaker_state == "open"
    assert said.value.retry_after == 1

    recovery.failed(System.LABOUR, said.value)
    with pytest.raises(CircuitOpen) as held:
        await labour.ping()
    recovery.failed(System.LABOUR, held.value)  # the breaker it opened: still told
    assert recovery.watching() == frozenset()

    # Down without a word: probed again.
    recovery.failed(System.LABOUR, Unavailable(System.LABOUR, "connection refused"))
    assert recovery.watching() == {System.LABOUR}
    await recovery.aclose()


async def test_closing_ends_a_probe_whose_cancellation_was_lost() -> None:
    """On Python 3.11 a cancellation that arrives in the turn in which an
    ``asyncio.wait_for`` inside a call has just finished is dropped (the call's
    answer is returned instead). A probe that loses its cancellation so must
    still end when the recovery closes, rather than keep the worker's shutdown
    waiting for ever."""
    probed = asyncio.Event()

    class Down:
        breaker_state = "open"

        async def probe(self) -> bool:
            probed.set()
            # Dropped, as wait_for drops it when the call finished meanwhile.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.01)
            return False

    class NoSteps:
        async def wake(self, system: System, *, now: dt.datetime) -> int:
            return 0

    recovery = Recovery(
        NoSteps(),
        {System.LABOUR: Down()},  # type: ignore[dict-item]
        clock=lambda: dt.datetime.now(dt.UTC),
        interval=0.001,
    )
    recovery.failed(System.LABOUR)
    await asyncio.wait_for(probed.wait(), 30)
    closing = asyncio.create_task(recovery.aclose())
    done, _ = await asyncio.wait({closing}, timeout=30)  # not cancelled: a hang fails here
    closing.cancel()
    assert closing in done, "closing waited for ever for a probe that lost its cancellation"
    assert recovery.watching() == frozenset()
