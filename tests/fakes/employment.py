"""就业 in memory: the employment system's rules (``shared/legacy/employment.md``).

One undismissed registration per person across all units (E3001 at the same
unit, E3002 at another), a dismissal only of the registration in force at the
unit (E4001), revoking a registration or a dismissal (E3003 when already
revoked, E4002 for an unknown serial), units opened once per credit code
(E2001, with the unit's id). Queries answer every record, newest first.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

from adapters.standin.seed import EMPLOYERS
from gateway.domain.model import (
    DismissalRequest,
    EmployerBinding,
    EmployerProfile,
    EmploymentRecord,
    EmploymentRegistrationRequest,
    EmploymentState,
    Page,
    System,
)
from gateway.systems import Duplicate, NotFound, Rejected
from tests.fakes.base import FakeSystem

MAX_PAGE_SIZE = 100


@dataclass
class _Dismissal:
    registration: str
    revoked: bool = False


class FakeEmployment(FakeSystem):
    """An ``EmploymentSystem`` holding its records in memory."""

    system = System.EMPLOYMENT
    PING: ClassVar[str] = "unit.get"

    def __init__(self, *, rng: random.Random | None = None) -> None:
        super().__init__(rng=rng)
        self.units: dict[str, EmployerProfile] = {}  # aab001 -> profile
        self.records: dict[str, EmploymentRecord] = {}  # ywlsh -> record, in order
        self.dismissals: dict[str, _Dismissal] = {}
        for seed in EMPLOYERS:
            self.units[seed.employment_id] = seed.profile

    # ------------------------------------------------------------- employers

    def _unit_of(self, credit_code: str) -> str | None:
        return next((i for i, p in self.units.items() if p.credit_code == credit_code), None)

    async def find_employer(self, credit_code: str) -> EmployerBinding | None:
        unit = await self._call("unit.get", lambda: self._unit_of(credit_code))
        return None if unit is None else EmployerBinding(self.system, unit, self.units[unit])

    async def ensure_employer(self, profile: EmployerProfile) -> EmployerBinding:
        def open_() -> str:
            if self._unit_of(profile.credit_code) is not None:
                raise Duplicate(self.system, "the unit is already open", system_code="E2001")
            unit = f"JY{profile.division[:4]}00{self._next():06d}"
            self.units[unit] = profile
            return unit

        try:
            unit = await self._call("unit.open", open_, write=True)
        except Duplicate:
            # As the adapter does: bind the unit the system holds, as it holds it.
            found = await self.find_employer(profile.credit_code)
            if found is None:
                raise
            return found
        return EmployerBinding(self.system, unit, profile, created=True)

    # ------------------------------------------------------------ employment

    def _active(self, id_number: str) -> EmploymentRecord | None:
        return next(
            (
                r
                for r in self.records.values()
                if r.person.id_number == id_number and r.state is EmploymentState.EMPLOYED
            ),
            None,
        )

    @staticmethod
    def _already_registered(same_unit: bool) -> Duplicate:
        if same_unit:
            return Duplicate(
                System.EMPLOYMENT, "already registered at this unit", system_code="E3001"
            )
        return Duplicate(
            System.EMPLOYMENT, "an undismissed registration at another unit", system_code="E3002"
        )

    async def register(self, request: EmploymentRegistrationRequest) -> str:
        def register() -> str:
            if request.employer_id not in self.units:
                raise NotFound(self.system, "no such unit", system_code="E4004")
            active = self._active(request.person.id_number)
            if active is not None:
                raise self._already_registered(active.employer_id == request.employer_id)
            serial = f"DJ{self._next():012d}"
            self.records[serial] = EmploymentRecord(
                reference=serial,
                employer_id=request.employer_id,
                person=request.person,
                start_date=request.start_date,
                state=EmploymentState.EMPLOYED,
                person_category=request.person_category,
                employment_form=request.employment_form,
                post=request.post,
                locality=request.locality,
            )
            return serial

        return await self._call("employment.register", register, write=True)

    async def dismiss(self, request: DismissalRequest) -> str:
        def dismiss() -> str:
            record = next(
                (
                    r
                    for r in self.records.values()
                    if r.employer_id == request.employer_id
                    and r.person.id_number == request.id_number
                    and r.person.id_type is request.id_type
                    and r.state is EmploymentState.EMPLOYED
                ),
                None,
            )
            if record is None:
                raise NotFound(
                    self.system, "no registration in force at this unit", system_code="E4001"
                )
            serial = f"JP{self._next():012d}"
            self.records[record.reference] = replace(
                record,
                state=EmploymentState.DISMISSED,
                dismissal_date=request.date,
                dismissal_reason=request.reason,
            )
            self.dismissals[serial] = _Dismissal(record.reference)
            return serial

        return await self._call("employment.dismiss", dismiss, write=True)

    async def revoke(self, reference: str) -> None:
        def revoke() -> None:
            record = self.records.get(reference)
            if record is not None:
                if record.state is EmploymentState.REVOKED:
                    raise Rejected(self.system, "already revoked", system_code="E3003")
                # A dismissed registration can be revoked too; its dismissal stays as history.
                self.records[reference] = replace(record, state=EmploymentState.REVOKED)
                return
            dismissal = self.dismissals.get(reference)
            if dismissal is None:
                raise NotFound(self.system, "no such serial", system_code="E4002")
            dismissed = self.records[dismissal.registration]
            if dismissal.revoked or dismissed.state is EmploymentState.REVOKED:
                raise Rejected(self.system, "already revoked", system_code="E3003")
            active = self._active(dismissed.person.id_number)
            if active is not None:
                raise self._already_registered(active.employer_id == dismissed.employer_id)
            self.records[dismissed.reference] = replace(
                dismissed,
                state=EmploymentState.EMPLOYED,
                dismissal_date=None,
                dismissal_reason=None,
            )
            dismissal.revoked = True

        await self._call("employment.revoke", revoke, write=True)

    def _newest_first(self, records: list[EmploymentRecord]) -> list[EmploymentRecord]:
        order = {ref: i for i, ref in enumerate(self.records)}
        return sorted(records, key=lambda r: (r.start_date, order[r.reference]), reverse=True)

    async def query(
        self, id_numbers: Sequence[str], employer_id: str | None = None
    ) -> list[EmploymentRecord]:
        wanted = set(id_numbers)
        if not wanted:
            return []

        def query() -> list[EmploymentRecord]:
            return self._newest_first(
                [
                    r
                    for r in self.records.values()
                    if r.person.id_number in wanted
                    and (employer_id is None or r.employer_id == employer_id)
                ]
            )

        return await self._call("employment.query", query)

    async def list_by_employer(
        self,
        employer_id: str,
        *,
        state: EmploymentState | None = None,
        page: int = 1,
        size: int = 100,
    ) -> Page[EmploymentRecord]:
        if page < 1:
            raise ValueError("page counts from 1")
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ValueError(f"size must be between 1 and {MAX_PAGE_SIZE}")

        def list_() -> Page[EmploymentRecord]:
            rows = self._newest_first(
                [
                    r
                    for r in self.records.values()
                    if r.employer_id == employer_id and (state is None or r.state is state)
                ]
            )
            return Page(items=rows[(page - 1) * size : page * size], total=len(rows))

        return await self._call("employment.list", list_)
