"""Registrations by state, read from the store for the gauges of ``/metrics``.

One grouped query, read-only, over the store's ``registrations`` table: how many
registrations are in each state, and when the oldest unfinished one of each
state was submitted. The background task reads it every few seconds, so that a
scrape never waits for the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from gateway.periodic import every
from gateway.registrations.model import RegistrationState
from gateway.store import tables as t
from gateway.store.database import Database

if TYPE_CHECKING:
    from gateway.observability.metrics import GatewayMetrics

logger = logging.getLogger(__name__)

#: The states a registration leaves by itself or by a person: their oldest one's age matters.
UNFINISHED = tuple(s.value for s in RegistrationState if not s.is_final)


@dataclass(frozen=True, slots=True)
class RegistrationCounts:
    #: Every state, zero included.
    counts: dict[str, int]
    #: Unfinished states that have registrations: when the oldest of each was submitted.
    oldest: dict[str, dt.datetime] = field(default_factory=dict)


async def count_registrations(db: Database) -> RegistrationCounts:
    r = t.registrations
    query = sa.select(r.c.state, sa.func.count(), sa.func.min(r.c.created_at)).group_by(r.c.state)
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
    counts = dict.fromkeys((s.value for s in RegistrationState), 0)
    oldest: dict[str, dt.datetime] = {}
    for state, count, first in rows:
        counts[state] = int(count)
        if state in UNFINISHED and first is not None:
            oldest[state] = first
    return RegistrationCounts(counts, oldest)


async def refresh_registrations(
    metrics: GatewayMetrics, db: Database, *, stop: asyncio.Event, interval_s: float
) -> None:
    """Read the counts every ``interval_s`` until ``stop`` is set.

    A failed read (the database restarting) is logged and tried again at the
    next interval; the gauges keep their last values meanwhile, and
    ``hrss_registrations_refreshed_timestamp_seconds`` shows how old they are.
    An interval of 0 turns the gauges off.
    """
    if interval_s <= 0:
        return

    async def refresh() -> None:
        metrics.set_registrations(await count_registrations(db))

    def failed(exc: Exception) -> None:
        logger.warning("registration counts not refreshed (%s)", type(exc).__name__)

    await every(interval_s, stop, refresh, failed=failed)
