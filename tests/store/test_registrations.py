"""Registrations in the store: idempotent submission, worker locks, leased steps,
versions, lists, on SQLite and PostgreSQL, including under concurrency."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.domain.model import (
    Business as RowBusiness,
)
from gateway.domain.model import (
    ContractType,
    Education,
    EmployerProfile,
    EmploymentForm,
    EmploymentPersonCategory,
    EndReason,
    FilingPersonCategory,
    Gender,
    IdType,
    RegistrationRow,
    System,
)
from gateway.registrations.decisions import ScheduleSteps, Write, stalled, to_send
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
    Warning,
    request_hash,
)
from gateway.registrations.plan import (
    FileContractRequest,
    new_id,
    plan_account,
    plan_row,
    step_request,
)
from gateway.registrations.ports import (
    AuditAs,
    Created,
    KeyConflict,
    RegistrationFilter,
    Replayed,
    WorkersBusy,
)
from gateway.store import InvalidCursor, RegistrationNotFound, StepNotFound, Store
from gateway.store import tables as t
from gateway.store.registrations import rows, writes
from tests import factories
from tests.store.conftest import AUDIT_KEY, cheap_passwords

# Not UTC on purpose: the store hands back the same instants in UTC.
CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2024, 6, 10, 9, 30, 15, 123456, tzinfo=CST)
SECOND = dt.timedelta(seconds=1)
LEASE = dt.timedelta(seconds=30)
IDS: dict[System, str | None] = {
    System.EMPLOYMENT: "E-0001",
    System.LABOUR: "L-0001",
    System.UNEMPLOYMENT: "U-0001",
}
LATE = Warning("LATE_REGISTRATION", "start_date", "逾期登记", "Registered late")
_keys = itertools.count(1)


# ------------------------------------------------------------------ builders


def row(business: RowBusiness = RowBusiness.HIRE, **changes: Any) -> RegistrationRow:
    """A complete row of ``business`` for a fresh worker."""
    base = RegistrationRow(
        business=business,
        name="张三",
        gender=Gender.MALE,
        ethnicity="01",
        id_type=IdType.RESIDENT_ID,
        id_number=factories.resident_id(),
        mobile=factories.mobile(),
        household_address="山东省济南市历下区泉城路1号",
        current_address="山东省济南市市中区经七路2号",
        education=Education.BACHELOR,
        contract_type=ContractType.FIXED_TERM,
        start_date=dt.date(2024, 6, 1),
        contract_end_date=dt.date(2027, 5, 31),
        employment_person_category=EmploymentPersonCategory.COLLEGE_GRADUATE,
        filing_person_category=FilingPersonCategory.URBAN_EMPLOYEE,
        employment_form=EmploymentForm.FULL_TIME,
        post="会计",
        employment_locality="370102",
        labour_filing_locality="370102",
    )
    if business is RowBusiness.END:
        base = dataclasses.replace(base, end_reason=EndReason.AGREEMENT, end_date=NOW.date())
    return dataclasses.replace(base, **changes)


def submission(
    key: str | None = None,
    *,
    actor_id: int | None = 7,
    content: Any = "content",
    at: dt.datetime = NOW,
    keep: dt.timedelta = dt.timedelta(hours=24),
) -> Submission:
    return Submission(
        id=new_id(),
        actor_id=actor_id,
        idempotency_key=key or f"key-{next(_keys)}",
        request_hash=request_hash(content),
        registration_ids=(),
        created_at=at,
        expires_at=at + keep,
    )


def common(sub: Submission, at: dt.datetime = NOW, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "submission_id": sub.id,
        "channel": Channel.SERVICE_WINDOW,
        "actor_id": sub.actor_id,
        "actor_username": "clerk1",
        "warnings": [],
        "now": at,
        "step_deadline": dt.timedelta(hours=1),
    }
    values.update(changes)
    return values


def worker(
    sub: Submission,
    r: RegistrationRow | None = None,
    *,
    credit_code: str = "913701020000000001",
    division: str = "370102",
    at: dt.datetime = NOW,
    **changes: Any,
) -> Registration:
    return plan_row(r or row(), credit_code, division, IDS, **common(sub, at, **changes))


def account(sub: Submission, credit_code: str = "913701020000000001") -> Registration:
    profile = EmployerProfile(credit_code, "济南示例有限公司", "370102", "李四", "0531-1234567")
    return plan_account(profile, **common(sub, actor_id=None, actor_username=None))


async def submit_one(store: Store, registration: Registration, sub: Submission) -> Registration:
    outcome = await store.registrations.submit(sub, [registration])
    assert isinstance(outcome, Created)
    return outcome.registrations[0]


async def counts(store: Store) -> dict[str, int]:
    tables = (t.submissions, t.registrations, t.steps, t.worker_locks)
    async with store.db.read() as conn:
        return {
            table.name: await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            for table in tables
        }


def step_of(registration: Registration, operation: Operation) -> Step:
    return next(s for s in registration.steps if s.operation is operation)


# -------------------------------------------------------------- the schema


def test_the_tables_allow_every_value_of_the_model() -> None:
    assert tuple(Business) == t.BUSINESSES
    assert tuple(RegistrationState) == t.REGISTRATION_STATES
    assert tuple(StepState) == t.STEP_STATES
    assert tuple(Channel) == t.CHANNELS
    assert tuple(StepKind) == t.STEP_KINDS


async def test_a_step_of_a_system_beyond_the_core_is_stored_as_any_other(store: Store) -> None:
    """Systems and operations are those registered when the gateway runs: the
    schema keeps any, under the longest name a system may have."""
    sub = submission()
    hire = worker(sub)
    system = System("s" * 32)
    hire.steps[0].system = system
    hire.steps[0].operation = Operation("A_WRITE_OF_ANOTHER_SYSTEM")
    await submit_one(store, hire, sub)
    stored = await store.registrations.get(hire.id)
    assert stored is not None
    assert stored.steps[0].system is system
    assert stored.steps[0].operation is Operation("A_WRITE_OF_ANOTHER_SYSTEM")


# -------------------------------------------------------------- submitting


async def test_registrations_and_steps_come_back_as_stored(store: Store) -> None:
    sub = submission()
    hire = worker(sub, warnings=[LATE])
    end = worker(sub, row(RowBusiness.END, register_unemployment=True))
    end.steps[0].last_error = StepError("SYSTEM_UNAVAILABLE", "系统不可用", "Down", "503")
    end.failure = StepError("SYSTEM_REJECTED", "拒绝", "Refused", "E12", "post")
    opening = account(sub)
    given = [hire, end, opening]

    outcome = await store.registrations.submit(sub, given)

    assert outcome == Created(given)
    for registration in given:
        assert await store.registrations.get(registration.id) == registration
    stored = await store.registrations.get(end.id)
    assert stored is not None
    # By stage, then as planned; a later stage is not due before the earlier one is done.
    assert [(s.stage, s.operation) for s in stored.steps] == [
        (0, Operation.DISMISS),
        (0, Operation.END_CONTRACT),
        (1, Operation.REGISTER_UNEMPLOYMENT),
    ]
    assert stored.steps[2].next_attempt_at is None
    assert stored.created_at is not None
    assert stored.created_at.utcoffset() == dt.timedelta(0)
    assert stored.warnings == []
    assert stored.failure == end.failure
    again = await store.registrations.get(hire.id)
    assert again is not None
    assert again.warnings == [LATE]
    # What a worker sends is exactly what was planned.
    contract = step_request(step_of(again, Operation.FILE_CONTRACT))
    assert isinstance(contract, FileContractRequest)
    assert contract == step_request(step_of(hire, Operation.FILE_CONTRACT))
    assert (await store.registrations.get(opening.id)) == opening
    assert await store.registrations.get("nothing") is None
    assert await counts(store) == {
        "submissions": 1,
        "registrations": 3,
        "steps": 2 + 3 + 3,
        "worker_locks": 2,  # an account opening locks no worker
    }


async def test_timestamps_missing_from_a_plan_are_the_submission_s(store: Store) -> None:
    sub = submission()
    bare = worker(sub)
    bare.created_at = bare.updated_at = None
    for s in bare.steps:
        s.created_at = s.updated_at = None
    [stored] = (await store.registrations.submit(sub, [bare])).registrations  # type: ignore[union-attr]
    assert stored.created_at == sub.created_at
    assert {s.created_at for s in stored.steps} == {sub.created_at}
    assert await store.registrations.get(bare.id) == stored


async def test_the_same_key_and_content_replays_the_first_registrations(store: Store) -> None:
    first = submission("k")
    created = [worker(first), account(first)]
    assert isinstance(await store.registrations.submit(first, created), Created)

    retry = submission("k")  # the retry plans again: new ids, same content
    outcome = await store.registrations.submit(retry, [worker(retry), account(retry)])

    assert outcome == Replayed(created)
    assert await counts(store) == {
        "submissions": 1,
        "registrations": 2,
        "steps": 5,
        "worker_locks": 1,
    }


async def test_a_submission_inserted_in_several_statements_keeps_its_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large submission's rows go in by ``ROWS_PER_INSERT`` (so that the event loop
    runs between two statements): its registrations and steps all stored, in order."""
    monkeypatch.setattr(rows, "ROWS_PER_INSERT", 2)
    first = submission("k")
    created = [worker(first) for _ in range(5)]
    outcome = await store.registrations.submit(first, created)
    assert isinstance(outcome, Created)
    assert await counts(store) == {
        "submissions": 1,
        "registrations": 5,
        "steps": sum(len(r.steps) for r in created),
        "worker_locks": 5,
    }
    # Read back in the submission's order, as a replay reads it.
    retry = submission("k")
    assert await store.registrations.submit(retry, [worker(retry) for _ in range(5)]) == Replayed(
        outcome.registrations
    )


