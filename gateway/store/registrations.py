"""Registrations: submissions and their idempotency keys, registrations, their steps.

Implements ``gateway.registrations.ports.RegistrationStore`` on SQLite and
PostgreSQL alike. Whatever two concurrent callers could both believe they won
is decided by the database in one statement, never by a read before a write:

- the idempotency key by the UNIQUE constraint of ``submissions``;
- "one unfinished registration per worker" by the primary key of
  ``worker_locks``;
- who carries out a step by a conditional UPDATE that only succeeds while the
  step has no live lease (``claim``) or is still leased to the caller
  (``save_step``).

Rows that lock several others take them in one order (steps by id, then
registrations), so that PostgreSQL never finds two transactions waiting on
each other. Payloads, warnings and errors are kept as JSON text; enumerations
as their values.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.model import System
from gateway.registrations.decisions import ScheduleSteps, SetRegistrationState, Write
from gateway.registrations.model import (
    Business,
    Channel,
    Operation,
    Registration,
    RegistrationState,
    Step,
    StepError,
    StepKind,
    StepState,
    Submission,
)
from gateway.registrations.model import Warning as RegistrationWarning
from gateway.registrations.ports import (
    AuditAs,
    Claimed,
    Created,
    Decided,
    KeyConflict,
    RegistrationFilter,
    RegistrationPage,
    Replayed,
    SubmitOutcome,
    WorkersBusy,
)
from gateway.store import tables as t
from gateway.store.audit import AuditLog, keyed
from gateway.store.audit import Write as AuditWrite
from gateway.store.database import Database
from gateway.store.model import Account, InvalidCursor, StoreError, division_prefix
from gateway.store.paging import check_first, decode_cursor, encode_cursor

_CURSOR = "registration"

#: The step states a worker acts on: to send, to check, to undo.
_WORKABLE = tuple(
    s.value for s in (StepState.PENDING, StepState.UNKNOWN, StepState.SENDING, StepState.UNDOING)
)
#: Registrations whose steps no worker takes: finished, or waiting for a person.
_AT_REST = tuple(
    s.value for s in RegistrationState if s.is_final or s is RegistrationState.NEEDS_ATTENTION
)

#: The states a registration may still leave.
_LEAVABLE = tuple(s.value for s in RegistrationState if not s.is_final)

#: The key of the PostgreSQL advisory lock that takes claims one at a time.
_CLAIM_LOCK = 0x6872_7373_636C  # "hrsscl"

#: The actor scope of idempotency keys given without an account.
ANONYMOUS = "anonymous"

# A conflict can vanish before it is read (the key expired, the worker's
# registration finished): then submitting again decides. More than a few such
# races in a row means something else is wrong.
_SUBMIT_ATTEMPTS = 3


class RegistrationNotFound(StoreError):
    def __init__(self, registration_id: str) -> None:
        super().__init__(f"no registration {registration_id}")
        self.registration_id = registration_id


class StepNotFound(StoreError):
    def __init__(self, step_id: str) -> None:
        super().__init__(f"no step {step_id}")
        self.step_id = step_id


def actor_scope(actor_id: int | None) -> str:
    """Whose idempotency keys a key is compared with."""
    return ANONYMOUS if actor_id is None else str(actor_id)


class Registrations:
    """The registrations repository (``RegistrationStore``)."""

    def __init__(self, db: Database, audit: AuditLog | None = None) -> None:
        self._db = db
        self._audit = audit
        #: Told, once committed, which registrations changed (their version grew):
        #: the gateway's events wake those who follow them (``gateway/events.py``).
        self.on_change: Callable[[Sequence[str]], None] = lambda ids: None

    # ------------------------------------------------------------ submitting

    async def submit(
        self,
        submission: Submission,
        registrations: Sequence[Registration],
        *,
        audit_as: Account | None = None,
    ) -> SubmitOutcome:
        """Store a submission, its registrations and steps, and lock their workers,
        in one transaction; see ``RegistrationStore.submit``.

        Two registrations of one submission for the same worker are refused as
        ``WorkersBusy`` too: the second would wait on the first forever.
        """
        stored = [_stamped(r, submission) for r in registrations]
        keys = [r.person_key for r in stored if r.person_key is not None]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            return WorkersBusy(twice)
        for _ in range(_SUBMIT_ATTEMPTS):
            stage = "submission"
            try:
                async with self._db.write() as conn:
                    await conn.execute(sa.insert(t.submissions).values(_submission_row(submission)))
                    stage = "registrations"
                    await _insert_registrations(conn, stored)
                    stage = "locks"
                    if keys:
                        await conn.execute(
                            sa.insert(t.worker_locks),
                            [
                                {"person_key": r.person_key, "registration_id": r.id}
                                for r in stored
                                if r.person_key is not None
                            ],
                        )
                    if audit_as is not None:
                        stage = "audit"
                        await keyed(self._audit).record_registrations(audit_as, stored, conn)
                return Created(stored)
            except sa.exc.IntegrityError:
                # Which constraint refused is known from where it happened; what
                # holds it is read afterwards, once the winner has committed.
                if stage == "submission":
                    outcome: SubmitOutcome | None = await self._replay(submission)
                elif stage == "locks":
                    busy = await self.busy_workers(keys)
                    outcome = WorkersBusy(busy) if busy else None
                else:
                    raise
                if outcome is not None:
                    return outcome
        raise StoreError("the submission kept conflicting with others; try again")

    async def _replay(self, submission: Submission) -> Replayed | KeyConflict | None:
        s = t.submissions
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(s.c.id, s.c.request_hash).where(
                        s.c.actor_scope == actor_scope(submission.actor_id),
                        s.c.idempotency_key == submission.idempotency_key,
                    )
                )
            ).one_or_none()
            if row is None:
                return None
            if row.request_hash != submission.request_hash:
                return KeyConflict()
            r = t.registrations
            found = await _load(
                conn, sa.select(r).where(r.c.submission_id == row.id).order_by(r.c.ordinal)
            )
        return Replayed(found)

    async def busy_workers(self, person_keys: Sequence[str]) -> builtins.list[str]:
        """Those of ``person_keys`` locked by an unfinished registration, in the order given."""
        wanted = list(dict.fromkeys(person_keys))
        if not wanted:
            return []
        w = t.worker_locks
        async with self._db.read() as conn:
            locked = set(
                (
                    await conn.execute(sa.select(w.c.person_key).where(w.c.person_key.in_(wanted)))
                ).scalars()
            )
        return [k for k in wanted if k in locked]

    async def expire_submissions(self, now: dt.datetime) -> int:
        """Forget idempotency keys whose ``expires_at`` has passed; how many."""
        s = t.submissions
        async with self._db.write() as conn:
            result = await conn.execute(sa.delete(s).where(s.c.expires_at < now))
        return result.rowcount

    # ---------------------------------------------------------------- reading

    async def get(self, registration_id: str) -> Registration | None:
        r = t.registrations
        async with self._db.read() as conn:
            found = await _load(conn, sa.select(r).where(r.c.id == registration_id))
        return found[0] if found else None

    async def list(
        self, filter: RegistrationFilter, *, first: int, after: str | None = None
    ) -> RegistrationPage:
        """Newest first (then by id), ``first`` at most 100, after the cursor ``after``."""
        check_first(first)
        r = t.registrations
        query = (
            sa.select(r)
            .where(*_conditions(filter))
            .order_by(r.c.created_at.desc(), r.c.id.desc())
            .limit(first + 1)
        )
        if after is not None:
            created_at, last_id = _decode(after)
            query = query.where(
                sa.or_(
                    r.c.created_at < created_at,
                    sa.and_(r.c.created_at == created_at, r.c.id < last_id),
                )
            )
        if first == 0:
            return RegistrationPage(items=[], end_cursor=None, has_next_page=False)
        async with self._db.read() as conn:
            found = await _load(conn, query)
        items = found[:first]
        return RegistrationPage(
            items=items,
            end_cursor=_encode(items[-1]) if items else None,
            has_next_page=len(found) > first,
        )

    # -------------------------------------------------------------- carrying out

    async def claim(
        self, owner: str, *, now: dt.datetime, lease: dt.timedelta, limit: int
    ) -> builtins.list[Step]:
        """Lease up to ``limit`` due steps to ``owner`` until ``now + lease``, oldest
        ``next_attempt_at`` first; see ``RegistrationStore.claim``."""
        return [c.step for c in await self.take(owner, now=now, lease=lease, limit=limit)]

    async def take(
        self,
        owner: str,
        *,
        now: dt.datetime,
        lease: dt.timedelta,
        limit: int,
        send: Callable[[Step, Registration], Step | None] | None = None,
    ) -> builtins.list[Claimed]:
        """``claim``, each step with its registration read in the same transaction,
        and those ``send`` says are to be sent saved ``SENDING`` there too; see
        ``RegistrationStore.take``."""
        if limit <= 0:
            return []
        s = t.steps
        due = _due(now)
        async with self._db.write() as conn:
            pick = sa.select(s.c.id).where(due).order_by(s.c.next_attempt_at, s.c.id).limit(limit)
            if conn.dialect.name == "postgresql":
                # Steps another claimer is taking are passed over, not waited for.
                pick = pick.with_for_update(of=s, skip_locked=True)
            candidates = list((await conn.execute(pick)).scalars())
            if not candidates:
                return []
            # The read above decides nothing by itself: the UPDATE repeats every
            # condition, and only what it changed is taken.
            taken = list(
                (
                    await conn.execute(
                        sa.update(s)
                        .where(s.c.id.in_(candidates), due)
                        .values(lease_owner=owner, lease_until=now + lease)
                        .returning(s.c.id)
                    )
                ).scalars()
            )
            if not taken:
                return []
            r = t.registrations
            owners = sa.select(s.c.registration_id).where(s.c.id.in_(taken)).scalar_subquery()
            registrations = await _load(conn, sa.select(r).where(r.c.id.in_(owners)))
            wanted = set(taken)
            claimed: list[Claimed] = []
            for registration in registrations:
                for step in registration.steps:
                    if step.id not in wanted:
                        continue
                    sending = None if send is None else send(step, registration)
                    if sending is not None:
                        claimed.append(Claimed(sending, registration, sending=True))
                    else:
                        # A copy: the worker changes its step, the registration stays as read.
                        claimed.append(Claimed(dataclasses.replace(step), registration))
            sent = [c.step for c in claimed if c.sending]
            if sent:
                # Leased above, in this transaction: every one of them is written.
                await conn.execute(
                    sa.update(s).where(s.c.id == sa.bindparam("b_id")),
                    [{"b_id": step.id, **_saved(step, now)} for step in sent],
                )
                started = {step.registration_id for step in sent}
                if len(started) > 1 and conn.dialect.name == "postgresql":
                    # One claim at a time from here: two claims locking several
                    # registrations each were seen to deadlock. Only this last
                    # part of a claim waits; the calls to the systems overlap.
                    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CLAIM_LOCK)))
                await _bump(conn, started, now, start=True)
        if sent:
            self.on_change(sorted(started))
        claimed.sort(key=lambda c: (c.step.next_attempt_at or now, c.step.id))
        return claimed

    async def save_step(
        self, step: Step, *, owner: str, now: dt.datetime, start: bool = False
    ) -> bool:
        """Write a leased step (its ``updated_at`` becomes ``now``); False, with
        nothing written, unless ``owner`` still holds its lease."""
        async with self._db.write() as conn:
            saved = await _save_step(conn, step, owner=owner, now=now, start=start)
        if saved:
            self.on_change([step.registration_id])
        return saved

    async def finish_step(
        self,
        step: Step,
        *,
        owner: str,
        now: dt.datetime,
        decide: Callable[[Registration], Sequence[Write]],
        start: bool = False,
    ) -> Decided | None:
        """``save_step``, then ``decide`` on the registration read in the same
        transaction, and the decided writes of the store applied there too, in
        order, up to the first that is not the store's; see
        ``RegistrationStore.finish_step``."""
        s, r = t.steps, t.registrations
        async with self._db.write() as conn:
            # Every step of the registration, in id order, before the
            # registration: on PostgreSQL, locked in the order every transaction
            # takes them in (the decision may schedule the other steps).
            pick = sa.select(s).where(s.c.registration_id == step.registration_id)
            if conn.dialect.name == "postgresql":
                pick = pick.order_by(s.c.id).with_for_update()
            rows = list((await conn.execute(pick)).all())
            saved = await conn.execute(
                sa.update(s)
                .where(
                    s.c.id == step.id,
                    s.c.registration_id == step.registration_id,
                    s.c.lease_owner == owner,
                )
                .values(_saved(step, now))
            )
            if saved.rowcount != 1:
                return None
            bumped = (
                await conn.execute(
                    sa.update(r)
                    .where(r.c.id == step.registration_id)
                    .values(_bumped(now, start=start))
                    .returning(*r.c)
                )
            ).one()
            rows.sort(key=lambda row: (row.stage, row.created_at, row.ordinal))
            # Read before the step was saved: the step as saved replaces its row.
            ours = dataclasses.replace(step, updated_at=now)
            registration = _registration(
                bumped, [ours if x.id == step.id else _step(x) for x in rows]
            )
            writes = list(decide(registration))
            applied = 0
            changed = [registration.id]
            for write in writes:
                if isinstance(write, SetRegistrationState):
                    await _update_registration(
                        conn,
                        registration.id,
                        state=write.state,
                        failure=write.failure,
                        now=now,
                        release_worker=write.release_worker,
                        expect=write.expect,
                    )
                elif isinstance(write, ScheduleSteps):
                    _, also = await _schedule(
                        conn,
                        write.ids,
                        at=write.at,
                        changed=self._db.now(),
                        state=write.state,
                        deadline_at=write.deadline_at,
                        expect=write.expect,
                        unleased_at=write.unleased_at,
                    )
                    changed.extend(also)
                else:
                    break
                applied += 1
        self.on_change(sorted(set(changed)))
        return Decided(registration, writes, applied)

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
        """Set the state, bump the version; ``RegistrationNotFound`` for an unknown id.

        ``failure`` None keeps the one stored: the reason a registration was
        refused must survive the later moves (compensating, compensated).

        Only from a state in ``expect`` (any state not final when not given): a
        decision taken on what was read earlier must not overturn one taken
        since. False, with nothing written, when the registration is elsewhere.
        """
        async with self._db.write() as conn:
            updated = await _update_registration(
                conn,
                registration_id,
                state=state,
                failure=failure,
                now=now,
                release_worker=release_worker,
                expect=expect,
            )
        if updated:
            self.on_change([registration_id])
        return updated

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
        """Make steps due at ``at``, dropping any lease (a worker still holding one
        then fails to save); ``StepNotFound`` for an unknown id, nothing changed.

        With ``expect``, only the steps still in one of those states change, and
        with ``unleased_at`` only those without a live lease at that time: the
        caller decided on what it read, and a step that moved on since is left
        as it is. Returns how many steps changed.
        """
        if not step_ids:
            return 0
        async with self._db.write() as conn:
            moved, changed = await _schedule(
                conn,
                step_ids,
                at=at,
                changed=self._db.now(),
                state=None if state is None else StepState(state),
                deadline_at=deadline_at,
                expect=expect,
                unleased_at=unleased_at,
            )
        self.on_change(changed)
        return moved

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
        """A person's change to one step at rest (a follow-up retried with corrected
        data, or cancelled alone), in one transaction; see ``RegistrationStore``.

        Only while the step is in a state of ``expect``, unleased, and its
        registration in ``while_registration``: False, with nothing written,
        otherwise (another person acted first). ``payload`` replaces what the step
        sends and ``row`` the registration's row it was planned from.
        """
        s, r = t.steps, t.registrations
        values: dict[str, Any] = {
            "state": StepState(state).value,
            "last_error": _dump_error(error),
            "next_attempt_at": next_attempt_at,
            "lease_owner": None,
            "lease_until": None,
            "updated_at": now,
            "finished_at": None if next_attempt_at is not None else now,
        }
        if deadline_at is not None:
            values["deadline_at"] = deadline_at
        if payload is not None:
            values["payload"] = _dump(payload)
        async with self._db.write() as conn:
            result = await conn.execute(
                sa.update(s)
                .where(
                    s.c.id == step_id,
                    s.c.registration_id == registration_id,
                    s.c.state.in_([StepState(e).value for e in expect]),
                    sa.or_(s.c.lease_until.is_(None), s.c.lease_until <= now),
                    sa.exists().where(
                        r.c.id == registration_id,
                        r.c.state == RegistrationState(while_registration).value,
                    ),
                )
                .values(values)
            )
            if result.rowcount != 1:
                known = await conn.execute(sa.select(s.c.id).where(s.c.id == step_id))
                if known.first() is None:
                    raise StepNotFound(step_id)
                return False
            if row is not None:
                await conn.execute(
                    sa.update(r).where(r.c.id == registration_id).values(payload=_dump(row))
                )
            if audit_as is not None:
                found = (
                    await conn.execute(
                        sa.select(r.c.person_key, r.c.credit_code).where(r.c.id == registration_id)
                    )
                ).one()
                if found.person_key is not None:
                    id_type, _, id_number = found.person_key.partition(":")
                    await keyed(self._audit).record_writes(
                        actor=audit_as.account,
                        channel=audit_as.channel,
                        credit_code=found.credit_code,
                        writes=[
                            AuditWrite(
                                audit_as.action, id_type, id_number, "allowed", registration_id
                            )
                        ],
                        at=now,
                        conn=conn,
                    )
            await _bump(conn, [registration_id], now)
        self.on_change([registration_id])
        return True

    async def wake(self, system: System, *, now: dt.datetime) -> int:
        """Make due at ``now`` every step waiting for ``system`` to be tried again;
        see ``RegistrationStore.wake``."""
        s, r = t.steps, t.registrations
        waiting = sa.and_(
            s.c.system == System(system).value,
            s.c.state.in_(_WORKABLE),
            s.c.next_attempt_at > now,
            sa.or_(s.c.lease_until.is_(None), s.c.lease_until < now),
            sa.exists().where(r.c.id == s.c.registration_id, r.c.state.not_in(_AT_REST)),
        )
        async with self._db.write() as conn:
            result = await conn.execute(
                sa.update(s).where(waiting).values(next_attempt_at=now, updated_at=now)
            )
        return int(result.rowcount or 0)


# ------------------------------------------------------------------ writing


async def _save_step(
    conn: AsyncConnection, step: Step, *, owner: str, now: dt.datetime, start: bool
) -> bool:
    s = t.steps
    result = await conn.execute(
        sa.update(s)
        .where(
            s.c.id == step.id,
            s.c.registration_id == step.registration_id,
            s.c.lease_owner == owner,
        )
        .values(_saved(step, now))
    )
    if result.rowcount != 1:
        return False
    await _bump(conn, [step.registration_id], now, start=start)
    return True


def _saved(step: Step, now: dt.datetime) -> dict[str, Any]:
    """What a worker writes of a step it holds (its ``updated_at`` becomes ``now``)."""
    return {
        "state": StepState(step.state).value,
        "reference": step.reference,
        "attempts": step.attempts,
        "next_attempt_at": step.next_attempt_at,
        "deadline_at": step.deadline_at,
        "last_error": _dump_error(step.last_error),
        "lease_owner": step.lease_owner,
        "lease_until": step.lease_until,
        "updated_at": now,
        "finished_at": step.finished_at,
    }


async def _update_registration(
    conn: AsyncConnection,
    registration_id: str,
    *,
    state: RegistrationState,
    failure: StepError | None,
    now: dt.datetime,
    release_worker: bool,
    expect: Collection[RegistrationState] | None,
) -> bool:
    r = t.registrations
    values: dict[str, Any] = {
        "state": RegistrationState(state).value,
        "version": r.c.version + 1,
        "updated_at": now,
    }
    if failure is not None:
        values["failure"] = _dump_error(failure)
    allowed = _LEAVABLE if expect is None else [RegistrationState(e).value for e in expect]
    result = await conn.execute(
        sa.update(r).where(r.c.id == registration_id, r.c.state.in_(allowed)).values(values)
    )
    if result.rowcount != 1:
        known = await conn.execute(sa.select(r.c.id).where(r.c.id == registration_id))
        if known.first() is None:
            raise RegistrationNotFound(registration_id)
        return False
    if release_worker:
        w = t.worker_locks
        await conn.execute(sa.delete(w).where(w.c.registration_id == registration_id))
    return True


async def _schedule(
    conn: AsyncConnection,
    step_ids: Sequence[str],
    *,
    at: dt.datetime,
    changed: dt.datetime,
    state: StepState | None,
    deadline_at: dt.datetime | None,
    expect: Collection[StepState] | None,
    unleased_at: dt.datetime | None,
) -> tuple[int, builtins.list[str]]:
    """How many steps moved, and the registrations they belong to (bumped)."""
    s = t.steps
    values: dict[str, Any] = {
        "next_attempt_at": at,
        "lease_owner": None,
        "lease_until": None,
        "updated_at": changed,
    }
    if state is not None:
        values["state"] = StepState(state).value
    if deadline_at is not None:
        values["deadline_at"] = deadline_at
    conditions: list[sa.ColumnElement[bool]] = []
    if expect is not None:
        conditions.append(s.c.state.in_([StepState(e).value for e in expect]))
    if unleased_at is not None:
        conditions.append(sa.or_(s.c.lease_until.is_(None), s.c.lease_until <= unleased_at))
    wanted = sorted(set(step_ids))
    moved: list[str] = []
    for step_id in wanted:
        result = await conn.execute(
            sa.update(s).where(s.c.id == step_id, *conditions).values(values)
        )
        if result.rowcount == 1:
            moved.append(step_id)
    if len(moved) < len(wanted):
        # Left alone, or unknown: an unknown id undoes the whole call.
        known = await conn.execute(sa.select(s.c.id).where(s.c.id.in_(wanted)))
        missing = set(wanted) - set(known.scalars())
        if missing:
            raise StepNotFound(min(missing))
    if not moved:
        return 0, []
    owners = await conn.execute(sa.select(s.c.registration_id).where(s.c.id.in_(moved)).distinct())
    bumped = list(owners.scalars())
    await _bump(conn, bumped, changed)
    return len(moved), bumped


def _stamped(registration: Registration, submission: Submission) -> Registration:
    """A copy of ``registration`` as it will be stored: timestamps it lacks are
    the submission's, and it must belong to the submission."""
    if registration.submission_id != submission.id:
        raise ValueError("a registration must belong to the submission it is stored with")
    at = submission.created_at
    steps = []
    for step in registration.steps:
        if step.registration_id != registration.id:
            raise ValueError("a step must belong to the registration it is stored with")
        steps.append(
            dataclasses.replace(
                step,
                created_at=step.created_at or at,
                updated_at=step.updated_at or step.created_at or at,
            )
        )
    return dataclasses.replace(
        registration,
        steps=steps,
        warnings=list(registration.warnings),
        created_at=registration.created_at or at,
        updated_at=registration.updated_at or registration.created_at or at,
    )


