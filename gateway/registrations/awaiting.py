"""Awaiting what a system decides later: the step worker's moves, for any such system.

A write its system decides later (its operation declares ``decided_later``)
sent and answered has an outcome nobody knows yet: the step stays ``UNKNOWN``
with the acceptance's reference and a note saying it awaits the decision, and
is looked at again at ``next_attempt_at`` (further apart the longer it is
pending), by whichever worker claims it then. No task sleeps on it. What each
answer means is the system's hooks' (``gateway.decided``), asked through
``declarations``; here it is saved. Past the step's deadline it is stuck for a
person, as any step.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.decided import Decision, Undone, UndoPending, UndoStuck, Verdict
from gateway.domain.model import System
from gateway.registrations import declarations, messages
from gateway.registrations.model import Operation, Step, StepError, StepState
from gateway.registrations.plan import step_request
from gateway.registrations.ports import RegistrationFilter
from gateway.registrations.saving import SavingSteps
from gateway.systems import AdapterError, NotFound, Rejected, SystemAdapter, Unavailable

log = logging.getLogger("gateway.registrations.engine")

T = TypeVar("T")

#: How many of a worker's registrations with a unit an undo looks through for
#: an earlier write to restore (newest first).
EARLIER_LOOKED_AT = 20


class AwaitingDeclarations(SavingSteps):
    """Mixed into the step worker, whose saving (``SavingSteps``) and calling it uses."""

    adapters: Mapping[System, SystemAdapter]

    # The step worker's own, declared for the type checker.
    if TYPE_CHECKING:

        async def _call(self, system: System, call: Awaitable[T], *, write: bool = False) -> T: ...
        async def _send(self, step: Step) -> None: ...

    async def _declaration(self, step: Step, *, compensating: bool) -> None:
        """A write sent, its outcome not known yet: look at it (by its reference, else
        by searching for it), then await, finish, or undo it."""
        adapter = self.adapters[step.system]
        try:
            found = None
            if step.reference is not None:
                try:
                    found = await self._call(
                        step.system, declarations.read(adapter, step, step.reference)
                    )
                except NotFound:
                    found = None  # not under that reference: search as for a lost answer
            if found is None:
                found = await self._call(step.system, declarations.find(adapter, step))
        except AdapterError as exc:
            if self._past_deadline(step):
                await self._finish(step, StepState.STUCK, self._deadline_error(step))
            else:
                await self._later(step, StepState.UNKNOWN, messages.cannot_check(exc), exc)
            return
        if found is None:
            step.reference = None
            if compensating:
                await self._finish(step, StepState.SKIPPED)
            elif self._past_deadline(step):
                await self._finish(step, StepState.STUCK, self._deadline_error(step))
            else:
                await self._send(step)
            return
        step.reference = found.reference
        if compensating:
            if found.verdict is Verdict.REFUSED:
                await self._finish(step, StepState.SKIPPED)  # nothing of it in effect
                return
            step.state = StepState.UNDOING
            if await self._save(step, keep_lease=True):
                await self._undo_declaration(step, found.reference)
            return
        if found.verdict is Verdict.APPROVED:
            await self._finish(step, StepState.DONE)
        elif found.verdict is Verdict.REFUSED:
            await self._finish(step, StepState.REFUSED, found.note)
        elif self._past_deadline(step):
            await self._finish(step, StepState.STUCK, self._deadline_error(step))
        else:
            await self._poll_later(
                step, StepState.UNKNOWN, declarations.pending_note(step, found), found
            )

    async def _undo_declaration(self, step: Step, reference: str | None) -> None:
        """One move of undoing a write decided later: withdraw, reverse, or await the
        reverse (without its reference, it is searched for first: none found,
        nothing to undo)."""
        if self._past_deadline(step):
            await self._finish(step, StepState.STUCK, self._deadline_error(step))
            return
        if reference is None:
            try:
                mine = await self._call(
                    step.system, declarations.find(self.adapters[step.system], step)
                )
            except AdapterError as exc:
                await self._later(step, StepState.UNDOING, messages.cannot_check(exc), exc)
                return
            if mine is None:
                await self._finish(step, StepState.UNDONE)
                return
            reference = step.reference = mine.reference
        step.attempts += 1

        async def earlier(operation: Operation) -> Any | None:
            return await self._earlier(step, operation)

        try:
            moved = await self._call(
                step.system,
                declarations.undo(self.adapters[step.system], step, reference, earlier),
                write=True,
            )
        except Unavailable as exc:
            if not exc.reached_system:
                step.attempts -= 1
            await self._later(step, StepState.UNDOING, messages.unavailable(exc), exc)
            return
        except Rejected as exc:
            await self._finish(step, StepState.STUCK, messages.undo_failed(exc))
            return
        if isinstance(moved, Undone):
            await self._finish(step, StepState.UNDONE)
        elif isinstance(moved, UndoStuck):
            await self._finish(step, StepState.STUCK, moved.error)
        else:
            assert isinstance(moved, UndoPending)
            step.reference = moved.reference
            decision = moved.decision
            note = declarations.pending_note(step, decision) if decision else None
            await self._poll_later(step, StepState.UNDOING, note, decision)

    async def _earlier(self, step: Step, operation: Operation) -> Any | None:
        """The newest request of ``operation`` done for the step's worker with the
        step's unit, by another registration: what an undo restores."""
        own = await self.store.get(step.registration_id)
        if own is None or own.person_key is None:
            return None
        page = await self.store.list(
            RegistrationFilter(credit_codes=[own.credit_code], person_key=own.person_key),
            first=EARLIER_LOOKED_AT,
        )
        for registration in page.items:  # newest first
            if registration.id == step.registration_id:
                continue
            for done in registration.steps:
                if done.operation == operation and done.state is StepState.DONE:
                    return step_request(done)
        return None

    async def _poll_later(
        self,
        step: Step,
        state: StepState,
        note: StepError | None,
        decision: Decision | None,
    ) -> None:
        """Saved to be looked at again: the longer the review, the later."""
        now = self.clock()
        step.state = state
        step.last_error = note
        step.next_attempt_at = (
            declarations.next_poll(decision, now, self.backoff)
            if decision is not None
            else now + dt.timedelta(seconds=self.backoff.delay(1))
        )
        log.info(
            "step %s (%s %s): awaiting the system's decision",
            step.id,
            step.system.value,
            step.operation.value,
        )
        await self._save(step, keep_lease=False)