async def test_the_same_key_with_other_content_is_refused_and_stores_nothing(
    store: Store,
) -> None:
    first = submission("k", content="one")
    await submit_one(store, worker(first), first)
    before = await counts(store)

    other = submission("k", content="two")
    fresh = worker(other)
    assert await store.registrations.submit(other, [fresh]) == KeyConflict()

    assert await counts(store) == before
    assert await store.registrations.get(fresh.id) is None
    assert fresh.person_key is not None
    assert await store.registrations.busy_workers([fresh.person_key]) == []


async def test_keys_are_per_actor_and_anonymous_keys_are_idempotent(store: Store) -> None:
    for actor in (7, 8, None):
        sub = submission("k", actor_id=actor)
        assert isinstance(await store.registrations.submit(sub, [worker(sub)]), Created)
    anonymous = submission("open", actor_id=None)
    opened = account(anonymous)
    await submit_one(store, opened, anonymous)
    retry = submission("open", actor_id=None)
    assert await store.registrations.submit(retry, [account(retry)]) == Replayed([opened])
    assert (await counts(store))["submissions"] == 4


async def test_a_worker_is_locked_until_the_registration_releases_it(store: Store) -> None:
    r = row()
    first = submission()
    hire = await submit_one(store, worker(first, r), first)
    key = hire.person_key
    assert key == f"RESIDENT_ID:{r.id_number}"
    before = await counts(store)

    second = submission()
    outcome = await store.registrations.submit(
        second, [worker(second), worker(second, row(RowBusiness.END, id_number=r.id_number))]
    )
    assert outcome == WorkersBusy([key])
    assert await counts(store) == before  # not even the other worker's

    other = "RESIDENT_ID:110101199003070011"
    assert await store.registrations.busy_workers([other, key, key]) == [key]
    await store.registrations.update_registration(
        hire.id, state=RegistrationState.IN_PROGRESS, now=NOW
    )
    assert await store.registrations.busy_workers([key]) == [key]
    await store.registrations.update_registration(
        hire.id, state=RegistrationState.COMPLETED, now=NOW, release_worker=True
    )
    assert await store.registrations.busy_workers([key]) == []

    third = submission()
    await submit_one(store, worker(third, row(RowBusiness.END, id_number=r.id_number)), third)
    assert await store.registrations.busy_workers([key]) == [key]


