"""The audit log: what it records, how it is searched, and its hash chain."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.auth import Role
from gateway.domain.model import IdType
from gateway.store import (
    Account,
    AuditLog,
    AuditResult,
    Channel,
    EmployerRecord,
    Store,
    StoreError,
    worker_key,
)
from gateway.store import tables as t
from tests.factories import credit_code, resident_id
from tests.store.conftest import AUDIT_KEY, cheap_passwords


async def _people(store: Store) -> tuple[Account, Account, str]:
    code = credit_code()
    await store.employers.upsert(EmployerRecord(code, "甲", "370102"))
    employer = await store.accounts.create("unit", "password1", "employer", credit_code=code)
    clerk = await store.accounts.create("clerk", "password1", "clerk", divisions=["370100"])
    return employer, clerk, code


async def test_a_record_holds_who_when_whom_and_how(store: Store) -> None:
    employer, _, code = await _people(store)
    number = resident_id()[:-1] + "X"
    before = dt.datetime.now(dt.UTC)
    record = await store.audit.record(
        actor=employer,
        action="read_worker",
        id_type=IdType.RESIDENT_ID,
        id_number=number.lower(),
        credit_code=code,
        channel=Channel.GOVERNMENT_PORTAL,
        result=AuditResult.ALLOWED,
    )
    assert before <= record.at <= dt.datetime.now(dt.UTC)
    assert (record.actor_id, record.actor_username, record.actor_role) == (
        employer.id,
        "unit",
        Role.EMPLOYER,
    )
    assert record.worker_masked == number[:6] + "*" * 8 + number[-4:]
    assert record.worker_key == worker_key(AUDIT_KEY, IdType.RESIDENT_ID, number)
    assert (record.credit_code, record.channel, record.result) == (
        code,
        Channel.GOVERNMENT_PORTAL,
        AuditResult.ALLOWED,
    )
    page = await store.audit.query(first=10)
    assert page.items == [record]


def test_the_worker_key_is_keyed_and_covers_the_id_type() -> None:
    number = resident_id()
    key = worker_key(AUDIT_KEY, IdType.RESIDENT_ID, number)
    assert key == worker_key(AUDIT_KEY, "RESIDENT_ID", f" {number.lower()} ")
    assert key != worker_key(secrets.token_bytes(32), IdType.RESIDENT_ID, number)
    assert key != worker_key(AUDIT_KEY, IdType.HMT_RESIDENCE_PERMIT, number)
    assert len(key) == 64
    assert number not in key


async def test_no_id_number_is_stored_in_clear(store: Store, store_url: str) -> None:
    _employer, clerk, code = await _people(store)
    numbers = [resident_id() for _ in range(5)]
    for n in numbers:
        await store.audit.record(
            actor=clerk,
            action="read_worker",
            id_type="RESIDENT_ID",
            id_number=n,
            credit_code=code,
            channel="service_window",
            result="allowed",
        )
    async with store.db.read() as conn:
        rows = (await conn.execute(sa.select(t.audit_records))).all()
    assert len(rows) == 5
    text = "\n".join(str(value) for row in rows for value in row)
    for n in numbers:
        assert n not in text
        assert n[6:14] not in text  # not even the birth date in the middle
    if store_url.startswith("sqlite"):
        # Nothing in the files either, the write-ahead log included.
        database = Path(store_url.split("///", 1)[1])
        raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        for n in numbers:
            assert n.encode() not in raw


async def test_query_by_worker_actor_employer_and_time(store: Store) -> None:
    employer, clerk, code = await _people(store)
    alice, bob = resident_id(), resident_id()
    t0 = dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)
    plan = [
        (employer, alice, code, "allowed", t0),
        (clerk, alice, code, "allowed", t0 + dt.timedelta(hours=1)),
        (clerk, bob, None, "not_found", t0 + dt.timedelta(hours=2)),
        (clerk, alice, None, "refused", t0 + dt.timedelta(hours=3)),
    ]
    for actor, number, unit, result, at in plan:
        await store.audit.record(
            actor=actor,
            action="read_worker",
            id_type=IdType.RESIDENT_ID,
            id_number=number,
            credit_code=unit,
            channel=Channel.SERVICE_WINDOW,
            result=result,
            at=at.astimezone(dt.timezone(dt.timedelta(hours=8))),  # Beijing time in, UTC kept
        )
    audit = store.audit
    by_alice = await audit.query(worker_key=audit.worker_key("RESIDENT_ID", alice), first=10)
    assert [r.id for r in by_alice.items] == [4, 2, 1]  # newest first
    assert by_alice.items[0].at == t0 + dt.timedelta(hours=3)
    by_clerk = await audit.query(actor=clerk.id, first=10)
    assert [r.id for r in by_clerk.items] == [4, 3, 2]
    by_unit = await audit.query(credit_code=code, first=10)
    assert [r.id for r in by_unit.items] == [2, 1]
    recent = await audit.query(since=t0 + dt.timedelta(minutes=90), first=10)
    assert [r.result for r in recent.items] == [AuditResult.REFUSED, AuditResult.NOT_FOUND]
    both = await audit.query(
        worker_key=audit.worker_key("RESIDENT_ID", alice), actor=clerk.id, first=10
    )
    assert [r.id for r in both.items] == [4, 2]
    nobody = await audit.query(worker_key=audit.worker_key("RESIDENT_ID", resident_id()), first=5)
    assert nobody.items == []
    assert not nobody.has_next_page

    ids: list[int] = []
    after = None
    while True:
        page = await audit.query(first=3, after=after)
        ids += [r.id for r in page.items]
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert ids == [4, 3, 2, 1]


def test_the_log_can_only_grow() -> None:
    public = {name for name in dir(AuditLog) if not name.startswith("_")}
    assert public == {"record", "query", "verify_chain", "worker_key"}


async def test_concurrent_records_form_one_unbroken_chain(store: Store) -> None:
    _, clerk, code = await _people(store)

    async def read(i: int) -> None:
        await store.audit.record(
            actor=clerk,
            action="read_worker",
            id_type="RESIDENT_ID",
            id_number=resident_id(),
            credit_code=code,
            channel="service_window",
            result="allowed",
        )

    await asyncio.gather(*(read(i) for i in range(30)))
    check = await store.audit.verify_chain()
    assert check.ok
    assert check.checked == 30
    async with store.db.read() as conn:
        rows = (await conn.execute(sa.select(t.audit_records).order_by(t.audit_records.c.id))).all()
    assert [r.id for r in rows] == list(range(1, 31))
    assert rows[0].prev_hash == t.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))


async def _three_records(store: Store) -> None:
    _, clerk, code = await _people(store)
    for _ in range(3):
        await store.audit.record(
            actor=clerk,
            action="read_worker",
            id_type="RESIDENT_ID",
            id_number=resident_id(),
            credit_code=code,
            channel="service_window",
            result="allowed",
        )


async def test_an_edited_record_breaks_the_chain_there(store: Store) -> None:
    await _three_records(store)
    async with store.db.write() as conn:
        await conn.execute(
            sa.update(t.audit_records).where(t.audit_records.c.id == 2).values(result="refused")
        )
    check = await store.audit.verify_chain()
    assert (check.ok, check.first_broken_id, check.checked) == (False, 2, 1)


async def test_a_removed_record_breaks_the_chain(store: Store) -> None:
    await _three_records(store)
    async with store.db.write() as conn:
        await conn.execute(sa.delete(t.audit_records).where(t.audit_records.c.id == 3))
    check = await store.audit.verify_chain()
    assert (check.ok, check.first_broken_id) == (False, 3)


async def test_an_empty_log_verifies(store: Store) -> None:
    assert (await store.audit.verify_chain()).ok


async def test_bad_records_are_refused(store: Store) -> None:
    _, clerk, _ = await _people(store)
    for change, complaint in [
        ({"channel": "telephone"}, "telephone"),
        ({"result": "maybe"}, "maybe"),
        ({"id_type": "DRIVING_LICENCE"}, "DRIVING_LICENCE"),
        ({"action": ""}, "action"),
    ]:
        values = {
            "actor": clerk,
            "action": "read_worker",
            "id_type": "RESIDENT_ID",
            "id_number": resident_id(),
            "credit_code": None,
            "channel": "service_window",
            "result": "allowed",
        } | change
        with pytest.raises(ValueError, match=complaint):
            await store.audit.record(**values)  # type: ignore[arg-type]
    assert (await store.audit.query(first=1)).items == []


async def test_a_store_without_the_key_has_no_audit_log(store_url: str) -> None:
    store = await Store.open(store_url, passwords=cheap_passwords())
    try:
        with pytest.raises(StoreError, match="HRSS_AUDIT_KEY"):
            _ = store.audit
    finally:
        await store.close()
    with pytest.raises(ValueError, match="32 bytes"):
        AuditLog(store.db, b"short")
