"""A toy fifth system, added as a province would add its own: outside the gateway's
package, registered only through the ``hrss_gateway.systems`` entry point.

The vocational-training register (职业培训登记) enrols a worker when hired (a
follow-up step of a hire, after the employment and labour steps) and removes
the worker when the relation ends (beside the dismissal and the contract
ending). It lives in memory and is its own adapter, like the fakes of
``tests/fakes``; it is no stand-in of a real contract. ``TRAINING`` is the one
instance the spec's ``adapter`` hands out, so that a test sees what it holds.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.domain.limits import Characters, Limits, Unit
from gateway.domain.model import (
    Business,
    EmployerBinding,
    EmployerProfile,
    RegistrationRow,
    System,
)
from gateway.registrations.model import Operation
from gateway.registry import Found, OperationSpec, PlanStep, SystemSpec
from gateway.systems import Duplicate, NotFound, Rejected, Unavailable

SYSTEM = System("training")
ENROL = Operation("ENROL_TRAINEE")
REMOVE = Operation("REMOVE_TRAINEE")
#: The register's answer to withdrawing what is withdrawn already.
ALREADY_WITHDRAWN = "T409"


@dataclass(frozen=True, slots=True)
class Enrolment:
    employer_id: str
    id_number: str
    start_date: dt.date


@dataclass(frozen=True, slots=True)
class Removal:
    employer_id: str
    id_number: str
    left_on: dt.date


@dataclass(frozen=True, slots=True)
class TrainingSettings:
    url: str = "memory://training"
    timeout: float = 2.0
    connect_timeout: float = 1.0
    max_in_flight: int = 4


@dataclass
class Entry:
    kind: str  # "enrolment" | "removal"
    employer_id: str
    id_number: str
    on: dt.date
    withdrawn: bool = False


class ToyTraining:
    """The register, in memory, with switches a test turns."""

    system = SYSTEM

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.units: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        #: Refuse every enrolment (a business refusal).
        self.refuse_enrolments = False
        #: Commit the next write, then lose its answer.
        self.lose_next_answer = False

    async def find_employer(self, credit_code: str) -> EmployerBinding | None:
        self.calls["find_employer"] += 1
        unit = self.units.get(credit_code)
        if unit is None:
            return None
        return EmployerBinding(SYSTEM, unit, EmployerProfile(credit_code, "unit", "370102"))

    async def ensure_employer(self, profile: EmployerProfile) -> EmployerBinding:
        self.calls["ensure_employer"] += 1
        created = profile.credit_code not in self.units
        unit = self.units.setdefault(profile.credit_code, f"TR{len(self.units) + 1:06d}")
        return EmployerBinding(SYSTEM, unit, profile, created)

    async def ping(self) -> None:
        self.calls["ping"] += 1

    async def aclose(self) -> None:
        return None

    def _write(self, entry: Entry) -> str:
        reference = f"TR-{len(self.entries) + 1:04d}"
        self.entries[reference] = entry
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise Unavailable(SYSTEM, "no answer in time", outcome_unknown=True)
        return reference

    async def enrol(self, request: Enrolment) -> str:
        self.calls["enrol"] += 1
        if self.refuse_enrolments:
            raise Rejected(SYSTEM, "not eligible for training", system_code="T422")
        for entry in self.active(request.employer_id, request.id_number):
            if entry.kind == "enrolment":
                raise Duplicate(SYSTEM, "already enrolled", system_code="T409E")
        return self._write(
            Entry("enrolment", request.employer_id, request.id_number, request.start_date)
        )

    async def remove(self, request: Removal) -> str:
        self.calls["remove"] += 1
        if not any(
            e.kind == "enrolment" for e in self.active(request.employer_id, request.id_number)
        ):
            raise NotFound(SYSTEM, "not enrolled", system_code="T404")
        return self._write(
            Entry("removal", request.employer_id, request.id_number, request.left_on)
        )

    async def withdraw(self, reference: str) -> None:
        self.calls["withdraw"] += 1
        entry = self.entries[reference]
        if entry.withdrawn:
            raise Rejected(SYSTEM, "withdrawn already", system_code=ALREADY_WITHDRAWN)
        entry.withdrawn = True

    async def search(self, employer_id: str, id_number: str) -> list[tuple[str, Entry]]:
        self.calls["search"] += 1
        return [
            (reference, e)
            for reference, e in self.entries.items()
            if e.employer_id == employer_id and e.id_number == id_number
        ]

    def active(self, employer_id: str, id_number: str) -> list[Entry]:
        return [
            e
            for e in self.entries.values()
            if e.employer_id == employer_id and e.id_number == id_number and not e.withdrawn
        ]


#: The one register the spec's adapter hands out.
TRAINING = ToyTraining()


def settings(environ: Mapping[str, str], section: Mapping[str, Any]) -> TrainingSettings:
    url = environ.get("HRSS_TRAINING_URL", section.get("url", TrainingSettings.url))
    return TrainingSettings(url=str(url))


def adapter(settings: TrainingSettings, client: Any) -> ToyTraining:
    return TRAINING


async def enrol(register: ToyTraining, request: Enrolment) -> str:
    return await register.enrol(request)


async def find_enrolment(register: ToyTraining, request: Enrolment) -> Found | None:
    for reference, e in await register.search(request.employer_id, request.id_number):
        if e.kind == "enrolment" and not e.withdrawn and e.on == request.start_date:
            return Found(reference)
    return None


async def remove(register: ToyTraining, request: Removal) -> str:
    return await register.remove(request)


async def find_removal(register: ToyTraining, request: Removal) -> Found | None:
    for reference, e in await register.search(request.employer_id, request.id_number):
        if e.kind == "removal" and not e.withdrawn and e.on == request.left_on:
            return Found(reference)
    return None


async def withdraw(register: ToyTraining, reference: str) -> None:
    await register.withdraw(reference)


def enrolment_of(row: RegistrationRow, employer_id: str) -> Enrolment:
    assert row.start_date is not None
    return Enrolment(employer_id, row.id_number, row.start_date)


def removal_of(row: RegistrationRow, employer_id: str) -> Removal:
    assert row.end_date is not None
    return Removal(employer_id, row.id_number, row.end_date)


SPEC = SystemSpec(
    system=SYSTEM,
    name_zh="职业培训登记系统",
    name_en="vocational training register",
    settings=settings,
    adapter=adapter,
    limits=lambda: Limits(
        owner_zh="职业培训登记系统",
        owner_en="vocational training register",
        unit=Unit.CHARACTERS,
        characters=Characters.UNICODE,
        fields={"id_number": 18},
    ),
    reads=frozenset({"search"}),
    writes=frozenset({"enrol", "remove", "withdraw"}),
    operations=(
        OperationSpec(
            ENROL,
            Enrolment,
            write=enrol,
            find=find_enrolment,
            undo=withdraw,
            label_zh="培训登记",
            label_en="the training enrolment",
        ),
        OperationSpec(
            REMOVE,
            Removal,
            write=remove,
            find=find_removal,
            undo=withdraw,
            label_zh="培训注销",
            label_en="the training removal",
        ),
    ),
    already_undone=frozenset({ALREADY_WITHDRAWN}),
    plan=(
        # A follow-up of a hire: once the worker is registered and the contract filed.
        PlanStep(Business.HIRE, ENROL, stage=1, build=enrolment_of),
        PlanStep(Business.END, REMOVE, stage=0, build=removal_of),
    ),
    enabled_by_default=False,
    in_demo=False,
)
