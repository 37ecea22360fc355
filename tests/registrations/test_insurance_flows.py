"""Social insurance declarations carried out by the engine, over the fakes.

A declaration is decided later: the step awaits the outcome, polled from the
store (never a task asleep), then is done, or refused with the agency's reason;
an answer lost is found by searching before anything is sent again; undoing
withdraws one under review and reverses one approved, awaiting the reverse.
The review's delay passes on the test's clock, which the fake's agency shares.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest

from adapters.social_insurance import deciding
from adapters.social_insurance.model import SYSTEM as INSURANCE
from adapters.social_insurance.model import (
    DeclarationKind,
    DeclarationState,
    InsuranceState,
    ReturnReason,
)
from adapters.social_insurance.review import SEED_UNITS
from adapters.social_insurance.system import DECLARE_ADDITION
from adapters.standin.today import province_today
from gateway.config import GatewayConfig
from gateway.domain.model import EndReason, IdType, RegistrationRow, System, UnemploymentRequest
from gateway.registrations import followups
from gateway.registrations.engine import Engine
from gateway.registrations.model import (
    Channel,
    Operation,
    Registration,
    RegistrationState,
    Step,
    StepKind,
    StepState,
    core_complete,
)
from gateway.registrations.plan import new_id, person_of, plan_row, to_payload
from gateway.store import Store
from tests.clock import MovableClock
from tests.fakes import FakeSocialInsurance
from tests.registrations.support import (
    LEFT_ON,
    UNIT,
    Adapters,
    hire_row,
    run_until,
    settle,
    step_of,
    store_all,
    unit_ids,
)

WAGE = Decimal("6000.00")
TODAY = province_today()  # the systems' day (the province's)
UNIT_SI = SEED_UNITS[0]


@pytest.fixture
def si(clock: MovableClock) -> FakeSocialInsurance:
    fake = FakeSocialInsurance(clock=clock)
    fake.faults(review_delay_s=3600)  # decided on demand, unless a test says otherwise
    return fake


@pytest.fixture
def engine(
    make_engine: Callable[..., Engine], adapters: Adapters, si: FakeSocialInsurance
) -> Engine:
    return make_engine(owner="insurance", using={**adapters.all(), INSURANCE: si})


def hire(**changes: object) -> RegistrationRow:
    return dataclasses.replace(hire_row(), monthly_wage=WAGE, **changes)  # type: ignore[arg-type]


def planned(rows: Sequence[RegistrationRow]) -> tuple[str, list[Registration]]:
    submission_id = new_id()
    ids = {**unit_ids(UNIT), INSURANCE: UNIT_SI}
    return submission_id, [
        plan_row(
            row,
            UNIT.profile.credit_code,
            UNIT.profile.division,
            ids,
            submission_id=submission_id,
            channel=Channel.SERVICE_WINDOW,
            actor_id=None,
            actor_username=None,
            warnings=[],
            now=dt.datetime.now(dt.UTC),
            step_deadline=dt.timedelta(minutes=5),
        )
        for row in rows
    ]


async def submit(store: Store, rows: Sequence[RegistrationRow]) -> list[Registration]:
    return await store_all(store, *planned(rows))


async def insurance_step(store: Store, registration_id: str) -> Step:
    found = await store.registrations.get(registration_id)
    assert found is not None
    return step_of(found, INSURANCE)


async def awaiting(
    store: Store, registration_id: str, engine: Engine, *, after: str | None = None
) -> Step:
    """Run the engine until the declaration is sent and awaits the agency (one
    other than ``after``)."""

    async def declared() -> bool:
        step = await insurance_step(store, registration_id)
        return (
            step.reference not in (None, after)
            and step.last_error is not None
            and step.last_error.code == deciding.AWAITING_DECISION
        )

    await run_until(declared, engine)
    step = await insurance_step(store, registration_id)
    assert step.state is StepState.UNKNOWN
    assert step.last_error is not None
    assert step.last_error.code == deciding.AWAITING_DECISION
    return step


async def test_a_hire_declares_the_addition_and_completes_once_it_is_approved(
    store: Store, engine: Engine, si: FakeSocialInsurance, clock: MovableClock
) -> None:
    row = hire()
    (registration,) = await submit(store, [row])
    step = await awaiting(store, registration.id, engine)
    assert step.reference in si.under_review()
    found = await store.registrations.get(registration.id)
    assert found is not None
    assert found.state is RegistrationState.IN_PROGRESS  # awaiting: not done, not stuck
    assert all(s.state is StepState.DONE for s in found.steps if s.system is not INSURANCE)
    # Polled from the store, no task waiting: it stays awaiting while under review.
    polls = si.stats()["declarations.get"]
    clock.advance(1)
    await engine.run_once()
    clock.advance(1)
    await engine.run_once()
    assert si.stats()["declarations.get"] > polls
    assert (await insurance_step(store, registration.id)).state is StepState.UNKNOWN

    si.approve(step.reference or "")
    (done,) = await settle(store, [registration.id], engine)
    assert done.state is RegistrationState.COMPLETED
    declared = step_of(done, INSURANCE)
    assert (declared.state, declared.reference, declared.attempts) == (
        StepState.DONE,
        step.reference,
        1,
    )
    assert declared.last_error is None
    assert si.stats()["declarations.addition"] == 1
    (spell,) = await si.insurance(row.id_type, row.id_number)
    assert (spell.employer_id, spell.start_date) == (UNIT_SI, row.start_date)


async def test_a_returned_addition_waits_for_a_person_and_a_corrected_wage_is_declared(
    store: Store, engine: Engine, si: FakeSocialInsurance
) -> None:
    row = hire()
    (registration,) = await submit(store, [row])
    step = await awaiting(store, registration.id, engine)
    assert step.kind is StepKind.FOLLOW_UP
    si.return_(step.reference or "", ReturnReason.WAGE_OUT_OF_RANGE)
    (settled,) = await settle(store, [registration.id], engine)
    refused = step_of(settled, INSURANCE)
    assert refused.state is StepState.REFUSED
    assert refused.last_error is not None
    assert refused.last_error.code == deciding.DECLARATION_RETURNED
    assert refused.last_error.system_code == "R02"
    assert "缴费工资" in refused.last_error.message_zh
    assert "floor and ceiling" in refused.last_error.message_en
    # A follow-up's refusal never undoes the core: it waits for a person.
    assert settled.state is RegistrationState.NEEDS_ATTENTION
    assert core_complete(settled)
    assert si.stats()["declarations.addition"] == 1  # a refusal is not sent again

    # The employer corrects the wage: checked as the form's row, with the rule.
    rules = GatewayConfig.load(environ={"HRSS_SOCIAL_INSURANCE_ENABLED": "true"}).row_rules()
    wrong = followups.correct(
        settled, refused, {"monthly_wage": Decimal("99999.00")}, today=TODAY, limits=no_limits,
        rules=rules,
    )  # fmt: skip
    assert [(p.field, p.code) for p in wrong.problems] == [("monthly_wage", "WAGE_OUT_OF_RANGE")]
    name = followups.correct(settled, refused, {"name": "别人"}, today=TODAY, limits=no_limits)
    assert [p.code for p in name.problems] == [followups.NOT_CORRECTABLE]
    corrected = followups.correct(
        settled, refused, {"monthly_wage": Decimal("6500.00")}, today=TODAY, limits=no_limits,
        rules=rules,
    )  # fmt: skip
    assert corrected.problems == []
    await engine.retry_follow_up(
        settled.id, DECLARE_ADDITION, payload=corrected.payload, row=to_payload(corrected.row)
    )
    again = await awaiting(store, registration.id, engine, after=step.reference)
    assert again.reference != step.reference
    si.approve(again.reference or "")
    (done,) = await settle(store, [registration.id], engine)
    assert done.state is RegistrationState.COMPLETED
    assert si.stats()["declarations.addition"] == 2
    assert (await si.declaration(again.reference or "")).state is DeclarationState.APPROVED


def no_limits(row: RegistrationRow, operation: Operation) -> list[Any]:
    return []


async def test_a_lost_answer_is_found_by_searching_and_never_declared_twice(
    store: Store, engine: Engine, si: FakeSocialInsurance
) -> None:
    si.faults(commit_then_drop=1.0)
    (registration,) = await submit(store, [hire()])

    async def sent() -> bool:
        return si.stats().get("declarations.addition", 0) >= 1

    await run_until(sent, engine)
    si.faults(commit_then_drop=0.0)
    step = await awaiting(store, registration.id, engine)
    assert si.stats()["declarations.search"] >= 1  # searched before anything was sent again
    assert si.under_review() == [step.reference]
    si.approve(step.reference or "")
    (done,) = await settle(store, [registration.id], engine)
    assert done.state is RegistrationState.COMPLETED
    assert si.stats()["declarations.addition"] == 1


async def test_under_review_at_its_deadline_it_waits_for_a_person_and_a_cancel_withdraws_it(
    store: Store, engine: Engine, si: FakeSocialInsurance, clock: MovableClock
) -> None:
    row = hire()
    (registration,) = await submit(store, [row])
    step = await awaiting(store, registration.id, engine)
    clock.advance(6 * 60)  # past the step's deadline, the agency still reviewing
    (stuck,) = await settle(store, [registration.id], engine)
    assert stuck.state is RegistrationState.NEEDS_ATTENTION
    assert step_of(stuck, INSURANCE).state is StepState.STUCK

    await engine.cancel(registration.id)
    (cancelled,) = await settle(store, [registration.id], engine)
    assert cancelled.state is RegistrationState.CANCELLED
    undone = step_of(cancelled, INSURANCE)
    assert undone.state in (StepState.UNDONE, StepState.SKIPPED)
    assert (await si.declaration(step.reference or "")).state is DeclarationState.WITHDRAWN
    assert si.stats()["declarations.withdraw"] == 1
    assert si.stats().get("declarations.removal", 0) == 0
    assert await si.insurance(row.id_type, row.id_number) == []


async def test_an_approved_addition_is_undone_by_its_reverse_declaration(
    store: Store, engine: Engine, si: FakeSocialInsurance, clock: MovableClock
) -> None:
    row = hire()
    submission_id, (registration,) = planned([row])
    # A later step the system refuses (an unemployment registration for a relation
    # that ends tomorrow: 40001), after the addition was approved.
    tomorrow = province_today() + dt.timedelta(days=1)
    refused = UnemploymentRequest(
        UNIT.unemployment_id, person_of(row), tomorrow, EndReason.AGREEMENT
    )
    first = registration.steps[0]
    registration.steps.append(
        dataclasses.replace(
            first,
            id=new_id(),
            system=System.UNEMPLOYMENT,
            operation=Operation.REGISTER_UNEMPLOYMENT,
            stage=2,
            payload=to_payload(refused),
            next_attempt_at=None,
        )
    )
    await store_all(store, submission_id, [registration])
    si.faults(review_delay_s=0)  # approved as soon as the agency looks

    async def reversing() -> bool:
        step = await insurance_step(store, registration.id)
        return step.state is StepState.UNDOING and step.reference is not None

    await run_until(reversing, engine)
    addition = next(
        d
        for d in await si.find_declarations(UNIT_SI, row.id_type, row.id_number)
        if d.kind is DeclarationKind.ADDITION
    )
    assert addition.state is DeclarationState.APPROVED
    (compensated,) = await settle(store, [registration.id], engine)
    assert compensated.state is RegistrationState.COMPENSATED
    undone = step_of(compensated, INSURANCE)
    assert undone.state is StepState.UNDONE
    reverse = await si.declaration(undone.reference or "")
    assert (reverse.kind, reverse.state) == (DeclarationKind.REMOVAL, DeclarationState.APPROVED)
    assert si.stats()["declarations.removal"] == 1
    (spell,) = await si.insurance(row.id_type, row.id_number)
    assert spell.stop_date == spell.start_date  # insured for no day at all
    assert undone.operation == DECLARE_ADDITION


async def test_an_ending_declares_the_removal_from_the_next_day(
    store: Store, engine: Engine, si: FakeSocialInsurance
) -> None:
    row = hire()
    # Hired and insured already (the registration that hired them completed).
    hired = await submit(store, [row])
    si.faults(review_delay_s=0)
    (done,) = await settle(store, [hired[0].id], engine)
    assert done.state is RegistrationState.COMPLETED
    ending = dataclasses.replace(
        row,
        business=type(row.business).END,
        end_reason=EndReason.AGREEMENT,
        end_date=LEFT_ON,
        register_unemployment=False,
        monthly_wage=None,
    )
    (registration,) = await submit(store, [ending])
    (ended,) = await settle(store, [registration.id], engine)
    assert ended.state is RegistrationState.COMPLETED
    removal = await si.declaration(step_of(ended, INSURANCE).reference or "")
    assert (removal.kind, removal.effective_on) == (
        DeclarationKind.REMOVAL,
        LEFT_ON + dt.timedelta(days=1),
    )


async def test_an_approved_removal_is_undone_by_declaring_the_hires_addition_again(
    store: Store, engine: Engine, si: FakeSocialInsurance
) -> None:
    wage = Decimal("7345.67")
    row = dataclasses.replace(hire(), monthly_wage=wage)
    (hired,) = await submit(store, [row])
    si.faults(review_delay_s=0)  # approved as soon as the agency looks
    (done,) = await settle(store, [hired.id], engine)
    assert done.state is RegistrationState.COMPLETED
    ending = dataclasses.replace(
        row,
        business=type(row.business).END,
        end_reason=EndReason.AGREEMENT,
        end_date=LEFT_ON,
        register_unemployment=False,
        monthly_wage=None,
    )
    submission_id, (registration,) = planned([ending])
    # A core step after the removal that the system refuses (an unemployment
    # registration for a relation that ends tomorrow: 40001): everything is undone,
    # the approved removal by declaring the worker's addition again.
    tomorrow = province_today() + dt.timedelta(days=1)
    first = registration.steps[0]
    registration.steps.append(
        dataclasses.replace(
            first,
            id=new_id(),
            system=System.UNEMPLOYMENT,
            operation=Operation.REGISTER_UNEMPLOYMENT,
            stage=2,
            payload=to_payload(
                UnemploymentRequest(
                    UNIT.unemployment_id, person_of(row), tomorrow, EndReason.AGREEMENT
                )
            ),
            next_attempt_at=None,
        )
    )
    await store_all(store, submission_id, [registration])
    (compensated,) = await settle(store, [registration.id], engine)
    assert compensated.state is RegistrationState.COMPENSATED
    undone = step_of(compensated, INSURANCE)
    assert undone.state is StepState.UNDONE
    restored = await si.declaration(undone.reference or "")
    assert (restored.kind, restored.state) == (DeclarationKind.ADDITION, DeclarationState.APPROVED)
    assert si.declared_wage(restored.reference) == wage  # the hire's, not a guess
    assert si.stats()["declarations.addition"] == 2  # the hire's, and its restoration
    spell = (await si.insurance(row.id_type, row.id_number))[0]
    assert (spell.state, spell.start_date, spell.employer_id) == (
        InsuranceState.INSURED,
        LEFT_ON + dt.timedelta(days=1),
        UNIT_SI,
    )


async def test_a_passport_holders_addition_declares_the_date_of_birth_the_row_gives(
    store: Store, engine: Engine, si: FakeSocialInsurance
) -> None:
    # A passport carries no date of birth: the row gives it (the checks ask for it
    # when social insurance is on) and the addition declares it.
    row = hire(id_type=IdType.FOREIGN_PASSPORT, id_number="E98765432")
    born = dt.date(1988, 2, 29)
    (registration,) = await submit(store, [dataclasses.replace(row, birth_date=born)])
    addition = step_of(registration, INSURANCE)
    assert addition.payload["birth_date"] == born.isoformat()
    si.faults(review_delay_s=0)
    (done,) = await settle(store, [registration.id], engine)
    assert done.state is RegistrationState.COMPLETED
    assert step_of(done, INSURANCE).state is StepState.DONE
    assert si.stats()["declarations.addition"] == 1
    (spell,) = await si.insurance(IdType.FOREIGN_PASSPORT, "E98765432")
    assert spell.employer_id == UNIT_SI


async def test_a_unit_opened_before_insurance_was_on_is_registered_by_the_next_hire(
    store: Store, engine: Engine, si: FakeSocialInsurance
) -> None:
    # The unit's account was opened while social insurance was off: the gateway
    # holds no insurance number for it, and the agency does not know it either.
    del si.units[UNIT_SI]
    row = hire()
    submission_id = new_id()
    (registration,) = [
        plan_row(
            row, UNIT.profile.credit_code, UNIT.profile.division, NOT_BOUND,
            unit_name=UNIT.profile.name, submission_id=submission_id,
            channel=Channel.SERVICE_WINDOW, actor_id=None, actor_username=None, warnings=[],
            now=dt.datetime.now(dt.UTC), step_deadline=dt.timedelta(minutes=5),
        )
    ]  # fmt: skip
    insurance = [
        (s.stage, s.operation, s.kind) for s in registration.steps if s.system == INSURANCE
    ]
    assert insurance == [
        (1, Operation.OPEN_EMPLOYER, StepKind.FOLLOW_UP),
        (2, DECLARE_ADDITION, StepKind.FOLLOW_UP),
    ]
    await store_all(store, submission_id, [registration])
    si.faults(review_delay_s=0)
    (done,) = await settle(store, [registration.id], engine)
    assert done.state is RegistrationState.COMPLETED
    opened = next(s for s in done.steps if s.operation is Operation.OPEN_EMPLOYER)
    assert opened.reference is not None
    assert opened.reference in si.units  # registered there by this registration
    declared = await si.declaration(step_of_operation(done, DECLARE_ADDITION).reference or "")
    assert (declared.kind, declared.employer_id) == (DeclarationKind.ADDITION, opened.reference)
    # Bound for what follows: the next hire declares at once, with no unit step.
    employer = await store.employers.get(UNIT.profile.credit_code)
    assert employer is not None
    assert employer.system_id(INSURANCE) == opened.reference
    assert si.stats()["units.create"] == 1


async def test_a_unit_not_bound_is_refused_without_its_name_to_register_it() -> None:
    from gateway.registrations.plan import NotBound

    with pytest.raises(NotBound):
        plan_row(
            hire(), UNIT.profile.credit_code, UNIT.profile.division, NOT_BOUND,
            submission_id=new_id(), channel=Channel.SERVICE_WINDOW, actor_id=None,
            actor_username=None, warnings=[], now=dt.datetime.now(dt.UTC),
            step_deadline=dt.timedelta(minutes=5),
        )  # fmt: skip


#: Switched on, the unit not bound there (its account opened while it was off).
NOT_BOUND: dict[System, str | None] = {**unit_ids(UNIT), INSURANCE: None}


def step_of_operation(registration: Registration, operation: Operation) -> Step:
    return next(s for s in registration.steps if s.operation is operation)
