"""Carrying steps out: the claim and its leases, a step's outcome saved (a finished
one with what follows for its registration), states and schedules set.

Who carries out a step is decided by a conditional UPDATE that only succeeds
while the step has no live lease (``claim``) or is still leased to the caller
(``save_step``), never by a read before a write.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Sequence
from typing import Any

import sqlalchemy as sa

from gateway.registrations.decisions import ScheduleSteps, SetRegistrationState, Write
from gateway.registrations.model import Registration, RegistrationState, Step, StepError, StepState
from gateway.registrations.ports import Claimed, Decided
from gateway.store import tables as t
from gateway.store.registrations import rows, writes

#: The steps of one registration, as ``finish_step`` reads them (built once:
#: see ``writes``); on PostgreSQL, locked in id order.
_STEPS_OF = sa.select(t.steps).where(t.steps.c.registration_id == sa.bindparam("b_registration"))
_STEPS_OF_LOCKED = _STEPS_OF.order_by(t.steps.c.id).with_for_update()


@dataclasses.dataclass(frozen=True)
class _Claim:
    """A claim's statements, built once (see ``writes``), the time and the limit
    as parameters: ``pick`` the due steps' ids, ``lease`` those still due."""

    pick: sa.Select[Any]
    lease: sa.Update


def _claim(postgresql: bool) -> _Claim:
    s = t.steps
    due = writes.due(sa.bindparam("b_now", type_=s.c.next_attempt_at.type))
    pick = (
        sa.select(s.c.id)
        .where(due)
        .order_by(s.c.next_attempt_at, s.c.id)
        .limit(sa.bindparam("b_limit", type_=sa.Integer))
    )
    if postgresql:
        # Steps another claimer is taking are passed over, not waited for.
        pick = pick.with_for_update(of=s, skip_locked=True)
    lease = (
        sa.update(s)
        .where(s.c.id.in_(sa.bindparam("b_ids", expanding=True)), due)
        .values(
            lease_owner=sa.bindparam("b_owner"),
            lease_until=sa.bindparam("b_until", type_=s.c.lease_until.type),
        )
        .returning(s.c.id)
    )
    return _Claim(pick, lease)


#: By whether the store is PostgreSQL.
_CLAIM = {postgresql: _claim(postgresql) for postgresql in (False, True)}
#: The registrations of the steps leased.
_CLAIMED = sa.select(t.registrations).where(
    t.registrations.c.id.in_(
        sa.select(t.steps.c.registration_id)
        .where(t.steps.c.id.in_(sa.bindparam("b_taken", expanding=True)))
        .scalar_subquery()
    )
)
#: A step saved by id; what it sets are the parameters' other keys (``rows.saved``).
_SAVE_BY_ID = sa.update(t.steps).where(t.steps.c.id == sa.bindparam("b_id"))


class Carrying(writes.Base):
    """Claiming steps, saving what came of them, and the decisions that follow."""

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
        postgresql = self._db.dialect == "postgresql"
        statements = _CLAIM[postgresql]
        async with self._db.write() as conn:
            at = {"b_now": now}
            candidates = list(
                (await conn.execute(statements.pick, {**at, "b_limit": limit})).scalars()
            )
            if not candidates:
                return []
            # The read above decides nothing by itself: the UPDATE repeats every
            # condition, and only what it changed is taken.
            taken = list(
                (
                    await conn.execute(
                        statements.lease,
                        {**at, "b_ids": candidates, "b_owner": owner, "b_until": now + lease},
                    )
                ).scalars()
            )
            if not taken:
                return []
            registrations = await rows.load(conn, _CLAIMED, {"b_taken": taken})
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
                    _SAVE_BY_ID, [{"b_id": step.id, **rows.saved(step, now)} for step in sent]
                )
                started = {step.registration_id for step in sent}
                # Claims overlap here too: the registrations are locked in id
                # order, and not against the locks the foreign-key check of the
                # steps written twice has taken (``writes.bump``).
                await writes.bump(conn, started, now, start=True)
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
            saved = await writes.save_step(conn, step, owner=owner, now=now, start=start)
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
        async with self._db.write() as conn:
            # Every step of the registration, in id order, before the
            # registration: on PostgreSQL, locked in the order every transaction
            # takes them in (the decision may schedule the other steps).
            pick = _STEPS_OF_LOCKED if conn.dialect.name == "postgresql" else _STEPS_OF
            found = list((await conn.execute(pick, {"b_registration": step.registration_id})).all())
            saved = await conn.execute(
                writes.SAVE_STEP, writes.save_step_parameters(step, owner, now)
            )
            if saved.rowcount != 1:
                return None
            bumped = (
                await conn.execute(
                    writes.BUMP_ONE_RETURNING[start],
                    {"b_registration": step.registration_id, "b_at": now},
                )
            ).one()
            found.sort(key=lambda row: (row.stage, row.created_at, row.ordinal))
            # Read before the step was saved: the step as saved replaces its row.
            ours = dataclasses.replace(step, updated_at=now)
            registration = rows.registration(
                bumped, [ours if x.id == step.id else rows.step(x) for x in found]
            )
            decided = list(decide(registration))
            applied = 0
            changed = [registration.id]
            for write in decided:
                if isinstance(write, SetRegistrationState):
                    await writes.update_registration(
                        conn,
                        registration.id,
                        state=write.state,
                        failure=write.failure,
                        now=now,
                        release_worker=write.release_worker,
                        expect=write.expect,
                    )
                elif isinstance(write, ScheduleSteps):
                    _, also = await writes.schedule(
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
        return Decided(registration, decided, applied)

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
            updated = await writes.update_registration(
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
            moved, changed = await writes.schedule(
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
