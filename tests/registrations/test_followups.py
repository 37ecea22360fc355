"""Core and follow-up steps in plans, what a registration has left, and corrections
(pure: no system, no store)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest

from adapters.social_insurance.model import SYSTEM as INSURANCE
from adapters.social_insurance.system import DECLARE_ADDITION
from gateway.domain.checks import Problem
from gateway.domain.model import Business as RowBusiness
from gateway.domain.model import Gender, RegistrationRow, System, UnemploymentRequest
from gateway.registrations import followups
from gateway.registrations.followups import FollowUpActionRefused, correct, notice, stored_row
from gateway.registrations.model import (
    Channel,
    Operation,
    Registration,
    RegistrationState,
    StepError,
    StepKind,
    StepState,
    core_complete,
    follow_ups_left,
)
from gateway.registrations.plan import new_id, plan_row, step_request
from tests.registrations.support import UNIT, end_row, hire_row, plan, step_of, unit_ids

TODAY = dt.date(2024, 10, 8)
REFUSAL = StepError("SYSTEM_DUPLICATE", "失业登记系统拒绝办理", "The unemployment system refused")


def no_limits(row: RegistrationRow, operation: Operation) -> list[Problem]:
    return []


def planned(row: RegistrationRow, *, only: Operation | None = None) -> Registration:
    if only is None:
        (registration,) = plan([row])[1]
        return registration
    return plan_row(
        row,
        UNIT.profile.credit_code,
        UNIT.profile.division,
        unit_ids(),
        only=only,
        submission_id=new_id(),
        channel=Channel.SERVICE_WINDOW,
        actor_id=None,
        actor_username=None,
        warnings=[],
        now=dt.datetime.now(dt.UTC),
        step_deadline=dt.timedelta(minutes=5),
    )


def ending(**states: StepState) -> Registration:
    """An ending with the unemployment registration, its steps in ``states`` by system."""
    registration = planned(end_row(hire_row()))
    for step in registration.steps:
        step.state = states.get(step.system.value, StepState.DONE)
        if step.state is StepState.REFUSED:
            step.last_error = REFUSAL
    registration.state = RegistrationState.NEEDS_ATTENTION
    return registration


# ------------------------------------------------------------------ plans


@pytest.mark.parametrize(
    ("row", "kinds"),
    [
        (hire_row(), {Operation.REGISTER_EMPLOYMENT: "CORE", Operation.FILE_CONTRACT: "CORE"}),
        (
            end_row(hire_row()),
            {
                Operation.DISMISS: "CORE",
                Operation.END_CONTRACT: "CORE",
                Operation.REGISTER_UNEMPLOYMENT: "FOLLOW_UP",
            },
        ),
        (
            end_row(hire_row(), unemployment=False),
            {Operation.DISMISS: "CORE", Operation.END_CONTRACT: "CORE"},
        ),
    ],
    ids=["hire", "end-with-unemployment", "end"],
)
def test_plans_say_which_steps_are_core(row: RegistrationRow, kinds: dict[Operation, str]) -> None:
    registration = planned(row)
    assert {s.operation: s.kind.value for s in registration.steps} == kinds
    # Follow-ups come after the core: a later stage than every core step.
    core = [s.stage for s in registration.steps if s.kind is StepKind.CORE]
    assert all(s.stage > max(core) for s in registration.steps if s.kind is StepKind.FOLLOW_UP)


def test_an_unemployment_registration_alone_is_the_whole_business() -> None:
    registration = planned(end_row(hire_row()), only=Operation.REGISTER_UNEMPLOYMENT)
    assert [(s.operation, s.kind) for s in registration.steps] == [
        (Operation.REGISTER_UNEMPLOYMENT, StepKind.CORE)
    ]


# ---------------------------------------------------------- what is left


def test_a_refused_follow_up_leaves_the_core_complete_and_says_what_is_left() -> None:
    registration = ending(unemployment=StepState.REFUSED)
    assert core_complete(registration)
    assert [s.operation for s in follow_ups_left(registration)] == [Operation.REGISTER_UNEMPLOYMENT]
    said = notice(registration)
    assert said is not None
    assert said.code == followups.FOLLOW_UP_NEEDS_ATTENTION
    assert "解聘备案" in said.message_zh
    assert "失业登记" in said.message_zh
    assert REFUSAL.message_zh in said.message_zh
    assert "The core is complete" in said.message_en
    assert REFUSAL.message_en in said.message_en


def test_nothing_to_say_while_the_core_is_not_complete_or_was_refused() -> None:
    assert notice(ending(employment=StepState.STUCK)) is None
    refused = ending(labour=StepState.REFUSED)
    refused.failure = REFUSAL
    assert not core_complete(refused)
    assert notice(refused) is None
    done = ending()
    done.state = RegistrationState.COMPLETED
    assert follow_ups_left(done) == []
    assert notice(done) is None


def test_a_cancelled_follow_up_is_said_of_a_completed_registration() -> None:
    registration = ending(unemployment=StepState.SKIPPED)
    step = step_of(registration, System.UNEMPLOYMENT)
    step.last_error = followups.cancel_note(step)
    registration.state = RegistrationState.COMPLETED
    assert follow_ups_left(registration) == []
    said = notice(registration)
    assert said is not None
    assert said.code == followups.FOLLOW_UP_CANCELLED


# ------------------------------------------------------------ which step


@pytest.mark.parametrize(
    ("states", "operation", "code"),
    [
        ({"unemployment": StepState.REFUSED}, Operation.DISMISS, "NO_SUCH_FOLLOW_UP"),
        (
            {"employment": StepState.STUCK, "unemployment": StepState.PENDING},
            Operation.REGISTER_UNEMPLOYMENT,
            "CORE_NOT_COMPLETE",
        ),
        (
            {"unemployment": StepState.DONE},
            Operation.REGISTER_UNEMPLOYMENT,
            "FOLLOW_UP_NOT_WAITING",
        ),
    ],
)
def test_only_a_waiting_follow_up_of_a_complete_core_is_acted_on(
    states: dict[str, StepState], operation: Operation, code: str
) -> None:
    with pytest.raises(FollowUpActionRefused) as refused:
        followups.waiting_follow_up(ending(**states), operation)
    assert refused.value.code == code
    assert refused.value.message_zh
    assert refused.value.message_en


@pytest.mark.parametrize("state", [StepState.REFUSED, StepState.STUCK])
def test_a_refused_or_stuck_follow_up_waits(state: StepState) -> None:
    registration = ending(unemployment=state)
    step = followups.waiting_follow_up(registration, Operation.REGISTER_UNEMPLOYMENT)
    assert step is step_of(registration, System.UNEMPLOYMENT)


def test_a_registration_not_needing_attention_is_not_acted_on() -> None:
    """Its core is complete: not CORE_NOT_COMPLETE (as it was), but nothing to act on yet."""
    registration = ending(unemployment=StepState.REFUSED)
    registration.state = RegistrationState.IN_PROGRESS
    with pytest.raises(FollowUpActionRefused) as refused:
        followups.waiting_follow_up(registration, Operation.REGISTER_UNEMPLOYMENT)
    assert refused.value.code == "FOLLOW_UP_NOT_WAITING"
    assert "办理中" in refused.value.message_zh
    assert_chinese_names_no_state(refused.value.message_zh)


def assert_chinese_names_no_state(message_zh: str) -> None:
    """A Chinese message names states in Chinese, never by their enum value."""
    names = {s.value for s in RegistrationState} | {s.value for s in StepState}
    assert not [n for n in names if n in message_zh], message_zh
    assert not re.search(r"[A-Z]{3,}", message_zh), message_zh


@pytest.mark.parametrize(
    ("states", "registration_state", "code", "said_zh"),
    [
        (
            {"employment": StepState.STUCK, "unemployment": StepState.PENDING},
            RegistrationState.NEEDS_ATTENTION,
            "CORE_NOT_COMPLETE",
            "待人工处理",
        ),
        (
            {"labour": StepState.SENDING, "unemployment": StepState.PENDING},
            RegistrationState.IN_PROGRESS,
            "CORE_NOT_COMPLETE",
            "办理中",
        ),
        ({"unemployment": StepState.DONE}, RegistrationState.NEEDS_ATTENTION, None, "已办结"),
        ({"unemployment": StepState.SKIPPED}, RegistrationState.COMPLETED, None, "已办结"),
    ],
)
def test_refusals_name_states_in_chinese(
    states: dict[str, StepState],
    registration_state: RegistrationState,
    code: str | None,
    said_zh: str,
) -> None:
    """The audit's finding: CORE_NOT_COMPLETE's Chinese text read "该登记当前状态为
    IN_PROGRESS". A completed registration's core is complete: FOLLOW_UP_NOT_WAITING."""
    registration = ending(**states)
    registration.state = registration_state
    with pytest.raises(FollowUpActionRefused) as refused:
        followups.waiting_follow_up(registration, Operation.REGISTER_UNEMPLOYMENT)
    assert refused.value.code == (code or "FOLLOW_UP_NOT_WAITING")
    assert said_zh in refused.value.message_zh
    assert_chinese_names_no_state(refused.value.message_zh)


