"""The social insurance system (社会保险) as the gateway registers it: ``SPEC``.

Off unless a deployment switches it on (``HRSS_SOCIAL_INSURANCE_ENABLED=true``,
or ``enabled = true`` in ``[systems.social_insurance]``); ``serve --demo``
switches it on. When on, opening an employer's account also registers the unit
for insurance (单位参保登记: ``ensure_employer``), ``/readyz`` and the metrics
report it, and its stand-in runs in the demo.

When on, a hire also declares the worker's addition (增员, from the start date,
at the monthly contribution wage) and an ending the removal (减员, from the day
after the relation ended), each in stage 1, once the labour relation is
recorded. A declaration is decided by the agency later (``decided_later``): the
step awaits the outcome, polled, and an approved one is undone by the reverse
declaration (its hooks: ``deciding.py``; the engine's waiting:
``gateway/registrations/awaiting.py``). See ``gateway/registry.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from adapters.social_insurance.deciding import HOOKS, resolved
from adapters.social_insurance.model import (
    SYSTEM,
    AdditionRequest,
    DeclarationKind,
    DeclarationState,
    RemovalRequest,
    StopReason,
)
from adapters.social_insurance.rows import BIRTH_DATE, MONTHLY_WAGE
from adapters.social_insurance.settings import DEFAULT_PORT, SocialInsuranceSettings
from adapters.social_insurance.worker import SECTION as WORKER
from gateway.domain.model import Business, EndReason, IdType, RegistrationRow
from gateway.registrations.model import Operation
from gateway.registry import Found, OperationSpec, PlanStep, Standin, SystemSpec, adapter_as

if TYPE_CHECKING:
    import httpx

    from adapters.social_insurance.protocol import SocialInsuranceSystem
    from gateway.domain.limits import Limits
    from gateway.systems import SystemAdapter

#: 增员: insure a hired worker with the unit.
DECLARE_ADDITION = Operation("DECLARE_ADDITION")
#: 减员: stop the insurance of a worker whose labour relation ended.
DECLARE_REMOVAL = Operation("DECLARE_REMOVAL")


def settings(environ: Mapping[str, str], section: Mapping[str, Any]) -> SocialInsuranceSettings:
    """``HRSS_SOCIAL_INSURANCE_URL``, ``_APP_ID``, ``_APP_SECRET``, ``_SM4_KEY``,
    ``_TIMEOUT``, ``_CONNECT_TIMEOUT``, ``_MAX_IN_FLIGHT``, or the
    ``[systems.social_insurance]`` table."""
    return SocialInsuranceSettings.from_env(environ, section)


def adapter(settings: SocialInsuranceSettings, client: httpx.AsyncClient) -> SystemAdapter:
    from adapters.social_insurance import SocialInsuranceAdapter

    return SocialInsuranceAdapter.from_settings(settings, client=client)


def standin(settings: SocialInsuranceSettings, data: str | None, seed: bool) -> Any:
    from adapters.social_insurance.standin import create_app

    return create_app(data=data, seed=seed, settings=settings)


def seed_units() -> dict[str, str]:
    from adapters.social_insurance.review import SEED_UNITS
    from adapters.standin.seed import EMPLOYERS

    return {e.profile.credit_code: u for e, u in zip(EMPLOYERS, SEED_UNITS, strict=True)}


def limits() -> Limits:
    from adapters.social_insurance.limits import LIMITS

    return LIMITS


def _si(adapter: SystemAdapter) -> SocialInsuranceSystem:
    from adapters.social_insurance.protocol import SocialInsuranceSystem

    found: SocialInsuranceSystem = adapter_as(adapter, SocialInsuranceSystem)
    return found


# ------------------------------------------------------------------- the plan

#: 减员原因 of each way a contract ends: the worker's own notice is leaving the
#: unit; death and retirement end insurance for another reason than the contract.
STOP_REASONS: dict[EndReason, StopReason] = {
    **dict.fromkeys(EndReason, StopReason.CONTRACT_ENDED),
    EndReason.BY_WORKER_NOTICE: StopReason.LEFT_UNIT,
    EndReason.RETIREMENT: StopReason.OTHER,
    EndReason.DEATH: StopReason.OTHER,
}


def addition_of(row: RegistrationRow, employer_id: str) -> AdditionRequest:
    """A hire's addition: from its start date, at its monthly contribution wage."""
    from gateway.registrations.plan import person_of

    assert row.start_date is not None
    assert row.monthly_wage is not None
    return AdditionRequest(
        employer_id,
        person_of(row),
        row.start_date,
        row.monthly_wage,
        birth_date=row.birth_date,  # given only for a document that carries none
    )


