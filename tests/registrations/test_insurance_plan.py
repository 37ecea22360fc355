"""What social insurance adds to the plans when it is switched on (pure: no
system, no store).

An opening registers the unit for insurance with the three; a hire declares
the worker's addition from its start date at its wage, an ending the removal
from the day after the relation ended, each in stage 1, after the labour
relation is recorded; a renewal and separate handling add nothing. Off, the
plans are the three systems' only.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from adapters.social_insurance.model import SYSTEM as INSURANCE
from adapters.social_insurance.model import AdditionRequest, RemovalRequest, StopReason
from adapters.social_insurance.system import DECLARE_ADDITION, DECLARE_REMOVAL, STOP_REASONS
from gateway.domain.model import Business, EmployerProfile, EndReason, RegistrationRow, System
from gateway.registrations.model import Operation, StepKind
from gateway.registrations.plan import (
    NotBound,
    account_reach,
    plan_account,
    plan_row,
    row_operations,
    row_reach,
    row_steps,
    step_request,
)
from gateway.registry import registry
from tests.domain.test_checks import START, row

WAGE = Decimal("6200.50")
BOUND: dict[System, str | None] = {s: f"{s.value}-id" for s in System} | {INSURANCE: "SB1"}
THREE: dict[System, str | None] = {s: f"{s.value}-id" for s in System}
ON = (*System, INSURANCE)
COMMON = {
    "submission_id": "s",
    "channel": "government_portal",
    "actor_id": None,
    "actor_username": None,
    "warnings": [],
    "now": dt.datetime(2024, 6, 10, tzinfo=dt.UTC),
    "step_deadline": dt.timedelta(hours=1),
}
ROWS = [
    row(Business.HIRE, monthly_wage=WAGE),
    row(Business.RENEW),
    row(Business.END),
    row(Business.END, register_unemployment=True),
]


@pytest.mark.parametrize("r", ROWS, ids=lambda r: f"{r.business}-{r.register_unemployment}")
def test_the_operations_known_up_front_are_the_ones_planned(r: RegistrationRow) -> None:
    planned = [(s[1], s[2]) for s in row_steps(r, dict(BOUND))]
    up_front = row_operations(r, None, ON)
    assert [(op, registry().system_of(op)) for op in up_front] == planned
    added = [op for op in up_front if op not in row_operations(r)]
    expected = {Business.HIRE: [DECLARE_ADDITION], Business.END: [DECLARE_REMOVAL]}
    assert added == expected.get(r.business, [])


def test_a_hire_declares_the_addition_after_the_relation_is_recorded() -> None:
    registration = plan_row(
        row(Business.HIRE, monthly_wage=WAGE), "code", "370102", BOUND, **COMMON
    )
    stages = {(s.operation, s.stage) for s in registration.steps}
    assert stages == {
        (Operation.REGISTER_EMPLOYMENT, 0),
        (Operation.FILE_CONTRACT, 0),
        (DECLARE_ADDITION, 1),
    }
    (step,) = [s for s in registration.steps if s.system == INSURANCE]
    assert step.next_attempt_at is None  # not due until stage 0 is done
    request = step_request(step)
    assert isinstance(request, AdditionRequest)
    assert (request.employer_id, request.start_date, request.monthly_wage) == ("SB1", START, WAGE)
    assert step.payload["monthly_wage"] == "6200.50"  # exact, never a float
    assert registration.payload["monthly_wage"] == "6200.50"


@pytest.mark.parametrize(
    ("reason", "stop"),
    [
        (EndReason.AGREEMENT, StopReason.CONTRACT_ENDED),
        (EndReason.EXPIRY, StopReason.CONTRACT_ENDED),
        (EndReason.BY_WORKER_NOTICE, StopReason.LEFT_UNIT),
        (EndReason.DEATH, StopReason.OTHER),
    ],
)
def test_an_ending_declares_the_removal_from_the_next_day(
    reason: EndReason, stop: StopReason
) -> None:
    ending = row(Business.END, end_reason=reason, end_date=dt.date(2024, 9, 30))
    registration = plan_row(ending, "code", "370102", BOUND, **COMMON)
    (step,) = [s for s in registration.steps if s.operation is DECLARE_REMOVAL]
    assert (step.stage, step.system) == (1, INSURANCE)
    request = step_request(step)
    assert isinstance(request, RemovalRequest)
    assert (request.stop_date, request.reason) == (dt.date(2024, 10, 1), stop)
    assert request.id_number == ending.id_number


def test_every_end_reason_has_a_stop_reason() -> None:
    assert set(STOP_REASONS) == set(EndReason)


def test_off_or_separate_nothing_is_declared() -> None:
    hire = row(Business.HIRE, monthly_wage=WAGE)
    assert all(s.system != INSURANCE for s in plan_row(hire, "c", "370102", THREE, **COMMON).steps)
    separate = plan_row(hire, "c", "370102", BOUND, only=Operation.FILE_CONTRACT, **COMMON)
    assert [s.operation for s in separate.steps] == [Operation.FILE_CONTRACT]
    assert INSURANCE not in row_reach(hire, Operation.FILE_CONTRACT, ON)


def test_a_unit_not_registered_for_insurance_is_not_bound() -> None:
    unbound = {**BOUND, INSURANCE: None}
    with pytest.raises(NotBound) as raised:
        plan_row(row(Business.END), "c", "370102", unbound, **COMMON)
    assert raised.value.system == INSURANCE
    # A renewal sends nothing to insurance: no binding needed.
    plan_row(row(Business.RENEW), "c", "370102", unbound, **COMMON)


def test_insurance_is_reached_with_the_person_and_the_wage() -> None:
    reach = row_reach(row(Business.HIRE, monthly_wage=WAGE), None, ON)
    assert {"name", "id_number", "monthly_wage", "start_date"} <= reach[INSURANCE]
    assert {"id_number", "stop_date", "reason"} <= row_reach(row(Business.END), None, ON)[INSURANCE]


def test_an_opening_registers_the_unit_for_insurance_too() -> None:
    profile = EmployerProfile("91370102MA3C4TLQ2N", "济南示例有限公司", "370102")
    on = plan_account(profile, systems=ON, **COMMON)
    assert {s.system for s in on.steps} == set(ON)
    # The core systems first, together; the unit's insurance registration follows.
    assert {(s.system, s.stage, s.kind) for s in on.steps} == {
        *((system, 0, StepKind.CORE) for system in System),
        (INSURANCE, 1, StepKind.FOLLOW_UP),
    }
    assert {s.system for s in plan_account(profile, **COMMON).steps} == set(System)
    assert set(account_reach(ON)) == set(ON)
