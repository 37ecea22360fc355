"""Declarations as a step sees them, over the social insurance fake: what an
outcome means, which declaration is the step's when an answer was lost, when to
poll again, and each move of undoing one (no engine, no store)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from adapters.social_insurance.model import (
    SYSTEM,
    AdditionRequest,
    DeclarationKind,
    DeclarationState,
    InsuranceState,
    RemovalRequest,
    ReturnReason,
)
from adapters.social_insurance.system import DECLARE_ADDITION, DECLARE_REMOVAL
from gateway.registrations import declarations as d
from gateway.registrations.backoff import Backoff
from gateway.registrations.model import Step
from gateway.registrations.plan import person_of, to_payload
from tests.clock import MovableClock
from tests.fakes import FakeSocialInsurance
from tests.fakes.social_insurance import RETURN_NOTES
from tests.registrations.support import START, hire_row

UNIT = "SB37010200000001"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def si(clock: MovableClock) -> FakeSocialInsurance:
    fake = FakeSocialInsurance(clock=clock)
    fake.faults(review_delay_s=60)
    return fake


def addition_step(clock: MovableClock, request: AdditionRequest | None = None) -> Step:
    request = request or AdditionRequest(UNIT, person_of(hire_row()), START, Decimal("6000.00"))
    return Step(
        "st1", "r1", SYSTEM, DECLARE_ADDITION, 1, to_payload(request),
        created_at=clock(),
    )  # fmt: skip


def removal_step(clock: MovableClock, addition: Step) -> Step:
    p = addition.payload["person"]
    request = RemovalRequest.after_relation_ended(
        UNIT, p["id_type"], p["id_number"], dt.date(2024, 9, 30)
    )
    return Step(
        "st2", "r2", SYSTEM, DECLARE_REMOVAL, 1, to_payload(request),
        created_at=clock(),
    )  # fmt: skip


async def test_a_declaration_awaits_then_is_approved(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    step = addition_step(clock)
    reference = await d.declare(si, step)
    waiting = d.outcome(await si.declaration(reference))
    assert isinstance(waiting, d.Awaiting)
    note = d.awaiting(waiting.declaration)
    assert reference in note.message_zh
    assert reference in note.message_en
    clock.advance(61)
    assert d.outcome(await si.declaration(reference)) == d.Approved(reference)


@pytest.mark.parametrize("reason", list(ReturnReason))
async def test_a_returned_declaration_is_a_refusal_saying_why_in_both_languages(
    si: FakeSocialInsurance, clock: MovableClock, reason: ReturnReason
) -> None:
    step = addition_step(clock)
    reference = await d.declare(si, step)
    si.return_(reference, reason)
    refusal = d.outcome(await si.declaration(reference))
    assert isinstance(refusal, d.Refusal)
    error = refusal.error
    assert error.code == d.DECLARATION_RETURNED
    assert (
        error.system_code
        == {
            "RECORDS_DIFFER": "R01",
            "WAGE_OUT_OF_RANGE": "R02",
            "INSURED_ELSEWHERE": "R03",
            "OTHER": "R09",
        }[reason.value]
    )
    assert "增员" in error.message_zh
    assert "addition" in error.message_en
    # The agency's own text is not repeated: it may name the worker.
    assert RETURN_NOTES[reason] not in error.message_zh
    number = step.payload["person"]["id_number"]
    assert number not in error.message_zh + error.message_en


async def test_one_withdrawn_elsewhere_is_a_refusal(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    reference = await d.declare(si, addition_step(clock))
    await si.withdraw(reference)
    refusal = d.outcome(await si.declaration(reference))
    assert isinstance(refusal, d.Refusal)
    assert refusal.error.code == d.DECLARATION_WITHDRAWN


async def test_a_lost_answer_is_found_and_an_older_declaration_is_not_taken_for_it(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    first = addition_step(clock)
    old = await d.declare(si, first)
    si.return_(old)  # an earlier registration's addition, returned
    clock.advance(3600)
    again = addition_step(clock, d.step_request(first))
    assert await d.find(si, again) is None  # nothing of ours yet: it may be sent
    reference = await d.declare(si, again)
    found = await d.find(si, again)
    assert found is not None
    assert (found.reference, found.state) == (reference, DeclarationState.UNDER_REVIEW)
    assert si.stats()["declarations.search"] == 2


def test_polls_come_further_apart_the_longer_the_review(clock: MovableClock) -> None:
    backoff = Backoff(base=1.0, cap=300.0, jitter=0.0)
    from adapters.social_insurance.model import Declaration

    now = clock()
    declared = now.astimezone(d.CHINA).replace(tzinfo=None)
    decl = Declaration(
        "SL1",
        DeclarationKind.ADDITION,
        UNIT,
        "RESIDENT_ID",
        "x",  # type: ignore[arg-type]
        DeclarationState.UNDER_REVIEW,
        declared,
    )
    waits = [
        (d.next_poll(decl, now + dt.timedelta(seconds=s), backoff) - now).total_seconds() - s
        for s in (0, 10, 100, 10_000)
    ]
    assert waits[0] == pytest.approx(1.0)
    assert waits[0] < waits[1] < waits[2] < waits[3]
    assert waits[3] == pytest.approx(300.0)


# --------------------------------------------------------------------- undo


async def test_under_review_it_is_withdrawn(si: FakeSocialInsurance, clock: MovableClock) -> None:
    step = addition_step(clock)
    reference = await d.declare(si, step)
    assert await d.undo(si, step, reference) == d.Undone()
    assert (await si.declaration(reference)).state is DeclarationState.WITHDRAWN
    assert si.stats()["declarations.withdraw"] == 1
    assert await d.undo(si, step, reference) == d.Undone()  # again: nothing more to do
    assert si.stats()["declarations.withdraw"] == 1


async def test_approved_it_is_reversed_and_the_reverse_awaited(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    step = addition_step(clock)
    reference = await d.declare(si, step)
    si.approve(reference)
    pending = await d.undo(si, step, reference)
    assert isinstance(pending, d.UndoPending)
    assert pending.reference != reference
    again = await d.undo(si, step, pending.reference)
    assert isinstance(again, d.UndoPending)
    assert again.reference == pending.reference
    assert si.stats()["declarations.removal"] == 1  # one reverse, however often asked
    si.approve(pending.reference)
    assert await d.undo(si, step, pending.reference) == d.Undone()
    p = step.payload["person"]
    (spell,) = await si.insurance(p["id_type"], p["id_number"])
    assert (spell.state, spell.start_date, spell.stop_date) == (
        InsuranceState.STOPPED,
        START,
        START,
    )


async def test_a_reverse_whose_answer_was_lost_is_not_declared_twice(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    step = addition_step(clock)
    reference = await d.declare(si, step)
    si.approve(reference)
    si.faults(commit_then_drop=1.0)
    with pytest.raises(d.Unavailable):
        await d.undo(si, step, reference)
    si.faults(commit_then_drop=0.0)
    pending = await d.undo(si, step, reference)  # the step still holds the addition's number
    assert isinstance(pending, d.UndoPending)
    assert si.stats()["declarations.removal"] == 2  # the second refused: one under review
    assert len(si.under_review()) == 1


async def test_a_returned_reverse_needs_a_person(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    step = addition_step(clock)
    reference = await d.declare(si, step)
    si.approve(reference)
    pending = await d.undo(si, step, reference)
    assert isinstance(pending, d.UndoPending)
    si.return_(pending.reference, ReturnReason.OTHER)
    stuck = await d.undo(si, step, pending.reference)
    assert isinstance(stuck, d.UndoStuck)
    assert stuck.error.code == "REVERSE_RETURNED"


async def test_returned_left_nothing_to_undo_and_an_approved_removal_needs_a_person(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    step = addition_step(clock)
    reference = await d.declare(si, step)
    si.return_(reference)
    assert await d.undo(si, step, reference) == d.Undone()
    insured = addition_step(clock)
    si.approve(await d.declare(si, insured))
    removal = removal_step(clock, insured)
    stopped = await d.declare(si, removal)
    si.approve(stopped)
    stuck = await d.undo(si, removal, stopped)
    assert isinstance(stuck, d.UndoStuck)
    assert stuck.error.code == "REVERSE_NEEDS_A_PERSON"


async def test_a_retried_step_takes_its_new_declaration_not_the_returned_one(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    step = addition_step(clock)
    returned = await d.declare(si, step)
    si.return_(returned, ReturnReason.WAGE_OUT_OF_RANGE)
    found = await d.find(si, step)  # before the retry: the returned one is the step's
    assert found is not None
    assert found.reference == returned
    again = await d.declare(si, step)  # the retry, its answer lost
    found = await d.find(si, step)
    assert found is not None
    assert (found.reference, found.state) == (again, DeclarationState.UNDER_REVIEW)
