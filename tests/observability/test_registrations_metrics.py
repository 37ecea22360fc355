"""Registrations by state and the age of the oldest unfinished one, from the store
(SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from gateway.observability.metrics import GatewayMetrics
from gateway.observability.registrations import count_registrations, refresh_registrations
from gateway.registrations.model import RegistrationState
from gateway.store import Store
from gateway.store.database import Database
from tests.observability.support import value
from tests.store.test_registrations import NOW, account, submission, submit_one, worker

MINUTE = dt.timedelta(minutes=1)
AGE = "hrss_registration_oldest_age_seconds"


async def submit_some(store: Store) -> dict[str, str]:
    """Two waiting hires (the older submitted at NOW), one completed, one needing attention."""
    old = submission(at=NOW)
    older_hire = await submit_one(store, worker(old, at=NOW), old)
    later = submission(at=NOW + 2 * MINUTE)
    await submit_one(store, worker(later, at=NOW + 2 * MINUTE), later)
    done_sub = submission(at=NOW - 10 * MINUTE)
    done = await submit_one(store, worker(done_sub, at=NOW - 10 * MINUTE), done_sub)
    stuck_sub = submission(at=NOW + MINUTE)
    stuck = await submit_one(store, account(stuck_sub), stuck_sub)
    await store.registrations.update_registration(
        done.id, state=RegistrationState.COMPLETED, now=NOW, release_worker=True
    )
    await store.registrations.update_registration(
        stuck.id, state=RegistrationState.NEEDS_ATTENTION, now=NOW + 5 * MINUTE
    )
    return {"older": older_hire.id, "done": done.id, "stuck": stuck.id}


async def test_counts_by_state_and_oldest_unfinished(store: Store) -> None:
    empty = await count_registrations(store.db)
    assert set(empty.counts) == {s.value for s in RegistrationState}
    assert not any(empty.counts.values())
    assert empty.oldest == {}

    await submit_some(store)
    counts = await count_registrations(store.db)
    assert counts.counts["ACCEPTED"] == 2
    assert counts.counts["COMPLETED"] == 1
    assert counts.counts["NEEDS_ATTENTION"] == 1
    assert counts.counts["IN_PROGRESS"] == 0
    # Finished registrations have no age to watch, however old.
    assert set(counts.oldest) == {"ACCEPTED", "NEEDS_ATTENTION"}
    assert counts.oldest["ACCEPTED"] == NOW
    assert counts.oldest["NEEDS_ATTENTION"].tzinfo is not None


async def test_gauges_show_counts_and_ages_at_scrape_time(store: Store) -> None:
    clock = [NOW.timestamp() + 90.0]
    metrics = GatewayMetrics(clock=lambda: clock[0])
    assert value(metrics.exposition(), "hrss_registrations", state="ACCEPTED") is None

    ids = await submit_some(store)
    metrics.set_registrations(await count_registrations(store.db))
    text = metrics.exposition()
    assert value(text, "hrss_registrations", state="ACCEPTED") == 2
    assert value(text, "hrss_registrations", state="COMPLETED") == 1
    assert value(text, "hrss_registrations", state="CANCELLED") == 0
    assert value(text, AGE, state="ACCEPTED") == pytest.approx(90.0)
    assert value(text, AGE, state="IN_PROGRESS") == 0
    assert value(text, AGE, state="COMPLETED") is None
    assert value(text, "hrss_registrations_refreshed_timestamp_seconds") == clock[0]

    # The age grows between refreshes; the counts wait for the next one.
    clock[0] += 60
    await store.registrations.update_registration(
        ids["older"], state=RegistrationState.IN_PROGRESS, now=NOW + 3 * MINUTE
    )
    text = metrics.exposition()
    assert value(text, AGE, state="ACCEPTED") == pytest.approx(150.0)
    metrics.set_registrations(await count_registrations(store.db))
    text = metrics.exposition()
    assert value(text, "hrss_registrations", state="ACCEPTED") == 1
    assert value(text, "hrss_registrations", state="IN_PROGRESS") == 1
    assert value(text, AGE, state="ACCEPTED") == pytest.approx(150.0 - 120.0)
    assert value(text, AGE, state="IN_PROGRESS") == pytest.approx(150.0)


async def wait_until(condition: Any, rounds: int = 500) -> None:
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_the_background_task_refreshes_until_stopped(store: Store) -> None:
    metrics = GatewayMetrics()
    stop = asyncio.Event()
    task = asyncio.create_task(refresh_registrations(metrics, store.db, stop=stop, interval_s=0.01))
    try:
        await wait_until(
            lambda: value(metrics.exposition(), "hrss_registrations", state="ACCEPTED") == 0
        )
        await submit_some(store)
        await wait_until(
            lambda: value(metrics.exposition(), "hrss_registrations", state="ACCEPTED") == 2
        )
    finally:
        stop.set()
        await task
    assert task.done()


class _FailingDatabase(Database):
    def __init__(self) -> None:
        self.reads = 0

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Any]:
        self.reads += 1
        raise ConnectionRefusedError("store down")
        yield


@pytest.fixture
def warnings_seen(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.WARNING, logger="gateway.observability.registrations"):
        yield caplog


async def test_a_failing_store_is_logged_and_tried_again(
    warnings_seen: pytest.LogCaptureFixture,
) -> None:
    metrics = GatewayMetrics()
    db = _FailingDatabase()
    stop = asyncio.Event()
    task = asyncio.create_task(refresh_registrations(metrics, db, stop=stop, interval_s=0.01))
    try:
        await wait_until(lambda: db.reads >= 2)
    finally:
        stop.set()
        await task
    assert "registration counts not refreshed (ConnectionRefusedError)" in warnings_seen.text
    assert value(metrics.exposition(), "hrss_registrations", state="ACCEPTED") is None
