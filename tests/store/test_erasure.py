"""A finished registration's personal data are erased once its retention has passed:
numbers masked, addresses blank, the worker still found by the full number; what
is not final, or ended recently, is kept whole. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
import sqlalchemy as sa

from gateway.privacy import mask_id_number, mask_mobile
from gateway.registrations.model import Operation, Registration, RegistrationState
from gateway.registrations.ports import RegistrationFilter
from gateway.store import Store
from gateway.store import tables as t
from gateway.store.registrations import Registrations
from gateway.store.registrations.erasing import ERASED, erase_periodically
from tests.store.test_registrations import (
    NOW,
    account,
    row,
    step_of,
    submission,
    submit_one,
    worker,
)

DAY = dt.timedelta(days=1)
#: What a store holding personal data in clear would show of them.
ADDRESSES = ("山东省济南市历下区泉城路1号", "山东省济南市市中区经七路2号")


async def _raw(store: Store) -> str:
    """Every payload and key of the registrations and steps, as stored."""
    async with store.db.read() as conn:
        registrations = (
            await conn.execute(sa.select(t.registrations.c.person_key, t.registrations.c.payload))
        ).all()
        steps = (await conn.execute(sa.select(t.steps.c.payload))).all()
    return json.dumps(
        [list(r) for r in registrations] + [list(s) for s in steps], ensure_ascii=False
    )


async def _ended(store: Store, registration: Registration, state: RegistrationState) -> None:
    await store.registrations.update_registration(
        registration.id, state=state, now=NOW, release_worker=True
    )


async def test_finished_registrations_past_retention_lose_their_personal_data(
    store: Store,
) -> None:
    hired, ended_recently, under_way = row(), row(), row()
    sub = submission()
    done = await submit_one(store, worker(sub, hired), sub)
    await _ended(store, done, RegistrationState.COMPLETED)
    sub = submission()
    recent = await submit_one(store, worker(sub, ended_recently), sub)
    await store.registrations.update_registration(
        recent.id, state=RegistrationState.CANCELLED, now=NOW + 10 * DAY, release_worker=True
    )
    sub = submission()
    await submit_one(store, worker(sub, under_way), sub)
    sub = submission()
    opening = await submit_one(store, account(sub), sub)
    await _ended(store, opening, RegistrationState.COMPLETED)

    # Retention: what ended before NOW + 1 day goes.
    erased_at = NOW + 200 * DAY
    assert await store.registrations.erase_personal_data(ended_before=NOW + DAY, now=erased_at) == 2
    again = await store.registrations.erase_personal_data(ended_before=NOW + DAY, now=erased_at)
    assert again == 0

    raw = await _raw(store)
    assert hired.id_number not in raw
    assert hired.mobile not in raw
    # Kept whole: ended 10 days later, and under way.
    for kept in (ended_recently, under_way):
        assert kept.id_number in raw
        assert kept.mobile in raw

    got = await store.registrations.get(done.id)
    assert got is not None
    assert got.erased_at == erased_at
    assert got.person_key is not None
    assert got.person_key.startswith(ERASED)
    assert hired.id_number not in got.person_key
    assert got.payload["id_number"] == mask_id_number(hired.id_number)
    assert got.payload["mobile"] == mask_mobile(hired.mobile)
    assert (got.payload["household_address"], got.payload["current_address"]) == ("", "")
    # The name, the dates and the codes stay: a window tells registrations apart.
    assert got.payload["name"] == hired.name
    assert got.payload["start_date"] == hired.start_date.isoformat()
    for step in got.steps:
        person = step.payload["person"]
        assert person["id_number"] == mask_id_number(hired.id_number)
        assert not {person["household_address"], person["current_address"]} & set(ADDRESSES)
    employment = step_of(got, Operation.REGISTER_EMPLOYMENT)
    assert (
        employment.payload["employer_id"]
        == step_of(done, Operation.REGISTER_EMPLOYMENT).payload["employer_id"]
    )
    # The unit's contact phone of an account opening is masked too.
    opened = await store.registrations.get(opening.id)
    assert opened is not None
    assert opened.erased_at == erased_at
    assert opened.person_key is None
    assert "1234567" not in json.dumps(opened.payload)
    untouched = await store.registrations.get(recent.id)
    assert untouched is not None
    assert untouched.erased_at is None
    assert untouched.payload["id_number"] == ended_recently.id_number
    assert untouched.payload["household_address"] == ended_recently.household_address


async def test_a_worker_is_still_found_by_the_full_number_once_erased(store: Store) -> None:
    hired = row()
    sub = submission()
    done = await submit_one(store, worker(sub, hired), sub)
    await _ended(store, done, RegistrationState.COMPLETED)
    await store.registrations.erase_personal_data(ended_before=NOW + DAY, now=NOW + 200 * DAY)
    by_number = RegistrationFilter(person_key=f"{hired.id_type.value}:{hired.id_number}")
    page = await store.registrations.list(by_number, first=10)
    assert [r.id for r in page.items] == [done.id]
    assert await store.registrations.count(by_number) == 1
    other = RegistrationFilter(person_key=f"{hired.id_type.value}:{row().id_number}")
    assert (await store.registrations.list(other, first=10)).items == []


async def test_the_periodic_erasure_runs_at_once_and_until_stopped(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="gateway.store.registrations.erasing")
    hired = row()
    sub = submission()
    done = await submit_one(store, worker(sub, hired), sub)
    await _ended(store, done, RegistrationState.COMPENSATED)
    stop = asyncio.Event()
    running = asyncio.create_task(
        erase_periodically(
            store.registrations,
            retention=183 * DAY,
            every_s=3600,
            stop=stop,
            clock=lambda: NOW + 184 * DAY,
        )
    )
    while "personal data erased" not in caplog.text:  # noqa: ASYNC110 - nothing else to wait on
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, 5)
    got = await store.registrations.get(done.id)
    assert got is not None
    assert got.erased_at == NOW + 184 * DAY
    assert hired.id_number not in caplog.text
    assert "personal data erased from 1 finished registrations" in caplog.text


async def test_a_store_without_the_audit_key_erases_nothing(store: Store) -> None:
    # The key is what an erased worker is found by: without it nothing is erased,
    # rather than numbers masked that nobody could find again.
    sub = submission()
    done = await submit_one(store, worker(sub), sub)
    await _ended(store, done, RegistrationState.COMPLETED)
    keyless = Registrations(store.db)
    with pytest.raises(ValueError, match="audit key"):
        await keyless.erase_personal_data(ended_before=NOW + DAY, now=NOW + 200 * DAY)
    got = await store.registrations.get(done.id)
    assert got is not None
    assert got.erased_at is None