def awaiting_addition() -> Registration:
    """A hire with social insurance on: its core done, the addition declared and under
    the agency's review (UNKNOWN, AWAITING_DECISION), the registration in progress."""
    row = dataclasses.replace(hire_row(), monthly_wage=Decimal("6000.00"))
    registration = plan_row(
        row,
        UNIT.profile.credit_code,
        UNIT.profile.division,
        {**unit_ids(), INSURANCE: "37010200000001"},
        submission_id=new_id(),
        channel=Channel.SERVICE_WINDOW,
        actor_id=None,
        actor_username=None,
        warnings=[],
        now=dt.datetime.now(dt.UTC),
        step_deadline=dt.timedelta(minutes=5),
    )
    for step in registration.steps:
        step.state = StepState.DONE
        if step.operation is DECLARE_ADDITION:
            step.state, step.reference = StepState.UNKNOWN, "SL202410080001"
            step.last_error = StepError(
                "AWAITING_DECISION", "参保人员增员申报已受理，等待审核", "accepted, awaiting review"
            )
    registration.state = RegistrationState.IN_PROGRESS
    return registration


@pytest.mark.parametrize(
    "registration_state", [RegistrationState.IN_PROGRESS, RegistrationState.NEEDS_ATTENTION]
)
def test_a_declaration_under_review_waits_for_the_agency_not_for_the_core(
    registration_state: RegistrationState,
) -> None:
    """The audit's finding: retrying or cancelling an addition under the agency's review
    answered CORE_NOT_COMPLETE, though the core was complete."""
    registration = awaiting_addition()
    registration.state = registration_state
    assert core_complete(registration)
    with pytest.raises(FollowUpActionRefused) as refused:
        followups.waiting_follow_up(registration, DECLARE_ADDITION)
    assert refused.value.code == "FOLLOW_UP_NOT_WAITING"
    assert "审核" in refused.value.message_zh
    assert "SL202410080001" in refused.value.message_zh
    assert "review" in refused.value.message_en
    assert "until it decides" in refused.value.message_en
    assert_chinese_names_no_state(refused.value.message_zh.replace("SL202410080001", ""))


