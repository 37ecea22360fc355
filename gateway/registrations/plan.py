"""From a checked row of the form to a registration and its steps.

Each step carries only what its system needs (the design's form table), in
unified terms; the adapters turn it into the system's own fields and codes.
Payloads are JSON, built and read back with cattrs so that what the engine
sends is exactly what was stored (``payloads``); where a row will write is
``reach``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from gateway.domain.model import Business as RowBusiness
from gateway.domain.model import (
    ContractEnding,
    ContractTerm,
    DismissalRequest,
    EmployerProfile,
    EmploymentRegistrationRequest,
    FileContractRequest,
    OpenEmployerRequest,
    Person,
    RegistrationRow,
    RenewContractRequest,
    System,
    UnemploymentRequest,
)
from gateway.registrations.model import (
    Business,
    Channel,
    Operation,
    Registration,
    RegistrationState,
    Step,
    StepKind,
    Warning,
)
from gateway.registrations.payloads import (
    from_payload,
    new_id,
    person_key,
    step_request,
    to_payload,
)
from gateway.registrations.reach import (
    PROFILE_FIELDS,
    ROW_OPERATIONS,
    account_reach,
    account_systems,
    payload_fields,
    row_operations,
    row_reach,
)
from gateway.registry import registry

# The payloads' conversions and the reach live beside: re-exported, as the
# engine, the store and the service import them from here.
__all__ = [
    "PROFILE_FIELDS",
    "ROW_OPERATIONS",
    "FileContractRequest",
    "NotBound",
    "OpenEmployerRequest",
    "RenewContractRequest",
    "account_reach",
    "account_systems",
    "from_payload",
    "new_id",
    "payload_fields",
    "person_key",
    "plan_account",
    "plan_row",
    "row_operations",
    "row_reach",
    "row_steps",
    "step_request",
    "to_payload",
]


class NotBound(Exception):
    """The employer is not (yet) known to a system a step must write to."""

    def __init__(self, system: System) -> None:
        super().__init__(system.value)
        self.system = system


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


class PlannedStep(NamedTuple):
    """One step of a plan: when, what, where, what to send, and whether it is core."""

    stage: int
    operation: Operation
    system: System
    request: Any
    kind: StepKind = StepKind.CORE


def row_steps(
    row: RegistrationRow,
    ids: Mapping[System, str | None],
    unit: EmployerProfile | None = None,
) -> list[PlannedStep]:
    """The steps of one row. The core of each business stands or falls together
    (hire: employment registration and contract filing; renew; end: dismissal
    and contract ending); the worker's unemployment registration is a follow-up:
    it waits for the core, and its refusal never undoes it.

    ``ids`` has the unit's id in every system switched on (None: not bound);
    the registered systems among them add the steps they declare for the
    row's business (``SystemSpec.plan``), of the kind they declare. A unit not
    yet bound in a system that registers units after the core (switched on
    after the unit's account was opened) is registered there by this
    registration, given the ``unit``: a follow-up at the step's stage, the step
    itself one stage later, finding the unit by its credit code
    (``PlanStep.build_unbound``); otherwise the row is refused (``NotBound``).
    """
    steps = _core_steps(row, ids)
    registering: set[System] = set()
    for extra in registry().plan_steps(row.business, ids):
        if not extra.when(row):
            continue
        system = registry().system_of(extra.operation)
        assert system is not None
        kind = StepKind.FOLLOW_UP if extra.follow_up else StepKind.CORE
        employer_id = ids.get(system)
        if employer_id:
            request = extra.build(row, employer_id)
            steps.append(PlannedStep(extra.stage, extra.operation, system, request, kind))
            continue
        if (
            unit is None
            or extra.build_unbound is None
            or not registry().get(system).opens_accounts_after_core
        ):
            raise NotBound(system)
        if system not in registering:
            registering.add(system)
            steps.append(
                PlannedStep(
                    extra.stage,
                    Operation.OPEN_EMPLOYER,
                    system,
                    OpenEmployerRequest(unit),
                    StepKind.FOLLOW_UP,
                )
            )
        request = extra.build_unbound(row, unit.credit_code)
        steps.append(PlannedStep(extra.stage + 1, extra.operation, system, request, kind))
    return steps


def _bound(ids: Mapping[System, str | None], system: System) -> str:
    employer_id = ids.get(system)
    if not employer_id:
        raise NotBound(system)
    return employer_id


def _core_steps(row: RegistrationRow, ids: Mapping[System, str | None]) -> list[PlannedStep]:
    """The steps of the core systems: the design's table of businesses."""

    def bound(system: System) -> str:
        return _bound(ids, system)

    if row.business is RowBusiness.HIRE:
        assert row.start_date and row.employment_person_category and row.employment_form
        assert row.post and row.employment_locality
        return [
            PlannedStep(
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
            PlannedStep(
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
            PlannedStep(
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
    steps = [
        PlannedStep(
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
        PlannedStep(
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
            PlannedStep(
                1,
                Operation.REGISTER_UNEMPLOYMENT,
                System.UNEMPLOYMENT,
                UnemploymentRequest(
                    bound(System.UNEMPLOYMENT),
                    person_of(row),
                    row.end_date,
                    row.end_reason,
                ),
                StepKind.FOLLOW_UP,
            )
        )
    return steps


def _registration(
    business: Business,
    credit_code: str,
    division: str,
    key: str | None,
    payload: dict[str, Any],
    steps: Sequence[PlannedStep],
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
                kind=kind,
                # Later stages are not due until the earlier ones are done.
                next_attempt_at=now if stage == 0 else None,
                deadline_at=now + step_deadline,
                created_at=now,
                updated_at=now,
            )
            for stage, operation, system, request, kind in steps
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
    unit_name: str | None = None,
    **common: Any,
) -> Registration:
    """A registration for one row; ``only`` keeps one step (separate handling):
    the one write asked for is then the whole business, hence core. With
    ``unit_name``, a unit not yet bound in a system that registers units after
    the core is registered there first (``row_steps``)."""
    unit = None if unit_name is None else EmployerProfile(credit_code, unit_name, division)
    steps = row_steps(row, ids, unit)
    business = Business(row.business.value)
    if only is not None:
        steps = [
            PlannedStep(0, s.operation, s.system, s.request) for s in steps if s.operation is only
        ]
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


def plan_account(
    profile: EmployerProfile, *, systems: Iterable[System] | None = None, **common: Any
) -> Registration:
    """Open or merge the employer in every system switched on: in parallel in the
    core systems, then, as follow-ups, in those that open it after the core."""

    def step(system: System) -> PlannedStep:
        request = OpenEmployerRequest(profile)
        if registry().get(system).opens_accounts_after_core:
            return PlannedStep(1, Operation.OPEN_EMPLOYER, system, request, StepKind.FOLLOW_UP)
        return PlannedStep(0, Operation.OPEN_EMPLOYER, system, request)

    steps = [step(s) for s in account_systems(systems)]
    return _registration(
        Business.OPEN_ACCOUNT,
        profile.credit_code,
        profile.division,
        None,
        to_payload(profile),
        steps,
        **common,
    )
