"""From a checked row of the form to a registration and its steps.

Each step carries only what its system needs (the design's form table), in
unified terms; the adapters turn it into the system's own fields and codes.
Payloads are JSON, built and read back with cattrs so that what the engine
sends is exactly what was stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import typing
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeVar

from cattrs.preconf.json import make_converter

from adapters.social_insurance.model import SYSTEM as SOCIAL_INSURANCE
from adapters.social_insurance.model import AdditionRequest, RemovalRequest, StopReason
from gateway.domain.model import Business as RowBusiness
from gateway.domain.model import (
    ContractEnding,
    ContractTerm,
    DismissalRequest,
    EmployerProfile,
    EmploymentRegistrationRequest,
    EndReason,
    Person,
    RegistrationRow,
    System,
    UnemploymentRequest,
)
from gateway.registrations.model import (
    OPERATION_SYSTEM,
    Business,
    Channel,
    Operation,
    Registration,
    RegistrationState,
    Step,
    Warning,
)

T = TypeVar("T")

_converter = make_converter()
# Amounts (the contribution wage) travel as their exact decimal text, never a float.
_converter.register_unstructure_hook(Decimal, str)
_converter.register_structure_hook(Decimal, lambda value, _: Decimal(str(value)))


def to_payload(value: Any) -> dict[str, Any]:
    data: dict[str, Any] = _converter.unstructure(value)
    return data


def from_payload(data: dict[str, Any], kind: type[T]) -> T:
    return _converter.structure(data, kind)


class NotBound(Exception):
    """The employer is not (yet) known to a system a step must write to."""

    def __init__(self, system: System) -> None:
        super().__init__(system.value)
        self.system = system


def new_id() -> str:
    return uuid.uuid4().hex


def person_key(id_type: str, id_number: str) -> str:
    return f"{id_type}:{id_number}"


def person_of(row: RegistrationRow) -> Person:
    assert row.gender is not None and row.ethnicity is not None and row.education is not None
    return Person(
        row.id_type,
        row.id_number,
        row.name,
        row.gender,
        row.ethnicity,
        row.education,
        row.mobile,
        row.household_address,
        row.current_address,
    )


def term_of(row: RegistrationRow) -> ContractTerm:
    assert row.contract_type and row.start_date and row.filing_person_category
    assert row.employment_form and row.post and row.labour_filing_locality
    return ContractTerm(
        row.contract_type,
        row.start_date,
        row.contract_end_date,
        row.filing_person_category,
        row.employment_form,
        row.post,
        row.labour_filing_locality,
    )


def row_steps(
    row: RegistrationRow, ids: dict[System, str | None], *, insurance: bool = False
) -> list[tuple[int, Operation, System, Any]]:
    """The steps of one row: (stage, operation, system, what to send). With
    ``insurance`` (the social insurance system is on), a hire's addition and an
    ending's removal follow in stage 1."""
    steps = _core_steps(row, ids)
    if insurance:
        steps += _insurance_steps(row, ids)
    return steps


def _bound(ids: dict[System, str | None], system: System) -> str:
    employer_id = ids.get(system)
    if not employer_id:
        raise NotBound(system)
    return employer_id


#: 减员原因 (tbyy) of each way a contract ends: the worker's own notice is leaving the
#: unit; death and retirement end insurance for another reason than the contract.
STOP_REASONS: dict[EndReason, StopReason] = {
    **dict.fromkeys(EndReason, StopReason.CONTRACT_ENDED),
    EndReason.BY_WORKER_NOTICE: StopReason.LEFT_UNIT,
    EndReason.RETIREMENT: StopReason.OTHER,
    EndReason.DEATH: StopReason.OTHER,
}


def _insurance_steps(
    row: RegistrationRow, ids: dict[System, str | None]
) -> list[tuple[int, Operation, System, Any]]:
    """增员 with a hire (from its start date, at its wage), 减员 with an ending (from
    the day after the relation ended)."""
    if row.business is RowBusiness.HIRE:
        assert row.start_date and row.monthly_wage is not None
        addition = AdditionRequest(
            _bound(ids, SOCIAL_INSURANCE), person_of(row), row.start_date, row.monthly_wage
        )
        return [(1, Operation.DECLARE_ADDITION, SOCIAL_INSURANCE, addition)]
    if row.business is RowBusiness.END:
        assert row.end_reason and row.end_date
        removal = RemovalRequest.after_relation_ended(
            _bound(ids, SOCIAL_INSURANCE),
            row.id_type,
            row.id_number,
            row.end_date,
            STOP_REASONS[row.end_reason],
        )
        return [(1, Operation.DECLARE_REMOVAL, SOCIAL_INSURANCE, removal)]
    return []


