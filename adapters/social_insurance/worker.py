"""What social insurance adds to the unified view of a worker (``SystemSpec.worker``).

Whether the worker is insured with this employer's unit (``InsuranceStatus``,
from the worker's spells and the unit's insurance number), and what employment and
insurance at this employer disagree on. Pure functions; the GraphQL fields that show
them are ``graph.py``.

The system answers by the person, with their spells at every unit (``Spells``);
the view keeps those of the units the caller reaches (an employer: its own) and, of
the others, only whether the worker is insured with one now
(``gateway.domain.worker.seen_from``): never another unit's number, dates or states.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from adapters.social_insurance.model import Insurance, InsuranceState
from gateway.domain.model import EmploymentRecord, EmploymentState, IdType
from gateway.domain.worker import SystemFacts
from gateway.registry import WorkerSection

if TYPE_CHECKING:
    from gateway.systems import SystemAdapter

__all__ = [
    "EMPLOYED_WITHOUT_INSURANCE",
    "INSURED_WITHOUT_EMPLOYMENT",
    "SECTION",
    "InsuranceStatus",
    "Spells",
    "here",
    "inconsistencies",
    "insurance_status",
]

#: Employed here, not insured with this unit.
EMPLOYED_WITHOUT_INSURANCE = "EMPLOYED_WITHOUT_INSURANCE"
#: Insured with this unit, which does not employ the worker.
INSURED_WITHOUT_EMPLOYMENT = "INSURED_WITHOUT_EMPLOYMENT"

LABELS = {
    EMPLOYED_WITHOUT_INSURANCE: (
        "已就业登记但未在本单位参加社会保险",
        "Employed, but not insured with this unit",
    ),
    INSURED_WITHOUT_EMPLOYMENT: (
        "在本单位参加社会保险但无在职就业登记",
        "Insured with this unit, which does not employ the worker",
    ),
}


class InsuranceStatus(StrEnum):
    """参保状态 with this employer's unit, from the social insurance system."""

    INSURED = "INSURED"  # 在本单位参保
    INSURED_ELSEWHERE = "INSURED_ELSEWHERE"  # 不在本单位，在其他单位参保
    STOPPED = "STOPPED"  # 曾参保，已停保
    NOT_INSURED = "NOT_INSURED"  # 无参保记录
    UNKNOWN = "UNKNOWN"  # the system could not be asked


@dataclass(frozen=True, slots=True)
class Spells:
    """The worker's spells with every unit, newest first, as the system answers by
    ID (``gateway.domain.worker.HeldAtUnits``): what a caller sees of them is chosen
    by unit."""

    spells: tuple[Insurance, ...]

    def units(self) -> frozenset[str]:
        return frozenset(s.employer_id for s in self.spells)

    def seen_from(self, unit_id: str | None, reached: Collection[str]) -> SystemFacts:
        """The spells at ``unit_id`` and the ``reached`` units; of the others, only
        whether one insures the worker now."""
        return SystemFacts(
            [s for s in self.spells if s.employer_id == unit_id or s.employer_id in reached],
            unit_id,
            elsewhere=any(
                s.state is InsuranceState.INSURED and s.employer_id != unit_id for s in self.spells
            ),
        )


def here(facts: SystemFacts) -> Insurance | None:
    """The open spell with this employer's unit, if any."""
    spells: list[Insurance] = facts.records or []
    return next(
        (s for s in spells if s.state is InsuranceState.INSURED and s.employer_id == facts.unit_id),
        None,
    )


def insurance_status(facts: SystemFacts) -> InsuranceStatus:
    """Whether the worker is insured with this employer's unit, with another unit now,
    or was with this unit and is no more; otherwise not insured (whatever another unit
    once did: that is not this unit's to know). The same whoever asks."""
    spells: list[Insurance] | None = facts.records
    if spells is None:
        return InsuranceStatus.UNKNOWN
    if here(facts) is not None:
        return InsuranceStatus.INSURED
    if facts.elsewhere or any(
        s.state is InsuranceState.INSURED and s.employer_id != facts.unit_id for s in spells
    ):
        return InsuranceStatus.INSURED_ELSEWHERE
    if any(s.employer_id == facts.unit_id for s in spells):
        return InsuranceStatus.STOPPED
    return InsuranceStatus.NOT_INSURED


def inconsistencies(employment: Sequence[EmploymentRecord] | None, facts: SystemFacts) -> list[str]:
    """What employment and insurance at this employer disagree on (both must have
    answered)."""
    if facts.records is None or employment is None:
        return []
    employed = any(r.state is EmploymentState.EMPLOYED for r in employment)
    insured = here(facts) is not None
    if employed and not insured:
        return [EMPLOYED_WITHOUT_INSURANCE]
    if insured and not employed:
        return [INSURED_WITHOUT_EMPLOYMENT]
    return []


async def spells(adapter: SystemAdapter, id_type: IdType, id_number: str) -> Spells:
    """The worker's spells with every unit (the system searches by ID type and number):
    the view shows a caller only those of the units it reaches (``Spells.seen_from``)."""
    from adapters.social_insurance.protocol import SocialInsuranceSystem

    assert isinstance(adapter, SocialInsuranceSystem)
    return Spells(tuple(await adapter.insurance(id_type, id_number)))


def graph() -> type[Any]:
    from adapters.social_insurance.graph import InsuranceFields

    return InsuranceFields


SECTION = WorkerSection(
    records=spells,
    inconsistencies=inconsistencies,
    labels=LABELS,
    graph=graph,
)
