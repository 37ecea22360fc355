"""The worker that carries registrations out: every step reaches its system once.

The engine takes due steps from the store under a lease, carries each out, and
writes every state change *before* acting on it, so that a worker killed at any
point leaves a state the next one continues from:

- ``PENDING``: saved ``SENDING`` (attempts + 1), then sent. Success: ``DONE``
  with the system's reference. An infrastructure failure: ``PENDING`` again, or
  ``UNKNOWN`` when the write may have been committed, at the backoff time. A
  business refusal: ``REFUSED``, and the registration is compensated.
- ``SENDING`` (a worker died after deciding to send) or ``UNKNOWN`` (the answer
  was lost): the system is asked first (``reconcile.find_write``); found, the
  step is ``DONE``; not found, it is sent; the system cannot be asked, it is
  asked again later. No write is ever sent twice on a guess.
- Compensation, once a step is refused or a clerk cancels: every ``DONE`` step
  becomes ``UNDOING`` and is revoked or cancelled in its system; steps not yet
  sent become ``SKIPPED``; steps with an unknown outcome are reconciled first.
- A step past its deadline becomes ``STUCK`` and its registration needs
  attention; a clerk retries or cancels it (``Engine.retry`` / ``Engine.cancel``).

Which worker carries a step out is decided by the store's leases, so several
engines (tasks or processes) can share one store. What follows a step (the next
stage, the end of the registration, compensation) is decided again from the
stored state after every step, by whichever worker finished it, and by a
periodic sweep for a worker that died in between: that decision is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from gateway.domain.model import (
    ContractEnding,
    DismissalRequest,
    EmployerProfile,
    EmploymentRegistrationRequest,
    System,
    UnemploymentRequest,
)
from gateway.registrations import messages
from gateway.registrations.backoff import Backoff
from gateway.registrations.model import (
    Business,
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
    from_payload,
    step_request,
)
from gateway.registrations.ports import RegistrationFilter, RegistrationStore
from gateway.registrations.reconcile import (
    Found,
    as_employment,
    as_labour,
    as_unemployment,
    find_write,
)
from gateway.store.model import BindingConflict, EmployerNotFound, EmployerRecord
from gateway.systems import AdapterError, Duplicate, Rejected, SystemAdapter, Unavailable

if TYPE_CHECKING:
    from gateway.cache import GatewayCache
    from gateway.config import GatewayConfig
    from gateway.services import Gateway

__all__ = [
    "Backoff",
    "ClerkActionRefused",
    "EmployerBindings",
    "Engine",
    "backoff_for",
    "engine_for",
    "new_owner",
    "run_worker",
    "utc_now",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

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

#: A registration going forward, not yet refused, stuck or finished.
_FORWARD = (RegistrationState.ACCEPTED, RegistrationState.IN_PROGRESS)
#: Step states in which some worker will still take the step.
_ACTIVE = frozenset({StepState.PENDING, StepState.SENDING, StepState.UNKNOWN, StepState.UNDOING})

#: Registration states the sweep looks at (the others are final or wait for a person).
_UNDER_WAY = (
    RegistrationState.ACCEPTED,
    RegistrationState.IN_PROGRESS,
    RegistrationState.COMPENSATING,
)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_owner() -> str:
    """A lease owner unique to this process and engine: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class EmployerBindings(Protocol):
    """What the engine needs of ``gateway.store.Employers``."""

    async def bind(self, credit_code: str, system: System, employer_id: str) -> Any: ...

    async def upsert(self, record: EmployerRecord) -> Any: ...


