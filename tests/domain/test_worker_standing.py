"""Whose worker a person is: only records that stand make someone a unit's worker.

A revoked employment registration (the employment system's ``zt`` 9), a revoked
contract filing and a cancelled unemployment registration were undone: a hire refused
and compensated leaves them behind at the unit that tried, and an employer that tried
to hire another unit's worker must not be given that worker by them (the audit's
finding). A dismissal or a contract ended stand: a former worker is the unit's own
history. And of a system's records at other units, the view holds only those of units
the caller reaches, and whether the worker is held at another unit now.
"""

from __future__ import annotations

import dataclasses

import pytest

from gateway.domain.model import (
    ContractState,
    EmploymentRecord,
    EmploymentState,
    LabourContract,
    UnemploymentRegistration,
    UnemploymentState,
)
from gateway.domain.worker import SystemFacts, build_view, newest_per_person, seen_from
from tests.domain.test_worker_view import (
    DISMISSED,
    EMPLOYED,
    ENDED,
    IN_FORCE,
    PERSON,
    D,
    contract,
    job,
    unemployed,
)

REVOKED_JOB = job(EmploymentState.REVOKED)
REVOKED_CONTRACT = contract(ContractState.REVOKED)
CANCELLED = unemployed(UnemploymentState.CANCELLED)


@pytest.mark.parametrize(
    ("employment", "contracts", "unemployment"),
    [
        ([REVOKED_JOB], [], []),
        ([], [REVOKED_CONTRACT], []),  # the audit's probe: labour filed, then undone
        ([], [], [CANCELLED]),
        ([REVOKED_JOB], [REVOKED_CONTRACT], [CANCELLED]),
    ],
)
def test_records_undone_make_nobody_the_units_worker(
    employment: list[EmploymentRecord],
    contracts: list[LabourContract],
    unemployment: list[UnemploymentRegistration],
) -> None:
    assert build_view(employment, contracts, unemployment) is None


@pytest.mark.parametrize(
    ("employment", "contracts", "unemployment"),
    [
        ([DISMISSED], [], []),
        ([], [ENDED], []),
        ([], [contract(ContractState.RESCINDED)], []),
        ([], [contract(ContractState.SUPERSEDED)], []),
        ([], [], [unemployed()]),
        ([EMPLOYED], [IN_FORCE], []),
        # A former worker, then a probe undone: still the unit's, with every record.
        ([REVOKED_JOB, DISMISSED], [REVOKED_CONTRACT, ENDED], [CANCELLED]),
    ],
)
def test_records_that_stand_make_the_units_worker_ended_ones_too(
    employment: list[EmploymentRecord],
    contracts: list[LabourContract],
    unemployment: list[UnemploymentRegistration],
) -> None:
    view = build_view(employment, contracts, unemployment)
    assert view is not None
    assert view.employment == employment
    assert view.contracts == contracts


def test_the_person_shown_is_from_a_record_that_stands() -> None:
    """What a probe typed (a name, say) is not shown for the unit's former worker."""
    typed = dataclasses.replace(PERSON, name="冒名")
    probe = dataclasses.replace(REVOKED_JOB, person=typed, start_date=D(2025, 1, 1))
    view = build_view([probe, DISMISSED], [], [])
    assert view is not None
    assert view.person == PERSON


def test_the_units_list_has_no_one_whose_registrations_were_all_revoked() -> None:
    probed = dataclasses.replace(
        REVOKED_JOB, person=dataclasses.replace(PERSON, id_number="370102199001010011")
    )
    assert newest_per_person([REVOKED_JOB]) == []
    assert newest_per_person([probed, DISMISSED]) == [DISMISSED]
    # Revoked beside one that stands: the one that stands, where they first appear.
    later = dataclasses.replace(REVOKED_JOB, start_date=D(2030, 1, 1))
    assert newest_per_person([later, probed, DISMISSED]) == [DISMISSED]


@dataclasses.dataclass(frozen=True)
class _Held:
    employer_id: str
    open: bool


HERE, REACHED, BEYOND = "U-HERE", "U-REACHED", "U-BEYOND"


def test_a_system_that_says_nothing_of_units_shows_this_units_records_only() -> None:
    held = [_Held(HERE, True), _Held(REACHED, True), _Held(BEYOND, False)]
    assert seen_from(held, HERE, frozenset()) == SystemFacts([_Held(HERE, True)], HERE)
    assert seen_from(held, HERE, frozenset({REACHED})) == SystemFacts(
        [_Held(HERE, True), _Held(REACHED, True)], HERE
    )
    assert seen_from(held, None, frozenset()) == SystemFacts([], None)
    assert seen_from(None, HERE, frozenset()) == SystemFacts(None, HERE)


def test_of_social_insurance_a_caller_sees_its_units_spells_and_only_a_yes_of_the_rest() -> None:
    """The audit's finding: an employer saw the worker's spells at every unit, another
    unit's insurance number and dates among them (where the worker works now)."""
    from adapters.social_insurance.model import Insurance, InsuranceState
    from adapters.social_insurance.worker import InsuranceStatus, Spells, insurance_status

    def spell(unit: str, stopped: bool) -> Insurance:
        state = InsuranceState.STOPPED if stopped else InsuranceState.INSURED
        return Insurance(
            unit, "370000000001", D(2021, 3, 1), D(2024, 1, 1) if stopped else None, state
        )

    now_beyond, once_here = spell(BEYOND, False), spell(HERE, True)
    held = Spells((now_beyond, once_here))
    assert held.units() == {HERE, BEYOND}
    facts = seen_from(held, HERE, frozenset())
    assert facts == SystemFacts([once_here], HERE, elsewhere=True)
    assert insurance_status(facts) is InsuranceStatus.INSURED_ELSEWHERE
    # A unit beyond reach that once insured the worker: nothing of it, not even "stopped".
    gone = seen_from(Spells((spell(BEYOND, True),)), HERE, frozenset())
    assert gone == SystemFacts([], HERE, elsewhere=False)
    assert insurance_status(gone) is InsuranceStatus.NOT_INSURED
    # A unit the caller reaches too (a clerk's division) is shown.
    assert seen_from(held, HERE, frozenset({BEYOND})).records == [now_beyond, once_here]
    # The unit not registered with the system: nothing of its own to show.
    assert seen_from(held, None, frozenset()) == SystemFacts([], None, elsewhere=True)
