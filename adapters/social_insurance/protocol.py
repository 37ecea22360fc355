"""What the gateway will ask of the social insurance system: ``SocialInsuranceSystem``.

It extends the gateway's ``SystemAdapter`` (employers, ping, close) with the
declarations. It stays in this package: the gateway reaches the system through
its registration (``system.py``), never through this Protocol by name.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from adapters.social_insurance.model import (
    AdditionRequest,
    Declaration,
    Insurance,
    RemovalRequest,
)
from gateway.domain.model import IdType
from gateway.systems import SystemAdapter


@runtime_checkable
class SocialInsuranceSystem(SystemAdapter, Protocol):
    """社会保险: unit registration and declarations of insured workers (增员 / 减员)."""

    async def declare_addition(self, request: AdditionRequest) -> str:
        """Declare the worker's addition; return the acceptance number (受理号).

        The answer only says "under review": ``declaration`` tells the outcome.
        """
        ...

    async def declare_removal(self, request: RemovalRequest) -> str:
        """Declare the worker's removal; return the acceptance number."""
        ...

    async def declaration(self, reference: str) -> Declaration:
        """The declaration as it stands now (poll it until ``state.decided``)."""
        ...

    async def find_declarations(
        self, employer_id: str, id_type: IdType, id_number: str
    ) -> list[Declaration]:
        """Every declaration of that worker with that unit, newest first: how a
        declaration whose answer was lost is found."""
        ...

    async def withdraw(self, reference: str) -> None:
        """Withdraw a declaration still under review."""
        ...

    async def reverse(self, reference: str, *, restore: AdditionRequest | None = None) -> str:
        """Undo an approved declaration by declaring its reverse; return the new
        acceptance number. Reversing a removal needs ``restore``: what to declare
        again (the system keeps no wage or name on a removal)."""
        ...

    async def insurance(self, id_type: IdType, id_number: str) -> list[Insurance]:
        """The worker's spells of insurance with every unit."""
        ...
