"""The labour relations system (劳动关系) as the gateway registers it: ``SPEC``.

Its name is ``labour`` everywhere the gateway spells it (the store, the
configuration key, the ``HRSS_LABOUR_*`` variables, the command line); its
owners' documents and this package say ``labor``, which the command line and the
configuration file still take as an older spelling. See ``gateway/registry.py``.

Light to import: the SOAP client (zeep) and the stand-in load when built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.domain.model import (
    ContractEnding,
    ContractState,
    FileContractRequest,
    LabourContract,
    RenewContractRequest,
    System,
)
from gateway.registrations.model import Operation
from gateway.registry import Found, OperationSpec, Standin, SystemSpec, adapter_as
from gateway.settings import SystemSettings
from gateway.systems import LabourSystem

if TYPE_CHECKING:
    import httpx

    from gateway.domain.limits import Limits
    from gateway.systems import SystemAdapter

SYSTEM = System.LABOUR
DEFAULT_PORT = 8102
#: The demo's WS-Security account, shared by the stand-in and the gateway (demo only).
DEFAULT_USERNAME = "gateway"
DEFAULT_PASSWORD = "demo-labour-password"  # noqa: S105


def settings(environ: Mapping[str, str], section: Mapping[str, Any]) -> SystemSettings:
    """``HRSS_LABOUR_URL``, ``_USERNAME``, ``_PASSWORD``, ``_TIMEOUT``,
    ``_CONNECT_TIMEOUT``, ``_MAX_IN_FLIGHT``, or the ``[systems.labour]`` table."""
    return SystemSettings.read(
        SYSTEM,
        environ,
        section,
        port=DEFAULT_PORT,
        username=DEFAULT_USERNAME,
        secret=DEFAULT_PASSWORD,
    )


def adapter(settings: SystemSettings, client: httpx.AsyncClient) -> SystemAdapter:
    from adapters.labor import LabourAdapter

    return LabourAdapter.from_settings(settings, client=client)


def standin(settings: SystemSettings, data: str | None, seed: bool) -> Any:
    from adapters.labor.standin import create_app

    return create_app(data=data, seed=seed, settings=settings)


def seed_units() -> dict[str, str]:
    from adapters.standin.seed import EMPLOYERS

    return {e.profile.credit_code: e.labour_id for e in EMPLOYERS}


def limits() -> Limits:
    from adapters.labor.limits import LIMITS

    return LIMITS


def _labour(adapter: SystemAdapter) -> LabourSystem:
    found: LabourSystem = adapter_as(adapter, LabourSystem)
    return found


async def records(
    adapter: SystemAdapter, id_numbers: list[str], employer_id: str
) -> list[LabourContract]:
    return await _labour(adapter).query(id_numbers, employer_id)


# ------------------------------------------------------------------- writes


async def file(adapter: SystemAdapter, request: FileContractRequest) -> str:
    return await _labour(adapter).file(request.employer_id, request.person, request.term)


async def renew(adapter: SystemAdapter, request: RenewContractRequest) -> str:
    return await _labour(adapter).renew(request.employer_id, request.id_number, request.term)


async def _in_force(
    adapter: SystemAdapter, request: FileContractRequest | RenewContractRequest, id_number: str
) -> Found | None:
    contracts = await _labour(adapter).query([id_number], request.employer_id)
    for contract in contracts:
        if (
            contract.state is ContractState.IN_FORCE
            and contract.person.id_number == id_number
            and contract.employer_id == request.employer_id
            and contract.term.start_date == request.term.start_date
            and contract.term.contract_type is request.term.contract_type
        ):
            return Found(contract.reference)
    return None


async def find_filing(adapter: SystemAdapter, request: FileContractRequest) -> Found | None:
    return await _in_force(adapter, request, request.person.id_number)


async def find_renewal(adapter: SystemAdapter, request: RenewContractRequest) -> Found | None:
    return await _in_force(adapter, request, request.id_number)


async def end(adapter: SystemAdapter, request: ContractEnding) -> str:
    return await _labour(adapter).end(request)


async def find_ending(adapter: SystemAdapter, request: ContractEnding) -> Found | None:
    ended = ContractState.TERMINATED if request.reason.is_termination else ContractState.RESCINDED
    contracts = await _labour(adapter).query([request.id_number], request.employer_id)
    for contract in contracts:
        if (
            contract.state is ended
            and contract.person.id_number == request.id_number
            and contract.employer_id == request.employer_id
            and contract.ended_on == request.date
        ):
            # The filing number shown is the contract's; the ending's own is not.
            return Found(None)
    return None


async def revoke(adapter: SystemAdapter, reference: str) -> None:
    await _labour(adapter).revoke(reference)


SPEC = SystemSpec(
    system=SYSTEM,
    name_zh="劳动关系系统",
    name_en="labour relations system",
    settings=settings,
    adapter=adapter,
    limits=limits,
    standin=Standin(standin, DEFAULT_PORT, seed_units),
    reads=frozenset({"query"}),
    writes=frozenset({"file", "renew", "end", "revoke"}),
    operations=(
        OperationSpec(
            Operation.FILE_CONTRACT,
            FileContractRequest,
            write=file,
            find=find_filing,
            undo=revoke,
            label_zh="劳动合同备案",
            label_en="the contract filing",
        ),
        OperationSpec(
            Operation.RENEW_CONTRACT,
            RenewContractRequest,
            write=renew,
            find=find_renewal,
            undo=revoke,
            label_zh="劳动合同续签备案",
            label_en="the contract renewal",
        ),
        OperationSpec(
            Operation.END_CONTRACT,
            ContractEnding,
            write=end,
            find=find_ending,
            undo=revoke,
            label_zh="劳动合同解除/终止备案",
            label_en="the contract ending",
            # A contract ended on record is refused as "not in force" (LD4001).
            settles=True,
        ),
    ),
    already_undone=frozenset({"LD4002"}),  # 备案已撤销
    # The owners' documents, the package and older command lines say "labor".
    aliases=("labor",),
    records=records,
    secrets=("password",),
)