def _submission_row(submission: Submission) -> dict[str, Any]:
    return {
        "id": submission.id,
        "actor_id": submission.actor_id,
        "actor_scope": actor_scope(submission.actor_id),
        "idempotency_key": submission.idempotency_key,
        "request_hash": submission.request_hash,
        "created_at": submission.created_at,
        "expires_at": submission.expires_at,
    }


async def _insert_registrations(conn: AsyncConnection, stored: Sequence[Registration]) -> None:
    if not stored:
        return
    await conn.execute(
        sa.insert(t.registrations),
        [_registration_row(r, ordinal) for ordinal, r in enumerate(stored)],
    )
    step_rows = [_step_row(s, ordinal) for r in stored for ordinal, s in enumerate(r.steps)]
    if step_rows:
        await conn.execute(sa.insert(t.steps), step_rows)


def _registration_row(r: Registration, ordinal: int) -> dict[str, Any]:
    return {
        "id": r.id,
        "submission_id": r.submission_id,
        "ordinal": ordinal,
        "business": Business(r.business).value,
        "state": RegistrationState(r.state).value,
        "credit_code": r.credit_code,
        "division": r.division,
        "person_key": r.person_key,
        "payload": _dump(r.payload),
        "channel": Channel(r.channel).value,
        "actor_id": r.actor_id,
        "actor_username": r.actor_username,
        "warnings": _dump([dataclasses.asdict(w) for w in r.warnings]),
        "failure": _dump_error(r.failure),
        "version": r.version,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }


