"""The unified view of one worker: what the systems say, taken together.

Pure functions over the records each system holds. The current status is
derived from the three; where they disagree, the view lists the inconsistency
for a clerk to look at. When a system could not be asked, its records are
``None`` (not an empty list) and the view says it is incomplete.

When the social insurance system is on, the view also says whether the worker
is insured (``InsuranceFacts``: the worker's spells with every unit, and this
employer's insurance number) and adds what employment and insurance disagree
on; off, nothing of it appears.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from adapters.social_insurance.model import SYSTEM as SOCIAL_INSURANCE
from adapters.social_insurance.model import Insurance, InsuranceState
from gateway.domain.model import (
    ContractState,
    EmploymentRecord,
    EmploymentState,
    LabourContract,
    Person,
    System,
    UnemploymentRegistration,
    UnemploymentState,
)


class WorkerStatus(StrEnum):
    """当前状态, derived from the three systems."""

    EMPLOYED_WITH_CONTRACT = "EMPLOYED_WITH_CONTRACT"  # 在职，合同已备案
    EMPLOYED_WITHOUT_CONTRACT = "EMPLOYED_WITHOUT_CONTRACT"  # 在职，未备案合同
    CONTRACT_WITHOUT_EMPLOYMENT = "CONTRACT_WITHOUT_EMPLOYMENT"  # 有合同，无就业登记
    DISMISSED = "DISMISSED"  # 已解聘
    REGISTERED_UNEMPLOYED = "REGISTERED_UNEMPLOYED"  # 已失业登记
    NO_RECORD = "NO_RECORD"  # 无记录
    UNKNOWN = "UNKNOWN"  # a system needed to tell could not be asked


class Inconsistency(StrEnum):
    """Disagreements between the systems that a clerk should look at."""

    EMPLOYED_WITHOUT_FILED_CONTRACT = "EMPLOYED_WITHOUT_FILED_CONTRACT"
    CONTRACT_IN_FORCE_AFTER_DISMISSAL = "CONTRACT_IN_FORCE_AFTER_DISMISSAL"
    CONTRACT_IN_FORCE_WITHOUT_EMPLOYMENT = "CONTRACT_IN_FORCE_WITHOUT_EMPLOYMENT"
    UNEMPLOYED_WHILE_EMPLOYED = "UNEMPLOYED_WHILE_EMPLOYED"
    END_DATES_DIFFER = "END_DATES_DIFFER"
    PERSON_FIELDS_DIFFER = "PERSON_FIELDS_DIFFER"
    #: Social insurance on: employed here, not insured with this unit.
    EMPLOYED_WITHOUT_INSURANCE = "EMPLOYED_WITHOUT_INSURANCE"
    #: Social insurance on: insured with this unit, which does not employ the worker.
    INSURED_WITHOUT_EMPLOYMENT = "INSURED_WITHOUT_EMPLOYMENT"


class InsuranceStatus(StrEnum):
    """参保状态 with this employer's unit, from the social insurance system."""

    INSURED = "INSURED"  # 在本单位参保
    INSURED_ELSEWHERE = "INSURED_ELSEWHERE"  # 不在本单位，在其他单位参保
    STOPPED = "STOPPED"  # 曾参保，已停保
    NOT_INSURED = "NOT_INSURED"  # 无参保记录
    UNKNOWN = "UNKNOWN"  # the system could not be asked


@dataclass(frozen=True, slots=True)
class InsuranceFacts:
    """What the social insurance system says of one worker, when it is on.

    ``spells``: the worker's spells of insurance with every unit, newest first
    (None: the system could not be asked). ``unit_id``: this employer's unit
    insurance number (None: the unit is not registered for insurance, so the
    worker cannot be insured with it).
    """

    spells: list[Insurance] | None
    unit_id: str | None

    def here(self) -> Insurance | None:
        """The open spell with this employer's unit, if any."""
        return next(
            (
                s
                for s in self.spells or []
                if s.state is InsuranceState.INSURED and s.employer_id == self.unit_id
            ),
            None,
        )


@dataclass(frozen=True, slots=True)
class WorkerView:
    """One person as the gateway shows them: ``None`` records mean "not known"."""

    person: Person
    employment: list[EmploymentRecord] | None
    contracts: list[LabourContract] | None
    unemployment: list[UnemploymentRegistration] | None
    status: WorkerStatus
    inconsistencies: list[Inconsistency] = field(default_factory=list)
    unavailable: list[System] = field(default_factory=list)
    reveal: bool = False  # full ID and mobile numbers may be shown (single-worker query)
    insurance: InsuranceFacts | None = None  # None: the social insurance system is off

    @property
    def complete(self) -> bool:
        return not self.unavailable


def _active_employment(records: Sequence[EmploymentRecord]) -> EmploymentRecord | None:
    return next((r for r in records if r.state is EmploymentState.EMPLOYED), None)


def _latest_dismissal(records: Sequence[EmploymentRecord]) -> EmploymentRecord | None:
    dismissed = [r for r in records if r.state is EmploymentState.DISMISSED]
    return max(dismissed, key=lambda r: r.dismissal_date or r.start_date, default=None)


def _in_force(contracts: Sequence[LabourContract]) -> LabourContract | None:
    return next((c for c in contracts if c.state is ContractState.IN_FORCE), None)


def _latest_ended(contracts: Sequence[LabourContract]) -> LabourContract | None:
    ended = [c for c in contracts if c.state in (ContractState.RESCINDED, ContractState.TERMINATED)]
    return max(ended, key=lambda c: c.ended_on or c.term.start_date, default=None)


def _active_unemployment(
    regs: Sequence[UnemploymentRegistration],
) -> UnemploymentRegistration | None:
    return next((r for r in regs if r.state is UnemploymentState.REGISTERED), None)