async def test_one_submission_cannot_hold_the_same_worker_twice(store: Store) -> None:
    sub = submission()
    r = row()
    twice = [worker(sub, r), worker(sub, row(RowBusiness.RENEW, id_number=r.id_number))]
    key = twice[0].person_key
    assert key is not None
    assert await store.registrations.submit(sub, twice) == WorkersBusy([key])
    assert await counts(store) == dict.fromkeys(
        ("submissions", "registrations", "steps", "worker_locks"), 0
    )


async def test_account_openings_lock_no_worker(store: Store) -> None:
    for _ in range(2):
        sub = submission()
        await submit_one(store, account(sub), sub)
    assert (await counts(store))["worker_locks"] == 0


async def test_a_registration_of_another_submission_is_refused(store: Store) -> None:
    sub, other = submission(), submission()
    with pytest.raises(ValueError, match="submission"):
        await store.registrations.submit(sub, [worker(other)])


async def test_concurrent_submissions_of_one_key_create_once(store: Store) -> None:
    async def attempt() -> Any:
        sub = submission("same", content={"rows": 1})
        return await store.registrations.submit(sub, [worker(sub, r)])

    r = row()
    outcomes = await asyncio.gather(*(attempt() for _ in range(50)))

    kinds = Counter(type(o).__name__ for o in outcomes)
    assert kinds == {"Created": 1, "Replayed": 49}
    [created] = [o for o in outcomes if isinstance(o, Created)]
    ids = [reg.id for reg in created.registrations]
    assert all([reg.id for reg in o.registrations] == ids for o in outcomes)
    assert (await counts(store))["registrations"] == 1


async def test_concurrent_submissions_for_one_worker_create_once(store: Store) -> None:
    async def attempt() -> Any:
        sub = submission()  # a key of its own
        return await store.registrations.submit(sub, [worker(sub, r)])

    r = row()
    outcomes = await asyncio.gather(*(attempt() for _ in range(50)))

    kinds = Counter(type(o).__name__ for o in outcomes)
    assert kinds == {"Created": 1, "WorkersBusy": 49}
    key = f"RESIDENT_ID:{r.id_number}"
    assert all(o.person_keys == [key] for o in outcomes if isinstance(o, WorkersBusy))
    assert await counts(store) == {
        "submissions": 1,
        "registrations": 1,
        "steps": 2,
        "worker_locks": 1,
    }


async def test_expired_keys_are_forgotten_and_their_registrations_kept(store: Store) -> None:
    short = submission("short", keep=dt.timedelta(hours=1))
    kept = submission("kept", keep=dt.timedelta(hours=48))
    early = await submit_one(store, account(short), short)
    late = await submit_one(store, account(kept), kept)

    assert await store.registrations.expire_submissions(NOW + dt.timedelta(hours=1)) == 0
    assert await store.registrations.expire_submissions(NOW + dt.timedelta(hours=25)) == 1

    assert await store.registrations.get(early.id) == early
    again = submission("short")
    assert isinstance(await store.registrations.submit(again, [account(again)]), Created)
    retry = submission("kept")
    assert await store.registrations.submit(retry, [account(retry)]) == Replayed([late])


# -------------------------------------------------------------- carrying out


async def test_claim_takes_due_steps_oldest_first(store: Store) -> None:
    late_sub, early_sub = submission(), submission()
    late = await submit_one(store, worker(late_sub, at=NOW + 5 * SECOND), late_sub)
    end = worker(early_sub, row(RowBusiness.END, register_unemployment=True))
    early = await submit_one(store, end, early_sub)

    assert await store.registrations.claim("w1", now=NOW - SECOND, lease=LEASE, limit=10) == []
    claimed = await store.registrations.claim("w1", now=NOW, lease=LEASE, limit=10)
    # Stage 1 (next_attempt_at NULL) is never due, whatever the time.
    assert {s.id for s in claimed} == {s.id for s in early.steps if s.stage == 0}
    assert {(s.lease_owner, s.lease_until) for s in claimed} == {("w1", NOW + LEASE)}

    later = NOW + dt.timedelta(days=365)
    # The lapsed leases of w1 are taken back first: their steps were due earliest.
    claimed = await store.registrations.claim("w2", now=later, lease=LEASE, limit=2)
    assert [s.id for s in claimed] == sorted(s.id for s in early.steps[:2])
    rest = await store.registrations.claim("w2", now=later, lease=LEASE, limit=10)
    assert [s.id for s in rest] == sorted(s.id for s in late.steps)  # stage 1 still not