def _step_row(s: Step, ordinal: int) -> dict[str, Any]:
    return {
        "id": s.id,
        "registration_id": s.registration_id,
        "ordinal": ordinal,
        "system": System(s.system).value,
        "operation": Operation(s.operation).value,
        "stage": s.stage,
        "payload": _dump(s.payload),
        "state": StepState(s.state).value,
        "kind": StepKind(s.kind).value,
        "reference": s.reference,
        "attempts": s.attempts,
        "next_attempt_at": s.next_attempt_at,
        "deadline_at": s.deadline_at,
        "last_error": _dump_error(s.last_error),
        "lease_owner": s.lease_owner,
        "lease_until": s.lease_until,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "finished_at": s.finished_at,
    }


async def _bump(
    conn: AsyncConnection,
    registration_ids: Iterable[str],
    at: dt.datetime,
    *,
    start: bool = False,
) -> None:
    """Every change to a registration or its steps grows its version: subscribers
    compare versions to know whether anything happened."""
    r = t.registrations
    ids = sorted(set(registration_ids))
    if not ids:
        return
    if len(ids) > 1 and conn.dialect.name == "postgresql":
        # Locked in id order, as every transaction takes them.
        await conn.execute(
            sa.select(r.c.id).where(r.c.id.in_(ids)).order_by(r.c.id).with_for_update()
        )
    await conn.execute(sa.update(r).where(r.c.id.in_(ids)).values(_bumped(at, start=start)))