# ------------------------------------------------------------ corrections


def test_a_correction_replans_the_follow_up_only() -> None:
    registration = ending(unemployment=StepState.REFUSED)
    step = step_of(registration, System.UNEMPLOYMENT)
    before = step_request(step)
    assert isinstance(before, UnemploymentRequest)

    corrected = correct(
        registration,
        step,
        {"mobile": " 13812345678 ", "current_address": "山东省青岛市市南区香港中路9号"},
        today=TODAY,
        limits=no_limits,
    )

    assert corrected.problems == []
    after = step_request(dataclasses.replace(step, payload=corrected.payload))
    assert isinstance(after, UnemploymentRequest)
    assert after.person.mobile == "13812345678"
    assert after.person.current_address == "山东省青岛市市南区香港中路9号"
    # Everything else as it was: the unit's id, the worker, the end of the relation.
    assert (
        dataclasses.replace(
            after,
            person=dataclasses.replace(
                after.person,
                mobile=before.person.mobile,
                current_address=before.person.current_address,
            ),
        )
        == before
    )
    assert corrected.row.mobile == "13812345678"
    assert stored_row(registration).mobile != "13812345678"  # nothing changed in place


def test_corrections_are_checked_as_the_form_checks_its_row() -> None:
    registration = ending(unemployment=StepState.REFUSED)
    step = step_of(registration, System.UNEMPLOYMENT)
    hired = stored_row(registration)
    wrong_gender = Gender.FEMALE if hired.gender is Gender.MALE else Gender.MALE

    corrected = correct(
        registration,
        step,
        {"mobile": "1381234", "gender": wrong_gender, "household_address": " "},
        today=TODAY,
        limits=no_limits,
    )

    assert {(p.field, p.code) for p in corrected.problems} == {
        ("mobile", "MOBILE_FORMAT"),
        ("id_number", "ID_NUMBER_GENDER_MISMATCH"),  # as the form reports it
        ("household_address", "REQUIRED"),
    }
    assert corrected.payload == step.payload


