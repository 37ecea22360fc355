"""The unified terms of social insurance (社会保险): what the adapter takes and gives.

They live with the adapter: the gateway names this system only through its
registration (``system.py``). Plain dataclasses and enums, no I/O.
Enum values are the national codes where the contract uses them (险种 ``110``…),
unified names otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from gateway.domain.model import IdType, Person, System

#: The system's name: what the store keeps in its steps and bindings, its
#: configuration key (``[systems.social_insurance]``, ``HRSS_SOCIAL_INSURANCE_*``).
SYSTEM = System("social_insurance")


class InsuranceType(StrEnum):
    """险种 (the contract's ``xzlx``, the national codes)."""

    PENSION = "110"
    UNEMPLOYMENT = "210"
    MEDICAL = "310"
    WORK_INJURY = "410"
    MATERNITY = "510"


#: What a hire is insured for unless told otherwise: the five types a unit pays.
ALL_TYPES: tuple[InsuranceType, ...] = tuple(InsuranceType)


class StopReason(StrEnum):
    """Why insurance stops (the contract's ``tbyy``)."""

    CONTRACT_ENDED = "CONTRACT_ENDED"  # the labour contract ended or was rescinded
    LEFT_UNIT = "LEFT_UNIT"
    OTHER = "OTHER"


class DeclarationKind(StrEnum):
    ADDITION = "ADDITION"  # 增员
    REMOVAL = "REMOVAL"  # 减员


class DeclarationState(StrEnum):
    UNDER_REVIEW = "UNDER_REVIEW"  # 受理中
    APPROVED = "APPROVED"  # 审核通过
    RETURNED = "RETURNED"  # 退回
    WITHDRAWN = "WITHDRAWN"  # 已撤回

    @property
    def decided(self) -> bool:
        return self is not DeclarationState.UNDER_REVIEW


class ReturnReason(StrEnum):
    """Why the agency returned a declaration (``thyy``)."""

    RECORDS_DIFFER = "RECORDS_DIFFER"  # the data differ from the agency's records
    WAGE_OUT_OF_RANGE = "WAGE_OUT_OF_RANGE"
    INSURED_ELSEWHERE = "INSURED_ELSEWHERE"  # insured with another unit
    OTHER = "OTHER"


class InsuranceState(StrEnum):
    INSURED = "INSURED"
    STOPPED = "STOPPED"


@dataclass(frozen=True, slots=True)
class AdditionRequest:
    """人员增员: insure a hired worker with the unit from ``start_date``.

    ``birth_date`` may be left out for the documents that carry it (a resident
    ID, a residence permit); for the others it must be given.
    """

    employer_id: str  # the unit's insurance number (dwbh)
    person: Person
    start_date: dt.date  # the hire's start date
    monthly_wage: Decimal  # 缴费工资, yuan
    insurance_types: tuple[InsuranceType, ...] = ALL_TYPES
    birth_date: dt.date | None = None
    #: ``employer_id`` empty: the unit, not bound when the step was planned (it is
    #: registered for insurance by the same registration), found by this code.
    unit_credit_code: str | None = None

    #: The registration row's field each attribute is built from (``addition_of``;
    #: ``gateway.domain.model.field_in_row``): a refusal's field, as the row names it.
    FROM_ROW: ClassVar[Mapping[str, str]] = {
        **Person.FROM_ROW,
        "start_date": "start_date",
        "monthly_wage": "monthly_wage",
        "birth_date": "birth_date",
    }


@dataclass(frozen=True, slots=True)
class RemovalRequest:
    """人员减员: stop the worker's insurance with the unit from ``stop_date``."""

    employer_id: str
    id_type: IdType
    id_number: str
    stop_date: dt.date  # the day after the labour relation ends
    reason: StopReason = StopReason.CONTRACT_ENDED
    #: As for an addition: the unit's code when ``employer_id`` is not known yet.
    unit_credit_code: str | None = None

    #: As for an addition (``removal_of``): the stop date is the day after the row's
    #: end date, the reason its end reason's; the adapter names the reason
    #: ``stop_reason`` (``tbyy``).
    FROM_ROW: ClassVar[Mapping[str, str]] = {
        "id_type": "id_type",
        "id_number": "id_number",
        "stop_date": "end_date",
        "reason": "end_reason",
        "stop_reason": "end_reason",
    }

    @classmethod
    def after_relation_ended(
        cls,
        employer_id: str,
        id_type: IdType,
        id_number: str,
        ended_on: dt.date,
        reason: StopReason = StopReason.CONTRACT_ENDED,
    ) -> RemovalRequest:
        """Insurance stops the day after the last day of the labour relation."""
        return cls(employer_id, id_type, id_number, ended_on + dt.timedelta(days=1), reason)


@dataclass(frozen=True, slots=True)
class Declaration:
    """申报: one addition or removal and what the agency made of it."""

    reference: str  # 受理号 (slh)
    kind: DeclarationKind
    employer_id: str
    id_type: IdType
    id_number: str
    state: DeclarationState
    declared_at: dt.datetime
    return_reason: ReturnReason | None = None
    return_note: str | None = None  # the agency's text, as it wrote it
    insurance_number: str | None = None  # the worker's, given on approval of an addition
    effective_on: dt.date | None = None  # when an approved change takes effect


@dataclass(frozen=True, slots=True)
class Insurance:
    """One spell of a worker's insurance with one unit."""

    employer_id: str
    insurance_number: str
    start_date: dt.date
    stop_date: dt.date | None
    state: InsuranceState
