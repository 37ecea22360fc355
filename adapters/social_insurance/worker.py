"""What social insurance adds to the unified view of a worker (``SystemSpec.worker``).

Whether the worker is insured with this employer's unit (``InsuranceStatus``,
from the worker's spells with every unit and the unit's insurance number), and
what employment and insurance at this employer disagree on. Pure functions; the
GraphQL fields that show them are ``graph.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def here(facts: SystemFacts) -> Insurance | None:
    """The open spell with this employer's unit, if any."""
    spells: list[Insurance] = facts.records or []
    return next(
        (s for s in spells if s.state is InsuranceState.INSURED and s.employer_id == facts.unit_id),
        None,
    )


def insurance_status(facts: SystemFacts) -> InsuranceStatus:
    """Whether the worker is insured with this employer's unit, elsewhere, or no more."""
    spells: list[Insurance] | None = facts.records
    if spells is None:
        return InsuranceStatus.UNKNOWN
    if here(facts) is not None:
        return InsuranceStatus.INSURED
    if any(s.state is InsuranceState.INSURED for s in spells):
        return InsuranceStatus.INSURED_ELSEWHERE
    return InsuranceStatus.STOPPED if spells else InsuranceStatus.NOT_INSURED


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


async def spells(adapter: SystemAdapter, id_type: IdType, id_number: str) -> list[Insurance]:
    """The worker's spells with every unit (the system searches by ID type and number)."""
    from adapters.social_insurance.protocol import SocialInsuranceSystem

    assert isinstance(adapter, SocialInsuranceSystem)
    return await adapter.insurance(id_type, id_number)


def graph() -> type[Any]:
    from adapters.social_insurance.graph import InsuranceFields

    return InsuranceFields


SECTION = WorkerSection(
    records=spells,
    inconsistencies=inconsistencies,
    labels=LABELS,
    graph=graph,
)