async def test_a_live_lease_keeps_others_out_until_it_lapses(store: Store) -> None:
    sub = submission()
    hire = await submit_one(store, worker(sub), sub)
    taken = await store.registrations.claim("w1", now=NOW, lease=LEASE, limit=10)
    assert len(taken) == 2

    for at in (NOW, NOW + LEASE - SECOND, NOW + LEASE):
        assert await store.registrations.claim("w2", now=at, lease=LEASE, limit=10) == []
    again = await store.registrations.claim("w2", now=NOW + LEASE + SECOND, lease=LEASE, limit=10)
    assert {s.id for s in again} == {s.id for s in hire.steps}
    assert {s.lease_owner for s in again} == {"w2"}


async def test_claim_skips_steps_at_rest_and_registrations_at_rest(store: Store) -> None:
    subs = [submission() for _ in range(3)]
    done, attention, final = [await submit_one(store, worker(s), s) for s in subs]
    await store.registrations.update_registration(
        attention.id, state=RegistrationState.NEEDS_ATTENTION, now=NOW
    )
    await store.registrations.update_registration(
        final.id, state=RegistrationState.CANCELLED, now=NOW
    )
    [step, other] = done.steps
    await store.registrations.claim("w1", now=NOW, lease=LEASE, limit=10)
    for s, state in ((step, StepState.DONE), (other, StepState.UNKNOWN)):
        s.state, s.lease_owner, s.lease_until = state, None, None
        assert await store.registrations.save_step(s, owner="w1", now=NOW)

    later = NOW + dt.timedelta(hours=1)
    claimed = await store.registrations.claim("w2", now=later, lease=LEASE, limit=10)
    assert [s.id for s in claimed] == [other.id]  # UNKNOWN is worked on: asked, then sent


async def test_concurrent_claimers_never_share_a_step(store_url: str, store: Store) -> None:
    expected = set()
    for _ in range(20):
        sub = submission()
        expected |= {s.id for s in (await submit_one(store, worker(sub), sub)).steps}
    other = await Store.open(store_url, passwords=cheap_passwords(), audit_key=AUDIT_KEY)

    async def claimer(s: Store, name: str) -> list[str]:
        got: list[str] = []
        while taken := await s.registrations.claim(name, now=NOW, lease=LEASE, limit=3):
            assert {step.lease_owner for step in taken} == {name}
            got += [step.id for step in taken]
            # As a worker does between claims: the others get their turn.
            await asyncio.sleep(0.001)
        return got

    try:
        results = await asyncio.gather(
            *(claimer(s, f"{s is store}-{i}") for s in (store, other) for i in range(3))
        )
    finally:
        await other.close()
    everything = [step_id for got in results for step_id in got]
    assert len(everything) == len(set(everything)) == len(expected)
    assert set(everything) == expected
    assert sum(1 for got in results if got) >= 2  # they did compete


async def test_bumping_registrations_waits_for_no_foreign_key_check(
    migrated_postgres_database: str,
) -> None:
    """PostgreSQL: a transaction that writes a step row a second time (a claim
    leases its steps, then saves those it sends SENDING) has the foreign-key check
    lock the step's registration FOR KEY SHARE until it commits. Locking several
    registrations to bump them (the end of a claim) must not wait for that lock:
    two claims in processes of their own each waited for the other's, a deadlock
    PostgreSQL broke a second later, one claim failed."""
    store = await Store.open(
        migrated_postgres_database, passwords=cheap_passwords(), audit_key=AUDIT_KEY
    )
    try:
        first, second = submission(), submission()
        hire = await submit_one(store, worker(first), first)
        other = await submit_one(store, worker(second), second)
        stamp = sa.update(t.steps).where(t.steps.c.id == hire.steps[0].id)
        async with store.db.write() as claiming:
            await claiming.execute(stamp.values(lease_owner="w1"))
            await claiming.execute(stamp.values(lease_owner="w1"))  # the check runs here
            async with store.db.write() as bumping:
                # Failing fast rather than waiting for the first to commit, which it
                # cannot do while this test waits.
                await bumping.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
                await writes.bump(bumping, [hire.id, other.id], NOW, start=True)
        found = await store.registrations.get(hire.id)
        assert found is not None
        assert found.version == hire.version + 1
    finally:
        await store.close()


