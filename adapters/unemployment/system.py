"""The unemployment system (失业) as the gateway registers it: ``SPEC``.

Its one write, the unemployment registration, is undone by cancelling it (注销).
See ``gateway/registry.py``. Light to import: the adapter and the stand-in load
when built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.domain.model import (
    System,
    UnemploymentRegistration,
    UnemploymentRequest,
    UnemploymentState,
)
from gateway.registrations.model import Operation
from gateway.registry import Found, OperationSpec, Standin, SystemSpec, adapter_as
from gateway.settings import SystemSettings
from gateway.systems import UnemploymentSystem

if TYPE_CHECKING:
    import httpx

    from gateway.domain.limits import Limits
    from gateway.systems import SystemAdapter

SYSTEM = System.UNEMPLOYMENT
DEFAULT_PORT = 8103
#: The demo's HTTP Basic account, shared by the stand-in and the gateway (demo only).
DEFAULT_USERNAME = "gateway"
DEFAULT_PASSWORD = "demo-unemployment-password"  # noqa: S105


def settings(environ: Mapping[str, str], section: Mapping[str, Any]) -> SystemSettings:
    """``HRSS_UNEMPLOYMENT_URL``, ``_USERNAME``, ``_PASSWORD``, ``_TIMEOUT``,
    ``_CONNECT_TIMEOUT``, ``_MAX_IN_FLIGHT``, or the ``[systems.unemployment]`` table."""
    return SystemSettings.read(
        SYSTEM,
        environ,
        section,
        port=DEFAULT_PORT,
        username=DEFAULT_USERNAME,
        secret=DEFAULT_PASSWORD,
    )


def adapter(settings: SystemSettings, client: httpx.AsyncClient) -> SystemAdapter:
    from adapters.unemployment import UnemploymentAdapter

    return UnemploymentAdapter.from_settings(settings, client=client)


def standin(settings: SystemSettings, data: str | None, seed: bool) -> Any:
    from adapters.unemployment.standin import create_app

    return create_app(data=data, seed=seed, settings=settings)


def seed_units() -> dict[str, str]:
    from adapters.standin.seed import EMPLOYERS

    return {e.profile.credit_code: e.unemployment_id for e in EMPLOYERS}


def limits() -> Limits:
    from adapters.unemployment.limits import LIMITS

    return LIMITS


def _unemployment(adapter: SystemAdapter) -> UnemploymentSystem:
    found: UnemploymentSystem = adapter_as(adapter, UnemploymentSystem)
    return found


async def records(
    adapter: SystemAdapter, id_numbers: list[str], employer_id: str
) -> list[UnemploymentRegistration]:
    # The system cannot filter by unit: the loader keeps this employer's rows.
    return await _unemployment(adapter).query(id_numbers)


async def register(adapter: SystemAdapter, request: UnemploymentRequest) -> str:
    return await _unemployment(adapter).register(request)


async def find_registration(adapter: SystemAdapter, request: UnemploymentRequest) -> Found | None:
    rows = await _unemployment(adapter).query_person(request.person.id_number)
    for row in rows:
        if (
            row.state is UnemploymentState.REGISTERED
            and row.person.id_number == request.person.id_number
            and row.employer_id == request.employer_id
            and row.relation_ended_on == request.relation_ended_on
        ):
            return Found(row.reference)
    return None


async def cancel(adapter: SystemAdapter, reference: str) -> None:
    await _unemployment(adapter).cancel(reference)


SPEC = SystemSpec(
    system=SYSTEM,
    name_zh="失业登记系统",
    name_en="unemployment system",
    settings=settings,
    adapter=adapter,
    limits=limits,
    standin=Standin(standin, DEFAULT_PORT, seed_units),
    reads=frozenset({"query", "query_person", "list_by_employer"}),
    writes=frozenset({"register", "cancel"}),
    operations=(
        OperationSpec(
            Operation.REGISTER_UNEMPLOYMENT,
            UnemploymentRequest,
            write=register,
            find=find_registration,
            undo=cancel,
            label_zh="失业登记",
            label_en="the unemployment registration",
        ),
    ),
    already_undone=frozenset({"40903"}),  # 该登记已注销
    records=records,
    secrets=("password",),
)
