"""Saving a step's outcome: the step worker's writes to the store.

Every save renews or drops the step's lease. A step that reaches a state no
worker takes (``_finish``) is saved with what follows for its registration in
one transaction (``RegistrationStore.finish_step``): ``decide``, a pure
function, says what follows from the registration as read with the step saved,
the store applies the registration's and steps' writes there, and ``settle``
applies the rest (bindings, caches) after. Before an outcome is saved, the
cached records of the worker the step wrote for are forgotten (``forget``). A
system found unavailable is told to ``on_unavailable`` (``recovery``).

An error becomes the step's here: the field a system's refusal names (the
attribute of its request) is saved as the registration row's field it was
built from (``messages.in_row_terms``), whichever path refused it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence

from gateway.domain.model import System
from gateway.registrations import messages
from gateway.registrations.backoff import Backoff
from gateway.registrations.decisions import Write
from gateway.registrations.model import Registration, Step, StepError, StepState
from gateway.registrations.ports import Decided, RegistrationStore
from gateway.systems import AdapterError, Unavailable

# The engine's parts log as the engine: one name for operators to follow.
log = logging.getLogger("gateway.registrations.engine")


class SavingSteps:
    """Mixed into the step worker, which sets these attributes."""

    store: RegistrationStore
    owner: str
    lease: dt.timedelta
    backoff: Backoff
    clock: Callable[[], dt.datetime]
    decide: Callable[[Registration, dt.datetime], Sequence[Write]]
    settle: Callable[[Decided, dt.datetime], Awaitable[None]]
    forget: Callable[[Step, str], Awaitable[None]] | None
    on_unavailable: Callable[[System, Unavailable], None] | None
    #: Steps whose registration is to leave ACCEPTED with their next save.
    _starting: set[str]
    #: The ID number of the worker each step under way writes for.
    _people: dict[str, str]

    def _deadline_error(self, step: Step) -> StepError:
        return messages.deadline_passed(step.system, step.operation)

    def _past_deadline(self, step: Step) -> bool:
        return step.deadline_at is not None and self.clock() >= step.deadline_at

    async def _save(self, step: Step, *, keep_lease: bool) -> bool:
        now = self.clock()
        step.updated_at = now
        if keep_lease:
            # Every save renews the lease, so that a step is never worked on
            # longer than a lease after its last save.
            step.lease_owner, step.lease_until = self.owner, now + self.lease
        else:
            step.lease_owner, step.lease_until = None, None
        saved = await self.store.save_step(
            step, owner=self.owner, now=now, start=step.id in self._starting
        )
        if not saved:
            log.warning("step %s: lease lost, left to the worker that holds it", step.id)
        else:
            self._starting.discard(step.id)
        return saved

    async def _later(
        self, step: Step, state: StepState, error: StepError, exc: AdapterError
    ) -> None:
        retry_after = exc.retry_after if isinstance(exc, Unavailable) else None
        delay = self.backoff.delay(max(1, step.attempts), retry_after)
        await self._written(step)
        step.state = state
        step.last_error = messages.in_row_terms(error, step.operation)
        step.next_attempt_at = self.clock() + dt.timedelta(seconds=delay)
        log.info(
            "step %s (%s %s): %s, next attempt in %.1f s",
            step.id,
            step.system.value,
            step.operation.value,
            error.code,
            delay,
        )
        await self._save(step, keep_lease=False)
        if isinstance(exc, Unavailable) and self.on_unavailable is not None:
            self.on_unavailable(step.system, exc)

    async def _finish(self, step: Step, state: StepState, error: StepError | None = None) -> None:
        """A state no worker takes (until a clerk or a compensation says so)."""
        await self._written(step, state)
        step.state = state
        step.last_error = messages.in_row_terms(error, step.operation)
        step.finished_at = self.clock()
        log.info(
            "step %s (%s %s): %s%s",
            step.id,
            step.system.value,
            step.operation.value,
            state.value,
            f" ({error.code})" if error else "",
        )
        now = self.clock()
        step.updated_at = now
        step.lease_owner, step.lease_until = None, None
        decided = await self.store.finish_step(
            step,
            owner=self.owner,
            now=now,
            decide=lambda registration: self.decide(registration, now),
            start=step.id in self._starting,
        )
        if decided is None:
            log.warning("step %s: lease lost, left to the worker that holds it", step.id)
            return
        self._starting.discard(step.id)
        await self.settle(decided, now)

    async def _written(self, step: Step, state: StepState | None = None) -> None:
        """Before a step's outcome is saved, forget the cached records of its
        worker in its system if it wrote there, or may have (sent at least once,
        done or undone), so that whoever sees the registration final reads fresh
        ones."""
        id_number = self._people.get(step.id)
        if self.forget is None or id_number is None:
            return
        if step.attempts > 0 or state in (StepState.DONE, StepState.UNDONE):
            await self.forget(step, id_number)