def _bumped(at: dt.datetime, *, start: bool) -> dict[str, Any]:
    """A registration's version grown; with ``start``, ``ACCEPTED`` becomes
    ``IN_PROGRESS`` in the same statement (no other state changes)."""
    r = t.registrations
    values: dict[str, Any] = {"version": r.c.version + 1, "updated_at": at}
    if start:
        values["state"] = sa.case(
            (r.c.state == RegistrationState.ACCEPTED.value, RegistrationState.IN_PROGRESS.value),
            else_=r.c.state,
        )
    return values


def _due(now: dt.datetime) -> sa.ColumnElement[bool]:
    """A step a worker may take at ``now`` (see ``RegistrationStore.claim``)."""
    s, r = t.steps, t.registrations
    return sa.and_(
        s.c.state.in_(_WORKABLE),
        s.c.next_attempt_at <= now,  # NULL compares to nothing: never due
        sa.or_(s.c.lease_until.is_(None), s.c.lease_until < now),
        sa.exists().where(r.c.id == s.c.registration_id, r.c.state.not_in(_AT_REST)),
    )


# ------------------------------------------------------------------ reading


def _conditions(f: RegistrationFilter) -> builtins.list[sa.ColumnElement[bool]]:
    r = t.registrations
    conditions: list[sa.ColumnElement[bool]] = []
    if f.credit_codes is not None:
        conditions.append(r.c.credit_code.in_(list(f.credit_codes)))
    if f.divisions is not None:
        # A city covers its districts, a province its cities (``covers_division``).
        prefixes = sorted({division_prefix(d) for d in f.divisions})
        conditions.append(
            sa.or_(*(r.c.division.startswith(p) for p in prefixes)) if prefixes else sa.false()
        )
    if f.states is not None:
        conditions.append(r.c.state.in_([RegistrationState(s).value for s in f.states]))
    if f.business is not None:
        conditions.append(r.c.business == Business(f.business).value)
    if f.person_key is not None:
        conditions.append(r.c.person_key == f.person_key)
    return conditions