def test_the_limits_of_where_it_goes_apply() -> None:
    registration = ending(unemployment=StepState.REFUSED)
    step = step_of(registration, System.UNEMPLOYMENT)
    seen: list[Operation] = []

    def limits(row: RegistrationRow, operation: Operation) -> list[Problem]:
        seen.append(operation)
        return [Problem("name", "TOO_LONG", "太长", "too long")]

    corrected = correct(registration, step, {"name": "李四"}, today=TODAY, limits=limits)
    assert seen == [Operation.REGISTER_UNEMPLOYMENT]
    assert [p.code for p in corrected.problems] == ["TOO_LONG"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("end_date", dt.date(2024, 9, 1)),  # the core filed it
        ("end_reason", "TERMINATION_EXPIRY"),
        ("id_number", "110101199003077777"),  # whom the registration is for
        ("register_unemployment", False),
        ("nonsense", 1),
    ],
)
def test_only_what_the_follow_up_alone_sends_may_be_corrected(field: str, value: Any) -> None:
    registration = ending(unemployment=StepState.REFUSED)
    step = step_of(registration, System.UNEMPLOYMENT)
    corrected = correct(registration, step, {field: value}, today=TODAY, limits=no_limits)
    assert [(p.field, p.code) for p in corrected.problems] == [(field, "NOT_CORRECTABLE")]
    assert corrected.payload == step.payload


def test_rows_keep_their_business() -> None:
    registration = ending(unemployment=StepState.REFUSED)
    assert stored_row(registration).business is RowBusiness.END


def test_a_stuck_follow_up_is_not_corrected() -> None:
    registration = ending(unemployment=StepState.STUCK)
    step = step_of(registration, System.UNEMPLOYMENT)
    with pytest.raises(FollowUpActionRefused) as refused:
        correct(registration, step, {"mobile": "13812345678"}, today=TODAY, limits=no_limits)
    assert refused.value.code == "FOLLOW_UP_OUTCOME_UNKNOWN"
    # Without corrections it is retried as it was.
    assert correct(registration, step, {}, today=TODAY, limits=no_limits).problems == []


def test_nothing_is_left_of_a_registration_that_is_final() -> None:
    registration = ending(unemployment=StepState.REFUSED)
    registration.state = RegistrationState.CANCELLED
    assert follow_ups_left(registration) == []