def _core_steps(
    row: RegistrationRow, ids: dict[System, str | None]
) -> list[tuple[int, Operation, System, Any]]:

    def bound(system: System) -> str:
        return _bound(ids, system)

    if row.business is RowBusiness.HIRE:
        assert row.start_date and row.employment_person_category and row.employment_form
        assert row.post and row.employment_locality
        return [
            (
                0,
                Operation.REGISTER_EMPLOYMENT,
                System.EMPLOYMENT,
                EmploymentRegistrationRequest(
                    bound(System.EMPLOYMENT),
                    person_of(row),
                    row.start_date,
                    row.employment_person_category,
                    row.employment_form,
                    row.post,
                    row.employment_locality,
                ),
            ),
            (
                0,
                Operation.FILE_CONTRACT,
                System.LABOUR,
                FileContractRequest(
                    bound(System.LABOUR),
                    person_of(row),
                    term_of(row),
                ),
            ),
        ]
    if row.business is RowBusiness.RENEW:
        return [
            (
                0,
                Operation.RENEW_CONTRACT,
                System.LABOUR,
                RenewContractRequest(
                    bound(System.LABOUR),
                    row.id_number,
                    term_of(row),
                ),
            ),
        ]
    assert row.end_reason and row.end_date
    steps: list[tuple[int, Operation, System, Any]] = [
        (
            0,
            Operation.DISMISS,
            System.EMPLOYMENT,
            DismissalRequest(
                bound(System.EMPLOYMENT),
                row.id_type,
                row.id_number,
                row.end_date,
                row.end_reason,
            ),
        ),
        (
            0,
            Operation.END_CONTRACT,
            System.LABOUR,
            ContractEnding(
                bound(System.LABOUR),
                row.id_number,
                row.end_reason,
                row.end_date,
            ),
        ),
    ]
    if row.register_unemployment:
        steps.append(
            (
                1,
                Operation.REGISTER_UNEMPLOYMENT,
                System.UNEMPLOYMENT,
                UnemploymentRequest(
                    bound(System.UNEMPLOYMENT),
                    person_of(row),
                    row.end_date,
                    row.end_reason,
                ),
            )
        )
    return steps


# The labour writes have no request type in the domain (the adapter takes
# arguments); these keep their payloads typed all the same.
from dataclasses import dataclass  # noqa: E402


@dataclass(frozen=True, slots=True)
class FileContractRequest:
    employer_id: str
    person: Person
    term: ContractTerm


@dataclass(frozen=True, slots=True)
class RenewContractRequest:
    employer_id: str
    id_number: str
    term: ContractTerm


@dataclass(frozen=True, slots=True)
class OpenEmployerRequest:
    profile: EmployerProfile


#: The payload type of each operation, for reading a step back.
PAYLOAD_TYPES: dict[Operation, type[Any]] = {
    Operation.OPEN_EMPLOYER: OpenEmployerRequest,
    Operation.REGISTER_EMPLOYMENT: EmploymentRegistrationRequest,
    Operation.DISMISS: DismissalRequest,
    Operation.FILE_CONTRACT: FileContractRequest,
    Operation.RENEW_CONTRACT: RenewContractRequest,
    Operation.END_CONTRACT: ContractEnding,
    Operation.REGISTER_UNEMPLOYMENT: UnemploymentRequest,
    Operation.DECLARE_ADDITION: AdditionRequest,
    Operation.DECLARE_REMOVAL: RemovalRequest,
}


#: The writes of each business; an end adds the unemployment registration when asked.
ROW_OPERATIONS: dict[RowBusiness, tuple[Operation, ...]] = {
    RowBusiness.HIRE: (Operation.REGISTER_EMPLOYMENT, Operation.FILE_CONTRACT),
    RowBusiness.RENEW: (Operation.RENEW_CONTRACT,),
    RowBusiness.END: (Operation.DISMISS, Operation.END_CONTRACT),
}


#: What social insurance adds to each business when it is on.
INSURANCE_OPERATIONS: dict[RowBusiness, tuple[Operation, ...]] = {
    RowBusiness.HIRE: (Operation.DECLARE_ADDITION,),
    RowBusiness.END: (Operation.DECLARE_REMOVAL,),
}


def row_operations(
    row: RegistrationRow, only: Operation | None = None, *, insurance: bool = False
) -> tuple[Operation, ...]:
    """The writes a row will make (``row_steps`` makes exactly these), known before
    the row is checked: nothing but its business, its unemployment flag and whether
    social insurance is on counts. Separate handling (``only``) is of the three."""
    operations = ROW_OPERATIONS.get(row.business, ())
    if row.business is RowBusiness.END and row.register_unemployment:
        operations += (Operation.REGISTER_UNEMPLOYMENT,)
    if insurance and only is None:
        operations += INSURANCE_OPERATIONS.get(row.business, ())
    return tuple(op for op in operations if only is None or op is only)