async def _load(conn: AsyncConnection, query: sa.Select[Any]) -> builtins.list[Registration]:
    """The registrations ``query`` selects, in its order, each with its steps."""
    rows = (await conn.execute(query)).all()
    if not rows:
        return []
    s = t.steps
    steps: dict[str, list[Step]] = {}
    step_rows = await conn.execute(
        sa.select(s)
        .where(s.c.registration_id.in_([row.id for row in rows]))
        .order_by(s.c.stage, s.c.created_at, s.c.ordinal)
    )
    for row in step_rows:
        steps.setdefault(row.registration_id, []).append(_step(row))
    return [_registration(row, steps.get(row.id, [])) for row in rows]


def _registration(row: Any, steps: builtins.list[Step]) -> Registration:
    return Registration(
        id=row.id,
        submission_id=row.submission_id,
        business=Business(row.business),
        state=RegistrationState(row.state),
        credit_code=row.credit_code,
        division=row.division,
        person_key=row.person_key,
        payload=json.loads(row.payload),
        channel=Channel(row.channel),
        actor_id=row.actor_id,
        actor_username=row.actor_username,
        steps=steps,
        warnings=[RegistrationWarning(**w) for w in json.loads(row.warnings)],
        failure=_load_error(row.failure),
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _step(row: Any) -> Step:
    return Step(
        id=row.id,
        registration_id=row.registration_id,
        system=System(row.system),
        operation=Operation(row.operation),
        stage=row.stage,
        payload=json.loads(row.payload),
        state=StepState(row.state),
        kind=StepKind(row.kind),
        reference=row.reference,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        deadline_at=row.deadline_at,
        last_error=_load_error(row.last_error),
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


# ------------------------------------------------------------ JSON and cursors


def _dump(value: Any) -> str:
    # No ``default=``: a value JSON cannot hold is a bug to see, not to stringify.
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _dump_error(error: StepError | None) -> str | None:
    return None if error is None else _dump(dataclasses.asdict(error))


def _load_error(text: str | None) -> StepError | None:
    return None if text is None else StepError(**json.loads(text))


def _encode(registration: Registration) -> str:
    assert registration.created_at is not None
    return encode_cursor(_CURSOR, f"{registration.created_at.isoformat()}|{registration.id}")


def _decode(cursor: str) -> tuple[dt.datetime, str]:
    at, sep, registration_id = decode_cursor(_CURSOR, cursor).rpartition("|")
    try:
        created_at = dt.datetime.fromisoformat(at)
    except ValueError:
        raise InvalidCursor("invalid cursor") from None
    if not sep or not registration_id or created_at.tzinfo is None:
        raise InvalidCursor("invalid cursor")
    return created_at, registration_id
