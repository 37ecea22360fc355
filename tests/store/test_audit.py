"""The audit log: what it records, how it is searched, and its hash chain."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import logging
import secrets
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from gateway.auth import ConfigurationError, Role
from gateway.domain.model import IdType
from gateway.registrations.model import Business, Registration, RegistrationState
from gateway.registrations.model import Channel as RegistrationChannel
from gateway.store import (
    Account,
    AuditLog,
    AuditResult,
    Channel,
    EmployerRecord,
    InvalidCursor,
    Store,
    StoreError,
    worker_key,
)
from gateway.store import tables as t
from gateway.store.audit import (
    MIN_RETENTION_DAYS,
    PURGE_ACTION,
    AuditChainBroken,
    AuditKeyMismatch,
    AuditRetention,
    Write,
    key_check,
    purge_periodically,
    purge_store,
    record_hash,
    registration_writes,
    verify_store,
)
from gateway.store.database import Database, alembic_config, create_engine
from tests.factories import credit_code, resident_id
from tests.store.conftest import AUDIT_KEY, cheap_passwords


async def _people(store: Store) -> tuple[Account, Account, str]:
    code = credit_code()
    await store.employers.upsert(EmployerRecord(code, "甲", "370102"))
    employer = await store.accounts.create("unit", "lantern-orchid-1", "employer", credit_code=code)
    clerk = await store.accounts.create("clerk", "lantern-orchid-1", "clerk", divisions=["370100"])
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
    # Appending, reading, and the one removal allowed: the purge past retention.
    public = {name for name in dir(AuditLog) if not name.startswith("_")}
    appending = {"record", "record_writes", "record_registrations", "record_account"}
    reading = {"query", "get", "verify_chain", "worker_key"}
    # check_key writes the key's check value once, to the head, never a record.
    assert public == appending | reading | {"purge", "check_key"}


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


# ------------------------------------------------------------------ writes


def _registration(business: Business, person_key: str | None) -> Registration:
    return Registration(
        id=uuid.uuid4().hex,
        submission_id=uuid.uuid4().hex,
        business=business,
        state=RegistrationState.ACCEPTED,
        credit_code=credit_code(),
        division="370102",
        person_key=person_key,
        payload={},
        channel=RegistrationChannel.SERVICE_WINDOW,
        actor_id=None,
        actor_username=None,
    )


async def test_the_writes_of_a_submission_are_recorded_together(store: Store) -> None:
    _, clerk, code = await _people(store)
    alice, bob = resident_id(), resident_id()
    hired = _registration(Business.HIRE, f"RESIDENT_ID:{alice}")
    ended = _registration(Business.END, f"RESIDENT_ID:{bob}")
    opened = _registration(Business.OPEN_ACCOUNT, None)  # no worker in it
    writes = registration_writes([hired, opened, ended])
    assert [(w.action, w.reference) for w in writes] == [
        ("submit_hire", hired.id),
        ("submit_end", ended.id),
    ]
    records = await store.audit.record_writes(
        actor=clerk, channel="service_window", credit_code=code, writes=writes
    )
    assert [r.id for r in records] == [1, 2]
    assert [(r.action, r.reference, r.result) for r in records] == [
        ("submit_hire", hired.id, AuditResult.ALLOWED),
        ("submit_end", ended.id, AuditResult.ALLOWED),
    ]
    assert records[0].worker_key == store.audit.worker_key("RESIDENT_ID", alice)
    assert records[1].worker_masked == bob[:6] + "*" * 8 + bob[-4:]
    found = await store.audit.query(reference=ended.id, first=5)
    assert found.items == [records[1]]
    by_bob = await store.audit.query(worker_key=store.audit.worker_key("RESIDENT_ID", bob), first=5)
    assert [r.action for r in by_bob.items] == ["submit_end"]
    assert await store.audit.get(2) == records[1]
    assert await store.audit.get(3) is None
    assert (
        await store.audit.record_writes(
            actor=clerk, channel="service_window", credit_code=code, writes=[]
        )
        == []
    )
    assert (await store.audit.verify_chain()).ok


async def test_writes_recorded_in_a_transaction_go_with_it(store: Store) -> None:
    _, clerk, code = await _people(store)
    writes = [Write("submit_hire", "RESIDENT_ID", resident_id(), reference="r1")]

    async def write_then_fail() -> None:
        async with store.db.write() as conn:
            await store.audit.record_writes(
                actor=clerk, channel="service_window", credit_code=code, writes=writes, conn=conn
            )
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        await write_then_fail()
    assert (await store.audit.query(first=5)).items == []
    async with store.db.write() as conn:
        await store.audit.record_writes(
            actor=clerk, channel="service_window", credit_code=code, writes=writes, conn=conn
        )
    assert [r.reference for r in (await store.audit.query(first=5)).items] == ["r1"]
    assert (await store.audit.verify_chain()).ok


async def test_the_gateways_own_action_is_not_for_callers(store: Store) -> None:
    _, clerk, code = await _people(store)
    with pytest.raises(ValueError, match="gateway's own"):
        await store.audit.record(
            actor=clerk,
            action=PURGE_ACTION,
            id_type="RESIDENT_ID",
            id_number=resident_id(),
            credit_code=code,
            channel="service_window",
            result="allowed",
        )


async def test_query_by_type_action_until_and_any_of_several_keys(store: Store) -> None:
    employer, clerk, code = await _people(store)
    t0 = dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)
    alice = resident_id()
    plan = [
        (employer, "read_worker", "RESIDENT_ID", alice, t0),
        (clerk, "submit_hire", "RESIDENT_ID", alice, t0 + dt.timedelta(hours=1)),
        (clerk, "read_worker", "HK_MACAO_PERMIT", "H12345678", t0 + dt.timedelta(hours=2)),
    ]
    for actor, action, id_type, number, at in plan:
        await store.audit.record(
            actor=actor,
            action=action,
            id_type=id_type,
            id_number=number,
            credit_code=code,
            channel="service_window",
            result="allowed",
            at=at,
        )
    audit = store.audit
    reads = await audit.query(action="read_worker", first=10)
    assert [r.id for r in reads.items] == [3, 1]
    before = await audit.query(until=t0 + dt.timedelta(hours=1), first=10)
    assert [r.id for r in before.items] == [1]  # until is excluded
    permits = await audit.query(worker_id_type="HK_MACAO_PERMIT", first=10)
    assert [r.id for r in permits.items] == [3]
    keys = [audit.worker_key(t_, "H12345678") for t_ in IdType]
    assert [r.id for r in (await audit.query(worker_key=keys, first=10)).items] == [3]
    with pytest.raises(InvalidCursor):
        await audit.query(first=1, after="YXVkaXQ6eA")  # "audit:x"


# ---------------------------------------------------------- tamper evidence


async def _record_hash_of(store: Store, record_id: int) -> str:
    async with store.db.read() as conn:
        value = await conn.scalar(
            sa.select(t.audit_records.c.hash).where(t.audit_records.c.id == record_id)
        )
    assert isinstance(value, str)
    return value


async def test_a_record_slipped_in_by_sql_breaks_the_chain(store: Store) -> None:
    await _three_records(store)
    third = (await store.audit.query(first=1)).items[0]
    # A forged record that links to the last one and hashes right, past the head.
    forged = dataclasses.asdict(third) | {
        "id": 4,
        "prev_hash": third.hash,
        "actor_role": "admin",
        "channel": "service_window",
        "result": "allowed",
        "detail": None,
    }
    forged["hash"] = record_hash(forged)
    async with store.db.write() as conn:
        await conn.execute(sa.insert(t.audit_records).values(**forged))
    check = await store.audit.verify_chain()
    assert (check.ok, check.first_broken_id) == (False, 4)
    # Moving the head along with it needs the chain after it to follow: here
    # there is none, but a record with an id outside the chain still shows.
    async with store.db.write() as conn:
        await conn.execute(sa.delete(t.audit_records).where(t.audit_records.c.id == 4))
    assert (await store.audit.verify_chain()).ok
    async with store.db.write() as conn:
        await conn.execute(sa.insert(t.audit_records).values(**(forged | {"id": 0})))
    check = await store.audit.verify_chain()
    assert (check.ok, check.first_broken_id) == (False, 0)


async def test_a_record_inserted_in_the_middle_breaks_the_chain(store: Store) -> None:
    await _three_records(store)
    async with store.db.write() as conn:
        # Make room by moving the last record on, then fill the gap.
        await conn.execute(sa.update(t.audit_records).where(t.audit_records.c.id == 3).values(id=4))
        row = (
            await conn.execute(sa.select(t.audit_records).where(t.audit_records.c.id == 2))
        ).one()
        values = row._asdict() | {"id": 3, "prev_hash": row.hash}
        values["hash"] = record_hash(values)
        await conn.execute(sa.insert(t.audit_records).values(**values))
    check = await store.audit.verify_chain()
    assert (check.ok, check.first_broken_id) == (False, 4)


async def test_an_edited_reference_or_purge_detail_breaks_the_chain(store: Store) -> None:
    await _records_at(store, 400, 10)
    await store.audit.purge(NOW)  # record 3: the purge
    clerk, code = await _clerk(store)
    await store.audit.record_writes(
        actor=clerk,
        channel="service_window",
        credit_code=code,
        writes=[Write("submit_hire", "RESIDENT_ID", resident_id(), reference="r1")],
    )
    r = t.audit_records
    for record_id, change in (
        (4, {"reference": "r2"}),
        (4, {"reference": None}),
        (3, {"detail": '{"removed":0}'}),
    ):
        async with store.db.write() as conn:
            before = (await conn.execute(sa.select(r).where(r.c.id == record_id))).one()
            await conn.execute(sa.update(r).where(r.c.id == record_id).values(**change))
        check = await store.audit.verify_chain()
        assert (check.ok, check.first_broken_id) == (False, record_id), change
        async with store.db.write() as conn:
            await conn.execute(
                sa.update(r)
                .where(r.c.id == record_id)
                .values(**{k: before._asdict()[k] for k in change})
            )
        assert (await store.audit.verify_chain()).ok


async def test_a_head_moved_by_hand_breaks_the_chain(store: Store) -> None:
    await _three_records(store)
    async with store.db.write() as conn:
        await conn.execute(sa.update(t.audit_head).values(last_hash="f" * 64))
    check = await store.audit.verify_chain()
    assert (check.ok, check.first_broken_id, check.checked) == (False, 4, 3)


async def test_the_database_keeps_records_whole(store: Store) -> None:
    await _three_records(store)
    row = (await store.audit.query(first=1)).items[0]
    base = {
        "id": 10,
        "at": row.at,
        "actor_id": row.actor_id,
        "actor_username": row.actor_username,
        "actor_role": "clerk",
        "action": "read_worker",
        "worker_id_type": row.worker_id_type,
        "worker_masked": row.worker_masked,
        "worker_key": row.worker_key,
        "credit_code": None,
        "channel": "service_window",
        "result": "allowed",
        "prev_hash": row.hash,
        "hash": row.hash,
    }
    for broken in (
        {"channel": "telephone"},
        {"result": "maybe"},
        {"actor_username": None},  # half an actor
        {"worker_masked": None},  # half a worker
    ):
        with pytest.raises(sa.exc.IntegrityError):
            async with store.db.write() as conn:
                await conn.execute(sa.insert(t.audit_records).values(**(base | broken)))


# -------------------------------------------------------------- retention

NOW = dt.datetime.now(dt.UTC)


async def _clerk(store: Store) -> tuple[Account, str]:
    """The clerk of ``_people``, made on first use."""
    clerk = await store.accounts.get("clerk")
    if clerk is None:
        _, clerk, _ = await _people(store)
    code = (await store.accounts.get("unit")).credit_code  # type: ignore[union-attr]
    assert code is not None
    return clerk, code


async def _records_at(store: Store, *ages_in_days: float) -> list[int]:
    clerk, code = await _clerk(store)
    ids = []
    for age in ages_in_days:
        record = await store.audit.record(
            actor=clerk,
            action="read_worker",
            id_type="RESIDENT_ID",
            id_number=resident_id(),
            credit_code=code,
            channel="service_window",
            result="allowed",
            at=NOW - dt.timedelta(days=age),
        )
        ids.append(record.id)
    return ids


def test_retention_is_at_least_six_months() -> None:
    assert AuditRetention().days == MIN_RETENTION_DAYS == 183
    assert AuditRetention(days=183).period == dt.timedelta(days=183)
    assert AuditRetention(days=400).days == 400
    for days in (182, 30, 0, -1):
        with pytest.raises(ValueError, match="at least 183 days"):
            AuditRetention(days=days)
    with pytest.raises(ValueError, match="interval"):
        AuditRetention(purge_every_s=0)


async def test_a_purge_removes_what_is_past_retention_and_keeps_the_chain(store: Store) -> None:
    await _records_at(store, 400, 300, 184, 182, 10)
    result = await store.audit.purge(NOW)
    assert (result.removed, result.through_id) == (3, 3)
    assert result.record is not None
    assert (result.record.id, result.record.action, result.record.actor_id) == (
        6,
        PURGE_ACTION,
        None,
    )
    assert (result.record.worker_key, result.record.channel) == (None, None)
    assert result.record.detail is not None
    assert result.record.detail["removed"] == 3
    assert result.record.detail["through_id"] == 3
    assert result.record.detail["retention_days"] == 183
    left = await store.audit.query(first=10)
    assert [r.id for r in left.items] == [6, 5, 4]
    check = await store.audit.verify_chain()
    assert (check.ok, check.checked, check.checkpoint_id, check.last_id) == (True, 3, 3, 6)
    # Nothing more is due: no purge, no record of one.
    again = await store.audit.purge(NOW)
    assert (again.removed, again.through_id, again.record) == (0, 3, None)
    assert (await store.audit.query(first=10)).items == left.items
    # A year on, everything up to the last purge goes, that purge's record with it.
    later = await store.audit.purge(NOW + dt.timedelta(days=365))
    assert (later.removed, later.through_id) == (3, 6)
    assert [r.id for r in (await store.audit.query(first=10)).items] == [7]
    check = await store.audit.verify_chain()
    assert (check.ok, check.checked, check.checkpoint_id) == (True, 1, 6)


async def test_a_purge_keeps_a_record_just_within_the_period(store: Store) -> None:
    await _records_at(store, 183.01, 182.99)
    result = await store.audit.purge(NOW)
    assert (result.removed, result.through_id) == (1, 1)
    assert [r.id for r in (await store.audit.query(first=10)).items] == [3, 2]


async def test_a_purge_removes_only_the_oldest_run(store: Store) -> None:
    # Record 2 is recent among old ones (a clock set wrong, a late writer):
    # removing record 3 would cut the chain, so it stays.
    await _records_at(store, 300, 1, 300)
    result = await store.audit.purge(NOW)
    assert (result.removed, result.through_id) == (1, 1)
    assert (await store.audit.verify_chain()).ok


async def test_an_empty_or_recent_log_is_left_alone(store: Store) -> None:
    assert (await store.audit.purge(NOW)).removed == 0
    await _records_at(store, 1)
    assert (await store.audit.purge(NOW)).removed == 0
    assert (await store.audit.query(first=5)).items[0].action == "read_worker"


async def test_a_longer_retention_keeps_more(store: Store) -> None:
    await _records_at(store, 400, 300)
    audit = AuditLog(store.db, AUDIT_KEY, AuditRetention(days=365))
    assert (await audit.purge(NOW)).through_id == 1
    assert (await audit.verify_chain()).ok


async def test_a_purge_refuses_to_remove_a_tampered_record(store: Store) -> None:
    await _records_at(store, 400, 300, 10)
    async with store.db.write() as conn:
        await conn.execute(
            sa.update(t.audit_records).where(t.audit_records.c.id == 2).values(result="refused")
        )
    with pytest.raises(AuditChainBroken) as caught:
        await store.audit.purge(NOW)
    assert caught.value.first_broken_id == 2
    assert len((await store.audit.query(first=10)).items) == 3  # the evidence stays


async def test_a_checkpoint_moved_by_hand_breaks_the_chain(store: Store) -> None:
    await _records_at(store, 400, 300, 10, 5)
    await store.audit.purge(NOW)  # removes 1 and 2, checkpoint 2
    # Cut one more, and move the checkpoint to match: no purge says so.
    hash3 = await _record_hash_of(store, 3)
    async with store.db.write() as conn:
        await conn.execute(sa.delete(t.audit_records).where(t.audit_records.c.id == 3))
        await conn.execute(sa.update(t.audit_head).values(base_id=3, base_hash=hash3))
    check = await store.audit.verify_chain()
    assert (check.ok, check.first_broken_id) == (False, 4)
    with pytest.raises(AuditChainBroken):
        await store.audit.purge(NOW + dt.timedelta(days=365))


async def test_a_checkpoint_put_back_to_the_start_breaks_the_chain(store: Store) -> None:
    await _records_at(store, 400, 10)
    await store.audit.purge(NOW)
    async with store.db.write() as conn:
        await conn.execute(sa.update(t.audit_head).values(base_id=0, base_hash=t.GENESIS_HASH))
    check = await store.audit.verify_chain()
    assert (check.ok, check.first_broken_id) == (False, 1)


async def test_a_record_put_back_under_the_checkpoint_shows(store: Store) -> None:
    await _records_at(store, 400, 10)
    first = (await store.audit.query(first=5)).items[-1]
    await store.audit.purge(NOW)
    async with store.db.write() as conn:
        values = dataclasses.asdict(first) | {"actor_role": "clerk", "channel": "service_window"}
        values |= {"result": "allowed", "detail": None}
        await conn.execute(sa.insert(t.audit_records).values(**values))
    check = await store.audit.verify_chain()
    assert (check.ok, check.first_broken_id) == (False, 1)


async def test_records_appended_while_purging_keep_one_chain(store: Store) -> None:
    await _records_at(store, *([300] * 20))
    clerk, code = await _clerk(store)

    async def read() -> None:
        await store.audit.record(
            actor=clerk,
            action="read_worker",
            id_type="RESIDENT_ID",
            id_number=resident_id(),
            credit_code=code,
            channel="service_window",
            result="allowed",
        )

    await asyncio.gather(store.audit.purge(NOW), *(read() for _ in range(10)))
    check = await store.audit.verify_chain()
    assert check.ok
    assert check.checkpoint_id == 20
    assert check.checked == 11  # ten reads and the purge


async def test_the_periodic_purge_runs_and_survives_a_broken_chain(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await _records_at(store, 400, 10)
    stop = asyncio.Event()

    def clock() -> dt.datetime:
        stop.set()  # one round, then the loop sees the stop
        return NOW

    await purge_periodically(store.audit, stop=stop, clock=clock)
    assert (await store.audit.verify_chain()).checkpoint_id == 1

    async with store.db.write() as conn:
        await conn.execute(
            sa.update(t.audit_records).where(t.audit_records.c.id == 2).values(result="refused")
        )
    stop.clear()

    def a_year_on() -> dt.datetime:
        stop.set()
        return NOW + dt.timedelta(days=365)

    with caplog.at_level(logging.ERROR, logger="gateway.audit"):
        await purge_periodically(store.audit, stop=stop, clock=a_year_on)
    errors = [r for r in caplog.records if r.name == "gateway.audit" and r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["audit chain broken: nothing purged"]
    assert errors[0].audit_first_broken_id == 2  # type: ignore[attr-defined]


async def test_the_command_functions_verify_and_purge_a_store(store: Store, store_url: str) -> None:
    await _records_at(store, 400, 10)
    result = await purge_store(store_url, AUDIT_KEY, AuditRetention(), NOW)
    assert result.removed == 1
    check = await verify_store(store_url, AUDIT_KEY)
    assert (check.ok, check.checkpoint_id, check.checked) == (True, 1, 2)


async def test_records_written_before_the_upgrade_still_verify(store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0002"))
        prev = t.GENESIS_HASH
        rows = []
        for i in (1, 2):
            values = {
                "id": i,
                "at": NOW,
                "actor_id": 7,
                "actor_username": "clerk",
                "actor_role": "clerk",
                "action": "read_worker",
                "worker_id_type": "RESIDENT_ID",
                "worker_masked": "370102********0011",
                "worker_key": "a" * 64,
                "credit_code": None,
                "channel": "service_window",
                "result": "allowed",
                "prev_hash": prev,
            }
            values["hash"] = prev = record_hash(values)
            rows.append(values)
        old = sa.table(
            "audit_records",
            *(sa.column(k) for k in rows[0] if k != "at"),
            sa.column("at", t.UTCDateTime()),
        )
        async with engine.begin() as conn:
            await conn.execute(sa.insert(old), rows)
            await conn.execute(
                sa.text("UPDATE audit_head SET last_id = 2, last_hash = :h"), {"h": prev}
            )
    finally:
        await engine.dispose()
    store = await Store.open(store_url, passwords=cheap_passwords(), audit_key=AUDIT_KEY)
    try:
        check = await store.audit.verify_chain()
        assert (check.ok, check.checked) == (True, 2)
        assert [r.reference for r in (await store.audit.query(first=5)).items] == [None, None]
    finally:
        await store.close()


async def test_a_store_is_opened_with_the_audit_key_it_was_written_with_only(
    store_url: str,
) -> None:
    first = await Store.open(store_url, passwords=cheap_passwords(), audit_key=AUDIT_KEY)
    try:
        _, clerk, code = await _people(first)
        number = resident_id()
        await first.audit.record(
            actor=clerk,
            action="read_worker",
            id_type=IdType.RESIDENT_ID,
            id_number=number,
            credit_code=code,
            channel="service_window",
            result=AuditResult.ALLOWED,
        )
    finally:
        await first.close()
    # Another key would hash the same worker otherwise, and find none of its records.
    with pytest.raises(AuditKeyMismatch, match="HRSS_AUDIT_KEY is not the key") as refused:
        await Store.open(store_url, passwords=cheap_passwords(), audit_key=secrets.token_bytes(32))
    assert isinstance(refused.value, ConfigurationError)  # one line from the commands
    assert AUDIT_KEY.hex() not in str(refused.value)
    # The accounts command opens it without a key; the right key still finds the worker.
    async with await Store.open(store_url, passwords=cheap_passwords()) as keyless:
        assert await keyless.accounts.get("nobody") is None  # opened, and usable
    async with await Store.open(
        store_url, passwords=cheap_passwords(), audit_key=AUDIT_KEY
    ) as again:
        page = await again.audit.query(
            worker_key=again.audit.worker_key(IdType.RESIDENT_ID, number), first=10
        )
        assert [r.action for r in page.items] == ["read_worker"]


async def test_a_store_from_before_the_check_takes_the_key_it_is_next_opened_with(
    empty_store_url: str,
) -> None:
    db = Database(create_engine(empty_store_url))
    try:
        await db.migrate("0005")
    finally:
        await db.close()
    key = secrets.token_bytes(32)
    # Two processes open it at once: one key is written, and both have it.
    opened = await asyncio.gather(
        *(Store.open(empty_store_url, passwords=cheap_passwords(), audit_key=key) for _ in range(2))
    )
    for store in opened:
        await store.close()
    async with (
        await Store.open(empty_store_url, passwords=cheap_passwords()) as store,
        store.db.read() as conn,
    ):
        stored = (await conn.execute(sa.select(t.audit_head.c.key_check))).scalar_one()
    assert stored == key_check(key)
    assert key.hex() not in stored
    with pytest.raises(AuditKeyMismatch):
        await Store.open(empty_store_url, passwords=cheap_passwords(), audit_key=AUDIT_KEY)
