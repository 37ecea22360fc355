"""Reading registrations: one by id, pages of them newest first, and which one
holds a system's record."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa

from gateway.domain.model import System
from gateway.registrations.decisions import ACTIVE
from gateway.registrations.model import (
    Business,
    Channel,
    Registration,
    RegistrationState,
    StepState,
)
from gateway.registrations.ports import RegistrationFilter, RegistrationPage
from gateway.store import tables as t
from gateway.store.model import InvalidCursor, division_prefix
from gateway.store.paging import check_first, decode_cursor, encode_cursor
from gateway.store.registrations import rows, writes
from gateway.store.registrations.erasing import erased_key

_CURSOR = "registration"

#: Built once (see ``writes``): a subscription reads its registration at each change.
_ONE = sa.select(t.registrations).where(t.registrations.c.id == sa.bindparam("b_id"))
_VERSIONS = sa.select(t.registrations.c.id, t.registrations.c.version).where(
    t.registrations.c.id.in_(sa.bindparam("b_ids", expanding=True))
)
#: Another registration's step holding a system's reference, by the index on
#: ``(system, reference)``; in any state (done, being undone, undone, stuck...).
_HELD_BY = (
    sa.select(t.steps.c.registration_id)
    .where(
        t.steps.c.system == sa.bindparam("b_system"),
        t.steps.c.reference == sa.bindparam("b_reference"),
        t.steps.c.registration_id != sa.bindparam("b_registration"),
    )
    .limit(1)
)


class Reading(writes.Base):
    """``get``, ``versions``, ``held_by`` and ``list``."""

    async def get(self, registration_id: str) -> Registration | None:
        async with self._db.read() as conn:
            found = await rows.load(conn, _ONE, {"b_id": registration_id})
        return found[0] if found else None

    async def versions(self, registration_ids: Sequence[str]) -> dict[str, int]:
        """The version of each of these registrations that exists (what subscriptions
        compare to know whether to read one again: ``gateway/following.py``)."""
        if not registration_ids:
            return {}
        async with self._db.read() as conn:
            found = await conn.execute(_VERSIONS, {"b_ids": list(registration_ids)})
            return {row.id: row.version for row in found}

    async def held_by(self, system: System, reference: str, *, other_than: str) -> str | None:
        """The id of a registration other than ``other_than`` one of whose steps of
        ``system`` holds ``reference``, in whatever state; None when none does.
        Asked only when reconciliation finds a record (never on a write's way)."""
        parameters = {
            "b_system": System(system).value,
            "b_reference": reference,
            "b_registration": other_than,
        }
        async with self._db.read() as conn:
            found: str | None = (await conn.execute(_HELD_BY, parameters)).scalar_one_or_none()
        return found

    async def list(
        self, filter: RegistrationFilter, *, first: int, after: str | None = None
    ) -> RegistrationPage:
        """Newest first (then by id), ``first`` at most 100, after the cursor ``after``."""
        check_first(first)
        r = t.registrations
        query = (
            sa.select(r)
            .where(*_conditions(filter, self._erased(filter)))
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
            found = await rows.load(conn, query)
        items = found[:first]
        return RegistrationPage(
            items=items,
            end_cursor=_encode(items[-1]) if items else None,
            has_next_page=len(found) > first,
        )

    def _erased(self, f: RegistrationFilter) -> str | None:
        return None if f.person_key is None else erased_key(self._audit, f.person_key)

    async def count(self, filter: RegistrationFilter) -> int:
        """How many match ``filter`` in all (the same conditions as ``list``)."""
        r = t.registrations
        conditions = _conditions(filter, self._erased(filter))
        query = sa.select(sa.func.count()).select_from(r).where(*conditions)
        async with self._db.read() as conn:
            found: int = (await conn.execute(query)).scalar_one()
        return found


def _conditions(
    f: RegistrationFilter, erased: str | None = None
) -> builtins.list[sa.ColumnElement[bool]]:
    r, s = t.registrations, t.steps
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
        # Erased, a registration holds the number's keyed hash (``erasing``).
        keys = [f.person_key] if erased is None else [f.person_key, erased]
        conditions.append(r.c.person_key.in_(keys))
    if f.channel is not None:
        conditions.append(r.c.channel == Channel(f.channel).value)
    if f.actor_username is not None:
        conditions.append(r.c.actor_username == f.actor_username)
    if f.since is not None:
        conditions.append(r.c.created_at >= f.since)
    if f.until is not None:
        conditions.append(r.c.created_at < f.until)
    if f.stalled:
        conditions.append(~sa.exists().where(s.c.registration_id == r.c.id, _TAKEABLE))
    return conditions


#: A step a worker will take, now or at its next attempt (``decisions.takeable``).
_TAKEABLE = sa.or_(
    sa.and_(t.steps.c.state == StepState.PENDING.value, t.steps.c.next_attempt_at.is_not(None)),
    t.steps.c.state.in_(sorted(a.value for a in ACTIVE if a is not StepState.PENDING)),
)


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
    try:
        # Compared in UTC (``tables.UTCDateTime``): a time that lies before year 1 or
        # after 9999 there, 0001-01-01T00:00+08:00, was an OverflowError binding it.
        return created_at.astimezone(dt.UTC), registration_id
    except OverflowError:
        raise InvalidCursor("invalid cursor") from None
