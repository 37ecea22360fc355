"""The unified view of one worker: what the systems say, taken together.

Pure functions over the records each system holds. The current status is
derived from the three; where they disagree, the view lists the inconsistency
for a clerk to look at. When a system could not be asked, its records are
``None`` (not an empty list) and the view says it is incomplete.

Only records that stand make someone a unit's worker: a revoked employment
registration or contract filing, or a cancelled unemployment registration, was
undone (a hire refused and compensated leaves them at the unit that tried), and a
person the unit holds nothing else of is nobody's worker there, as one nobody
holds. A record that ended (a dismissal, a contract rescinded or terminated)
stands: a former worker is the unit's own history.

A registered system may add to the view (``SystemSpec.worker``): what it holds
of the worker (``SystemFacts``, with the unit's id there) and what it and the
employment system disagree on, while it is switched on; off, nothing of it
appears. Social insurance does so (insurance status and spells). Such a system
answers by the person, with their records at every unit; the view keeps those of
the units the caller reaches (``seen_from``), and of any other unit only whether
the worker is held there now.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

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
    # Registered systems add their own codes (``SystemSpec.worker``): an
    # inconsistency is reported as its code, a ``str``.


@dataclass(frozen=True, slots=True)
class SystemFacts:
    """What a system that adds to the view holds of one worker, when it is on.

    ``records``: its records of the worker at this unit and at the other units the
    caller reaches, as its section reads them (None: it could not be asked);
    never another unit's (``seen_from``). ``unit_id``: this employer's id there
    (None: the unit is not registered there). ``elsewhere``: whether the system
    holds the worker now at a unit other than this one (insured there today, say):
    all the view may know of a unit beyond the caller's reach.
    """

    records: Any | None
    unit_id: str | None
    elsewhere: bool = False


@runtime_checkable
class HeldAtUnits(Protocol):
    """A system's records of one person at every unit that holds them, as a system
    found by the person answers (``WorkerSection.records``): the view takes from them
    only what one caller may see."""

    def units(self) -> frozenset[str]:
        """The units (the system's ids) that hold a record of the person."""
        ...

    def seen_from(self, unit_id: str | None, reached: Collection[str]) -> SystemFacts:
        """The records at ``unit_id`` and at the ``reached`` units, and whether the
        person is held now at a unit other than ``unit_id``."""
        ...


def units_of(found: Any) -> frozenset[str]:
    """The units a system's records of a person are at (None: it could not be asked)."""
    if found is None:
        return frozenset()
    if isinstance(found, HeldAtUnits):
        return found.units()
    return frozenset(u for r in found if isinstance(u := getattr(r, "employer_id", None), str))


def seen_from(found: Any, unit_id: str | None, reached: Collection[str]) -> SystemFacts:
    """What a caller that reaches the unit ``unit_id`` (and the ``reached`` units,
    the system's ids of the other units it reaches) may see of a system's records of a
    person, found by the person at every unit. A system that says nothing of its
    records' units (not ``HeldAtUnits``) shows those whose ``employer_id`` is one of
    these units, and nothing of the others."""
    if found is None:
        return SystemFacts(None, unit_id)
    if isinstance(found, HeldAtUnits):
        return found.seen_from(unit_id, reached)
    shown = [
        r
        for r in found
        if (u := getattr(r, "employer_id", None)) is not None and (u == unit_id or u in reached)
    ]
    return SystemFacts(shown, unit_id)


#: ``(employment, facts) -> codes``: what a system and the employment system disagree on.
Disagreements = Callable[[Sequence[EmploymentRecord] | None, SystemFacts], Sequence[str]]


@dataclass(frozen=True, slots=True)
class WorkerView:
    """One person as the gateway shows them: ``None`` records mean "not known"."""

    person: Person
    employment: list[EmploymentRecord] | None
    contracts: list[LabourContract] | None
    unemployment: list[UnemploymentRegistration] | None
    status: WorkerStatus
    inconsistencies: list[str] = field(default_factory=list)
    unavailable: list[System] = field(default_factory=list)
    reveal: bool = False  # full ID and mobile numbers may be shown (single-worker query)
    #: What each system switched on that adds to the view holds of the worker.
    contributed: Mapping[System, SystemFacts] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.unavailable


def stands(record: EmploymentRecord | LabourContract | UnemploymentRegistration) -> bool:
    """Whether a record stands: not undone (a revoked registration or filing, a
    cancelled unemployment registration). An ended one (dismissed, a contract
    rescinded, terminated or renewed) stands."""
    if isinstance(record, EmploymentRecord):
        return record.state is not EmploymentState.REVOKED
    if isinstance(record, LabourContract):
        return record.state is not ContractState.REVOKED
    return record.state is not UnemploymentState.CANCELLED


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


def newest_per_person(records: Sequence[EmploymentRecord]) -> list[EmploymentRecord]:
    """A unit's list of employment registrations as its workers: one per person (ID
    type and number) with a registration that stands, their newest such (the later
    start date first, the list's own order between equal ones), in the order each
    person first appears in the list. A person whose registrations here were all
    revoked is not the unit's worker, and is not listed."""
    newest: dict[tuple[str, str], EmploymentRecord | None] = {}
    for record in records:
        key = (str(record.person.id_type), record.person.id_number)
        held = newest.get(key)
        if not stands(record):
            newest.setdefault(key, None)  # where they first appear, should one stand
        elif held is None or record.start_date > held.start_date:
            newest[key] = record
    return [r for r in newest.values() if r is not None]


def derive_status(
    employment: Sequence[EmploymentRecord] | None,
    contracts: Sequence[LabourContract] | None,
    unemployment: Sequence[UnemploymentRegistration] | None,
) -> WorkerStatus:
    """The worker's status, from the most telling system that answered.

    Unemployment registration outranks the rest (it is the latest step of an
    ending), except an employment that began after the relation it registered had
    ended: a worker let go and hired again is employed, and the registration left
    open is an inconsistency (``UNEMPLOYED_WHILE_EMPLOYED``). Then the employment
    system's state, refined by the labour system.
    """
    registered = _active_unemployment(unemployment) if unemployment else None
    active = _active_employment(employment) if employment is not None else None
    if registered and not (active and registered.relation_ended_on <= active.start_date):
        return WorkerStatus.REGISTERED_UNEMPLOYED
    if employment is None:
        return WorkerStatus.UNKNOWN
    if active:
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


def find_inconsistencies(
    employment: Sequence[EmploymentRecord] | None,
    contracts: Sequence[LabourContract] | None,
    unemployment: Sequence[UnemploymentRegistration] | None,
    contributed: Sequence[tuple[Disagreements, SystemFacts]] = (),
) -> list[str]:
    """What the systems that answered disagree on (nothing is guessed for the others);
    with ``contributed`` (the systems switched on that add to the view, each with
    how it disagrees with employment), theirs too."""
    found: list[str] = []
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
    for disagreements, facts in contributed:
        found += disagreements(employment, facts)
    return found


def build_view(
    employment: list[EmploymentRecord] | None,
    contracts: list[LabourContract] | None,
    unemployment: list[UnemploymentRegistration] | None,
    *,
    reveal: bool = False,
    contributed: Mapping[System, tuple[Disagreements, SystemFacts]] | None = None,
) -> WorkerView | None:
    """The unified view, or None when no system that answered holds a record of the
    person that stands (records undone make nobody the unit's worker); the person as
    the newest record that stands has them, every record shown beside it.
    ``contributed``: what each system switched on that adds to the view holds, with
    how it disagrees with employment."""
    contributed = contributed or {}
    newest_first: list[Person] = [r.person for r in employment or [] if stands(r)]
    newest_first += [
        c.person for c in sorted(contracts or [], key=_filed_key, reverse=True) if stands(c)
    ]
    newest_first += [u.person for u in unemployment or [] if stands(u)]
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
    unavailable += [s for s, (_, facts) in contributed.items() if facts.records is None]
    return WorkerView(
        person=newest_first[0],
        employment=employment,
        contracts=contracts,
        unemployment=unemployment,
        status=derive_status(employment, contracts, unemployment),
        inconsistencies=find_inconsistencies(
            employment, contracts, unemployment, list(contributed.values())
        ),
        unavailable=unavailable,
        reveal=reveal,
        contributed={s: facts for s, (_, facts) in contributed.items()},
    )


def _filed_key(c: LabourContract) -> tuple[str, str]:
    return (c.filed_at.isoformat() if c.filed_at else "", c.term.start_date.isoformat())
