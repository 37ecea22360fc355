"""What the registration engine and the graph ask of the store.

Implemented by ``gateway.store.registrations.Registrations`` on SQLite and
PostgreSQL alike. Every method is atomic. Leases make it safe for several
worker processes to share one store: a step is carried out only by the worker
that holds its lease, and a lease that runs out (a worker that died) frees the
step for another, which then treats a step found ``SENDING`` as sent with its
outcome unknown.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gateway.domain.model import System
from gateway.registrations.decisions import Write
from gateway.registrations.model import (
    Business,
    Channel,
    Registration,
    RegistrationState,
    Step,
    StepError,
    StepState,
    Submission,
)

if TYPE_CHECKING:
    from gateway.store.model import Account


@dataclass(frozen=True, slots=True)
class Created:
    """The submission and its registrations were stored."""

    registrations: list[Registration]


@dataclass(frozen=True, slots=True)
class Replayed:
    """The same key with the same content: the registrations stored the first time."""

    registrations: list[Registration]


@dataclass(frozen=True, slots=True)
class KeyConflict:
    """The same key with different content: refused, nothing stored."""


@dataclass(frozen=True, slots=True)
class WorkersBusy:
    """A registration of these workers is still under way: refused, nothing stored.
    ``held_by``: for each worker locked by another submission, the registration that
    holds it and its unit's credit code (none for a worker named twice in this one)."""

    person_keys: list[str]
    held_by: Mapping[str, tuple[str, str]] = field(default_factory=dict, compare=False)


SubmitOutcome = Created | Replayed | KeyConflict | WorkersBusy


@dataclass(frozen=True, slots=True)
class AuditAs:
    """Who changes a registration by hand, recorded in the same transaction."""

    account: Account
    action: str  # e.g. retry_follow_up
    channel: str  # where it was done (``Channel``'s value)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A step leased to a worker, with its registration as read when it was leased."""

    step: Step
    registration: Registration
    #: Saved ``SENDING`` (one more attempt) with the lease: to be sent at once.
    sending: bool = False


@dataclass(frozen=True, slots=True)
class Decided:
    """A finished step's registration as read after the step was saved, what was
    decided from it, and how many of those writes (the first ones) were applied
    with the step; the rest are the caller's to apply, in order."""

    registration: Registration
    writes: list[Write]
    applied: int


@dataclass(frozen=True, slots=True)
class RegistrationFilter:
    credit_codes: Sequence[str] | None = None  # None: any employer
    divisions: Sequence[str] | None = None  # a clerk's scope (a city covers its districts)
    states: Sequence[RegistrationState] | None = None
    business: Business | None = None
    person_key: str | None = None
    channel: Channel | None = None
    actor_username: str | None = None  # who submitted it
    since: dt.datetime | None = None  # submitted from then on (included)
    until: dt.datetime | None = None  # submitted before then (excluded)
    #: Only those with no step a worker will take (``decisions.stalled``): what the
    #: sweep looks at, asked of the store rather than read whole and filtered.
    stalled: bool = False


@dataclass(frozen=True, slots=True)
class RegistrationPage:
    items: list[Registration]
    end_cursor: str | None
    has_next_page: bool