class ClerkActionRefused(Exception):
    """A clerk's retry or cancel that cannot be done: a stable code, two messages."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en


def _not_found() -> ClerkActionRefused:
    return ClerkActionRefused(
        "REGISTRATION_NOT_FOUND", "找不到该登记", "There is no such registration"
    )


def _not_waiting(state: RegistrationState) -> ClerkActionRefused:
    return ClerkActionRefused(
        "REGISTRATION_NOT_NEEDING_ATTENTION",
        f"只有待处理（需人工处理）的登记可以重试或取消，该登记当前状态为 {state.value}",
        f"Only a registration that needs attention can be retried or cancelled; this one "
        f"is {state.value}",
    )


class Engine:
    """Carries out the steps of registrations stored in ``store``.

    ``lease`` bounds how long one worker keeps a step before another may take
    it; every call to a system gets at most a third of it, so that a worker
    never acts on a step it may have lost. ``step_deadline`` is the deadline a
    clerk's retry and a compensation give their steps.
    """

    def __init__(
        self,
        store: RegistrationStore,
        adapters: Mapping[System, SystemAdapter],
        *,
        employers: EmployerBindings | None = None,
        cache: GatewayCache | None = None,
        owner: str | None = None,
        lease: dt.timedelta = dt.timedelta(seconds=60),
        concurrency: int = 8,
        backoff: Backoff | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        step_deadline: dt.timedelta = dt.timedelta(hours=24),
        sweep_interval: float = 30.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if lease <= dt.timedelta(0):
            raise ValueError("the lease must be positive")
        self.store = store
        self.adapters = dict(adapters)
        self.employers = employers
        self.cache = cache
        self.owner = owner or new_owner()
        self.lease = lease
        self.concurrency = concurrency
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.step_deadline = step_deadline
        self.sweep_interval = sweep_interval
        self.call_timeout = lease.total_seconds() / 3

    # ================================================================ running

    async def run_once(self) -> int:
        """Claim the steps due now (at most ``concurrency``), carry them out
        concurrently, and return how many there were."""
        steps = await self._claim(self.concurrency)
        if steps:
            await asyncio.gather(*(self._guarded(step) for step in steps))
        return len(steps)

    async def run(
        self,
        stop: asyncio.Event,
        poll_interval: float = 1.0,
        nudge: asyncio.Event | None = None,
    ) -> None:
        """Carry steps out until ``stop`` is set.

        Steps are taken as slots free up rather than batch by batch, so that a
        slow system does not hold back the others, and a finished step wakes
        the loop at once (its next stage is due now). One step's failure is
        logged and never stops the loop. ``nudge`` wakes it as soon as something is
        submitted in the same process; other processes' submissions wait for the poll.
        """
        loop = asyncio.get_running_loop()
        in_flight: set[asyncio.Task[None]] = set()
        wake = asyncio.Event()
        next_sweep = loop.time()

        def finished(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            wake.set()

        log.info("registration worker %s started", self.owner)
        try:
            while not stop.is_set():
                wake.clear()
                if nudge is not None:
                    nudge.clear()
                if loop.time() >= next_sweep:
                    await self._logged("sweep", self.sweep())
                    next_sweep = loop.time() + self.sweep_interval
                free = self.concurrency - len(in_flight)
                if free > 0:
                    claimed = await self._logged("claim", self._claim(free))
                    for step in claimed or []:
                        task = asyncio.create_task(self._guarded(step))
                        in_flight.add(task)
                        task.add_done_callback(finished)
                await _first_of(stop, wake, *([nudge] if nudge else []), within=poll_interval)
        finally:
            # Graceful: let the calls under way end (each is bounded by the call
            # timeout). Cancelled instead, a step stays SENDING and the next
            # worker reconciles it, which is safe, only slower.
            if in_flight and stop.is_set():
                await asyncio.wait(set(in_flight), timeout=self.call_timeout)
            for task in list(in_flight):
                task.cancel()
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
            log.info("registration worker %s stopped", self.owner)

    async def _claim(self, limit: int) -> list[Step]:
        return await self.store.claim(self.owner, now=self.clock(), lease=self.lease, limit=limit)

    async def sweep(self) -> int:
        """Decide again for every registration under way with no step left to take.

        A worker that died between finishing a step and deciding what follows
        (the next stage, the end, compensation) leaves such a registration;
        deciding is idempotent, so doing it again is always safe. Returns how
        many registrations were looked at again.
        """
        after: str | None = None
        count = 0
        while True:
            page = await self.store.list(
                RegistrationFilter(states=list(_UNDER_WAY)), first=100, after=after
            )
            for registration in page.items:
                if not any(_takeable(s) for s in registration.steps):
                    count += 1
                    # Read again: the page may be older than a decision taken since.
                    await self._advance(registration.id)
            if not page.has_next_page:
                return count
            after = page.end_cursor

    # ========================================================== clerks' actions

    async def retry(self, registration_id: str) -> Registration:
        """Put the stuck steps of a registration that needs attention back to work,
        each with a new deadline; a compensation that got stuck is resumed."""
        registration = await self._needing_attention(registration_id)
        now = self.clock()
        deadline = now + self.step_deadline
        compensating = registration.failure is not None
        await self._requeue(registration, now, deadline, compensating=compensating)
        # A second clerk acting at the same time finds it moved: nothing more to do.
        await self.store.update_registration(
            registration.id,
            state=(
                RegistrationState.COMPENSATING if compensating else RegistrationState.IN_PROGRESS
            ),
            now=now,
            expect=[RegistrationState.NEEDS_ATTENTION],
        )
        log.info("registration %s retried", registration.id)
        return await self._after_clerk(registration.id)

    async def cancel(self, registration_id: str) -> Registration:
        """Undo what a registration that needs attention has done, and end it
        CANCELLED. One whose compensation got stuck keeps the refusal as its
        failure and ends COMPENSATED."""
        registration = await self._needing_attention(registration_id)
        now = self.clock()
        deadline = now + self.step_deadline
        await self._requeue(registration, now, deadline, compensating=True)
        # The registration becomes takeable only now, after its steps are set.
        await self.store.update_registration(
            registration.id,
            state=RegistrationState.COMPENSATING,
            failure=registration.failure or messages.cancelled(),
            now=now,
            expect=[RegistrationState.NEEDS_ATTENTION],
        )
        log.info("registration %s cancelled by a clerk", registration.id)
        return await self._after_clerk(registration.id)

    async def _needing_attention(self, registration_id: str) -> Registration:
        registration = await self.store.get(registration_id)
        if registration is None:
            raise _not_found()
        if registration.state is not RegistrationState.NEEDS_ATTENTION:
            raise _not_waiting(registration.state)
        return registration

    async def _requeue(
        self,
        registration: Registration,
        now: dt.datetime,
        deadline: dt.datetime,
        *,
        compensating: bool,
    ) -> None:
        # Grouped by the state each step was read in and the one it goes to; a
        # step that moved since (another clerk's retry) is left alone.
        groups: dict[tuple[StepState, StepState | None], list[str]] = {}
        for step in registration.steps:
            state: StepState | None
            if step.state is StepState.STUCK:
                if step.reference is not None or _undo_impossible(step):
                    # A stuck undo; one without a reference is checked again
                    # (a clerk may have revoked it by hand since).
                    state = StepState.UNDOING
                else:
                    # Asked before anything is sent, even if never sent: one query
                    # costs less than a double write should two clerks retry at once.
                    state = StepState.UNKNOWN
            elif compensating and step.state is StepState.DONE and step.operation in UNDOABLE:
                state = StepState.UNDOING
            elif step.state in _ACTIVE and step.next_attempt_at is not None:
                state = None  # keeps its state; a new deadline and due now
            elif compensating and step.state is StepState.PENDING:
                state = None  # a later stage never started: due now, to be skipped
            else:
                continue
            groups.setdefault((step.state, state), []).append(step.id)
        for (was, state), ids in groups.items():
            await self.store.schedule(
                ids,
                at=now,
                state=None if state is None else state.value,
                deadline_at=deadline,
                expect=[was],
            )

    async def _after_clerk(self, registration_id: str) -> Registration:
        registration = await self.store.get(registration_id)
        assert registration is not None
        await self._decide(registration, self.clock())
        fresh = await self.store.get(registration_id)
        assert fresh is not None
        return fresh

    # ================================================================ one step

    async def _guarded(self, step: Step) -> None:
        try:
            await self._carry_out(step)
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

    async def _carry_out(self, step: Step) -> None:
        registration = await self.store.get(step.registration_id)
        if registration is None or _at_rest(registration):
            # Claimed just before a clerk's or another worker's decision: the
            # decision stands, and the lease lapses by itself.
            return
        compensating = _compensating(registration)
        if registration.state is RegistrationState.ACCEPTED and not compensating:
            await self.store.update_registration(
                registration.id,
                state=RegistrationState.IN_PROGRESS,
                now=self.clock(),
                expect=[RegistrationState.ACCEPTED],
            )
        if step.state is StepState.UNDOING:
            await self._undo(step)
            return
        if compensating and step.state is StepState.PENDING:
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
                await self._found(step, found, compensating=compensating)
                return
            if compensating:
                await self._finish(step, StepState.SKIPPED)
                return
        if self._past_deadline(step):
            await self._finish(step, StepState.STUCK, _deadline(step))
            return
        await self._send(step)

    async def _send(self, step: Step) -> None:
        step.state = StepState.SENDING
        step.attempts += 1
        if not await self._save(step, keep_lease=True):
            return
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

    # ---------------------------------------------------------- step helpers

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
        saved = await self.store.save_step(step, owner=self.owner, now=now)
        if not saved:
            log.warning("step %s: lease lost, left to the worker that holds it", step.id)
        return saved

    async def _later(
        self, step: Step, state: StepState, error: StepError, exc: AdapterError
    ) -> None:
        retry_after = exc.retry_after if isinstance(exc, Unavailable) else None
        delay = self.backoff.delay(max(1, step.attempts), retry_after)
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
        if await self._save(step, keep_lease=False):
            await self._advance(step.registration_id)

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

    async def _write(self, step: Step) -> str:
        adapter = self.adapters[step.system]
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
            return await as_labour(adapter).renew(
                request.employer_id, request.id_number, request.term
            )
        if op is Operation.END_CONTRACT:
            assert isinstance(request, ContractEnding)
            return await as_labour(adapter).end(request)
        if op is Operation.REGISTER_UNEMPLOYMENT:
            assert isinstance(request, UnemploymentRequest)
            return await as_unemployment(adapter).register(request)
        raise ValueError(f"unknown operation {op.value}")

    async def _revoke(self, step: Step, reference: str) -> None:
        adapter = self.adapters[step.system]
        if step.system is System.EMPLOYMENT:
            await as_employment(adapter).revoke(reference)
        elif step.system is System.LABOUR:
            await as_labour(adapter).revoke(reference)
        else:
            await as_unemployment(adapter).cancel(reference)

    # ====================================================== the registration

    async def _advance(self, registration_id: str) -> None:
        registration = await self.store.get(registration_id)
        if registration is not None:
            await self._decide(registration, self.clock())

    async def _decide(self, registration: Registration, now: dt.datetime) -> None:
        """What follows from the steps' stored states; safe to repeat and to race.

        ``registration`` may be older than the store by the time this writes
        (another worker decided meanwhile): every write here is conditional on
        the state it was decided from, so that a late decision never undoes a
        newer one (a step undone twice, a final registration reopened).
        """
        if registration.state.is_final:
            return
        if _compensating(registration):
            await self._compensate(registration, now)
            return
        if registration.state is RegistrationState.NEEDS_ATTENTION:
            return  # a person decides
        steps = registration.steps
        if any(s.state is StepState.STUCK for s in steps):
            await self.store.update_registration(
                registration.id, state=RegistrationState.NEEDS_ATTENTION, now=now, expect=_FORWARD
            )
            log.warning("registration %s needs attention", registration.id)
            return
        if all(s.state is StepState.DONE for s in steps):
            await self._complete(registration, now)
            return
        if registration.state is RegistrationState.ACCEPTED:
            await self.store.update_registration(
                registration.id,
                state=RegistrationState.IN_PROGRESS,
                now=now,
                expect=[RegistrationState.ACCEPTED],
            )
        for stage in sorted({s.stage for s in steps}):
            group = [s for s in steps if s.stage == stage]
            if all(s.state is StepState.DONE for s in group):
                continue
            # The first stage not done: its steps are due once the earlier are.
            waiting = [
                s.id for s in group if s.state is StepState.PENDING and s.next_attempt_at is None
            ]
            if waiting:
                await self.store.schedule(
                    waiting, at=now, expect=[StepState.PENDING], unleased_at=now
                )
            return

    async def _complete(self, registration: Registration, now: dt.datetime) -> None:
        if registration.business is Business.OPEN_ACCOUNT:
            await self._bind(registration)
        # Before the state changes: whoever sees COMPLETED then reads fresh records.
        await self._invalidate(registration)
        await self.store.update_registration(
            registration.id,
            state=RegistrationState.COMPLETED,
            now=now,
            release_worker=True,
            expect=_FORWARD,
        )
        log.info("registration %s completed", registration.id)

    async def _compensate(self, registration: Registration, now: dt.datetime) -> None:
        steps = registration.steps
        failure = registration.failure or _first_refusal(registration)
        if registration.state is RegistrationState.NEEDS_ATTENTION and registration.failure:
            return  # a compensation that got stuck: a person decides
        if registration.state is not RegistrationState.COMPENSATING:
            # Whether this write or another's made it COMPENSATING, the steps
            # below are undone or skipped only from the states they are in.
            await self.store.update_registration(
                registration.id,
                state=RegistrationState.COMPENSATING,
                failure=failure,
                now=now,
                expect=[*_FORWARD, RegistrationState.NEEDS_ATTENTION],
            )
            log.info("registration %s: compensating (%s)", registration.id, failure.code)
        # Steps that no one is sending can be changed here; one in flight keeps
        # its lease and its worker decides again once it has saved its result.
        undo = [s.id for s in steps if s.state is StepState.DONE and s.operation in UNDOABLE]
        if undo:
            await self.store.schedule(
                undo,
                at=now,
                state=StepState.UNDOING.value,
                deadline_at=now + self.step_deadline,
                expect=[StepState.DONE],
            )
        # Steps never sent are skipped by the worker that takes them (under its
        # lease); here they are only made due now, unless a worker holds one
        # (the store checks the lease when it writes, not on this older read).
        skip = [
            s.id
            for s in steps
            if s.state is StepState.PENDING
            and (s.next_attempt_at is None or s.next_attempt_at > now)
        ]
        if skip:
            await self.store.schedule(skip, at=now, expect=[StepState.PENDING], unleased_at=now)
        if undo or skip or not all(_settled(s) for s in steps):
            return
        stuck = any(s.state is StepState.STUCK for s in steps)
        if stuck:
            state = RegistrationState.NEEDS_ATTENTION
        elif failure.code == messages.CANCELLED:
            state = RegistrationState.CANCELLED
        else:
            state = RegistrationState.COMPENSATED
        await self._invalidate(registration)
        # A registration that needs attention keeps its worker locked: a clerk
        # may still retry it, and nothing else may be filed for that worker meanwhile.
        await self.store.update_registration(
            registration.id,
            state=state,
            failure=failure,
            now=now,
            release_worker=not stuck,
            expect=[RegistrationState.COMPENSATING],
        )
        log.info("registration %s: %s", registration.id, state.value)

    async def _bind(self, registration: Registration) -> None:
        """Record each system's id of the unit an account opening found or opened."""
        if self.employers is None:
            return
        ids = {s.system: s.reference for s in registration.steps if s.reference}
        for system, employer_id in ids.items():
            try:
                await self.employers.bind(registration.credit_code, system, employer_id)
            except EmployerNotFound:
                profile = from_payload(registration.payload, EmployerProfile)
                await self.employers.upsert(
                    EmployerRecord(
                        credit_code=registration.credit_code,
                        name=profile.name,
                        division=profile.division,
                        employment_id=ids.get(System.EMPLOYMENT),
                        labour_id=ids.get(System.LABOUR),
                        unemployment_id=ids.get(System.UNEMPLOYMENT),
                    )
                )
                return
            except BindingConflict:
                # The gateway already knows the unit under another id there: the
                # account works with the one it has, and an administrator sees this.
                log.warning(
                    "unit %s: the %s system's id differs from the one already bound",
                    registration.credit_code,
                    system.value,
                )

    async def _invalidate(self, registration: Registration) -> None:
        """Forget cached records of what this registration wrote (or may have)."""
        if self.cache is None:
            return
        try:
            if registration.business is Business.OPEN_ACCOUNT:
                await self.cache.delete(self.cache.employer_key(registration.credit_code))
                return
            if registration.person_key is None:
                return
            id_number = registration.person_key.partition(":")[2]
            written: dict[System, str | None] = {}
            for step in registration.steps:
                if step.attempts > 0 or step.state in (StepState.DONE, StepState.UNDONE):
                    written[step.system] = getattr(step_request(step), "employer_id", None)
            if written:
                await self.cache.invalidate_worker(id_number, written)
        except Exception as exc:
            # A cache outage must not hold registrations back; entries expire anyway.
            log.warning("cache invalidation failed: %s", type(exc).__name__)

    async def _logged(self, what: str, call: Awaitable[T]) -> T | None:
        try:
            return await call
        except Exception as exc:
            log.error("registration worker: %s failed: %s", what, type(exc).__name__)
            return None