def derive_status(
    employment: Sequence[EmploymentRecord] | None,
    contracts: Sequence[LabourContract] | None,
    unemployment: Sequence[UnemploymentRegistration] | None,
) -> WorkerStatus:
    """The worker's status, from the most telling system that answered.

    Unemployment registration outranks the rest (it is the latest step of an
    ending); then the employment system's state, refined by the labour system.
    """
    if unemployment and _active_unemployment(unemployment):
        return WorkerStatus.REGISTERED_UNEMPLOYED
    if employment is None:
        return WorkerStatus.UNKNOWN
    if _active_employment(employment):
        if contracts is None:
            return WorkerStatus.UNKNOWN
        if _in_force(contracts):
            return WorkerStatus.EMPLOYED_WITH_CONTRACT
        return WorkerStatus.EMPLOYED_WITHOUT_CONTRACT
    if _latest_dismissal(employment):
        return WorkerStatus.DISMISSED
    if contracts is None:
        return WorkerStatus.UNKNOWN
    if _in_force(contracts):
        return WorkerStatus.CONTRACT_WITHOUT_EMPLOYMENT
    if unemployment is None:
        return WorkerStatus.UNKNOWN
    return WorkerStatus.NO_RECORD


def insurance_status(facts: InsuranceFacts) -> InsuranceStatus:
    """Whether the worker is insured with this employer's unit, elsewhere, or no more."""
    if facts.spells is None:
        return InsuranceStatus.UNKNOWN
    if facts.here() is not None:
        return InsuranceStatus.INSURED
    if any(s.state is InsuranceState.INSURED for s in facts.spells):
        return InsuranceStatus.INSURED_ELSEWHERE
    return InsuranceStatus.STOPPED if facts.spells else InsuranceStatus.NOT_INSURED


def insurance_inconsistencies(
    employment: Sequence[EmploymentRecord] | None, facts: InsuranceFacts | None
) -> list[Inconsistency]:
    """What employment and insurance at this employer disagree on (both must have
    answered; nothing when the social insurance system is off)."""
    if facts is None or facts.spells is None or employment is None:
        return []
    employed = _active_employment(employment) is not None
    insured = facts.here() is not None
    if employed and not insured:
        return [Inconsistency.EMPLOYED_WITHOUT_INSURANCE]
    if insured and not employed:
        return [Inconsistency.INSURED_WITHOUT_EMPLOYMENT]
    return []


def find_inconsistencies(
    employment: Sequence[EmploymentRecord] | None,
    contracts: Sequence[LabourContract] | None,
    unemployment: Sequence[UnemploymentRegistration] | None,
    insurance: InsuranceFacts | None = None,
) -> list[Inconsistency]:
    """What the systems that answered disagree on (nothing is guessed for the others);
    with ``insurance`` (the social insurance system is on), employment and insurance too."""
    found: list[Inconsistency] = []
    active = _active_employment(employment) if employment is not None else None
    dismissal = _latest_dismissal(employment) if employment is not None else None
    in_force = _in_force(contracts) if contracts is not None else None
    ended = _latest_ended(contracts) if contracts is not None else None
    if employment is not None and contracts is not None:
        if active and not in_force:
            found.append(Inconsistency.EMPLOYED_WITHOUT_FILED_CONTRACT)
        if in_force and not active:
            found.append(
                Inconsistency.CONTRACT_IN_FORCE_AFTER_DISMISSAL
                if dismissal
                else Inconsistency.CONTRACT_IN_FORCE_WITHOUT_EMPLOYMENT
            )
        if (
            dismissal
            and ended
            and not active
            and dismissal.dismissal_date
            and ended.ended_on
            and dismissal.dismissal_date != ended.ended_on
        ):
            found.append(Inconsistency.END_DATES_DIFFER)
    if unemployment and _active_unemployment(unemployment) and active:
        found.append(Inconsistency.UNEMPLOYED_WHILE_EMPLOYED)
    people = [r.person for r in employment or []]
    people += [c.person for c in contracts or []]
    people += [u.person for u in unemployment or []]
    if len({(p.name, p.gender, p.id_type) for p in people}) > 1:
        found.append(Inconsistency.PERSON_FIELDS_DIFFER)
    return found + insurance_inconsistencies(employment, insurance)


def build_view(
    employment: list[EmploymentRecord] | None,
    contracts: list[LabourContract] | None,
    unemployment: list[UnemploymentRegistration] | None,
    *,
    reveal: bool = False,
    insurance: InsuranceFacts | None = None,
) -> WorkerView | None:
    """The unified view, or None when no system that answered knows the person.
    ``insurance``: what the social insurance system says, when it is on."""
    newest_first: list[Person] = [r.person for r in employment or []]
    newest_first += [c.person for c in sorted(contracts or [], key=_filed_key, reverse=True)]
    newest_first += [u.person for u in unemployment or []]
    if not newest_first:
        return None
    unavailable = [
        system
        for system, records in (
            (System.EMPLOYMENT, employment),
            (System.LABOUR, contracts),
            (System.UNEMPLOYMENT, unemployment),
        )
        if records is None
    ]
    if insurance is not None and insurance.spells is None:
        unavailable.append(SOCIAL_INSURANCE)
    return WorkerView(
        person=newest_first[0],
        employment=employment,
        contracts=contracts,
        unemployment=unemployment,
        status=derive_status(employment, contracts, unemployment),
        inconsistencies=find_inconsistencies(employment, contracts, unemployment, insurance),
        unavailable=unavailable,
        reveal=reveal,
        insurance=insurance,
    )


def _filed_key(c: LabourContract) -> tuple[str, str]:
    return (c.filed_at.isoformat() if c.filed_at else "", c.term.start_date.isoformat())