async def test_save_step_needs_the_lease(store: Store) -> None:
    sub = submission()
    hire = await submit_one(store, worker(sub), sub)
    step = hire.steps[0]
    assert not await store.registrations.save_step(step, owner="w1", now=NOW)  # never leased

    [mine, _] = await store.registrations.claim("w1", now=NOW, lease=LEASE, limit=10)
    lapsed = NOW + LEASE + SECOND
    theirs = await store.registrations.claim("w2", now=lapsed, lease=LEASE, limit=10)
    assert mine.id in {s.id for s in theirs}

    mine.state, mine.attempts, mine.reference = StepState.DONE, 1, "late-ref"
    assert not await store.registrations.save_step(mine, owner="w1", now=lapsed)
    stored = await store.registrations.get(hire.id)
    assert stored is not None
    kept = next(s for s in stored.steps if s.id == mine.id)
    assert (kept.state, kept.reference, kept.lease_owner) == (StepState.PENDING, None, "w2")
    assert stored.version == hire.version

    error = StepError("SYSTEM_UNAVAILABLE", "系统维护", "Maintenance", "503")
    saved = dataclasses.replace(
        kept,
        state=StepState.SENDING,
        attempts=1,
        next_attempt_at=lapsed + LEASE,
        last_error=error,
        lease_owner=None,
        lease_until=None,
    )
    assert await store.registrations.save_step(saved, owner="w2", now=lapsed)
    stored = await store.registrations.get(hire.id)
    assert stored is not None
    assert next(s for s in stored.steps if s.id == mine.id) == dataclasses.replace(
        saved, updated_at=lapsed
    )
    assert stored.version == hire.version + 1
    assert stored.updated_at == lapsed
    # Released: nobody holds it, so not even w2 can save it again.
    assert not await store.registrations.save_step(saved, owner="w2", now=lapsed)


async def test_the_version_grows_with_every_change(store: Store) -> None:
    sub = submission()
    end = await submit_one(
        store, worker(sub, row(RowBusiness.END, register_unemployment=True)), sub
    )
    versions = [end.version]

    async def version() -> int:
        found = await store.registrations.get(end.id)
        assert found is not None
        return found.version

    await store.registrations.claim("w1", now=NOW, lease=LEASE, limit=10)
    assert await version() == versions[-1]  # a lease is not a change anyone sees
    await store.registrations.update_registration(
        end.id, state=RegistrationState.IN_PROGRESS, now=NOW
    )
    versions.append(await version())
    for s in end.steps[:2]:
        s.state = StepState.DONE
        await store.registrations.save_step(s, owner="w1", now=NOW)
        versions.append(await version())
    await store.registrations.schedule([s.id for s in end.steps], at=NOW)
    versions.append(await version())  # once for the registration, not once per step
    assert versions == list(range(end.version, end.version + 5))


async def test_every_change_that_grows_a_version_is_told_once_committed(store: Store) -> None:
    """Subscribers in other processes are woken by ``on_change``: the claim that
    starts a registration and a step finished with what follows tell it too."""
    sub = submission()
    end = await submit_one(
        store, worker(sub, row(RowBusiness.END, register_unemployment=True)), sub
    )
    first, second, unemployment = end.steps
    told: list[list[str]] = []

    def on_change(ids: Sequence[str]) -> None:
        # Called once committed: another connection already reads the change.
        told.append(list(ids))

    store.registrations.on_change = on_change

    # Leased only: nothing anyone sees changed, nothing told.
    await store.registrations.take("w1", now=NOW, lease=LEASE, limit=1)
    assert told == []

    # Leased and saved SENDING, the registration started: told.
    later = NOW + LEASE + SECOND
    claimed = await store.registrations.take(
        "w2", now=later, lease=LEASE, limit=10, send=lambda s, r: to_send(s, r, later)
    )
    assert {c.step.id for c in claimed if c.sending} == {first.id, second.id}
    assert told == [[end.id]]
    stored = await store.registrations.get(end.id)
    assert stored is not None
    assert stored.state is RegistrationState.IN_PROGRESS

    # A step finished, and what follows stored with it: told once, after.
    done = next(c.step for c in claimed if c.step.id == first.id)
    done.state = StepState.DONE

    def schedule_the_last(registration: Registration) -> list[Write]:
        assert registration.version == stored.version + 1  # read with the step saved
        return [ScheduleSteps((unemployment.id,), at=later, expect=(StepState.PENDING,))]

    told.clear()
    decided = await store.registrations.finish_step(
        done, owner="w2", now=later, decide=schedule_the_last
    )
    assert decided is not None
    assert decided.applied == 1
    assert told == [[end.id]]
    # Lost lease: nothing written, nothing told.
    assert await store.registrations.finish_step(done, owner="w1", now=later, decide=list) is None
    assert told == [[end.id]]

    told.clear()
    await store.registrations.schedule([unemployment.id], at=later)
    await store.registrations.update_registration(
        end.id, state=RegistrationState.NEEDS_ATTENTION, now=later
    )
    assert told == [[end.id], [end.id]]


async def test_schedule_makes_steps_due_without_a_lease(store: Store) -> None:
    sub = submission()
    end = await submit_one(
        store, worker(sub, row(RowBusiness.END, register_unemployment=True)), sub
    )
    first, second, unemployment = end.steps
    await store.registrations.claim("w1", now=NOW, lease=LEASE, limit=10)

    deadline = NOW + dt.timedelta(hours=2)
    await store.registrations.schedule(
        [unemployment.id, first.id], at=NOW + SECOND, state="UNDOING", deadline_at=deadline
    )
    stored = await store.registrations.get(end.id)
    assert stored is not None
    for s in (stored.steps[0], stored.steps[2]):
        assert (s.state, s.next_attempt_at, s.deadline_at) == (
            StepState.UNDOING,
            NOW + SECOND,
            deadline,
        )
        assert (s.lease_owner, s.lease_until) == (None, None)
    assert stored.steps[1].lease_owner == "w1"  # not asked for: untouched
    assert not await store.registrations.save_step(first, owner="w1", now=NOW)

    await store.registrations.schedule([second.id], at=NOW + SECOND)
    stored = await store.registrations.get(end.id)
    assert stored is not None
    assert stored.steps[1].state is StepState.PENDING
    assert stored.steps[1].deadline_at == second.deadline_at  # kept when not given
    claimed = await store.registrations.claim("w2", now=NOW + SECOND, lease=LEASE, limit=10)
    assert {s.id for s in claimed} == {s.id for s in end.steps}

    with pytest.raises(StepNotFound):
        await store.registrations.schedule([second.id, "nothing"], at=NOW + LEASE)
    stored = await store.registrations.get(end.id)
    assert stored is not None
    assert stored.steps[1].next_attempt_at == NOW + SECOND
    with pytest.raises(ValueError, match="LOST"):
        await store.registrations.schedule([second.id], at=NOW, state="LOST")


