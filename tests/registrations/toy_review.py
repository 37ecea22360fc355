"""A toy system whose writes are decided later, added from outside the gateway's
package through the ``hrss_gateway.systems`` entry point, as a province would.

The hiring-subsidy register (招用补贴登记) takes a hire's application at once,
"under review", and decides it later: a test approves or refuses it, or the
register decides by itself at the ``decide_after``-th look. An approved one is
undone by an application of its reverse (a cancellation), reviewed in its turn.
Everything the gateway needs to await it is declared here, through the hooks of
``gateway.decided``: nothing outside this module knows the register's states.
``REVIEW`` is the one instance the spec's ``adapter`` hands out.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.decided import (
    DecidedLater,
    Decision,
    Earlier,
    UndoMove,
    Undone,
    UndoPending,
    Verdict,
)
from gateway.domain.limits import Characters, Limits, Unit
from gateway.domain.model import Business, EmployerBinding, EmployerProfile, RegistrationRow, System
from gateway.registrations.model import Operation, StepError
from gateway.registry import Found, OperationSpec, PlanStep, SystemSpec
from gateway.systems import NotFound, Rejected, Unavailable

SYSTEM = System("subsidy")
APPLY = Operation("APPLY_SUBSIDY")
REFUSED_CODE = "SUBSIDY_REFUSED"


@dataclass(frozen=True, slots=True)
class Application:
    employer_id: str
    id_number: str
    start_date: dt.date


@dataclass
class Entry:
    kind: str  # "application" | "cancellation"
    employer_id: str
    id_number: str
    made_at: dt.datetime
    state: str = "PENDING"  # PENDING | APPROVED | REFUSED | WITHDRAWN
    cancels: str | None = None
    looks: int = 0


@dataclass(frozen=True, slots=True)
class ReviewSettings:
    url: str = "memory://subsidy"
    timeout: float = 2.0
    connect_timeout: float = 1.0
    max_in_flight: int = 4


@dataclass
class ToyReview:
    """The register, in memory, with switches a test turns."""

    system: System = SYSTEM
    entries: dict[str, Entry] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    #: The register decides by itself at this look (0: only when a test says).
    decide_after: int = 0
    #: What it decides by itself.
    verdict: str = "APPROVED"
    #: Commit the next application, then lose its answer.
    lose_next_answer: bool = False

    async def find_employer(self, credit_code: str) -> EmployerBinding | None:
        unit = self.units.get(credit_code)
        if unit is None:
            return None
        return EmployerBinding(SYSTEM, unit, EmployerProfile(credit_code, "unit", "370102"))

    async def ensure_employer(self, profile: EmployerProfile) -> EmployerBinding:
        created = profile.credit_code not in self.units
        unit = self.units.setdefault(profile.credit_code, f"BT{len(self.units) + 1:06d}")
        return EmployerBinding(SYSTEM, unit, profile, created)

    async def ping(self) -> None:
        self.calls["ping"] += 1

    async def aclose(self) -> None:
        return None

    def _add(self, entry: Entry) -> str:
        reference = f"BT-{len(self.entries) + 1:04d}"
        self.entries[reference] = entry
        return reference

    async def apply(self, request: Application) -> str:
        self.calls["apply"] += 1
        reference = self._add(
            Entry("application", request.employer_id, request.id_number, dt.datetime.now(dt.UTC))
        )
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise Unavailable(SYSTEM, "no answer in time", outcome_unknown=True)
        return reference

    async def look(self, reference: str) -> Entry:
        self.calls["look"] += 1
        entry = self.entries.get(reference)
        if entry is None:
            raise NotFound(SYSTEM, "no such application")
        entry.looks += 1
        if entry.state == "PENDING" and self.decide_after and entry.looks >= self.decide_after:
            self.decide(reference, self.verdict)
        return entry

    def decide(self, reference: str, verdict: str) -> None:
        entry = self.entries[reference]
        entry.state = verdict
        if entry.kind == "cancellation" and verdict == "APPROVED" and entry.cancels:
            self.entries[entry.cancels].state = "WITHDRAWN"

    async def search(self, employer_id: str, id_number: str) -> list[tuple[str, Entry]]:
        self.calls["search"] += 1
        mine = [
            (r, e)
            for r, e in self.entries.items()
            if (e.employer_id, e.id_number) == (employer_id, id_number)
        ]
        return mine[::-1]  # newest first

    async def withdraw(self, reference: str) -> None:
        self.calls["withdraw"] += 1
        entry = self.entries[reference]
        if entry.state != "PENDING":
            raise Rejected(SYSTEM, "decided already", system_code="B409")
        entry.state = "WITHDRAWN"

    async def cancel(self, reference: str) -> str:
        self.calls["cancel"] += 1
        done = self.entries[reference]
        return self._add(
            Entry(
                "cancellation",
                done.employer_id,
                done.id_number,
                dt.datetime.now(dt.UTC),
                cancels=reference,
            )
        )


#: The one register the spec's adapter hands out.
REVIEW = ToyReview()


def _decision(reference: str, entry: Entry) -> Decision:
    verdict = {
        "PENDING": Verdict.PENDING,
        "APPROVED": Verdict.APPROVED,
    }.get(entry.state, Verdict.REFUSED)
    note = None  # pending: the gateway's own note, naming the reference
    if verdict is Verdict.REFUSED:
        note = StepError(
            REFUSED_CODE,
            "招用补贴申请未获批准",
            "The hiring subsidy application was not granted",
            system_code=entry.state,
        )
    return Decision(reference, verdict, entry.made_at, note)


async def read(register: ToyReview, reference: str) -> Decision:
    return _decision(reference, await register.look(reference))


async def find(register: ToyReview, request: Application, since: dt.datetime) -> Decision | None:
    for reference, entry in await register.search(request.employer_id, request.id_number):
        if entry.kind == "application" and entry.made_at >= since:
            return _decision(reference, entry)
    return None


async def undo(
    register: ToyReview, request: Application, reference: str, earlier: Earlier
) -> UndoMove:
    entry = await register.look(reference)
    if entry.kind == "cancellation":  # the reverse we applied for
        if entry.state == "APPROVED":
            return Undone()
        return UndoPending(reference, _decision(reference, entry))
    if entry.state in ("REFUSED", "WITHDRAWN"):
        return Undone()
    if entry.state == "PENDING":
        await register.withdraw(reference)
        return Undone()
    return UndoPending(await register.cancel(reference))


async def apply(register: ToyReview, request: Application) -> str:
    return await register.apply(request)


async def find_application(register: ToyReview, request: Application) -> Found | None:
    found = await find(register, request, dt.datetime.min.replace(tzinfo=dt.UTC))
    return None if found is None else Found(found.reference)


async def cancel(register: ToyReview, reference: str) -> None:
    await register.cancel(reference)


def settings(environ: Mapping[str, str], section: Mapping[str, Any]) -> ReviewSettings:
    return ReviewSettings()


def application_of(row: RegistrationRow, employer_id: str) -> Application:
    assert row.start_date is not None
    return Application(employer_id, row.id_number, row.start_date)


SPEC = SystemSpec(
    system=SYSTEM,
    name_zh="招用补贴登记系统",
    name_en="hiring subsidy register",
    settings=settings,
    adapter=lambda settings, client: REVIEW,
    limits=lambda: Limits(
        owner_zh="招用补贴登记系统",
        owner_en="hiring subsidy register",
        unit=Unit.CHARACTERS,
        characters=Characters.UNICODE,
        fields={"id_number": 18},
    ),
    reads=frozenset({"look", "search"}),
    writes=frozenset({"apply", "withdraw", "cancel"}),
    operations=(
        OperationSpec(
            APPLY,
            Application,
            write=apply,
            find=find_application,
            undo=cancel,
            label_zh="招用补贴申请",
            label_en="the hiring subsidy application",
            decided_later=DecidedLater(read=read, find=find, undo=undo),
        ),
    ),
    plan=(PlanStep(Business.HIRE, APPLY, stage=1, build=application_of),),
    enabled_by_default=False,
    in_demo=False,
)