@functools.cache
def payload_fields(operation: Operation) -> frozenset[str]:
    """The unified fields an operation sends: the leaves of its payload type."""

    def leaves(kind: type[Any]) -> set[str]:
        hints = typing.get_type_hints(kind)
        found: set[str] = set()
        for f in dataclasses.fields(kind):
            hint = hints[f.name]
            nested = isinstance(hint, type) and dataclasses.is_dataclass(hint)
            found |= leaves(hint) if nested else {f.name}
        return found

    return frozenset(leaves(PAYLOAD_TYPES[operation]))


def row_reach(
    row: RegistrationRow, only: Operation | None = None, *, insurance: bool = False
) -> dict[System, frozenset[str]]:
    """Each system a row will write to, with the unified fields it will send there."""
    reach: dict[System, frozenset[str]] = {}
    for operation in row_operations(row, only, insurance=insurance):
        system = OPERATION_SYSTEM[operation]
        assert system is not None  # only opening an employer leaves its system to the step
        reach[system] = reach.get(system, frozenset()) | payload_fields(operation)
    return reach


def step_request(step: Step) -> Any:
    """What a step sends, as the adapter's request type."""
    return from_payload(step.payload, PAYLOAD_TYPES[step.operation])


def _registration(
    business: Business,
    credit_code: str,
    division: str,
    key: str | None,
    payload: dict[str, Any],
    steps: Sequence[tuple[int, Operation, System, Any]],
    *,
    submission_id: str,
    channel: Channel,
    actor_id: int | None,
    actor_username: str | None,
    warnings: Sequence[Warning],
    now: dt.datetime,
    step_deadline: dt.timedelta,
) -> Registration:
    registration_id = new_id()
    return Registration(
        id=registration_id,
        submission_id=submission_id,
        business=business,
        state=RegistrationState.ACCEPTED,
        credit_code=credit_code,
        division=division,
        person_key=key,
        payload=payload,
        channel=channel,
        actor_id=actor_id,
        actor_username=actor_username,
        warnings=list(warnings),
        steps=[
            Step(
                id=new_id(),
                registration_id=registration_id,
                system=system,
                operation=operation,
                stage=stage,
                payload=to_payload(request),
                # Later stages are not due until the earlier ones are done.
                next_attempt_at=now if stage == 0 else None,
                deadline_at=now + step_deadline,
                created_at=now,
                updated_at=now,
            )
            for stage, operation, system, request in steps
        ],
        created_at=now,
        updated_at=now,
    )


def plan_row(
    row: RegistrationRow,
    credit_code: str,
    division: str,
    ids: dict[System, str | None],
    *,
    only: Operation | None = None,
    insurance: bool = False,
    **common: Any,
) -> Registration:
    """A registration for one row; ``only`` keeps one step (separate handling);
    ``insurance``: the social insurance system is on (see ``row_steps``)."""
    steps = row_steps(row, ids, insurance=insurance and only is None)
    business = Business(row.business.value)
    if only is not None:
        steps = [(0, op, system, request) for _, op, system, request in steps if op is only]
        if not steps:
            raise ValueError(f"{only.value} is not part of a {row.business.value} row")
        business = Business.SEPARATE
    return _registration(
        business,
        credit_code,
        division,
        person_key(row.id_type.value, row.id_number),
        to_payload(row),
        steps,
        **common,
    )


#: An employer's profile calls the unit's name ``name``; its unified name is ``unit_name``.
PROFILE_FIELDS = {"name": "unit_name"}


def account_reach(*, insurance: bool = False) -> dict[System, frozenset[str]]:
    """Each system opening an account writes to, with the unified fields it sends there."""
    sent = frozenset(PROFILE_FIELDS.get(f, f) for f in payload_fields(Operation.OPEN_EMPLOYER))
    return dict.fromkeys(account_systems(insurance=insurance), sent)


def account_systems(*, insurance: bool = False) -> tuple[System, ...]:
    """Where an account's unit is opened: the three, and social insurance when on."""
    return (*System, SOCIAL_INSURANCE) if insurance else tuple(System)


def plan_account(
    profile: EmployerProfile, *, insurance: bool = False, **common: Any
) -> Registration:
    """Open or merge the employer in every system, in parallel (social insurance:
    the unit's insurance registration, 单位参保登记, when it is on)."""
    steps = [
        (0, Operation.OPEN_EMPLOYER, s, OpenEmployerRequest(profile))
        for s in account_systems(insurance=insurance)
    ]
    return _registration(
        Business.OPEN_ACCOUNT,
        profile.credit_code,
        profile.division,
        None,
        to_payload(profile),
        steps,
        **common,
    )
