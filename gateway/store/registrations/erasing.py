"""Erasing a finished registration's personal data once its retention has passed.

The gateway is not where a worker's data are kept: the systems are. It holds a
registration's row and what each step sends (ID and mobile numbers, addresses)
to carry it out, and after that only so that a window can still find and read
it. Past ``registration_retention_days`` of a registration's end, its payloads
keep the name, the dates and the codes, and the numbers masked as the graph
shows them (``gateway.privacy.erase``); the addresses go. ``person_key``, by
which the worker's registrations are found and which held the number in
clear, becomes ``#`` and the audit log's keyed hash of it (``erased_key``):
a search by the full number still finds them, nobody reads the number back.

Only final registrations are erased (nothing will be sent for them again), in
batches, each one transaction whose UPDATE repeats the conditions: one that
moved since it was read is left as it is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from gateway.periodic import every
from gateway.privacy import erase
from gateway.registrations.model import RegistrationState
from gateway.store import tables as t
from gateway.store.audit import AuditLog
from gateway.store.registrations import rows, writes

log = logging.getLogger(__name__)

#: The mark of an erased ``person_key``: what follows is a keyed hash, not a number.
ERASED = "#"
_FINAL = sorted(s.value for s in RegistrationState if s.is_final)
_BATCH = 200


def erased_key(audit: AuditLog | None, person_key: str) -> str | None:
    """What ``person_key`` (``TYPE:NUMBER``) became where it was erased; None
    without the audit log's key (a store opened without it erases nothing)."""
    if audit is None:
        return None
    id_type, _, number = person_key.partition(":")
    return ERASED + audit.worker_key(id_type, number)


def erased_worker_key(person_key: str | None) -> str | None:
    """The audit log's keyed hash an erased ``person_key`` holds (None: not erased)."""
    if person_key is None or not person_key.startswith(ERASED):
        return None
    return person_key[len(ERASED) :]


class Erasing(writes.Base):
    """The periodic erasure of finished registrations' personal data."""

    async def erase_personal_data(self, *, ended_before: dt.datetime, now: dt.datetime) -> int:
        """Erase the personal data of every final registration last changed before
        ``ended_before`` and not erased yet; how many were erased. ``ValueError``
        for a store opened without the audit key, which the erased keys are made with."""
        if self._audit is None:
            raise ValueError("erasing personal data needs the store's audit key")
        r = t.registrations
        due = sa.and_(r.c.erased_at.is_(None), r.c.state.in_(_FINAL), r.c.updated_at < ended_before)
        erased = 0
        while True:
            async with self._db.write() as conn:
                found = (
                    await conn.execute(
                        sa.select(r.c.id, r.c.person_key, r.c.payload)
                        .where(due)
                        .order_by(r.c.updated_at, r.c.id)
                        .limit(_BATCH)
                    )
                ).all()
                if not found:
                    return erased
                before = erased
                for row in found:
                    person_key = row.person_key and erased_key(self._audit, row.person_key)
                    changed = await conn.execute(
                        sa.update(r)
                        .where(r.c.id == row.id, due)
                        .values(payload=_erased(row.payload), person_key=person_key, erased_at=now)
                    )
                    if changed.rowcount != 1:
                        continue  # erased meanwhile by another process
                    erased += 1
                    # A final registration's steps never move again: erased with it.
                    for step in (
                        await conn.execute(
                            sa.select(t.steps.c.id, t.steps.c.payload).where(
                                t.steps.c.registration_id == row.id
                            )
                        )
                    ).all():
                        await conn.execute(
                            sa.update(t.steps)
                            .where(t.steps.c.id == step.id)
                            .values(payload=_erased(step.payload))
                        )
            if erased == before:
                return erased  # none of the batch was left to erase: nothing more will be


def _erased(payload: str) -> str:
    data: Any = erase(json.loads(payload))
    return rows.dump(data)


async def erase_periodically(
    registrations: Erasing,
    *,
    retention: dt.timedelta,
    every_s: float,
    stop: asyncio.Event,
    clock: Callable[[], dt.datetime],
) -> None:
    """Erase at once, then every ``every_s`` until ``stop`` is set, the personal
    data of the registrations that ended more than ``retention`` ago: the
    background task of a serving gateway, beside the audit log's purge."""

    async def erase() -> None:
        now = clock()
        erased = await registrations.erase_personal_data(ended_before=now - retention, now=now)
        if erased:
            log.info("personal data erased from %d finished registrations", erased)

    def failed(exc: Exception) -> None:
        # The store's error text may quote SQL, and SQL the payloads: the type only.
        log.error("erasing personal data failed: %s", type(exc).__name__)

    await every(every_s, stop, erase, failed=failed)