def addition_for_unit(row: RegistrationRow, credit_code: str) -> AdditionRequest:
    """A hire's addition for a unit not yet registered for insurance: the same
    registration registers it first; the write finds it by ``credit_code``."""
    return dataclasses.replace(addition_of(row, ""), unit_credit_code=credit_code)


def removal_for_unit(row: RegistrationRow, credit_code: str) -> RemovalRequest:
    """An ending's removal for a unit not yet bound (as for an addition)."""
    return dataclasses.replace(removal_of(row, ""), unit_credit_code=credit_code)


def removal_of(row: RegistrationRow, employer_id: str) -> RemovalRequest:
    """An ending's removal: from the day after the relation ended."""
    assert row.end_reason is not None
    assert row.end_date is not None
    return RemovalRequest.after_relation_ended(
        employer_id, row.id_type, row.id_number, row.end_date, STOP_REASONS[row.end_reason]
    )


# ----------------------------------------------------------------- the writes


async def declare_addition(adapter: SystemAdapter, request: AdditionRequest) -> str:
    return await _si(adapter).declare_addition(await resolved(adapter, request))


async def declare_removal(adapter: SystemAdapter, request: RemovalRequest) -> str:
    return await _si(adapter).declare_removal(await resolved(adapter, request))


async def _under_review(
    adapter: SystemAdapter, employer_id: str, id_type: IdType, id_number: str, kind: DeclarationKind
) -> Found | None:
    # The step worker finds its own declaration by its time (deciding.ours);
    # without a step, one of the kind in effect or under review is what there is.
    for d in await _si(adapter).find_declarations(employer_id, id_type, id_number):
        if d.kind is kind and d.state in (DeclarationState.UNDER_REVIEW, DeclarationState.APPROVED):
            return Found(d.reference)
    return None


async def find_addition(adapter: SystemAdapter, request: AdditionRequest) -> Found | None:
    request = await resolved(adapter, request)
    p = request.person
    return await _under_review(
        adapter, request.employer_id, p.id_type, p.id_number, DeclarationKind.ADDITION
    )


async def find_removal(adapter: SystemAdapter, request: RemovalRequest) -> Found | None:
    request = await resolved(adapter, request)
    return await _under_review(
        adapter, request.employer_id, request.id_type, request.id_number, DeclarationKind.REMOVAL
    )


async def withdraw_or_reverse(adapter: SystemAdapter, reference: str) -> None:
    """Outside the step worker (which awaits the reverse): withdraw a declaration under
    review, declare the reverse of an approved one."""
    si = _si(adapter)
    if (await si.declaration(reference)).state is DeclarationState.UNDER_REVIEW:
        await si.withdraw(reference)
    else:
        await si.reverse(reference)


SPEC = SystemSpec(
    system=SYSTEM,
    name_zh="社会保险登记系统",
    name_en="social insurance system",
    settings=settings,
    adapter=adapter,
    limits=limits,
    standin=Standin(standin, DEFAULT_PORT, seed_units),
    reads=frozenset({"declaration", "find_declarations", "insurance"}),
    writes=frozenset({"declare_addition", "declare_removal", "withdraw", "reverse"}),
    operations=(
        OperationSpec(
            DECLARE_ADDITION,
            AdditionRequest,
            write=declare_addition,
            find=find_addition,
            undo=withdraw_or_reverse,
            label_zh="参保人员增员申报",
            label_en="the social insurance addition",
            decided_later=HOOKS,
            # Returned for its wage (R02), the addition is declared again corrected:
            # only it sends the wage; what the core filed stays as filed.
            # Returned for its details (R01), the date of birth too.
            correctable=frozenset({"monthly_wage", "birth_date"}),
        ),
        OperationSpec(
            DECLARE_REMOVAL,
            RemovalRequest,
            write=declare_removal,
            find=find_removal,
            undo=withdraw_or_reverse,
            label_zh="参保人员减员申报",
            label_en="the social insurance removal",
            decided_later=HOOKS,
        ),
    ),
    plan=(
        # A unit opened before the system was switched on is registered for
        # insurance by the worker's registration, before the declaration.
        PlanStep(Business.HIRE, DECLARE_ADDITION, 1, addition_of, build_unbound=addition_for_unit),
        PlanStep(Business.END, DECLARE_REMOVAL, 1, removal_of, build_unbound=removal_for_unit),
    ),
    # The unit's insurance registration follows its opening in the core systems.
    opens_accounts_after_core=True,
    enabled_by_default=False,
    in_demo=True,
    secrets=("app_secret", "sm4_key"),
    # The hire's row: its contribution wage, and a date of birth the document lacks.
    row_fields=(MONTHLY_WAGE, BIRTH_DATE),
    # The worker view: insurance status and spells, and two inconsistencies.
    worker=WORKER,
)