# ================================================================ helpers


def _at_rest(registration: Registration) -> bool:
    return registration.state.is_final or registration.state is RegistrationState.NEEDS_ATTENTION


def _compensating(registration: Registration) -> bool:
    """Refused or cancelled: read from what is stored durably, never from a flag
    that a concurrent write could have overtaken."""
    return registration.failure is not None or any(
        s.state is StepState.REFUSED for s in registration.steps
    )


def _first_refusal(registration: Registration) -> StepError:
    for step in registration.steps:
        if step.state is StepState.REFUSED and step.last_error is not None:
            return step.last_error
    return StepError(
        messages.SYSTEM_REJECTED, "有系统拒绝办理", "A system refused the registration"
    )


def _settled(step: Step) -> bool:
    """Nothing more to do for this step in a compensation."""
    if step.state is StepState.DONE:
        return step.operation not in UNDOABLE
    return step.state in (
        StepState.UNDONE,
        StepState.SKIPPED,
        StepState.REFUSED,
        StepState.STUCK,
    )


def _takeable(step: Step) -> bool:
    """A worker will take this step (now or at its next attempt)."""
    if step.state is StepState.PENDING:
        return step.next_attempt_at is not None
    return step.state in _ACTIVE


def _undo_impossible(step: Step) -> bool:
    return step.last_error is not None and step.last_error.code == messages.UNDO_IMPOSSIBLE