class RegistrationStore(Protocol):
    async def submit(
        self,
        submission: Submission,
        registrations: Sequence[Registration],
        *,
        audit_as: Account | None = None,
    ) -> SubmitOutcome:
        """Store a submission, its registrations and their steps, and take a lock on
        each registration's worker (``person_key``), all in one transaction; with
        ``audit_as``, the audit log's record of each worker's registration by that
        account is written in the same transaction (stored if and only if it is).

        The idempotency key is unique per actor (``actor_id``, ``idempotency_key``):
        a second submission with the same key and the same ``request_hash`` returns
        the first one's registrations (``Replayed``), with another hash
        ``KeyConflict``. A worker locked by an unfinished registration gives
        ``WorkersBusy``. Concurrent calls are decided by the database's unique
        constraints, never by a read before the write.
        """
        ...

    async def busy_workers(self, person_keys: Sequence[str]) -> builtins.list[str]:
        """Those of ``person_keys`` whose registration is not yet final (a hint for
        reporting per row before submitting; ``submit`` decides)."""
        ...

    async def get(self, registration_id: str) -> Registration | None:
        """A registration with its steps (ordered by stage, then creation)."""
        ...

    async def versions(self, registration_ids: Sequence[str]) -> dict[str, int]:
        """The version of each of these registrations that exists."""
        ...

    async def held_by(self, system: System, reference: str, *, other_than: str) -> str | None:
        """The id of a registration other than ``other_than`` one of whose steps of
        ``system`` holds ``reference`` (in any state: done, being undone, undone,
        stuck...); None when none does. Indexed on ``(system, reference)``; asked
        by reconciliation only, when it finds a record, never before a write."""
        ...

    async def list(
        self, filter: RegistrationFilter, *, first: int, after: str | None = None
    ) -> RegistrationPage:
        """Newest first, cursor-paginated (``first`` at most 100)."""
        ...

    async def count(self, filter: RegistrationFilter) -> int:
        """How many match ``filter`` in all."""
        ...

    async def claim(
        self, owner: str, *, now: dt.datetime, lease: dt.timedelta, limit: int
    ) -> builtins.list[Step]:
        """Lease up to ``limit`` due steps to ``owner`` until ``now + lease``.

        Due: ``next_attempt_at <= now`` (NULL is never due), state ``PENDING``,
        ``UNKNOWN``, ``SENDING`` or ``UNDOING``, no live lease, and the registration
        not final nor ``NEEDS_ATTENTION``. Oldest ``next_attempt_at`` first. Two
        workers never get the same step (a conditional update decides).
        """
        ...

    async def take(
        self,
        owner: str,
        *,
        now: dt.datetime,
        lease: dt.timedelta,
        limit: int,
        send: Callable[[Step, Registration], Step | None] | None = None,
    ) -> builtins.list[Claimed]:
        """``claim``, each step with its registration (and all its steps) read in
        the same transaction: what a worker needs to decide how to go on.

        ``send`` (a pure function) gives, for a step about to be sent, the step
        as it must be saved first (``SENDING``, one more attempt): it is saved in
        the same transaction, its registration started (``ACCEPTED`` to
        ``IN_PROGRESS``), and the claim says ``sending``."""
        ...

    async def save_step(
        self, step: Step, *, owner: str, now: dt.datetime, start: bool = False
    ) -> bool:
        """Write a leased step's state, reference, attempts, next attempt, error,
        lease and times; False (nothing written) if ``owner`` no longer holds its
        lease. Bumps the registration's ``version``; with ``start``, also moves it
        from ``ACCEPTED`` to ``IN_PROGRESS`` (from no other state)."""
        ...

    async def finish_step(
        self,
        step: Step,
        *,
        owner: str,
        now: dt.datetime,
        decide: Callable[[Registration], Sequence[Write]],
        start: bool = False,
    ) -> Decided | None:
        """``save_step`` a step that reached a state no worker takes, then, in the
        same transaction, read its registration, ``decide`` what follows (a pure
        function), and apply the decided ``SetRegistrationState`` and
        ``ScheduleSteps`` in order, stopping at the first other write (a cache or
        a binding, which the caller applies after). None, with nothing written,
        if ``owner`` no longer holds the lease."""
        ...

    async def update_registration(
        self,
        registration_id: str,
        *,
        state: RegistrationState,
        failure: StepError | None = None,
        now: dt.datetime,
        release_worker: bool = False,
        expect: Collection[RegistrationState] | None = None,
    ) -> bool:
        """Set the registration's state (and why it failed), bump its ``version``; with
        ``release_worker`` also drop its worker lock (it reached a final state).
        Only from a state in ``expect`` (by default, from any state not final):
        False, with nothing written, when the registration has moved elsewhere."""
        ...

    async def schedule(
        self,
        step_ids: Sequence[str],
        *,
        at: dt.datetime,
        state: str | None = None,
        deadline_at: dt.datetime | None = None,
        expect: Collection[StepState] | None = None,
        unleased_at: dt.datetime | None = None,
    ) -> int:
        """Make steps due at ``at`` (and set their state and deadline when given),
        without a lease: the next stage once a stage is done, compensations, and a
        clerk's retry. Only steps still in a state of ``expect`` and, with
        ``unleased_at``, without a live lease then: a decision taken on an earlier
        read never overturns a step that moved on since. Bumps the registrations'
        ``version``; returns how many steps changed."""
        ...

    async def amend_step(
        self,
        step_id: str,
        *,
        registration_id: str,
        expect: Collection[StepState],
        while_registration: RegistrationState,
        now: dt.datetime,
        state: StepState,
        error: StepError | None,
        next_attempt_at: dt.datetime | None = None,
        deadline_at: dt.datetime | None = None,
        payload: dict[str, Any] | None = None,
        row: dict[str, Any] | None = None,
        audit_as: AuditAs | None = None,
    ) -> bool:
        """A person's change to one step at rest: its state and error (``finished_at``
        set unless it is made due at ``next_attempt_at``), optionally its deadline,
        what it sends (``payload``) and the registration's row (``row``), and with
        ``audit_as`` the audit log's record of it for the registration's worker, in
        one transaction. Only while the step is in a state of ``expect`` without a live
        lease and the registration in ``while_registration``; False, with nothing
        written, otherwise. Bumps the registration's ``version``."""
        ...

    async def wake(self, system: System, *, now: dt.datetime) -> int:
        """Make due at ``now`` the steps of ``system`` that wait for their next
        attempt (a later ``next_attempt_at``, no live lease, the registration
        under way): the system is back, and a backoff that grew while it was
        down must not keep them idle. Nothing else about them changes; returns
        how many there were."""
        ...

    async def expire_submissions(self, now: dt.datetime) -> int:
        """Forget idempotency keys past their ``expires_at`` (their registrations stay)."""
        ...
