"""What social insurance adds to the unified worker view, as its spec declares it
(``adapters/social_insurance/worker.py``): insurance status, and what employment
and insurance disagree on; the generic view lists it as unavailable when it
could not be asked."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.social_insurance.model import SYSTEM, Insurance, InsuranceState
from adapters.social_insurance.worker import (
    EMPLOYED_WITHOUT_INSURANCE,
    INSURED_WITHOUT_EMPLOYMENT,
    InsuranceStatus,
    inconsistencies,
    insurance_status,
)
from gateway.domain.model import EmploymentRecord, EmploymentState
from gateway.domain.worker import SystemFacts, WorkerStatus, build_view, find_inconsistencies
from gateway.registry import registry
from tests.domain.test_worker_view import DISMISSED, EMPLOYED, IN_FORCE, D


def test_its_spec_declares_what_it_adds() -> None:
    section = registry().get(SYSTEM).worker
    assert section is not None
    assert set(section.labels) == {EMPLOYED_WITHOUT_INSURANCE, INSURED_WITHOUT_EMPLOYMENT}
    assert section.inconsistencies is inconsistencies


HERE, ELSEWHERE = "SB37010200000001", "SB37020200000002"


def spell(unit: str = HERE, stopped: dt.date | None = None) -> Insurance:
    state = InsuranceState.STOPPED if stopped else InsuranceState.INSURED
    return Insurance(unit, "370000000001", D(2021, 3, 1), stopped, state)


@pytest.mark.parametrize(
    ("spells", "unit", "status"),
    [
        ([spell()], HERE, InsuranceStatus.INSURED),
        ([spell(ELSEWHERE)], HERE, InsuranceStatus.INSURED_ELSEWHERE),
        ([spell(stopped=D(2024, 3, 1))], HERE, InsuranceStatus.STOPPED),
        ([], HERE, InsuranceStatus.NOT_INSURED),
        (None, HERE, InsuranceStatus.UNKNOWN),
        ([spell()], None, InsuranceStatus.INSURED_ELSEWHERE),  # the unit is not registered
    ],
)
def test_insurance_status(
    spells: list[Insurance] | None, unit: str | None, status: InsuranceStatus
) -> None:
    assert insurance_status(SystemFacts(spells, unit)) is status


@pytest.mark.parametrize(
    ("employment", "spells", "unit", "found"),
    [
        ([EMPLOYED], [spell()], HERE, []),
        ([EMPLOYED], [], HERE, [EMPLOYED_WITHOUT_INSURANCE]),
        ([EMPLOYED], [spell(ELSEWHERE)], HERE, [EMPLOYED_WITHOUT_INSURANCE]),
        (
            [EMPLOYED],
            [spell(stopped=D(2024, 3, 1))],
            HERE,
            [EMPLOYED_WITHOUT_INSURANCE],
        ),
        ([EMPLOYED], [], None, [EMPLOYED_WITHOUT_INSURANCE]),
        ([DISMISSED], [spell()], HERE, [INSURED_WITHOUT_EMPLOYMENT]),
        ([], [spell()], HERE, [INSURED_WITHOUT_EMPLOYMENT]),
        ([DISMISSED], [spell(stopped=D(2024, 3, 1))], HERE, []),
        ([DISMISSED], [spell(ELSEWHERE)], HERE, []),
        # Nothing is guessed for a system that did not answer.
        ([EMPLOYED], None, HERE, []),
        (None, [spell()], HERE, []),
    ],
)
def test_employment_and_insurance_disagree(
    employment: list[EmploymentRecord] | None,
    spells: list[Insurance] | None,
    unit: str | None,
    found: list[str],
) -> None:
    facts = SystemFacts(spells, unit)
    contracts = [IN_FORCE] if employment and employment[0].state is EmploymentState.EMPLOYED else []
    assert find_inconsistencies(employment, contracts, [], [(inconsistencies, facts)]) == found


def test_off_the_view_has_no_insurance_and_asks_nothing_of_it() -> None:
    view = build_view([EMPLOYED], [IN_FORCE], [])
    assert view is not None
    assert view.contributed == {}
    assert view.inconsistencies == []
    assert view.complete


def test_on_the_view_says_when_insurance_could_not_be_asked() -> None:
    down = build_view(
        [EMPLOYED], [IN_FORCE], [], contributed={SYSTEM: (inconsistencies, SystemFacts(None, HERE))}
    )
    assert down is not None
    assert down.unavailable == [SYSTEM]
    assert not down.complete
    assert down.status is WorkerStatus.EMPLOYED_WITH_CONTRACT  # the three still tell
    assert down.inconsistencies == []
    on = build_view(
        [EMPLOYED], [IN_FORCE], [], contributed={SYSTEM: (inconsistencies, SystemFacts([], HERE))}
    )
    assert on is not None
    assert on.inconsistencies == [EMPLOYED_WITHOUT_INSURANCE]
    assert on.complete