def _deadline(step: Step) -> StepError:
    return messages.deadline_passed(step.system, step.operation)


async def _first_of(*events: asyncio.Event, within: float) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        for waiter in waiters:
            with contextlib.suppress(asyncio.CancelledError):
                await waiter


# ================================================================ wiring


def backoff_for(config: GatewayConfig) -> Backoff:
    """The configured retry schedule of steps (``HRSS_STEP_BACKOFF_BASE_S`` / ``_CAP_S``):
    production waits from 1 s up to 5 minutes; a test deployment proves the same
    promises at a fraction of a second."""
    return Backoff(base=config.step_backoff_base_s, cap=config.step_backoff_cap_s)


def engine_for(gateway: Gateway, **overrides: Any) -> Engine:
    """An engine over a started gateway's store, adapters and cache.

    The lease outlasts a few calls at the slowest system's timeout, so that it
    never runs out under a worker that is only waiting for an answer.
    """
    config = gateway.config
    slowest = max(config.system(s).timeout for s in System)
    options: dict[str, Any] = {
        "employers": gateway.store.employers,
        "cache": gateway.cache,
        "owner": new_owner(),
        "lease": dt.timedelta(seconds=max(config.worker_lease_s, 4 * slowest)),
        "concurrency": config.worker_concurrency,
        "step_deadline": dt.timedelta(seconds=config.step_deadline_s),
        "backoff": backoff_for(config),
        # Through a lambda: a test that moves the gateway's clock moves the worker's.
        "clock": lambda: gateway.clock(),
    }
    options.update(overrides)
    return Engine(gateway.store.registrations, gateway.adapters, **options)


async def run_worker(
    gateway: Gateway, *, stop: asyncio.Event, poll_interval: float = 1.0, **overrides: Any
) -> None:
    """Carry registrations out until ``stop`` is set: the background task of
    ``hrss-gateway serve`` and the body of ``hrss-gateway worker``."""
    await engine_for(gateway, **overrides).run(stop, poll_interval, gateway.work_submitted)
