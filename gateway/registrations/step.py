"""One leased step, carried out: send, reconcile, undo, and save each outcome.

Every state change is written *before* it is acted on, so that a worker killed
at any point leaves a state the next one continues from:

- ``PENDING``: saved ``SENDING`` (attempts + 1), then sent. Success: ``DONE``
  with the system's reference. An infrastructure failure: ``PENDING`` again, or
  ``UNKNOWN`` when the write may have been committed, at the backoff time. A
  business refusal: ``REFUSED``, and the registration is compensated.
- ``SENDING`` (a worker died after deciding to send) or ``UNKNOWN`` (the answer
  was lost): the system is asked first (``reconcile.find_write``); found, the
  step is ``DONE``; not found, it is sent; the system cannot be asked, it is
  asked again later. No write is ever sent twice on a guess.
- ``UNDOING``: revoked or cancelled in its system ("already undone" counts).
- A step past its deadline becomes ``STUCK``.

Once a step reaches a state no worker takes, what follows for its registration
is decided (``decide``, a pure function) in the transaction that saves it, and
the writes the store cannot make there (caches, bindings) are left to
``settle``. What each system is asked to write and to undo is kept together at
the end of this module ("per system").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from gateway.domain.model import (
    ContractEnding,
    DismissalRequest,
    EmploymentRegistrationRequest,
    System,
    UnemploymentRequest,
)
from gateway.registrations import messages
from gateway.registrations.backoff import Backoff
from gateway.registrations.decisions import Write, at_rest, compensating
from gateway.registrations.model import (
    Operation,
    Registration,
    RegistrationState,
    Step,
    StepError,
    StepState,
)
from gateway.registrations.plan import (
    FileContractRequest,
    OpenEmployerRequest,
    RenewContractRequest,
    step_request,
)
from gateway.registrations.ports import Decided, RegistrationStore
from gateway.registrations.reconcile import (
    Found,
    as_employment,
    as_labour,
    as_unemployment,
    find_write,
)
from gateway.systems import AdapterError, Duplicate, Rejected, SystemAdapter, Unavailable

# The engine's parts log as the engine: one name for operators to follow.
log = logging.getLogger("gateway.registrations.engine")

T = TypeVar("T")


class StepWorker:
    """Carries out steps leased to ``owner``. Once a step reaches a state no
    worker takes, ``decide`` says what follows from its registration as read
    with the step saved, and ``settle`` applies what the store left undone."""

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
        # Steps whose registration is to leave ACCEPTED with their next save.
        self._starting: set[str] = set()
        # The ID number of the worker each step under way writes for.
        self._people: dict[str, str] = {}

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
        if step.state in (StepState.SENDING, StepState.UNKNOWN):
            try:
                found = await self._reconcile(step)
            except AdapterError as exc:
                if self._past_deadline(step):
                    await self._finish(step, StepState.STUCK, _deadline(step))
                else:
                    await self._later(step, StepState.UNKNOWN, messages.cannot_check(exc), exc)
                return
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
            if step.attempts > 1:
                # An earlier attempt of ours may be what the system holds: only
                # a record matching what was asked is taken as ours.
                try:
                    found = await self._reconcile(step)
                except AdapterError as again:
                    await self._later(step, StepState.UNKNOWN, messages.cannot_check(again), again)
                    return
                if found is not None:
                    await self._found(step, found, compensating=False)
                    return
            await self._finish(step, StepState.REFUSED, messages.refused(exc))
            return
        except Rejected as exc:
            await self._finish(step, StepState.REFUSED, messages.refused(exc))
            return
        step.reference = reference
        await self._finish(step, StepState.DONE)

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
            if found is None:
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
            if exc.system_code in ALREADY_UNDONE.get(step.system, frozenset()):
                await self._finish(step, StepState.UNDONE)
            else:
                await self._finish(step, StepState.STUCK, messages.undo_failed(exc))
            return
        await self._finish(step, StepState.UNDONE)

    # ---------------------------------------------------------- saving

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
        step.last_error = error
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

    async def _finish(self, step: Step, state: StepState, error: StepError | None = None) -> None:
        """A state no worker takes (until a clerk or a compensation says so)."""
        await self._written(step, state)
        step.state = state
        step.last_error = error
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

    # ---------------------------------------------------------- calling

    async def _write(self, step: Step) -> str:
        return await write(self.adapters[step.system], step)

    async def _revoke(self, step: Step, reference: str) -> None:
        await revoke(self.adapters[step.system], step, reference)

    async def _reconcile(self, step: Step) -> Found | None:
        return await self._call(step.system, find_write(step, self.adapters[step.system]))

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


def _deadline(step: Step) -> StepError:
    return messages.deadline_passed(step.system, step.operation)


# ================================================================ per system

#: Operations whose write a system can undo (OPEN_EMPLOYER: an opened unit stays).
UNDOABLE = frozenset(
    {
        Operation.REGISTER_EMPLOYMENT,
        Operation.DISMISS,
        Operation.FILE_CONTRACT,
        Operation.RENEW_CONTRACT,
        Operation.END_CONTRACT,
        Operation.REGISTER_UNEMPLOYMENT,
    }
)

#: Each system's answer to undoing what is already undone: the undo has happened.
ALREADY_UNDONE: dict[System, frozenset[str]] = {
    System.EMPLOYMENT: frozenset({"E3003"}),  # 该业务已撤销
    System.LABOUR: frozenset({"LD4002"}),  # 备案已撤销
    System.UNEMPLOYMENT: frozenset({"40903"}),  # 该登记已注销
}


async def write(adapter: SystemAdapter, step: Step) -> str:
    """Send the step's write; the system's reference of what it holds."""
    request: Any = step_request(step)
    op = step.operation
    if op is Operation.OPEN_EMPLOYER:
        assert isinstance(request, OpenEmployerRequest)
        binding = await adapter.ensure_employer(request.profile)
        return binding.employer_id
    if op is Operation.REGISTER_EMPLOYMENT:
        assert isinstance(request, EmploymentRegistrationRequest)
        return await as_employment(adapter).register(request)
    if op is Operation.DISMISS:
        assert isinstance(request, DismissalRequest)
        return await as_employment(adapter).dismiss(request)
    if op is Operation.FILE_CONTRACT:
        assert isinstance(request, FileContractRequest)
        return await as_labour(adapter).file(request.employer_id, request.person, request.term)
    if op is Operation.RENEW_CONTRACT:
        assert isinstance(request, RenewContractRequest)
        return await as_labour(adapter).renew(request.employer_id, request.id_number, request.term)
    if op is Operation.END_CONTRACT:
        assert isinstance(request, ContractEnding)
        return await as_labour(adapter).end(request)
    if op is Operation.REGISTER_UNEMPLOYMENT:
        assert isinstance(request, UnemploymentRequest)
        return await as_unemployment(adapter).register(request)
    raise ValueError(f"unknown operation {op.value}")


async def revoke(adapter: SystemAdapter, step: Step, reference: str) -> None:
    """Undo the step's write, known in its system as ``reference``."""
    if step.system is System.EMPLOYMENT:
        await as_employment(adapter).revoke(reference)
    elif step.system is System.LABOUR:
        await as_labour(adapter).revoke(reference)
    else:
        await as_unemployment(adapter).cancel(reference)
