"""The worker that carries registrations out: every step reaches its system once.

The engine takes due steps from the store under a lease, carries each out, and
writes every state change *before* acting on it, so that a worker killed at any
point leaves a state the next one continues from:

- ``PENDING``: saved ``SENDING`` (attempts + 1), then sent. Success: ``DONE``
  with the system's reference. An infrastructure failure: ``PENDING`` again, or
  ``UNKNOWN`` when the write may have been committed, at the backoff time. A
  business refusal: ``REFUSED``; of a core step, the registration is
  compensated; of a follow-up, the core stays and a person decides.
- ``SENDING`` (a worker died after deciding to send) or ``UNKNOWN`` (the answer
  was lost): the system is asked first (``reconcile.find_write``); found, the
  step is ``DONE``; not found, it is sent; the system cannot be asked, it is
  asked again later. No write is ever sent twice on a guess.
- Compensation, once a core step is refused or a clerk cancels: every ``DONE``
  step (follow-ups included, but never a record found already there) becomes
  ``UNDOING`` and is revoked or cancelled in its system; steps not yet sent
  become ``SKIPPED``; steps with an unknown outcome are reconciled first.
- A step past its deadline, or a refused follow-up, leaves its registration
  needing attention; a clerk retries or cancels it (``Engine.retry`` /
  ``Engine.cancel``), and a follow-up left after a completed core is retried
  (with corrected data) or cancelled alone (``Engine.retry_follow_up`` /
  ``Engine.cancel_follow_up``).

Which worker carries a step out is decided by the store's leases, so several
engines (tasks or processes) can share one store. What follows a step (the next
stage, the end of the registration, compensation) is decided again from the
stored state after every step, by whichever worker finished it, and by a
periodic sweep for a worker that died in between: that decision is idempotent.

The parts: ``runner`` (claim, lease, the loop, the sweep), ``step`` (one step:
send, reconcile, undo, and what each system is asked), ``saving`` (a step's
outcome saved, a finished one with what follows), ``awaiting`` (declarations
whose system decides later), ``decisions`` (what
follows from a stored state, without I/O), ``clerk`` (retry, cancel; a
follow-up's retry and cancel); this module puts them together and applies the
decisions. ``recovery`` takes the steps waiting for a system that was down as
soon as it answers again. ``wiring`` builds an engine from a gateway's
configuration.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from gateway.domain.model import EmployerProfile, System
from gateway.registrations import decisions
from gateway.registrations.backoff import Backoff
from gateway.registrations.clerk import Clerk, ClerkActionRefused
from gateway.registrations.decisions import (
    Bind,
    InvalidateEmployer,
    ScheduleSteps,
    SetRegistrationState,
    Write,
)
from gateway.registrations.model import Operation, Registration, RegistrationState, Step
from gateway.registrations.operations import UNDOABLE
from gateway.registrations.plan import from_payload, step_request
from gateway.registrations.ports import AuditAs, Decided, RegistrationStore
from gateway.registrations.recovery import Recovery
from gateway.registrations.runner import Runner
from gateway.registrations.step import StepWorker
from gateway.store.model import BindingConflict, EmployerNotFound, EmployerRecord
from gateway.systems import SystemAdapter

if TYPE_CHECKING:
    from gateway.cache import GatewayCache

__all__ = [
    "Backoff",
    "ClerkActionRefused",
    "EmployerBindings",
    "Engine",
    "new_owner",
    "utc_now",
]

log = logging.getLogger(__name__)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_owner() -> str:
    """A lease owner unique to this process and engine: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class EmployerBindings(Protocol):
    """What the engine needs of ``gateway.store.Employers``."""

    async def bind(self, credit_code: str, system: System, employer_id: str) -> Any: ...

    async def upsert(self, record: EmployerRecord) -> Any: ...


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
        probe_interval: float | None = None,
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
        self.call_timeout = call_timeout = lease.total_seconds() / 3
        #: Set when a system that was down answers again (its steps were made due).
        self.back = asyncio.Event()
        #: With a ``probe_interval``: a system whose breaker a step found open is
        #: asked every that many seconds whether it is back (``recovery``).
        self.recovery = (
            None
            if probe_interval is None
            else Recovery(
                store,
                self.adapters,
                clock=clock,
                interval=probe_interval,
                on_back=lambda _system, _woken: self.back.set(),
            )
        )
        self.steps = StepWorker(
            store,
            self.adapters,
            owner=self.owner,
            lease=lease,
            backoff=self.backoff,
            clock=clock,
            call_timeout=call_timeout,
            decide=self.decisions,
            settle=self.settle,
            forget=self.forget,
            on_unavailable=None if self.recovery is None else self.recovery.failed,
        )
        self.runner = Runner(
            store,
            owner=self.owner,
            lease=lease,
            concurrency=concurrency,
            clock=clock,
            sweep_interval=sweep_interval,
            call_timeout=call_timeout,
            carry_out=lambda claimed: self.steps.guarded(
                claimed.step, claimed.registration, sending=claimed.sending
            ),
            advance=self.advance,
        )
        self.clerk = Clerk(
            store,
            clock=clock,
            step_deadline=step_deadline,
            undoable=UNDOABLE,
            apply=self.apply,
            decide=self.decide,
        )

    # ================================================================ running

    async def run_once(self) -> int:
        """Claim the steps due now (at most ``concurrency``), carry them out
        concurrently, and return how many there were."""
        return await self.runner.run_once()

    async def run(
        self,
        stop: asyncio.Event,
        poll_interval: float = 1.0,
        nudge: asyncio.Event | None = None,
    ) -> None:
        """Carry steps out until ``stop`` is set (see ``Runner.run``)."""
        try:
            await self.runner.run(stop, poll_interval, nudge, back=self.back)
        finally:
            if self.recovery is not None:
                await self.recovery.aclose()

    async def sweep(self) -> int:
        """Decide again for every registration under way with no step left to take."""
        return await self.runner.sweep()

    async def carry_out(self, step: Step) -> None:
        """Carry out one step claimed by this engine's owner."""
        await self.steps.carry_out(step)

    # ========================================================== clerks' actions

    async def retry(self, registration_id: str) -> Registration:
        """Put the stuck steps of a registration that needs attention back to work,
        each with a new deadline; a compensation that got stuck is resumed."""
        return await self.clerk.retry(registration_id)

    async def cancel(self, registration_id: str) -> Registration:
        """Undo what a registration that needs attention has done, and end it
        CANCELLED. One whose compensation got stuck keeps the refusal as its
        failure and ends COMPENSATED."""
        return await self.clerk.cancel(registration_id)

    async def retry_follow_up(
        self,
        registration_id: str,
        operation: Operation,
        *,
        payload: Mapping[str, Any] | None = None,
        row: Mapping[str, Any] | None = None,
        audit_as: AuditAs | None = None,
    ) -> Registration:
        """Send a waiting follow-up again (with corrected data); the core stays."""
        return await self.clerk.retry_follow_up(
            registration_id, operation, payload=payload, row=row, audit_as=audit_as
        )

    async def cancel_follow_up(
        self, registration_id: str, operation: Operation, *, audit_as: AuditAs | None = None
    ) -> Registration:
        """Cancel a waiting follow-up alone; the core stays, the registration completes."""
        return await self.clerk.cancel_follow_up(registration_id, operation, audit_as=audit_as)

    # ====================================================== the registration

    async def advance(self, registration_id: str) -> None:
        """Read the registration again and decide what follows."""
        registration = await self.store.get(registration_id)
        if registration is not None:
            await self.decide(registration, self.clock())

    async def decide(self, registration: Registration, now: dt.datetime) -> None:
        """What follows from the steps' stored states; safe to repeat and to race.

        ``registration`` may be older than the store by the time this writes
        (another worker decided meanwhile): every write is conditional on the
        state it was decided from (``decisions.decide``), so that a late
        decision never undoes a newer one.
        """
        writes = self.decisions(registration, now)
        await self.apply(registration, writes, now)
        _announce(registration, writes)

    def decisions(self, registration: Registration, now: dt.datetime) -> list[Write]:
        """What follows from ``registration`` as read (``decisions.decide``)."""
        return decisions.decide(
            registration, now, step_deadline=self.step_deadline, undoable=UNDOABLE
        )

    async def settle(self, decided: Decided, now: dt.datetime) -> None:
        """Apply what the store left of a decision taken with a finished step."""
        await self.apply(decided.registration, decided.writes[decided.applied :], now)
        _announce(decided.registration, decided.writes)

    async def apply(
        self, registration: Registration, writes: Sequence[Write], now: dt.datetime
    ) -> None:
        """Store ``writes`` in order (decided from ``registration`` at ``now``)."""
        for write in writes:
            if isinstance(write, SetRegistrationState):
                await self.store.update_registration(
                    registration.id,
                    state=write.state,
                    failure=write.failure,
                    now=now,
                    release_worker=write.release_worker,
                    expect=write.expect,
                )
            elif isinstance(write, ScheduleSteps):
                await self.store.schedule(
                    write.ids,
                    at=write.at,
                    state=None if write.state is None else write.state.value,
                    deadline_at=write.deadline_at,
                    expect=write.expect,
                    unleased_at=write.unleased_at,
                )
            elif isinstance(write, Bind):
                await self._bind(write)
            else:
                await self._invalidate(write)

    async def _bind(self, bind: Bind) -> None:
        """Record each system's id of the unit an account opening found or opened."""
        if self.employers is None:
            return
        ids = bind.ids
        for system, employer_id in ids.items():
            try:
                await self.employers.bind(bind.credit_code, system, employer_id)
            except EmployerNotFound:
                profile = from_payload(dict(bind.payload), EmployerProfile)
                await self.employers.upsert(
                    EmployerRecord(
                        credit_code=bind.credit_code,
                        name=profile.name,
                        division=profile.division,
                        ids=ids,
                    )
                )
                return
            except BindingConflict:
                # The gateway already knows the unit under another id there: the
                # account works with the one it has, and an administrator sees this.
                log.warning(
                    "unit %s: the %s system's id differs from the one already bound",
                    bind.credit_code,
                    system.value,
                )

    async def _invalidate(self, write: InvalidateEmployer) -> None:
        """Forget the cached record of a unit an account opening changed."""
        if self.cache is None:
            return
        try:
            await self.cache.delete(self.cache.employer_key(write.credit_code))
        except Exception as exc:
            # A cache outage must not hold registrations back; entries expire anyway.
            log.warning("cache invalidation failed: %s", type(exc).__name__)

    async def forget(self, step: Step, id_number: str) -> None:
        """Forget the cached records of the worker ``id_number`` in the step's
        system, at the unit the step wrote for."""
        if self.cache is None:
            return
        try:
            employer_id = getattr(step_request(step), "employer_id", None)
            await self.cache.invalidate_worker(id_number, {step.system: employer_id})
        except Exception as exc:
            # A cache outage must not hold registrations back; entries expire anyway.
            log.warning("cache invalidation failed: %s", type(exc).__name__)


def _announce(registration: Registration, writes: Sequence[Write]) -> None:
    for write in writes:
        if isinstance(write, SetRegistrationState):
            _announce_state(registration, write)


def _announce_state(registration: Registration, write: SetRegistrationState) -> None:
    state = write.state
    if state is RegistrationState.IN_PROGRESS:
        return
    if state is RegistrationState.COMPENSATING:
        assert write.failure is not None
        log.info("registration %s: compensating (%s)", registration.id, write.failure.code)
    elif state is RegistrationState.NEEDS_ATTENTION and write.failure is None:
        log.warning("registration %s needs attention", registration.id)
    elif state is RegistrationState.COMPLETED:
        log.info("registration %s completed", registration.id)
    else:
        log.info("registration %s: %s", registration.id, state.value)
