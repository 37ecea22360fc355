"""Declarations as writes decided later, over the social insurance fake: the hooks
the engine awaits them by (``adapters/social_insurance/deciding.py``): what a
state means, which declaration is the step's when an answer was lost, and each
move of undoing one (no engine, no store); and when the engine polls again."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from adapters.social_insurance import deciding as d
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
from gateway.decided import Decision, Undone, UndoPending, UndoStuck, Verdict
from gateway.registrations import declarations
from gateway.registrations.backoff import Backoff
from gateway.registrations.model import Operation, Step
from gateway.registrations.plan import person_of, step_request, to_payload
from gateway.registrations.policy import CHINA
from gateway.systems import Unavailable
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


async def declare(si: FakeSocialInsurance, step: Step) -> str:
    request = step_request(step)
    if isinstance(request, RemovalRequest):
        return await si.declare_removal(request)
    return await si.declare_addition(request)


async def find(si: FakeSocialInsurance, step: Step) -> Decision | None:
    assert step.created_at is not None
    return await d.find(si, step_request(step), step.created_at)


async def undo(
    si: FakeSocialInsurance, step: Step, reference: str, earlier: Step | None = None
) -> object:
    """One move of undoing ``step``; ``earlier``: the step whose request the gateway
    holds as done before it (the hire's addition, for a removal)."""

    async def done_before(operation: Operation) -> object | None:
        if earlier is None or earlier.operation != operation:
            return None
        return step_request(earlier)

    return await d.undo(si, step_request(step), reference, done_before)


async def test_a_declaration_awaits_then_is_approved(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    step = addition_step(clock)
    reference = await declare(si, step)
    waiting = await d.read(si, reference)
    assert waiting.verdict is Verdict.PENDING
    note = declarations.pending_note(step, waiting)
    assert note.code == d.AWAITING_DECISION
    assert reference in note.message_zh
    assert reference in note.message_en
    assert step.payload["person"]["id_number"] not in note.message_zh + note.message_en
    clock.advance(61)
    approved = await d.read(si, reference)
    assert (approved.reference, approved.verdict) == (reference, Verdict.APPROVED)


@pytest.mark.parametrize("reason", list(ReturnReason))
async def test_a_returned_declaration_is_a_refusal_saying_why_in_both_languages(
    si: FakeSocialInsurance, clock: MovableClock, reason: ReturnReason
) -> None:
    step = addition_step(clock)
    reference = await declare(si, step)
    si.return_(reference, reason)
    refusal = await d.read(si, reference)
    assert refusal.verdict is Verdict.REFUSED
    error = refusal.note
    assert error is not None
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
    reference = await declare(si, addition_step(clock))
    await si.withdraw(reference)
    refusal = await d.read(si, reference)
    assert refusal.verdict is Verdict.REFUSED
    assert refusal.note is not None
    assert refusal.note.code == d.DECLARATION_WITHDRAWN


async def test_a_lost_answer_is_found_and_an_older_declaration_is_not_taken_for_it(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    first = addition_step(clock)
    old = await declare(si, first)
    si.return_(old)  # an earlier registration's addition, returned
    clock.advance(3600)
    again = addition_step(clock, step_request(first))
    assert await find(si, again) is None  # nothing of ours yet: it may be sent
    reference = await declare(si, again)
    found = await find(si, again)
    assert found is not None
    assert (found.reference, found.verdict) == (reference, Verdict.PENDING)
    assert si.stats()["declarations.search"] == 2


def test_polls_come_further_apart_the_longer_the_review(clock: MovableClock) -> None:
    backoff = Backoff(base=1.0, cap=300.0, jitter=0.0)
    from adapters.social_insurance.model import Declaration

    now = clock()
    declared = now.astimezone(CHINA).replace(tzinfo=None)
    decl = Declaration(
        "SL1",
        DeclarationKind.ADDITION,
        UNIT,
        "RESIDENT_ID",
        "x",  # type: ignore[arg-type]
        DeclarationState.UNDER_REVIEW,
        declared,
    )
    decision = d.decision(decl)  # declared in China Standard Time, read as UTC
    assert decision.since == now
    waits = [
        (
            declarations.next_poll(decision, now + dt.timedelta(seconds=s), backoff) - now
        ).total_seconds()
        - s
        for s in (0, 10, 100, 10_000)
    ]
    assert waits[0] == pytest.approx(1.0)
    assert waits[0] < waits[1] < waits[2] < waits[3]
    assert waits[3] == pytest.approx(300.0)


# --------------------------------------------------------------------- undo


async def test_under_review_it_is_withdrawn(si: FakeSocialInsurance, clock: MovableClock) -> None:
    step = addition_step(clock)
    reference = await declare(si, step)
    assert await undo(si, step, reference) == Undone()
    assert (await si.declaration(reference)).state is DeclarationState.WITHDRAWN
    assert si.stats()["declarations.withdraw"] == 1
    assert await undo(si, step, reference) == Undone()  # again: nothing more to do
    assert si.stats()["declarations.withdraw"] == 1


async def test_approved_it_is_reversed_and_the_reverse_awaited(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    step = addition_step(clock)
    reference = await declare(si, step)
    si.approve(reference)
    pending = await undo(si, step, reference)
    assert isinstance(pending, UndoPending)
    assert pending.reference != reference
    again = await undo(si, step, pending.reference)
    assert isinstance(again, UndoPending)
    assert again.reference == pending.reference
    assert si.stats()["declarations.removal"] == 1  # one reverse, however often asked
    si.approve(pending.reference)
    assert await undo(si, step, pending.reference) == Undone()
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
    reference = await declare(si, step)
    si.approve(reference)
    si.faults(commit_then_drop=1.0)
    with pytest.raises(Unavailable):
        await undo(si, step, reference)
    si.faults(commit_then_drop=0.0)
    pending = await undo(si, step, reference)  # the step still holds the addition's number
    assert isinstance(pending, UndoPending)
    assert si.stats()["declarations.removal"] == 2  # the second refused: one under review
    assert len(si.under_review()) == 1


async def test_a_returned_reverse_needs_a_person(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    step = addition_step(clock)
    reference = await declare(si, step)
    si.approve(reference)
    pending = await undo(si, step, reference)
    assert isinstance(pending, UndoPending)
    si.return_(pending.reference, ReturnReason.OTHER)
    stuck = await undo(si, step, pending.reference)
    assert isinstance(stuck, UndoStuck)
    assert stuck.error.code == "REVERSE_RETURNED"


async def test_returned_left_nothing_to_undo_and_an_approved_removal_needs_a_person(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    step = addition_step(clock)
    reference = await declare(si, step)
    si.return_(reference)
    assert await undo(si, step, reference) == Undone()
    insured = addition_step(clock)
    si.approve(await declare(si, insured))
    removal = removal_step(clock, insured)
    stopped = await declare(si, removal)
    si.approve(stopped)
    stuck = await undo(si, removal, stopped)  # the gateway holds no addition to restore
    assert isinstance(stuck, UndoStuck)
    assert stuck.error.code == "REVERSE_NEEDS_A_PERSON"
    assert removal.payload["id_number"] not in stuck.error.message_zh + stuck.error.message_en


async def test_an_approved_removal_is_reversed_by_the_earlier_addition_with_its_wage(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    wage = Decimal("7345.67")
    insured = addition_step(clock, AdditionRequest(UNIT, person_of(hire_row()), START, wage))
    si.approve(await declare(si, insured))
    clock.advance(3600)
    removal = removal_step(clock, insured)
    stopped = await declare(si, removal)
    si.approve(stopped)
    pending = await undo(si, removal, stopped, earlier=insured)
    assert isinstance(pending, UndoPending)
    reverse = await si.declaration(pending.reference)
    assert (reverse.kind, reverse.state) == (
        DeclarationKind.ADDITION,
        DeclarationState.UNDER_REVIEW,
    )
    assert si.declared_wage(pending.reference) == wage
    si.approve(pending.reference)
    assert await undo(si, removal, pending.reference, earlier=insured) == Undone()
    p = insured.payload["person"]
    spells = await si.insurance(p["id_type"], p["id_number"])
    # Insured again from the day the removal stopped it: no gap.
    assert (spells[0].state, spells[0].start_date) == (
        InsuranceState.INSURED,
        dt.date(2024, 10, 1),
    )


async def test_an_earlier_addition_of_another_unit_is_not_restored(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    insured = addition_step(clock)
    si.approve(await declare(si, insured))
    removal = removal_step(clock, insured)
    stopped = await declare(si, removal)
    si.approve(stopped)
    elsewhere = addition_step(
        clock, AdditionRequest("SB37010200000999", person_of(hire_row()), START, Decimal(6000))
    )
    stuck = await undo(si, removal, stopped, earlier=elsewhere)
    assert isinstance(stuck, UndoStuck)
    assert stuck.error.code == "REVERSE_NEEDS_A_PERSON"


async def test_a_retried_step_takes_its_new_declaration_not_the_returned_one(
    si: FakeSocialInsurance, clock: MovableClock
) -> None:
    step = addition_step(clock)
    returned = await declare(si, step)
    si.return_(returned, ReturnReason.WAGE_OUT_OF_RANGE)
    found = await find(si, step)  # before the retry: the returned one is the step's
    assert found is not None
    assert found.reference == returned
    again = await declare(si, step)  # the retry, its answer lost
    found = await find(si, step)
    assert found is not None
    assert (found.reference, found.verdict) == (again, Verdict.PENDING)
