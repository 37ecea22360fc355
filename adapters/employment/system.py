"""The employment system (就业) as the gateway registers it: ``SPEC``.

Everything the gateway needs to know of this system, in one place: its names,
its settings and their defaults (which match its stand-in's), how its adapter
and its stand-in are built, and its two writes, each with how it is found again
when its answer was lost and how it is undone. See ``gateway/registry.py``.

Light to import: the adapter and the stand-in are loaded when they are built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.domain.model import (
    DismissalRequest,
    EmploymentRecord,
    EmploymentRegistrationRequest,
    EmploymentState,
    System,
)
from gateway.registrations.model import Operation
from gateway.registry import Found, OperationSpec, Standin, SystemSpec, adapter_as
from gateway.settings import SystemSettings
from gateway.systems import EmploymentSystem

if TYPE_CHECKING:
    import httpx

    from gateway.domain.limits import Limits
    from gateway.systems import SystemAdapter

SYSTEM = System.EMPLOYMENT
DEFAULT_PORT = 8101
#: The demo's API key, shared by the stand-in and the gateway (demo only).
DEFAULT_API_KEY = "demo-employment-key"


def settings(environ: Mapping[str, str], section: Mapping[str, Any]) -> SystemSettings:
    """``HRSS_EMPLOYMENT_URL``, ``_API_KEY``, ``_TIMEOUT``, ``_CONNECT_TIMEOUT``,
    ``_MAX_IN_FLIGHT``, or the ``[systems.employment]`` table."""
    return SystemSettings.read(
        SYSTEM,
        environ,
        section,
        port=DEFAULT_PORT,
        secret=DEFAULT_API_KEY,
        secret_name="api_key",  # noqa: S106 - the setting's name, not a secret
    )


def adapter(settings: SystemSettings, client: httpx.AsyncClient) -> SystemAdapter:
    from adapters.employment import EmploymentAdapter

    return EmploymentAdapter.from_settings(settings, client=client)


def standin(settings: SystemSettings, data: str | None, seed: bool) -> Any:
    from adapters.employment.standin import create_app

    return create_app(data=data, seed=seed, settings=settings)


def seed_units() -> dict[str, str]:
    from adapters.standin.seed import EMPLOYERS

    return {e.profile.credit_code: e.employment_id for e in EMPLOYERS}


def limits() -> Limits:
    from adapters.employment.limits import LIMITS

    return LIMITS


def _employment(adapter: SystemAdapter) -> EmploymentSystem:
    found: EmploymentSystem = adapter_as(adapter, EmploymentSystem)
    return found


async def records(
    adapter: SystemAdapter, id_numbers: list[str], employer_id: str
) -> list[EmploymentRecord]:
    return await _employment(adapter).query(id_numbers, employer_id)


# ------------------------------------------------------------------- writes


async def register(adapter: SystemAdapter, request: EmploymentRegistrationRequest) -> str:
    return await _employment(adapter).register(request)


async def find_registration(
    adapter: SystemAdapter, request: EmploymentRegistrationRequest
) -> Found | None:
    records = await _employment(adapter).query([request.person.id_number], request.employer_id)
    for record in records:
        if (
            record.state is EmploymentState.EMPLOYED
            and record.person.id_number == request.person.id_number
            and record.employer_id == request.employer_id
            and record.start_date == request.start_date
        ):
            return Found(record.reference)
    return None


async def dismiss(adapter: SystemAdapter, request: DismissalRequest) -> str:
    return await _employment(adapter).dismiss(request)


async def find_dismissal(adapter: SystemAdapter, request: DismissalRequest) -> Found | None:
    records = await _employment(adapter).query([request.id_number], request.employer_id)
    for record in records:
        if (
            record.state is EmploymentState.DISMISSED
            and record.person.id_number == request.id_number
            and record.employer_id == request.employer_id
            and record.dismissal_date == request.date
        ):
            # The record's serial is the registration's, not the dismissal's:
            # revoking it would undo the wrong act.
            return Found(None)
    return None


async def revoke(adapter: SystemAdapter, reference: str) -> None:
    await _employment(adapter).revoke(reference)


SPEC = SystemSpec(
    system=SYSTEM,
    name_zh="就业系统",
    name_en="employment system",
    settings=settings,
    adapter=adapter,
    limits=limits,
    standin=Standin(standin, DEFAULT_PORT, seed_units),
    reads=frozenset({"query", "list_by_employer"}),
    writes=frozenset({"register", "dismiss", "revoke"}),
    operations=(
        OperationSpec(
            Operation.REGISTER_EMPLOYMENT,
            EmploymentRegistrationRequest,
            write=register,
            find=find_registration,
            undo=revoke,
            label_zh="就业登记",
            label_en="the employment registration",
        ),
        OperationSpec(
            Operation.DISMISS,
            DismissalRequest,
            write=dismiss,
            find=find_dismissal,
            undo=revoke,
            label_zh="解聘备案",
            label_en="the dismissal filing",
            # A dismissal on record is refused as "no valid registration" (E4001).
            settles=True,
        ),
    ),
    already_undone=frozenset({"E3003"}),  # 该业务已撤销
    records=records,
    secrets=("api_key",),
)