async def test_update_registration_keeps_the_reason_it_failed(store: Store) -> None:
    sub = submission()
    hire = await submit_one(store, worker(sub), sub)
    refused = StepError(
        "SYSTEM_REJECTED", "已存在劳动关系", "Already employed", "E0402", "id_number"
    )
    later = NOW + dt.timedelta(minutes=1)
    await store.registrations.update_registration(
        hire.id, state=RegistrationState.COMPENSATING, failure=refused, now=later
    )
    await store.registrations.update_registration(
        hire.id, state=RegistrationState.COMPENSATED, now=later, release_worker=True
    )
    stored = await store.registrations.get(hire.id)
    assert stored is not None
    assert (stored.state, stored.failure, stored.updated_at) == (
        RegistrationState.COMPENSATED,
        refused,
        later,
    )
    with pytest.raises(RegistrationNotFound):
        await store.registrations.update_registration(
            "nothing", state=RegistrationState.COMPLETED, now=NOW
        )


async def test_the_audit_record_of_a_submission_is_stored_with_it_or_not_at_all(
    store: Store,
) -> None:
    clerk = await store.accounts.create("clerk", "lantern-orchid-1", "clerk", divisions=["370100"])
    sub = submission(actor_id=clerk.id)
    given = [worker(sub), account(sub)]
    outcome = await store.registrations.submit(sub, given, audit_as=clerk)
    assert isinstance(outcome, Created)
    hire = outcome.registrations[0]
    (record,) = (await store.audit.query(first=10)).items
    assert (record.action, record.reference, record.actor_username) == (
        "submit_hire",
        hire.id,
        "clerk",
    )
    assert record.credit_code == hire.credit_code
    # A replay writes nothing, so it records nothing.
    replayed = await store.registrations.submit(sub, given, audit_as=clerk)
    assert isinstance(replayed, Replayed)
    assert len((await store.audit.query(first=10)).items) == 1

    # The audit record cannot be written: the registrations are not stored either.
    before = await counts(store)
    other = submission(actor_id=clerk.id)
    broken = dataclasses.replace(clerk, role="nobody")
    with pytest.raises(ValueError, match="nobody"):
        await store.registrations.submit(other, [worker(other)], audit_as=broken)
    assert await counts(store) == before
    assert len((await store.audit.query(first=10)).items) == 1
    assert (await store.audit.verify_chain()).ok


async def test_a_follow_up_is_amended_at_rest_only_with_its_audit_record(store: Store) -> None:
    clerk = await store.accounts.create("clerk", "lantern-orchid-1", "clerk", divisions=["370100"])
    sub = submission()
    ending = await submit_one(
        store, worker(sub, row(RowBusiness.END, register_unemployment=True)), sub
    )
    follow_up = step_of(ending, Operation.REGISTER_UNEMPLOYMENT)
    assert [s.kind for s in ending.steps] == [StepKind.CORE, StepKind.CORE, StepKind.FOLLOW_UP]
    regs = store.registrations
    refusal = StepError("SYSTEM_DUPLICATE", "已登记", "Already registered", "40902")
    later = NOW + dt.timedelta(minutes=1)
    corrected_row = {**ending.payload, "mobile": "13700001111"}
    corrected = {**follow_up.payload, "note": "corrected"}
    amend: dict[str, Any] = {
        "registration_id": ending.id,
        "expect": [StepState.REFUSED],
        "while_registration": RegistrationState.NEEDS_ATTENTION,
        "now": later,
        "state": StepState.PENDING,
        "error": refusal,
        "next_attempt_at": later,
        "deadline_at": later + dt.timedelta(hours=1),
        "payload": corrected,
        "row": corrected_row,
        "audit_as": AuditAs(clerk, "retry_follow_up", "service_window"),
    }
    # Not refused yet, and the registration does not wait for a person: nothing.
    assert not await regs.amend_step(follow_up.id, **amend)
    follow_up.state, follow_up.last_error = StepState.REFUSED, refusal
    await regs.schedule([follow_up.id], at=NOW, state=StepState.REFUSED.value)
    assert not await regs.amend_step(follow_up.id, **amend)
    await regs.update_registration(ending.id, state=RegistrationState.NEEDS_ATTENTION, now=NOW)
    before = await regs.get(ending.id)
    assert before is not None

    assert await regs.amend_step(follow_up.id, **amend)

    after = await regs.get(ending.id)
    assert after is not None
    changed = step_of(after, Operation.REGISTER_UNEMPLOYMENT)
    assert (changed.state, changed.last_error, changed.payload) == (
        StepState.PENDING,
        refusal,
        corrected,
    )
    assert (changed.next_attempt_at, changed.deadline_at, changed.finished_at) == (
        later,
        later + dt.timedelta(hours=1),
        None,
    )
    assert after.payload == corrected_row
    assert after.version > before.version
    # The core's steps are untouched.
    assert after.steps[:2] == before.steps[:2]
    (record,) = (await store.audit.query(action="retry_follow_up", first=10)).items
    assert (record.reference, record.actor_username, record.credit_code) == (
        ending.id,
        "clerk",
        ending.credit_code,
    )
    # Done once: a second person acting on the same read changes nothing.
    assert not await regs.amend_step(follow_up.id, **amend)
    assert len((await store.audit.query(action="retry_follow_up", first=10)).items) == 1
    with pytest.raises(StepNotFound):
        await regs.amend_step("nothing", **amend)


