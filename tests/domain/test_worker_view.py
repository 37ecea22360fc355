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
    newest_per_person,
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


# ------------------------------------------------- hired again at the same unit

REHIRED = EmploymentRecord("DJ2", "JY1", PERSON, D(2024, 4, 1), EmploymentState.EMPLOYED)
RENEWED_IN_FORCE = contract(ContractState.IN_FORCE)


def test_employment_after_an_older_unemployment_registration_is_the_status() -> None:
    """The audit's finding: a worker let go, registered unemployed and hired again was
    REGISTERED_UNEMPLOYED while employed and contracted. The registration is of the
    relation before: the current employment is the status, and the registration still
    left open an inconsistency."""
    employment = [REHIRED, DISMISSED]
    contracts = [RENEWED_IN_FORCE, ENDED]
    unemployment = [unemployed()]  # the relation that ended on 2024-02-29
    assert derive_status(employment, contracts, unemployment) is WorkerStatus.EMPLOYED_WITH_CONTRACT
    assert derive_status(employment, [ENDED], unemployment) is (
        WorkerStatus.EMPLOYED_WITHOUT_CONTRACT
    )
    assert Inconsistency.UNEMPLOYED_WHILE_EMPLOYED in find_inconsistencies(
        employment, contracts, unemployment
    )


def test_an_unemployment_registration_of_a_relation_ended_since_the_start_still_counts() -> None:
    """Registered unemployed for a relation that ended after the employment here began (a
    dismissal revoked, say): the registration is the latest word."""
    assert derive_status([EMPLOYED], [IN_FORCE], [unemployed()]) is (
        WorkerStatus.REGISTERED_UNEMPLOYED
    )


def _registration(
    reference: str, start: dt.date, state: EmploymentState, person: Person = PERSON
) -> EmploymentRecord:
    return EmploymentRecord(reference, "JY1", person, start, state)


def test_a_unit_s_list_is_one_row_per_person_from_their_newest_registration() -> None:
    other = Person(
        IdType.FOREIGN_PASSPORT, "E12345678", "Anna", Gender.FEMALE, "98", Education.BACHELOR
    )
    same_number_other_type = Person(
        IdType.HK_MACAO_PERMIT, PERSON.id_number, "刘洋", Gender.FEMALE, "01", Education.BACHELOR
    )
    listed = [
        _registration("DJ5", D(2024, 6, 1), EmploymentState.REVOKED, other),
        _registration("DJ4", D(2024, 4, 1), EmploymentState.EMPLOYED),
        _registration("DJ3", D(2023, 1, 1), EmploymentState.DISMISSED, other),
        _registration("DJ2", D(2022, 1, 1), EmploymentState.DISMISSED, same_number_other_type),
        _registration("DJ1", D(2021, 3, 1), EmploymentState.DISMISSED),
    ]
    # In the order each person first appears; a revoked registration never chosen.
    assert [r.reference for r in newest_per_person(listed)] == ["DJ3", "DJ4", "DJ2"]
    # Whatever the system's order.
    assert [r.reference for r in newest_per_person(listed[::-1])] == ["DJ4", "DJ2", "DJ3"]
    # Nobody whose registrations here were all revoked (tests/domain/test_worker_standing.py).
    only_revoked = [_registration("DJ9", D(2024, 1, 1), EmploymentState.REVOKED)]
    assert newest_per_person(only_revoked) == []
