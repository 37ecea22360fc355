"""The writes several of the repository's operations share, each inside the
caller's transaction: a step saved under its lease, a registration's state, steps
scheduled, versions grown; and what makes a step due.

Rows that lock several others take them in one order (steps by id, then
registrations), so that PostgreSQL never finds two transactions waiting on
each other.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.registrations.model import (
    WORKABLE_STEP_STATES,
    RegistrationState,
    Step,
    StepError,
    StepState,
)
from gateway.store import tables as t
from gateway.store.audit import AuditLog
from gateway.store.database import Database
from gateway.store.model import StoreError
from gateway.store.registrations import rows

#: The step states a worker acts on: to send, to check, to undo.
WORKABLE = tuple(sorted(s.value for s in WORKABLE_STEP_STATES))
#: Registrations whose steps no worker takes: finished, or waiting for a person.
AT_REST = tuple(
    s.value for s in RegistrationState if s.is_final or s is RegistrationState.NEEDS_ATTENTION
)

#: The states a registration may still leave.
LEAVABLE = tuple(s.value for s in RegistrationState if not s.is_final)


class RegistrationNotFound(StoreError):
    def __init__(self, registration_id: str) -> None:
        super().__init__(f"no registration {registration_id}")
        self.registration_id = registration_id


class StepNotFound(StoreError):
    def __init__(self, step_id: str) -> None:
        super().__init__(f"no step {step_id}")
        self.step_id = step_id


class Base:
    """What every part of the repository holds: the database, the audit log, and
    whom to tell of changes."""

    def __init__(self, db: Database, audit: AuditLog | None = None) -> None:
        self._db = db
        self._audit = audit
        #: Told, once committed, which registrations changed (their version grew):
        #: the gateway's events wake those who follow them (``gateway/events.py``).
        self.on_change: Callable[[Sequence[str]], None] = lambda ids: None


# The statements of a step's every save, built once: a statement built anew is
# walked again for its cache key each time, which cost more than SQLite took to
# run it. The values go in as parameters (``b_`` ones are the conditions').

_s, _r = t.steps, t.registrations

#: A step written by the worker holding its lease; what it sets are the
#: parameters' other keys (``rows.saved``).
SAVE_STEP = sa.update(_s).where(
    _s.c.id == sa.bindparam("b_id"),
    _s.c.registration_id == sa.bindparam("b_registration"),
    _s.c.lease_owner == sa.bindparam("b_owner"),
)


def save_step_parameters(step: Step, owner: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "b_id": step.id,
        "b_registration": step.registration_id,
        "b_owner": owner,
        **rows.saved(step, now),
    }


def _bumped_values(start: bool) -> dict[str, Any]:
    values: dict[str, Any] = {
        "version": _r.c.version + 1,
        "updated_at": sa.bindparam("b_at", type_=_r.c.updated_at.type),
    }
    if start:
        values["state"] = _started()
    return values


def _started() -> sa.ColumnElement[Any]:
    return sa.case(
        (_r.c.state == RegistrationState.ACCEPTED.value, RegistrationState.IN_PROGRESS.value),
        else_=_r.c.state,
    )


#: One registration's version grown (``bumped``), by ``start``; and the same
#: returning the row.
BUMP_ONE = {
    start: sa.update(_r)
    .where(_r.c.id == sa.bindparam("b_registration"))
    .values(_bumped_values(start))
    for start in (False, True)
}
BUMP_ONE_RETURNING = {start: statement.returning(*_r.c) for start, statement in BUMP_ONE.items()}


def _set_state(with_failure: bool) -> sa.Update:
    values: dict[str, Any] = {
        "state": sa.bindparam("b_state", type_=_r.c.state.type),
        "version": _r.c.version + 1,
        "updated_at": sa.bindparam("b_at", type_=_r.c.updated_at.type),
    }
    if with_failure:
        values["failure"] = sa.bindparam("b_failure", type_=_r.c.failure.type)
    return (
        sa.update(_r)
        .where(
            _r.c.id == sa.bindparam("b_registration"),
            _r.c.state.in_(sa.bindparam("b_allowed", expanding=True)),
        )
        .values(values)
    )


#: A registration's state set, from one of the states allowed, by whether a
#: failure is written too.
_SET_STATE = {with_failure: _set_state(with_failure) for with_failure in (False, True)}
_KNOWN = sa.select(_r.c.id).where(_r.c.id == sa.bindparam("b_registration"))
_RELEASE = sa.delete(t.worker_locks).where(
    t.worker_locks.c.registration_id == sa.bindparam("b_registration")
)


async def save_step(
    conn: AsyncConnection, step: Step, *, owner: str, now: dt.datetime, start: bool
) -> bool:
    result = await conn.execute(SAVE_STEP, save_step_parameters(step, owner, now))
    if result.rowcount != 1:
        return False
    await bump(conn, [step.registration_id], now, start=start)
    return True


async def update_registration(
    conn: AsyncConnection,
    registration_id: str,
    *,
    state: RegistrationState,
    failure: StepError | None,
    now: dt.datetime,
    release_worker: bool,
    expect: Collection[RegistrationState] | None,
) -> bool:
    parameters: dict[str, Any] = {
        "b_registration": registration_id,
        "b_state": RegistrationState(state).value,
        "b_at": now,
        "b_allowed": list(
            LEAVABLE if expect is None else [RegistrationState(e).value for e in expect]
        ),
    }
    if failure is not None:
        parameters["b_failure"] = rows.dump_error(failure)
    result = await conn.execute(_SET_STATE[failure is not None], parameters)
    if result.rowcount != 1:
        known = await conn.execute(_KNOWN, {"b_registration": registration_id})
        if known.first() is None:
            raise RegistrationNotFound(registration_id)
        return False
    if release_worker:
        await conn.execute(_RELEASE, {"b_registration": registration_id})
    return True


async def schedule(
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
    await bump(conn, bumped, changed)
    return len(moved), bumped


async def bump(
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
        # Locked in id order, as every transaction takes them, and FOR NO KEY
        # UPDATE, the lock the UPDATE below takes anyway: FOR UPDATE would also
        # wait for the FOR KEY SHARE locks PostgreSQL's foreign-key check takes on
        # a step's registration when a transaction writes a step row for the
        # second time (a claim: leased, then saved SENDING), locks held in step
        # order, not id order. Claims in worker processes of their own then
        # deadlocked, and PostgreSQL breaks one only after a second: 600 hires
        # over two processes went at 38 to 70 hires/s, against 88 to 106 for one
        # (benchmarks/workers.py).
        await conn.execute(
            sa.select(r.c.id)
            .where(r.c.id.in_(ids))
            .order_by(r.c.id)
            .with_for_update(key_share=True)
        )
    if len(ids) == 1:
        await conn.execute(BUMP_ONE[start], {"b_registration": ids[0], "b_at": at})
        return
    await conn.execute(sa.update(r).where(r.c.id.in_(ids)).values(bumped(at, start=start)))


def bumped(at: dt.datetime, *, start: bool) -> dict[str, Any]:
    """A registration's version grown; with ``start``, ``ACCEPTED`` becomes
    ``IN_PROGRESS`` in the same statement (no other state changes)."""
    r = t.registrations
    values: dict[str, Any] = {"version": r.c.version + 1, "updated_at": at}
    if start:
        values["state"] = _started()
    return values


def due(now: dt.datetime | sa.BindParameter[Any]) -> sa.ColumnElement[bool]:
    """A step a worker may take at ``now``, a time or the parameter that gives it
    (see ``RegistrationStore.claim``)."""
    s, r = t.steps, t.registrations
    return sa.and_(
        s.c.state.in_(WORKABLE),
        s.c.next_attempt_at <= now,  # NULL compares to nothing: never due
        sa.or_(s.c.lease_until.is_(None), s.c.lease_until < now),
        sa.exists().where(r.c.id == s.c.registration_id, r.c.state.not_in(AT_REST)),
    )
