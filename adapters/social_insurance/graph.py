"""The worker view's social-insurance fields, as GraphQL: ``insuranceStatus`` and
``insuranceSpells`` (``SystemSpec.worker``: the ``Worker`` type gains them from the
registry). Imported only where the schema is built."""

from __future__ import annotations

import datetime as dt

import strawberry

from adapters.social_insurance.model import SYSTEM, Insurance, InsuranceState
from adapters.social_insurance.worker import InsuranceStatus, insurance_status
from gateway.errors import from_adapter
from gateway.schema.context import Info
from gateway.schema.enums import register_enum

register_enum(
    InsuranceStatus,
    "参保状态: the worker's social insurance with this employer's unit.",
    {
        "INSURED": ("在本单位参保", "Insured with this unit"),
        "INSURED_ELSEWHERE": ("在其他单位参保", "Insured with another unit"),
        "STOPPED": ("已停保", "Insurance stopped"),
        "NOT_INSURED": ("未参保", "Not insured: with no unit now, nor ever with this one"),
        "UNKNOWN": ("无法确定（系统未响应）", "Unknown: the system did not answer"),
    },
)
register_enum(
    InsuranceState,
    "一段参保记录的状态.",
    {"INSURED": ("参保中", "Insured"), "STOPPED": ("已停保", "Stopped")},
)


@strawberry.type(
    description="参保记录: one spell of the worker's social insurance with one unit, from "
    "the social insurance system (when it is switched on)."
)
class InsuranceSpell:
    unit_insurance_number: str = strawberry.field(
        description="单位编号: the unit's insurance number (the system's id of the employer)."
    )
    at_this_employer: bool = strawberry.field(
        description="Whether the unit is this employer (false: another unit the caller "
        "reaches, for a clerk or an administrator)."
    )
    start_date: dt.date = strawberry.field(description="参保日期: insured from.")
    stop_date: dt.date | None = strawberry.field(description="停保日期: insured until.")
    state: InsuranceState = strawberry.field(description="参保中 or 已停保.")

    @classmethod
    def from_domain(cls, s: Insurance, unit_id: str | None) -> InsuranceSpell:
        return cls(
            unit_insurance_number=s.employer_id,
            at_this_employer=unit_id is not None and s.employer_id == unit_id,
            start_date=s.start_date,
            stop_date=s.stop_date,
            state=s.state,
        )


@strawberry.type
class InsuranceFields:
    """Mixed into ``Worker``, which provides ``facts(info, system)``."""

    @strawberry.field(
        description="参保状态 with this employer's unit, from the social insurance system: "
        "null while that system is switched off; UNKNOWN when it could not be asked (an "
        "error names it, and unavailableSystems lists it)."
    )
    async def insurance_status(self, info: Info) -> InsuranceStatus | None:
        facts = await self.facts(info, SYSTEM)  # type: ignore[attr-defined]
        return None if facts is None else insurance_status(facts)

    @strawberry.field(
        description="参保记录: the worker's spells of social insurance with the units the "
        "caller reaches (an employer: its own), newest first; of other units nothing is "
        "shown but insuranceStatus INSURED_ELSEWHERE; null while the system is switched "
        "off, or with an error when it could not be asked."
    )
    async def insurance_spells(self, info: Info) -> list[InsuranceSpell] | None:
        facts = await self.facts(info, SYSTEM)  # type: ignore[attr-defined]
        if facts is None:
            return None
        if facts.records is None:
            failures = info.context.loaders.failures()
            raise from_adapter(next(f for f in failures if f.system == SYSTEM))
        return [InsuranceSpell.from_domain(s, facts.unit_id) for s in facts.records]
