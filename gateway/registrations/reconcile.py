"""Did a write whose answer was lost happen? Ask the system, and check the answer.

None of the systems is idempotent, so a step sent once with its outcome unknown
is never simply sent again: the system is queried for a record that matches
what the step asked for (never an "already exists" taken on trust), and only
when none is found is the write sent again. Each operation has its own match.
Dismissals and contract endings are found without their own reference (the
systems' queries show the record's state, not the serial of the act that
changed it), which is why ``Found.reference`` may be None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.domain.model import (
    ContractEnding,
    ContractState,
    DismissalRequest,
    EmploymentRegistrationRequest,
    EmploymentState,
    UnemploymentRequest,
    UnemploymentState,
)
from gateway.registrations.model import Operation, Step
from gateway.registrations.plan import (
    FileContractRequest,
    OpenEmployerRequest,
    RenewContractRequest,
    step_request,
)
from gateway.systems import EmploymentSystem, LabourSystem, SystemAdapter, UnemploymentSystem


@dataclass(frozen=True, slots=True)
class Found:
    """The write is in the system; ``reference`` is its id there when the answer shows it."""

    reference: str | None


def as_employment(adapter: SystemAdapter) -> EmploymentSystem:
    if not isinstance(adapter, EmploymentSystem):
        raise TypeError(f"{type(adapter).__name__} is not an employment system adapter")
    return adapter


def as_labour(adapter: SystemAdapter) -> LabourSystem:
    if not isinstance(adapter, LabourSystem):
        raise TypeError(f"{type(adapter).__name__} is not a labour system adapter")
    return adapter


def as_unemployment(adapter: SystemAdapter) -> UnemploymentSystem:
    if not isinstance(adapter, UnemploymentSystem):
        raise TypeError(f"{type(adapter).__name__} is not an unemployment system adapter")
    return adapter


async def find_write(step: Step, adapter: SystemAdapter) -> Found | None:
    """The record ``step`` would have made, if the system holds it; None if not.

    Raises the adapter's errors when the system cannot be asked: the caller
    must then neither send nor give up, only ask again later.
    """
    request: Any = step_request(step)
    op = step.operation
    if op is Operation.OPEN_EMPLOYER:
        assert isinstance(request, OpenEmployerRequest)
        binding = await adapter.find_employer(request.profile.credit_code)
        return None if binding is None else Found(binding.employer_id)
    if op is Operation.REGISTER_EMPLOYMENT:
        assert isinstance(request, EmploymentRegistrationRequest)
        records = await as_employment(adapter).query(
            [request.person.id_number], request.employer_id
        )
        for record in records:
            if (
                record.state is EmploymentState.EMPLOYED
                and record.person.id_number == request.person.id_number
                and record.employer_id == request.employer_id
                and record.start_date == request.start_date
            ):
                return Found(record.reference)
        return None
    if op is Operation.DISMISS:
        assert isinstance(request, DismissalRequest)
        records = await as_employment(adapter).query([request.id_number], request.employer_id)
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
    if op in (Operation.FILE_CONTRACT, Operation.RENEW_CONTRACT):
        assert isinstance(request, FileContractRequest | RenewContractRequest)
        id_number = (
            request.person.id_number
            if isinstance(request, FileContractRequest)
            else request.id_number
        )
        contracts = await as_labour(adapter).query([id_number], request.employer_id)
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
    if op is Operation.END_CONTRACT:
        assert isinstance(request, ContractEnding)
        ended = (
            ContractState.TERMINATED if request.reason.is_termination else ContractState.RESCINDED
        )
        contracts = await as_labour(adapter).query([request.id_number], request.employer_id)
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
    if op is Operation.REGISTER_UNEMPLOYMENT:
        assert isinstance(request, UnemploymentRequest)
        rows = await as_unemployment(adapter).query_person(request.person.id_number)
        for row in rows:
            if (
                row.state is UnemploymentState.REGISTERED
                and row.person.id_number == request.person.id_number
                and row.employer_id == request.employer_id
                and row.relation_ended_on == request.relation_ended_on
            ):
                return Found(row.reference)
        return None
    if op in (Operation.DECLARE_ADDITION, Operation.DECLARE_REMOVAL):
        # The step worker settles declarations itself (gateway.registrations.declarations);
        # here, for any other caller: in effect or about to be, it is found.
        from adapters.social_insurance.model import DeclarationState
        from gateway.registrations.declarations import find

        mine = await find(adapter, step)
        if mine is None or mine.state in (DeclarationState.RETURNED, DeclarationState.WITHDRAWN):
            return None
        return Found(mine.reference)
    raise ValueError(f"no reconciliation for {op.value}")
