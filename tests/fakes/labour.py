"""劳动关系 in memory: the labour system's rules (``shared/legacy/labor.md``).

One contract in force per worker and unit (LD2002 refuses a second filing), a
renewal supersedes the contract in force and must start after it (LD3002 when
none is in force), an ending rescinds or terminates it (LD3002 when the worker
never had one there, LD4001 when none is in force). Revoking a filing undoes
only the latest act on a contract: a new or renewed filing is revoked (the
superseded one comes back in force), an ending is revoked (the contract is in
force again); LD4002 when already revoked, LD4003 when a later act stands,
LD3003 for an unknown number. Queries answer every contract, oldest first.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

from adapters.standin.seed import EMPLOYERS
from gateway.domain.model import (
    ContractEnding,
    ContractState,
    ContractTerm,
    EmployerBinding,
    EmployerProfile,
    LabourContract,
    Person,
    System,
)
from gateway.systems import Duplicate, NotFound, Rejected
from tests.fakes.base import FakeSystem

#: The kinds of filing: a new contract, a renewal, an ending.
NEW, RENEWAL, ENDING = "new", "renewal", "ending"
_ENDED = (ContractState.RESCINDED, ContractState.TERMINATED)


@dataclass
class _Filing:
    kind: str
    record: str  # the filing number of the contract record it made or ended
    revoked: bool = False


class FakeLabour(FakeSystem):
    """A ``LabourSystem`` holding its filings in memory."""

    system = System.LABOUR
    PING: ClassVar[str] = "GetEmployer"

    def __init__(self, *, rng: random.Random | None = None) -> None:
        super().__init__(rng=rng)
        self.employers: dict[str, EmployerProfile] = {}  # employerCode -> profile
        self.contracts: dict[str, LabourContract] = {}  # filing number -> record, in order
        self.previous: dict[str, str] = {}  # a renewal's record -> the one it superseded
        self.filings: dict[str, _Filing] = {}
        for seed in EMPLOYERS:
            self.employers[seed.labour_id] = seed.profile

    # ------------------------------------------------------------- employers

    def _employer_of(self, credit_code: str) -> str | None:
        return next((c for c, p in self.employers.items() if p.credit_code == credit_code), None)

    async def find_employer(self, credit_code: str) -> EmployerBinding | None:
        code = await self._call("GetEmployer", lambda: self._employer_of(credit_code))
        return None if code is None else EmployerBinding(self.system, code, self.employers[code])

    async def ensure_employer(self, profile: EmployerProfile) -> EmployerBinding:
        def register() -> str:
            existing = self._employer_of(profile.credit_code)
            if existing is not None:
                raise Duplicate(
                    self.system,
                    "employer already registered",
                    system_code="LD2001",
                    existing_reference=existing,
                )
            code = f"LD{profile.division}{self._next():06d}"
            self.employers[code] = profile
            return code

        try:
            code = await self._call("RegisterEmployer", register, write=True)
        except Duplicate as exc:
            if exc.existing_reference is None:
                raise
            return EmployerBinding(self.system, exc.existing_reference, profile, created=False)
        return EmployerBinding(self.system, code, profile, created=True)

    # ------------------------------------------------------------- contracts

    def _require_employer(self, employer_id: str) -> None:
        if employer_id not in self.employers:
            raise NotFound(self.system, "employer not found", system_code="LD3001")

    def _in_force(self, employer_id: str, id_number: str) -> LabourContract | None:
        return next(
            (
                c
                for c in self.contracts.values()
                if c.employer_id == employer_id
                and c.person.id_number == id_number
                and c.state is ContractState.IN_FORCE
            ),
            None,
        )

    def _number(self, locality: str) -> str:
        return f"BA{locality}{dt.date.today():%Y%m%d}{self._next():07d}"

    @staticmethod
    def _check(term: ContractTerm) -> None:
        if term.end_date is not None and term.end_date <= term.start_date:
            raise Rejected(
                System.LABOUR, "the end date must follow the start", system_code="LD1004"
            )

    async def file(self, employer_id: str, person: Person, term: ContractTerm) -> str:
        def file() -> str:
            self._check(term)
            self._require_employer(employer_id)
            if self._in_force(employer_id, person.id_number):
                raise Duplicate(self.system, "a contract in force exists", system_code="LD2002")
            number = self._number(term.locality)
            self.contracts[number] = LabourContract(
                reference=number,
                employer_id=employer_id,
                person=person,
                term=term,
                state=ContractState.IN_FORCE,
                filed_at=dt.datetime.now(dt.UTC),
            )
            self.filings[number] = _Filing(NEW, number)
            return number

        return await self._call("FileContract", file, write=True)

    async def renew(self, employer_id: str, id_number: str, term: ContractTerm) -> str:
        def renew() -> str:
            self._check(term)
            self._require_employer(employer_id)
            current = self._in_force(employer_id, id_number)
            if current is None:
                raise NotFound(self.system, "no contract in force", system_code="LD3002")
            if term.start_date <= current.term.start_date:
                raise Rejected(
                    self.system,
                    "the renewal must start after the contract it renews",
                    system_code="LD1004",
                    field="start_date",
                )
            number = self._number(term.locality)
            self.contracts[current.reference] = replace(current, state=ContractState.SUPERSEDED)
            self.contracts[number] = replace(
                current,
                reference=number,
                term=term,
                state=ContractState.IN_FORCE,
                filed_at=dt.datetime.now(dt.UTC),
            )
            self.previous[number] = current.reference
            self.filings[number] = _Filing(RENEWAL, number)
            return number

        return await self._call("RenewContract", renew, write=True)

    async def end(self, ending: ContractEnding) -> str:
        def end() -> str:
            self._require_employer(ending.employer_id)
            current = self._in_force(ending.employer_id, ending.id_number)
            if current is None:
                if not any(
                    c.employer_id == ending.employer_id and c.person.id_number == ending.id_number
                    for c in self.contracts.values()
                ):
                    raise NotFound(self.system, "no contract", system_code="LD3002")
                raise Rejected(self.system, "no contract in force", system_code="LD4001")
            if ending.date < current.term.start_date:
                raise Rejected(
                    self.system, "the ending precedes the contract", system_code="LD1004"
                )
            number = self._number(current.term.locality)
            ended = (
                ContractState.TERMINATED
                if ending.reason.is_termination
                else ContractState.RESCINDED
            )
            self.contracts[current.reference] = replace(
                current, state=ended, end_reason=ending.reason, ended_on=ending.date
            )
            self.filings[number] = _Filing(ENDING, current.reference)
            return number

        return await self._call("TerminateContract", end, write=True)

    async def revoke(self, reference: str) -> None:
        def revoke() -> None:
            filing = self.filings.get(reference)
            if filing is None:
                raise NotFound(self.system, "filing not found", system_code="LD3003")
            if filing.revoked:
                raise Rejected(self.system, "filing already revoked", system_code="LD4002")
            record = self.contracts[filing.record]
            if filing.kind == ENDING:
                if record.state not in _ENDED:
                    raise Rejected(self.system, "contract not ended", system_code="LD4001")
                if self._in_force(record.employer_id, record.person.id_number):
                    raise Rejected(
                        self.system, "another contract is in force", system_code="LD2002"
                    )
                self.contracts[record.reference] = replace(
                    record, state=ContractState.IN_FORCE, end_reason=None, ended_on=None
                )
            else:
                if record.state is not ContractState.IN_FORCE:
                    raise Rejected(self.system, "a later filing exists", system_code="LD4003")
                self.contracts[record.reference] = replace(record, state=ContractState.REVOKED)
                earlier = self.previous.get(record.reference)
                if earlier and self.contracts[earlier].state is ContractState.SUPERSEDED:
                    self.contracts[earlier] = replace(
                        self.contracts[earlier], state=ContractState.IN_FORCE
                    )
            filing.revoked = True

        await self._call("RevokeFiling", revoke, write=True)

    async def query(
        self, id_numbers: Sequence[str], employer_id: str | None = None
    ) -> list[LabourContract]:
        wanted = {n for n in id_numbers if n}
        if not wanted:
            return []

        def query() -> list[LabourContract]:
            return [
                c
                for c in self.contracts.values()
                if c.person.id_number in wanted
                and (employer_id is None or c.employer_id == employer_id)
            ]

        return await self._call("QueryContracts", query)
