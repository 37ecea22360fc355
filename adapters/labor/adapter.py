"""The labour relations system (劳动关系, labour-contract filing) as the gateway sees it.

``LabourAdapter`` satisfies ``gateway.systems.LabourSystem``: unified model in,
unified model and the gateway's errors out. The SOAP calls are in
``client.py``, the translation in ``mapping.py``; the stand-in that plays the
real system is ``standin.py`` (with ``service.py`` and ``filings.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

from adapters.labor import mapping, soap
from adapters.labor.client import SYSTEM, LabourClient
from gateway.domain.model import (
    ContractEnding,
    ContractTerm,
    EmployerBinding,
    EmployerProfile,
    LabourContract,
    Person,
    System,
)
from gateway.settings import SystemSettings
from gateway.systems import Duplicate, NotFound, Rejected

__all__ = ["LabourAdapter"]

# A credit code no employer holds (no registration authority is numbered 0): ping
# looks it up, which costs the system one read and changes nothing.
_PROBE_CREDIT_CODE = "0" * 18


class LabourAdapter:
    """劳动关系: employer registration and labour-contract filing."""

    system: System = SYSTEM

    def __init__(self, client: LabourClient) -> None:
        self._client = client
        self._max_in_flight = max(1, client.settings.max_in_flight)

    @classmethod
    def from_settings(
        cls, settings: SystemSettings, *, client: httpx.AsyncClient | None = None
    ) -> LabourAdapter:
        """An adapter over ``settings``; ``client`` is used for the calls (not closed here)."""
        return cls(LabourClient(settings, client=client))

    # ---------------------------------------------------------- employers

    async def find_employer(self, credit_code: str) -> EmployerBinding | None:
        try:
            record = await self._client.call(soap.GET_EMPLOYER, creditCode=credit_code)
        except NotFound:
            return None
        code, profile = _mapped(mapping.employer_from_legacy, record)
        return EmployerBinding(self.system, code, profile, created=False)

    async def ensure_employer(self, profile: EmployerProfile) -> EmployerBinding:
        try:
            code = await self._client.call(
                soap.REGISTER_EMPLOYER, **mapping.employer_to_legacy(profile)
            )
        except Duplicate as exc:
            if exc.existing_reference:
                return EmployerBinding(self.system, exc.existing_reference, profile, created=False)
            # A system that does not say which employer it holds: ask.
            found = await self.find_employer(profile.credit_code)
            if found is None:
                raise
            return found
        return EmployerBinding(self.system, str(code), profile, created=True)

    async def ping(self) -> None:
        # Any business answer proves that the system answers: the code found, not
        # found, or refused as invalid (a system may check a look-up's input). A
        # refusal of our credentials does not: the gateway is misconfigured.
        try:
            await self._client.call(soap.GET_EMPLOYER, creditCode=_PROBE_CREDIT_CODE)
        except Rejected as exc:
            if exc.system_code is None or exc.system_code == soap.AUTHENTICATION:
                raise

    # ---------------------------------------------------------- contracts

    async def file(self, employer_id: str, person: Person, term: ContractTerm) -> str:
        filing_no = await self._client.call(
            soap.FILE_CONTRACT,
            employerCode=employer_id,
            Worker=mapping.worker_to_legacy(person),
            Contract=mapping.contract_to_legacy(term),
        )
        return str(filing_no)

    async def renew(self, employer_id: str, id_number: str, term: ContractTerm) -> str:
        filing_no = await self._client.call(
            soap.RENEW_CONTRACT,
            employerCode=employer_id,
            idNumber=id_number,
            Contract=mapping.contract_to_legacy(term),
        )
        return str(filing_no)

    async def end(self, ending: ContractEnding) -> str:
        filing_no = await self._client.call(
            soap.TERMINATE_CONTRACT, **mapping.ending_to_legacy(ending)
        )
        return str(filing_no)

    async def revoke(self, reference: str) -> None:
        await self._client.call(soap.REVOKE_FILING, filingNo=reference)

    async def query(
        self, id_numbers: Sequence[str], employer_id: str | None = None
    ) -> list[LabourContract]:
        """Every contract of these people, every state: one call per 100 people,
        at most ``max_in_flight`` calls at once."""
        numbers = list(dict.fromkeys(n for n in id_numbers if n))
        chunks = [
            numbers[i : i + soap.QUERY_LIMIT] for i in range(0, len(numbers), soap.QUERY_LIMIT)
        ]
        gate = asyncio.Semaphore(self._max_in_flight)

        async def one(chunk: list[str]) -> list[LabourContract]:
            async with gate:
                records = await self._client.call(
                    soap.QUERY_CONTRACTS, idNumbers=chunk, employerCode=employer_id
                )
            return [_mapped(mapping.record_from_legacy, r) for r in records or []]

        tasks = [asyncio.ensure_future(one(c)) for c in chunks]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:
            # One chunk failed: the answer is lost anyway, do not leave the rest running.
            for task in tasks:
                task.cancel()
            raise
        return [record for chunk in results for record in chunk]

    async def aclose(self) -> None:
        await self._client.aclose()


def _mapped(fn: Any, record: Any) -> Any:
    try:
        return fn(record)
    except (KeyError, ValueError, TypeError):
        # A record this adapter cannot read: a code or element the contract does not have.
        raise Rejected(
            SYSTEM, "the system answered with a record the gateway cannot read"
        ) from None