async def test_a_decision_on_an_earlier_read_changes_nothing_that_moved_since(
    store: Store,
) -> None:
    sub = submission()
    hire = await submit_one(store, worker(sub), sub)
    first, second = hire.steps
    regs = store.registrations
    # Steps: only those still in an expected state, and without a live lease.
    await regs.claim("w1", now=NOW, lease=LEASE, limit=1)
    leased = await regs.get(hire.id)
    assert leased is not None
    held = [s.id for s in leased.steps if s.lease_owner == "w1"]
    assert len(held) == 1
    version = leased.version
    assert (
        await regs.schedule(
            [first.id, second.id],
            at=NOW,
            state="UNDOING",
            expect=[StepState.PENDING],
            unleased_at=NOW,
        )
        == 1
    )
    assert not await regs.schedule([first.id, second.id], at=NOW, expect=[StepState.DONE])
    assert await _version(store, hire.id) == version + 1  # only the change counts
    stored = await regs.get(hire.id)
    assert stored is not None
    states = {s.id: (s.state, s.lease_owner) for s in stored.steps}
    (free,) = {first.id, second.id} - set(held)
    assert states == {held[0]: (StepState.PENDING, "w1"), free: (StepState.UNDOING, None)}
    with pytest.raises(StepNotFound):
        await regs.schedule([free, "nothing"], at=NOW, expect=[StepState.UNDOING])

    # A registration leaves only the states the caller read it in, and never a final one.
    assert await regs.update_registration(
        hire.id, state=RegistrationState.IN_PROGRESS, now=NOW, expect=[RegistrationState.ACCEPTED]
    )
    assert not await regs.update_registration(
        hire.id, state=RegistrationState.COMPLETED, now=NOW, expect=[RegistrationState.ACCEPTED]
    )
    assert await regs.update_registration(hire.id, state=RegistrationState.COMPENSATED, now=NOW)
    version = await _version(store, hire.id)
    assert not await regs.update_registration(
        hire.id, state=RegistrationState.COMPENSATING, now=NOW
    )
    stored = await regs.get(hire.id)
    assert stored is not None
    assert (stored.state, stored.version) == (RegistrationState.COMPENSATED, version)


async def _version(store: Store, registration_id: str) -> int:
    found = await store.registrations.get(registration_id)
    assert found is not None
    return found.version


# ------------------------------------------------------------------- listing


async def test_list_filters_and_pages_newest_first(store: Store) -> None:
    made: list[Registration] = []
    places = [
        ("913701020000000001", "370102"),
        ("913701030000000002", "370103"),
        ("913702010000000003", "370201"),
        ("914101010000000004", "410101"),
    ]
    for i, (code, division) in enumerate(places):
        sub = submission(at=NOW + i * SECOND)
        # Two registrations per submission: equal times, ordered by id.
        # The last two at the portal, by the employer itself.
        by = (
            {"channel": Channel.GOVERNMENT_PORTAL, "actor_username": "unit4"}
            if i == len(places) - 1
            else {}
        )
        pair = [
            worker(sub, credit_code=code, division=division, at=sub.created_at, **by),
            worker(
                sub,
                row(RowBusiness.END),
                credit_code=code,
                division=division,
                at=sub.created_at,
                **by,
            ),
        ]
        made += (await store.registrations.submit(sub, pair)).registrations  # type: ignore[union-attr]
    await store.registrations.update_registration(
        made[0].id, state=RegistrationState.NEEDS_ATTENTION, now=NOW
    )
    newest_first = sorted(made, key=lambda r: (r.created_at, r.id), reverse=True)

    async def ids(**f: Any) -> list[str]:
        page = await store.registrations.list(RegistrationFilter(**f), first=100)
        assert not page.has_next_page
        return [r.id for r in page.items]

    def expect(keep: Any) -> list[str]:
        return [r.id for r in newest_first if keep(r)]

    assert await ids() == expect(lambda r: True)
    assert await ids(credit_codes=[places[1][0], "unknown"]) == expect(
        lambda r: r.credit_code == places[1][0]
    )
    assert await ids(divisions=["370100"]) == expect(lambda r: r.division.startswith("3701"))
    assert await ids(divisions=["370000"]) == expect(lambda r: r.division.startswith("37"))
    assert await ids(divisions=["370102", "410000"]) == expect(
        lambda r: r.division in ("370102", "410101")
    )
    assert await ids(divisions=[]) == [] == await ids(credit_codes=[])
    assert await ids(states=[RegistrationState.NEEDS_ATTENTION]) == [made[0].id]
    assert await ids(business=Business.END) == expect(lambda r: r.business is Business.END)
    assert await ids(person_key=made[3].person_key) == [made[3].id]
    assert await ids(divisions=["370100"], business=Business.HIRE) == expect(
        lambda r: r.division.startswith("3701") and r.business is Business.HIRE
    )
    # Where, by whom and when it was submitted: a window's day, a unit's own.
    assert await ids(channel=Channel.GOVERNMENT_PORTAL) == [r.id for r in newest_first[:2]]
    assert await ids(actor_username="clerk1") == [r.id for r in newest_first[2:]]
    assert await ids(actor_username="nobody") == []
    assert await ids(since=NOW + SECOND, until=NOW + 3 * SECOND) == expect(
        lambda r: NOW + SECOND <= r.created_at < NOW + 3 * SECOND
    )
    assert len(await ids(since=NOW + SECOND, until=NOW + 3 * SECOND)) == 4
    # Counted with the same conditions, every page together.
    for f in (
        {},
        {"divisions": ["370100"]},
        {"channel": Channel.GOVERNMENT_PORTAL},
        {"since": NOW + 4 * SECOND},
    ):
        assert await store.registrations.count(RegistrationFilter(**f)) == len(await ids(**f))
    assert await ids(since=NOW + 4 * SECOND) == [] == await ids(until=NOW)

    pages, after = [], None
    while True:
        page = await store.registrations.list(RegistrationFilter(), first=3, after=after)
        pages.append([r.id for r in page.items])
        after = page.end_cursor
        if not page.has_next_page:
            break
    assert pages == [expect(lambda r: True)[i : i + 3] for i in range(0, 8, 3)]
    assert all(len(r.steps) >= 2 for r in page.items)  # with their steps
    empty = await store.registrations.list(RegistrationFilter(), first=3, after=after)
    assert (empty.items, empty.end_cursor, empty.has_next_page) == ([], None, False)

    with pytest.raises(ValueError, match="first"):
        await store.registrations.list(RegistrationFilter(), first=101)
    for bad in ("nonsense", "ZW1wbG95ZXI6OTE"):  # the second is an employers cursor
        with pytest.raises(InvalidCursor):
            await store.registrations.list(RegistrationFilter(), first=3, after=bad)


