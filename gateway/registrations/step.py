"""One leased step, carried out: send, reconcile, undo, and save each outcome.

Every state change is written *before* it is acted on, so that a worker killed
at any point leaves a state the next one continues from:

- ``PENDING``: saved ``SENDING`` (attempts + 1), then sent. Success: ``DONE``
  with the system's reference. An infrastructure failure: ``PENDING`` again, or
  ``UNKNOWN`` when the write may have been committed, at the backoff time. A
  business refusal: ``REFUSED``; a core step's compensates the registration, a
  follow-up's waits for a person. "Already exists" is checked (``_duplicate``).
- ``SENDING`` (a worker died after deciding to send) or ``UNKNOWN`` (the answer
  was lost): the system is asked first (``reconcile.find_write``); found, the
  step is ``DONE``; not found, it is sent; the system cannot be asked, it is
  asked again later. No write is ever sent twice on a guess. A record found
  whose reference another registration's step holds (the store says,
  ``RegistrationStore.held_by``) is that registration's, not what this step's
  lost write made: it counts as not found (``_anothers``), so that no
  compensation of this registration ever undoes it.
- ``UNDOING``: revoked or cancelled in its system ("already undone" counts).
- A declaration (a write its system decides later) answered is not done: it
  stays ``UNKNOWN``, its outcome awaited and polled (``awaiting.py``).
- A step past its deadline becomes ``STUCK``.

Once a step reaches a state no worker takes, what follows for its registration
is decided (``decide``, a pure function) in the transaction that saves it, and
the writes the store cannot make there (caches, bindings) are left to
``settle`` (``saving.py``). What each system is asked to write and to undo, and
which of its answers mean "already undone", its package declares
(``gateway.registry``); ``operations.py`` looks them up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from gateway.domain.model import System
from gateway.registrations import declarations, messages
from gateway.registrations.awaiting import AwaitingDeclarations
from gateway.registrations.backoff import Backoff
from gateway.registrations.decisions import Write, at_rest, compensating
from gateway.registrations.model import (
    Registration,
    RegistrationState,
    Step,
    StepError,
    StepKind,
    StepState,
)
from gateway.registrations.operations import UNDOABLE, revoke, write
from gateway.registrations.ports import Decided, RegistrationStore
from gateway.registrations.reconcile import Found, find_write
from gateway.registry import registry
from gateway.systems import AdapterError, Duplicate, Rejected, SystemAdapter, Unavailable

# The engine's parts log as the engine: one name for operators to follow.
log = logging.getLogger("gateway.registrations.engine")

T = TypeVar("T")


class StepWorker(AwaitingDeclarations):
    """Carries out steps leased to ``owner``. Once a step reaches a state no
    worker takes, ``decide`` says what follows from its registration as read
    with the step saved, and ``settle`` applies what the store left undone.
    Writes their system decides later (declarations) are awaited
    (``AwaitingDeclarations``)."""

    def __init__(
        self,
        store: RegistrationStore,
        adapters: Mapping[System, SystemAdapter],
        *,
        owner: str,
        lease: dt.timedelta,
        backoff: Backoff,
        clock: Callable[[], dt.datetime],
        call_timeout: float,
        decide: Callable[[Registration, dt.datetime], Sequence[Write]],
        settle: Callable[[Decided, dt.datetime], Awaitable[None]],
        forget: Callable[[Step, str], Awaitable[None]] | None = None,
        on_unavailable: Callable[[System, Unavailable], None] | None = None,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.owner = owner
        self.lease = lease
        self.backoff = backoff
        self.clock = clock
        self.call_timeout = call_timeout
        self.decide = decide
        self.settle = settle
        self.forget = forget
        #: Told of every system a step found unavailable (``recovery.Recovery.failed``).
        self.on_unavailable = on_unavailable
        self._starting = set()
        self._people = {}

    async def guarded(
        self, step: Step, registration: Registration | None = None, *, sending: bool = False
    ) -> None:
        """``carry_out``, logging instead of raising."""
        try:
            await self.carry_out(step, registration, sending=sending)
        except Exception as exc:
            # The lease runs out and another worker takes the step again from
            # its saved state. The exception's text is left out: it could quote
            # what was sent.
            log.error(
                "step %s (%s %s) failed: %s",
                step.id,
                step.system.value,
                step.operation.value,
                type(exc).__name__,
            )

    async def carry_out(
        self, step: Step, registration: Registration | None = None, *, sending: bool = False
    ) -> None:
        """Carry out a step leased to this worker; ``registration`` as read when it
        was leased (read now when not given). ``sending``: the claim saved the
        step ``SENDING`` (``decisions.to_send``), so it is sent at once."""
        if registration is None:
            registration = await self.store.get(step.registration_id)
        if registration is None:
            return
        if registration.person_key is not None:
            self._people[step.id] = registration.person_key.partition(":")[2]
        try:
            if sending:
                await self._sent(step)
                return
            if at_rest(registration):
                # Claimed just before a clerk's or another worker's decision: the
                # decision stands, and the lease lapses by itself.
                return
            refused = compensating(registration)
            if registration.state is RegistrationState.ACCEPTED and not refused:
                # Started with the step's first save (SENDING before any call).
                self._starting.add(step.id)
            await self._carry_out(step, refused=refused)
        finally:
            self._starting.discard(step.id)
            self._people.pop(step.id, None)

    async def _carry_out(self, step: Step, *, refused: bool) -> None:
        if step.state is StepState.UNDOING:
            await self._undo(step)
            return
        if refused and step.state is StepState.PENDING:
            await self._finish(step, StepState.SKIPPED)
            return
        if step.state in (StepState.SENDING, StepState.UNKNOWN) and declarations.is_declaration(
            step
        ):
            await self._declaration(step, compensating=refused)
            return
        if step.state in (StepState.SENDING, StepState.UNKNOWN):
            try:
                found = await self._reconcile(step)
            except AdapterError as exc:
                if self._past_deadline(step):
                    await self._finish(step, StepState.STUCK, _deadline(step))
                else:
                    await self._later(step, StepState.UNKNOWN, messages.cannot_check(exc), exc)
                return
            if found is not None and await self._anothers(step, found):
                # Not what our lost write made: as if nothing were found (sent
                # again, and the system's refusal decides; or nothing to undo).
                found = None
            if found is not None:
                await self._found(step, found, compensating=refused)
                return
            if refused:
                await self._finish(step, StepState.SKIPPED)
                return
        if self._past_deadline(step):
            await self._finish(step, StepState.STUCK, _deadline(step))
            return
        await self._send(step)

    async def _send(self, step: Step) -> None:
        if declarations.is_declaration(step):
            step.reference = None  # a retried declaration gets a number of its own
        step.state = StepState.SENDING
        step.attempts += 1
        if await self._save(step, keep_lease=True):
            await self._sent(step)

    async def _sent(self, step: Step) -> None:
        """Send a step saved ``SENDING``, and save what came of it."""
        try:
            reference = await self._call(step.system, self._write(step), write=True)
        except Unavailable as exc:
            if not exc.reached_system:
                # Held back on our side (open breaker, full bulkhead): nothing was
                # sent, so no attempt to count, nor to back off further for.
                step.attempts -= 1
            state = StepState.UNKNOWN if exc.outcome_unknown else StepState.PENDING
            await self._later(step, state, messages.unavailable(exc), exc)
            return
        except Duplicate as exc:
            await self._duplicate(step, exc)
            return
        except Rejected as exc:
            if registry().operation(step.operation).settles:
                await self._duplicate(step, exc)
            else:
                await self._finish(step, StepState.REFUSED, messages.refused(exc))
            return
        step.reference = reference
        if declarations.is_declaration(step):
            # Accepted, not decided: awaited (polled) as an outcome still unknown.
            await self._declaration(step, compensating=False)
            return
        await self._finish(step, StepState.DONE)

    async def _duplicate(self, step: Step, exc: Rejected) -> None:
        """An "already exists" answer (or any refusal of a write that settles a state
        the system keeps, ``OperationSpec.settles``): checked with a query, never
        trusted.

        An earlier attempt of ours whose outcome was unknown may be what the
        system holds: a record matching what was asked is taken as ours, unless
        another registration's step holds it (``_anothers``): then it is someone
        else's, as on a first attempt. A follow-up's record matching what was
        asked (same worker, unit, date) counts as done even when it is someone
        else's (a filing at the system's own counter, or another registration's),
        noted ``FOUND_EXISTING`` so that no compensation ever undoes it: whose
        it is does not matter there, and the store is not asked. A core step's
        is not adopted: its match covers who and
        when, not every term filed, and a conflicting filing is for the
        employer to see, as the refusal that undoes the rest. Except where the
        write settles a state (an ending): the state as asked (the same worker,
        unit, kind and date) is all there is to it, and the system refuses it
        once it is so, not as a duplicate ("no valid registration", "not in
        force"): an ending filed before, without the unemployment registration
        the worker asks for now, is found and adopted, and the rest goes on.
        """
        maybe_ours = step.attempts > 1 and not _refused_before(step)
        if declarations.is_declaration(step):
            assert isinstance(exc, Duplicate)  # a declaration never settles
            await self._duplicate_declaration(step, exc, maybe_ours=maybe_ours)
            return
        adoptable = step.kind is StepKind.FOLLOW_UP or registry().operation(step.operation).settles
        if not (maybe_ours or adoptable):
            await self._finish(step, StepState.REFUSED, messages.refused(exc))
            return
        try:
            found = await self._reconcile(step)
        except AdapterError as again:
            # Refused as a duplicate, so nothing of ours was written by this
            # attempt: only an earlier attempt of unknown outcome makes it UNKNOWN.
            state = StepState.UNKNOWN if maybe_ours else StepState.PENDING
            await self._later(step, state, messages.cannot_check(again), again)
            return
        # Ours only if an earlier attempt may have made it and no other
        # registration holds it; another's is adopted only where anyone's is.
        ours = maybe_ours and found is not None and not await self._anothers(step, found)
        if found is None or not (ours or adoptable):
            await self._finish(step, StepState.REFUSED, messages.refused(exc))
        elif ours:
            await self._found(step, found, compensating=False)
        else:
            step.reference = found.reference
            adopted = (
                messages.found_existing(step.system, step.operation)
                if isinstance(exc, Duplicate)
                else messages.found_in_force(step.system, step.operation)
            )
            await self._finish(step, StepState.DONE, adopted)

    async def _duplicate_declaration(self, step: Step, exc: Duplicate, *, maybe_ours: bool) -> None:
        """A declaration refused as one already made: ours, declared by an earlier
        attempt whose answer was lost, is awaited as ours; anyone else's is a
        refusal (a declaration under review is not what was asked until decided)."""
        if maybe_ours:
            try:
                mine = await self._call(
                    step.system, declarations.find(self.adapters[step.system], step)
                )
            except AdapterError as again:
                await self._later(step, StepState.UNKNOWN, messages.cannot_check(again), again)
                return
            if mine is not None:
                step.reference = mine.reference
                await self._declaration(step, compensating=False)
                return
        await self._finish(step, StepState.REFUSED, messages.refused(exc))

    async def _found(self, step: Step, found: Found, *, compensating: bool) -> None:
        """The system holds what the step asked for."""
        step.reference = found.reference
        undoable = step.operation in UNDOABLE
        if compensating and undoable:
            if found.reference is None:
                await self._finish(
                    step, StepState.STUCK, messages.undo_impossible(step.system, step.operation)
                )
                return
            step.state = StepState.UNDOING
            if await self._save(step, keep_lease=True):
                await self._undo(step)
            return
        note = None
        if found.reference is None and undoable:
            note = messages.done_without_reference(step.system, step.operation)
        await self._finish(step, StepState.DONE, note)

    async def _undo(self, step: Step) -> None:
        if step.operation not in UNDOABLE:
            await self._finish(step, StepState.DONE)
            return
        if declarations.is_declaration(step):
            await self._undo_declaration(step, step.reference)
            return
        if step.reference is None:
            # Nothing to revoke by: only a query tells whether it is still there
            # (a clerk may have revoked it by hand).
            try:
                found = await self._reconcile(step)
            except AdapterError as exc:
                if self._past_deadline(step):
                    await self._finish(step, StepState.STUCK, _deadline(step))
                else:
                    await self._later(step, StepState.UNDOING, messages.cannot_check(exc), exc)
                return
            if found is None or await self._anothers(step, found):
                await self._finish(step, StepState.UNDONE)
            else:
                await self._finish(
                    step, StepState.STUCK, messages.undo_impossible(step.system, step.operation)
                )
            return
        if self._past_deadline(step):
            await self._finish(step, StepState.STUCK, _deadline(step))
            return
        # Undoing twice is harmless ("already revoked" is success), so no state
        # is saved before the call: the attempt is recorded with its outcome.
        step.attempts += 1
        try:
            await self._call(step.system, self._revoke(step, step.reference), write=True)
        except Unavailable as exc:
            if not exc.reached_system:
                step.attempts -= 1  # nothing was sent (see ``_send``)
            await self._later(step, StepState.UNDOING, messages.unavailable(exc), exc)
            return
        except Rejected as exc:
            if registry().already_undone(step.system, exc.system_code):
                await self._finish(step, StepState.UNDONE)
            else:
                await self._finish(step, StepState.STUCK, messages.undo_failed(exc))
            return
        await self._finish(step, StepState.UNDONE)

    # ---------------------------------------------------------- calling

    def _adapter(self, step: Step) -> SystemAdapter:
        adapter = self.adapters.get(step.system)
        if adapter is None:
            # Switched off (or no longer installed) since the step was planned: it
            # waits, and reaches its deadline for a clerk, like a system that is down.
            raise NotSwitchedOn(step.system, "the system is not switched on in this gateway")
        return adapter

    async def _write(self, step: Step) -> str:
        return await write(self._adapter(step), step)

    async def _revoke(self, step: Step, reference: str) -> None:
        await revoke(self._adapter(step), step, reference)

    async def _find(self, step: Step) -> Found | None:
        return await find_write(step, self._adapter(step))

    async def _reconcile(self, step: Step) -> Found | None:
        """The record the system holds matching what the step asked (whoever made it)."""
        return await self._call(step.system, self._find(step))

    async def _anothers(self, step: Step, found: Found) -> bool:
        """Whether the record found is another registration's: a step of another
        registration holds its reference in this system, in whatever state (done,
        being undone, undone). Such a record is never this step's own, whatever
        it matches: taken as ours, a compensation would undo it. Asked of the
        store only here, when a record was found, never before a write. A write
        the gateway cannot undo (a unit opened) has no owner among registrations:
        every registration of that unit binds the same one."""
        if found.reference is None or step.operation not in UNDOABLE:
            return False
        holder = await self.store.held_by(
            step.system, found.reference, other_than=step.registration_id
        )
        if holder is None:
            return False
        log.info(
            "step %s (%s %s): the record found is registration %s's, not this step's",
            step.id,
            step.system.value,
            step.operation.value,
            holder,
        )
        return True

    async def _call(self, system: System, call: Awaitable[T], *, write: bool = False) -> T:
        """One call to a system, within the time a lease allows for it."""
        try:
            async with asyncio.timeout(self.call_timeout):
                return await call
        except TimeoutError:
            raise Unavailable(
                system, "no answer within the worker's time for one call", outcome_unknown=write
            ) from None
        except AdapterError:
            raise
        except Exception as exc:
            # Not one of the gateway's errors: an adapter bug or a transport
            # error it did not translate. Whether a write happened is unknown.
            log.error("call to the %s system failed: %s", system.value, type(exc).__name__)
            raise Unavailable(
                system, f"unexpected {type(exc).__name__}", outcome_unknown=write
            ) from None


class NotSwitchedOn(Unavailable):
    """A step of a system this gateway does not run: nothing was sent."""

    reached_system = False


def _deadline(step: Step) -> StepError:
    return messages.deadline_passed(step.system, step.operation)


#: What a step's last error is when its system refused it for business reasons.
_REFUSALS = frozenset(
    {messages.SYSTEM_REJECTED, messages.SYSTEM_DUPLICATE, messages.SYSTEM_NOT_FOUND}
)


def _refused_before(step: Step) -> bool:
    """Its last attempt was refused (then retried by a person): nothing of ours
    was written by it."""
    return step.last_error is not None and step.last_error.code in _REFUSALS
