"""Awaiting what a system decides later: the step worker's moves for declarations.

A declaration sent and answered has an outcome nobody knows yet: the step stays
``UNKNOWN`` with the acceptance number as its reference and a note saying it
awaits the decision, and is looked at again at ``next_attempt_at`` (further
apart the longer the review), by whichever worker claims it then. No task
sleeps on it. What each answer means is ``declarations``; here it is saved.
Past the step's deadline it is stuck for a person, as any step.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, TypeVar

from gateway.domain.model import System
from gateway.registrations import declarations, messages
from gateway.registrations.model import Step, StepError, StepState
from gateway.registrations.saving import SavingSteps
from gateway.systems import AdapterError, NotFound, Rejected, SystemAdapter, Unavailable

if TYPE_CHECKING:
    from adapters.social_insurance.model import Declaration

log = logging.getLogger("gateway.registrations.engine")

T = TypeVar("T")


class AwaitingDeclarations(SavingSteps):
    """Mixed into the step worker, whose saving (``SavingSteps``) and calling it uses."""

    adapters: Mapping[System, SystemAdapter]

    # The step worker's own, declared for the type checker.
    if TYPE_CHECKING:

        async def _call(self, system: System, call: Awaitable[T], *, write: bool = False) -> T: ...
        async def _send(self, step: Step) -> None: ...

    async def _declaration(self, step: Step, *, compensating: bool) -> None:
        """A declaration sent, its outcome not known yet: look at it (by its number,
        else by searching for it), then await, finish, or undo it."""
        adapter = self.adapters[step.system]
        si = declarations.as_insurance(adapter)
        try:
            found = None
            if step.reference is not None:
                try:
                    found = await self._call(step.system, si.declaration(step.reference))
                except NotFound:
                    found = None  # not under that number: search as for a lost answer
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
        outcome = declarations.outcome(found)
        if compensating:
            if isinstance(outcome, declarations.Refusal):
                await self._finish(step, StepState.SKIPPED)  # nothing of it in effect
                return
            step.state = StepState.UNDOING
            if await self._save(step, keep_lease=True):
                await self._undo_declaration(step, found.reference)
            return
        if isinstance(outcome, declarations.Approved):
            await self._finish(step, StepState.DONE)
        elif isinstance(outcome, declarations.Refusal):
            await self._finish(step, StepState.REFUSED, outcome.error)
        elif self._past_deadline(step):
            await self._finish(step, StepState.STUCK, self._deadline_error(step))
        else:
            await self._poll_later(step, StepState.UNKNOWN, declarations.awaiting(found), found)

    async def _undo_declaration(self, step: Step, reference: str | None) -> None:
        """One move of undoing a declaration: withdraw, reverse, or await the reverse
        (without its number, it is searched for first: none found, nothing to undo)."""
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
        try:
            moved = await self._call(
                step.system,
                declarations.undo(self.adapters[step.system], step, reference),
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
        if isinstance(moved, declarations.Undone):
            await self._finish(step, StepState.UNDONE)
        elif isinstance(moved, declarations.UndoStuck):
            await self._finish(step, StepState.STUCK, moved.error)
        else:
            step.reference = moved.reference
            note = declarations.awaiting(moved.declaration) if moved.declaration else None
            await self._poll_later(step, StepState.UNDOING, note, moved.declaration)

    async def _poll_later(
        self,
        step: Step,
        state: StepState,
        note: StepError | None,
        declaration: Declaration | None,
    ) -> None:
        """Saved to be looked at again: the longer the review, the later."""
        now = self.clock()
        step.state = state
        step.last_error = note
        step.next_attempt_at = (
            declarations.next_poll(declaration, now, self.backoff)
            if declaration is not None
            else now + dt.timedelta(seconds=self.backoff.delay(1))
        )
        log.info(
            "step %s (%s %s): awaiting the system's decision",
            step.id,
            step.system.value,
            step.operation.value,
        )
        await self._save(step, keep_lease=False)