@pytest.mark.parametrize(
    "states",
    [
        # (first step's state, whether it has a next attempt), the same for the second.
        ((StepState.PENDING, True), (StepState.PENDING, False)),  # takeable: not stalled
        ((StepState.DONE, False), (StepState.PENDING, False)),  # the next stage unscheduled
        ((StepState.DONE, False), (StepState.DONE, False)),  # a worker died before the end
        ((StepState.DONE, False), (StepState.SENDING, False)),
        ((StepState.REFUSED, False), (StepState.UNDOING, False)),
        ((StepState.REFUSED, False), (StepState.UNKNOWN, True)),
        ((StepState.STUCK, False), (StepState.SKIPPED, False)),
    ],
)
async def test_the_store_finds_the_stalled_registrations_the_engine_would(
    store: Store, states: tuple[tuple[StepState, bool], tuple[StepState, bool]]
) -> None:
    """The sweep asks the store for the registrations under way with no step left to
    take, rather than reading every one under way with its steps, every 30 s: the
    store's condition and the engine's (``decisions.stalled``) agree."""
    sub = submission()
    registration = await submit_one(store, worker(sub), sub)
    async with store.db.write() as conn:
        for step, (state, due) in zip(registration.steps, states, strict=True):
            await conn.execute(
                sa.update(t.steps)
                .where(t.steps.c.id == step.id)
                .values(state=state.value, next_attempt_at=NOW if due else None)
            )
    stored = await store.registrations.get(registration.id)
    assert stored is not None
    found = await store.registrations.list(RegistrationFilter(stalled=True), first=10)
    assert [r.id for r in found.items] == [r.id for r in stalled([stored])]


async def test_wake_makes_due_now_only_the_waiting_steps_of_that_system(store: Store) -> None:
    subs = [submission() for _ in range(3)]
    waiting, _held, resting = [await submit_one(store, worker(s), s) for s in subs]
    await store.registrations.update_registration(
        resting.id, state=RegistrationState.NEEDS_ATTENTION, now=NOW
    )
    hour = dt.timedelta(hours=1)
    claimed = await store.registrations.claim("w1", now=NOW, lease=LEASE, limit=10)
    assert len(claimed) == 4  # resting's steps are never taken
    for step in claimed:
        if step.registration_id == waiting.id:
            # Backed off far ahead, its lease dropped: waiting for its system.
            step.state = StepState.PENDING
            step.next_attempt_at = NOW + hour
            step.lease_owner, step.lease_until = None, None
        else:
            step.next_attempt_at = NOW + hour  # still held by w1's live lease
        assert await store.registrations.save_step(step, owner="w1", now=NOW)

    later = NOW + 2 * SECOND
    assert await store.registrations.wake(System.LABOUR, now=later) == 1
    assert await store.registrations.wake(System.UNEMPLOYMENT, now=later) == 0
    due = await store.registrations.claim("w2", now=later, lease=LEASE, limit=10)
    assert [(s.registration_id, s.system) for s in due] == [(waiting.id, System.LABOUR)]
    # Its state, attempts and error are as they were: only when it is due changed.
    assert due[0].state is StepState.PENDING
    # Nothing left to wake: what is due now is not woken again.
    assert await store.registrations.wake(System.LABOUR, now=later) == 0
    fresh = await store.registrations.get(waiting.id)
    assert fresh is not None
    employment = step_of(fresh, Operation.REGISTER_EMPLOYMENT)
    assert employment.next_attempt_at == NOW + hour
