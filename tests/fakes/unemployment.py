"""失业 in memory: the unemployment system's rules (``shared/legacy/unemployment.md``).

One active registration per person (40902; as the real adapter does, the
refusal is followed by a query that names the active one), registered today
for a relation that ended no later than today (40001), cancelled once (40903
after; 40402 for an unknown number), units opened once per credit code
(40901). Queries answer one person's registrations, newest first; the system
has no batch query, so ``query`` asks once per person.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from adapters.standin.seed import EMPLOYERS
from adapters.standin.today import province_today
from gateway.domain.model import (
    EmployerBinding,
    EmployerProfile,
    Page,
    System,
    UnemploymentRegistration,
    UnemploymentRequest,
    UnemploymentState,
)
from gateway.systems import Duplicate, NotFound, Rejected
from tests.fakes.base import FakeSystem

PAGE_LIMIT = 20


class FakeUnemployment(FakeSystem):
    """An ``UnemploymentSystem`` holding its registrations in memory."""

    system = System.UNEMPLOYMENT
    # A 503 from this system is always "did nothing", for reads and writes alike.
    UNAVAILABLE_IS_UNKNOWN: ClassVar[bool] = False
    PING: ClassVar[str] = "dw.get"

    def __init__(self, *, rng: random.Random | None = None) -> None:
        super().__init__(rng=rng)
        self.units: dict[str, EmployerProfile] = {}  # dwbh -> profile
        self.rows: dict[str, UnemploymentRegistration] = {}  # djbh -> row, in order
        for seed in EMPLOYERS:
            self.units[seed.unemployment_id] = seed.profile

    # ------------------------------------------------------------- employers

    def _unit_of(self, credit_code: str) -> str | None:
        return next((u for u, p in self.units.items() if p.credit_code == credit_code), None)

    async def find_employer(self, credit_code: str) -> EmployerBinding | None:
        unit = await self._call("dw.get", lambda: self._unit_of(credit_code))
        return None if unit is None else EmployerBinding(self.system, unit, self.units[unit])

    async def ensure_employer(self, profile: EmployerProfile) -> EmployerBinding:
        def create() -> str:
            if self._unit_of(profile.credit_code) is not None:
                raise Duplicate(self.system, "the unit is already open", system_code="40901")
            unit = f"SY{profile.division}{self._next():04d}"
            self.units[unit] = profile
            return unit

        try:
            unit = await self._call("dw.create", create, write=True)
        except Duplicate:
            # As the adapter does: bind the unit the system holds, checking the claim.
            found = await self.find_employer(profile.credit_code)
            if found is None:
                raise
            return found
        return EmployerBinding(self.system, unit, profile, created=True)

    # --------------------------------------------------------- registrations

    def _active(self, id_number: str) -> UnemploymentRegistration | None:
        return next(
            (
                r
                for r in self.rows.values()
                if r.person.id_number == id_number and r.state is UnemploymentState.REGISTERED
            ),
            None,
        )

    async def register(self, request: UnemploymentRequest) -> str:
        today = province_today()

        def register() -> str:
            if request.relation_ended_on > today:
                raise Rejected(
                    self.system,
                    "invalid field relation_ended_on",
                    system_code="40001",
                    field="relation_ended_on",
                )
            if request.employer_id not in self.units:
                raise NotFound(
                    self.system, "no such unit", system_code="40401", field="employer_id"
                )
            if self._active(request.person.id_number) is not None:
                raise Duplicate(
                    self.system,
                    "the person already has an active unemployment registration",
                    system_code="40902",
                    field="id_number",
                )
            number = f"SYDJ{today:%Y%m%d}{self._next():06d}"
            self.rows[number] = UnemploymentRegistration(
                reference=number,
                employer_id=request.employer_id,
                person=request.person,
                relation_ended_on=request.relation_ended_on,
                reason=request.reason,
                registered_on=today,
                state=UnemploymentState.REGISTERED,
            )
            return number

        try:
            return await self._call("djxx.create", register, write=True)
        except Duplicate as exc:
            if exc.system_code == "40902":
                # The adapter asks which registration stands in the way.
                active = [
                    r
                    for r in await self.query_person(request.person.id_number)
                    if r.state is UnemploymentState.REGISTERED
                ]
                exc.existing_reference = active[0].reference if active else None
            raise

    async def cancel(self, reference: str) -> None:
        def cancel() -> None:
            row = self.rows.get(reference)
            if row is None:
                raise NotFound(self.system, "no such registration", system_code="40402")
            if row.state is UnemploymentState.CANCELLED:
                raise Rejected(self.system, "already cancelled", system_code="40903")
            self.rows[reference] = replace(row, state=UnemploymentState.CANCELLED)

        await self._call("djxx.cancel", cancel, write=True)

    def _newest_first(self, rows: list[UnemploymentRegistration]) -> list[UnemploymentRegistration]:
        order = {ref: i for i, ref in enumerate(self.rows)}
        return sorted(rows, key=lambda r: (r.registered_on, order[r.reference]), reverse=True)

    async def query_person(self, id_number: str) -> list[UnemploymentRegistration]:
        def by_person() -> list[UnemploymentRegistration]:
            return self._newest_first(
                [r for r in self.rows.values() if r.person.id_number == id_number]
            )

        return await self._call("djxx.by_person", by_person)

    async def query(self, id_numbers: Sequence[str]) -> list[UnemploymentRegistration]:
        return [r for n in dict.fromkeys(id_numbers) for r in await self.query_person(n)]

    async def list_by_employer(
        self, employer_id: str, *, page: int = 1, size: int = PAGE_LIMIT
    ) -> Page[UnemploymentRegistration]:
        if page < 1:
            raise Rejected(self.system, "page must be at least 1", field="page")
        if size < 1:
            raise Rejected(self.system, "size must be at least 1", field="size")

        def by_unit() -> Page[UnemploymentRegistration]:
            mine = [r for r in self.rows.values() if r.employer_id == employer_id]
            rows = self._newest_first(mine)
            return Page(items=rows[(page - 1) * size : page * size], total=len(rows))

        # The adapter reads pages of 20 and counts each; one call stands for them here.
        return await self._call("djxx.by_unit", by_unit)
