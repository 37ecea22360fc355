"""The unified worker view: status and inconsistencies from the three systems
(what a registered system adds: tests/social_insurance/test_worker.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.domain.model import (
    ContractState,
    ContractTerm,
    ContractType,
    Education,
    EmploymentForm,
    EmploymentRecord,
    EmploymentState,
    EndReason,
    FilingPersonCategory,
    Gender,
    IdType,
    LabourContract,
    Person,
    System,
    UnemploymentRegistration,
    UnemploymentState,
)
from gateway.domain.worker import (
    Inconsistency,
    WorkerStatus,
    build_view,
    derive_status,
    find_inconsistencies,
)

D = dt.date
PERSON = Person(
    IdType.RESIDENT_ID, "37010219850312002X", "刘洋", Gender.FEMALE, "01", Education.BACHELOR
)


def job(state: EmploymentState, dismissed: dt.date | None = None) -> EmploymentRecord:
    return EmploymentRecord("DJ1", "JY1", PERSON, D(2021, 3, 1), state, dismissal_date=dismissed)


def contract(
    state: ContractState, ended: dt.date | None = None, person: Person = PERSON
) -> LabourContract:
    term = ContractTerm(
        ContractType.FIXED_TERM,
        D(2021, 3, 1),
        D(2024, 2, 29),
        FilingPersonCategory.URBAN_EMPLOYEE,
        EmploymentForm.FULL_TIME,
        "工程师",
        "370102",
    )
    return LabourContract("BA1", "LD1", person, term, state, ended_on=ended)


def unemployed(state: UnemploymentState = UnemploymentState.REGISTERED) -> UnemploymentRegistration:
    return UnemploymentRegistration(
        "SYDJ1", "SY1", PERSON, D(2024, 2, 29), EndReason.EXPIRY, D(2024, 3, 5), state
    )


EMPLOYED = job(EmploymentState.EMPLOYED)
DISMISSED = job(EmploymentState.DISMISSED, D(2024, 2, 29))
IN_FORCE = contract(ContractState.IN_FORCE)
ENDED = contract(ContractState.TERMINATED, D(2024, 2, 29))


@pytest.mark.parametrize(
    ("employment", "contracts", "unemployment", "status"),
    [
        ([EMPLOYED], [IN_FORCE], [], WorkerStatus.EMPLOYED_WITH_CONTRACT),
        ([EMPLOYED], [], [], WorkerStatus.EMPLOYED_WITHOUT_CONTRACT),
        ([EMPLOYED], None, [], WorkerStatus.UNKNOWN),  # labour did not answer
        ([DISMISSED], [ENDED], [], WorkerStatus.DISMISSED),
        ([DISMISSED], [ENDED], None, WorkerStatus.DISMISSED),
        ([DISMISSED], [ENDED], [unemployed()], WorkerStatus.REGISTERED_UNEMPLOYED),
        ([DISMISSED], [ENDED], [unemployed(UnemploymentState.CANCELLED)], WorkerStatus.DISMISSED),
        ([], [IN_FORCE], [], WorkerStatus.CONTRACT_WITHOUT_EMPLOYMENT),
        ([], [], [], WorkerStatus.NO_RECORD),
        ([], [], None, WorkerStatus.UNKNOWN),
        (None, [IN_FORCE], [], WorkerStatus.UNKNOWN),  # employment did not answer
        ([job(EmploymentState.REVOKED)], [], [], WorkerStatus.NO_RECORD),
    ],
)
def test_status(
    employment: list[EmploymentRecord] | None,
    contracts: list[LabourContract] | None,
    unemployment: list[UnemploymentRegistration] | None,
    status: WorkerStatus,
) -> None:
    assert derive_status(employment, contracts, unemployment) is status


def test_consistent_records_have_no_inconsistency() -> None:
    assert find_inconsistencies([EMPLOYED], [IN_FORCE], []) == []
    assert find_inconsistencies([DISMISSED], [ENDED], [unemployed()]) == []


@pytest.mark.parametrize(
    ("employment", "contracts", "unemployment", "found"),
    [
        ([EMPLOYED], [], [], Inconsistency.EMPLOYED_WITHOUT_FILED_CONTRACT),
        ([DISMISSED], [IN_FORCE], [], Inconsistency.CONTRACT_IN_FORCE_AFTER_DISMISSAL),
        ([], [IN_FORCE], [], Inconsistency.CONTRACT_IN_FORCE_WITHOUT_EMPLOYMENT),
        ([EMPLOYED], [IN_FORCE], [unemployed()], Inconsistency.UNEMPLOYED_WHILE_EMPLOYED),
        (
            [job(EmploymentState.DISMISSED, D(2024, 3, 31))],
            [ENDED],
            [],
            Inconsistency.END_DATES_DIFFER,
        ),
        (
            [EMPLOYED],
            [
                contract(
                    ContractState.IN_FORCE,
                    person=Person(
                        IdType.RESIDENT_ID,
                        PERSON.id_number,
                        "刘阳",
                        Gender.FEMALE,
                        "01",
                        Education.BACHELOR,
                    ),
                )
            ],
            [],
            Inconsistency.PERSON_FIELDS_DIFFER,
        ),
    ],
)
def test_each_inconsistency(
    employment: list[EmploymentRecord],
    contracts: list[LabourContract],
    unemployment: list[UnemploymentRegistration],
    found: Inconsistency,
) -> None:
    assert find_inconsistencies(employment, contracts, unemployment) == [found]


def test_nothing_is_guessed_for_a_system_that_did_not_answer() -> None:
    # Without the labour system's answer, "employed without a contract" cannot be said.
    assert find_inconsistencies([EMPLOYED], None, []) == []


def test_the_view_says_which_systems_are_missing_and_who_the_person_is() -> None:
    view = build_view([EMPLOYED], None, [], reveal=True)
    assert view is not None
    assert view.person == PERSON
    assert view.unavailable == [System.LABOUR]
    assert not view.complete
    assert view.status is WorkerStatus.UNKNOWN
    assert view.reveal


def test_no_view_when_no_system_that_answered_knows_the_person() -> None:
    assert build_view([], [], [], reveal=False) is None
    assert build_view(None, [], None) is None
