"""社会保险 in memory: the social insurance system's rules (``shared/legacy/social-insurance.md``).

Units opened once per credit code (1001, then bound as the adapter binds them);
a declaration answered "under review" at once and decided when its review is
due (``review_delay_s`` after it was declared, taken lazily before every
operation as the stand-in does), or at once on demand (``approve``,
``return_``); what the agency decides as ``adapters/social_insurance/review.py``
decides it (a wage out of range R02, insured with another unit R03, nothing to
remove R09, ``return_rate`` R01 drawn when declared). One addition under review
or one spell with a unit at a time (1002), one removal under review (1003),
withdrawal only under review (1409). Errors are the ones the real adapter
raises, with its follow-up searches (counted): a 1002 names the addition under
review, a 1003 tells a removal under review (Duplicate) from a worker not
insured here (NotFound).

Signing and encryption are the transport's and have no fake. The quota
(``quota_per_s``) is enforced per second of the real clock, as the stand-in
does; it is off until a test sets it, as the stand-in's fixture leaves it.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from adapters.social_insurance import mapping
from adapters.social_insurance.guard import SocialFaults
from adapters.social_insurance.model import (
    SYSTEM,
    AdditionRequest,
    Declaration,
    DeclarationKind,
    DeclarationState,
    Insurance,
    InsuranceState,
    RemovalRequest,
    ReturnReason,
    StopReason,
)
from adapters.social_insurance.review import (
    CHINA,
    RETURNS,
    SEED_UNITS,
    WAGE_CEILING,
    WAGE_FLOOR,
)
from adapters.standin.seed import EMPLOYERS
from gateway.domain.model import EmployerBinding, EmployerProfile, IdType
from gateway.systems import Duplicate, NotFound, Rejected, Unavailable
from tests.fakes.base import FakeSystem

T = TypeVar("T")

#: The agency's text of each return, as the stand-in writes it.
RETURN_NOTES: dict[ReturnReason, str] = {
    mapping.RETURN_REASON_FROM_LEGACY[code]: text for code, text in RETURNS.items()
}


@dataclass
class _Declared:
    """One declaration, with what the agency needs to decide it."""

    declaration: Declaration
    seq: int
    due_at: float
    drawn_return: ReturnReason | None
    start_date: dt.date | None = None  # an addition's
    wage: Decimal | None = None  # an addition's
    stop_date: dt.date | None = None  # a removal's


@dataclass
class _Spell:
    employer_id: str
    id_type: IdType
    id_number: str
    insurance_number: str
    start_date: dt.date
    stop_date: dt.date | None
    seq: int

    @property
    def open(self) -> bool:
        return self.stop_date is None


class FakeSocialInsurance(FakeSystem):
    """A ``SocialInsuranceSystem`` holding its units and declarations in memory.

    ``clock`` is the agency's time (reviews fall due by it): the test's movable
    clock, so that a test passes a review's delay without waiting.
    """

    system = SYSTEM
    # The adapter reads a 503 (down, maintenance) and a 429 as "did nothing".
    UNAVAILABLE_IS_UNKNOWN: ClassVar[bool] = False
    PING: ClassVar[str] = "units.get"

    def __init__(
        self,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        super().__init__(rng=rng)
        self._faults = _faults()
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._quota_calls: deque[float] = deque()
        self.units: dict[str, EmployerProfile] = {}  # dwbh -> profile
        self.declarations: dict[str, _Declared] = {}  # slh -> declaration, in order
        self.spells: list[_Spell] = []
        self._numbers: dict[tuple[IdType, str], str] = {}  # a worker's insurance number
        for seed, unit in zip(EMPLOYERS, SEED_UNITS, strict=True):
            self.units[unit] = seed.profile

    def reset(self) -> None:
        super().reset()
        self._faults = _faults()
        self._quota_calls.clear()

    # --------------------------------------------------- the agency, on demand

    def approve(self, reference: str) -> Declaration:
        """Decide a declaration under review now, as the agency would (it may still
        return it, for the contract's reasons)."""
        declared = self.declarations[reference]
        if declared.declaration.state is DeclarationState.UNDER_REVIEW:
            self._decide(declared)
        return self.declarations[reference].declaration

    def return_(self, reference: str, reason: ReturnReason = ReturnReason.RECORDS_DIFFER) -> None:
        """Return a declaration under review now, for ``reason``."""
        declared = self.declarations[reference]
        if declared.declaration.state is DeclarationState.UNDER_REVIEW:
            self._set(declared, DeclarationState.RETURNED, return_reason=reason)

    def under_review(self) -> list[str]:
        """The acceptance numbers still under review, oldest first."""
        return [
            slh
            for slh, d in self.declarations.items()
            if d.declaration.state is DeclarationState.UNDER_REVIEW
        ]

    def declared_wage(self, reference: str) -> Decimal | None:
        """The contribution wage an addition declared (the contract's ``jfgz``)."""
        return self.declarations[reference].wage

    # ------------------------------------------------------------- the calls

    async def _call(self, operation: str, act: Callable[[], T], *, write: bool = False) -> T:
        def guarded() -> T:
            self._quota()
            self._decide_due()
            return act()

        return await super()._call(operation, guarded, write=write)

    def _quota(self) -> None:
        quota = int(getattr(self._faults, "quota_per_s", 0))
        now = time.time()
        calls = self._quota_calls
        while calls and calls[0] <= now - 1:
            calls.popleft()
        if quota and len(calls) >= quota:
            wait = max(1, math.ceil(calls[0] + 1 - now))
            raise Unavailable(
                self.system, "over the system's request quota", retry_after=float(wait)
            )
        calls.append(now)

    def _now(self) -> float:
        return self._clock().timestamp()

    # ------------------------------------------------------------- employers

    def _unit_of(self, credit_code: str) -> str | None:
        return next((u for u, p in self.units.items() if p.credit_code == credit_code), None)

    async def find_employer(self, credit_code: str) -> EmployerBinding | None:
        unit = await self._call("units.get", lambda: self._unit_of(credit_code))
        return None if unit is None else EmployerBinding(self.system, unit, self.units[unit])

    async def ensure_employer(self, profile: EmployerProfile) -> EmployerBinding:
        def create() -> str:
            existing = self._unit_of(profile.credit_code)
            if existing is not None:
                raise Duplicate(
                    self.system,
                    "the unit is already registered",
                    system_code=mapping.UNIT_EXISTS,
                    field="credit_code",
                    existing_reference=existing,
                )
            unit = f"SB{profile.division}{self._next():08d}"
            self.units[unit] = profile
            return unit

        try:
            unit = await self._call("units.create", create, write=True)
        except Duplicate as refusal:
            # As the adapter does: bind the unit the system holds, checking the claim.
            found = await self.find_employer(profile.credit_code)
            if found is not None:
                return found
            if refusal.existing_reference:
                return EmployerBinding(self.system, refusal.existing_reference, profile)
            raise
        return EmployerBinding(self.system, unit, profile, created=True)

    # --------------------------------------------------------- declarations

    def _unit(self, employer_id: str) -> None:
        if employer_id not in self.units:
            raise NotFound(
                self.system,
                "no such unit",
                system_code=mapping.NO_SUCH_UNIT,
                field="employer_id",
            )

    def _spell_here(self, employer_id: str, id_type: IdType, id_number: str) -> _Spell | None:
        return next(
            (
                s
                for s in self.spells
                if s.open
                and (s.employer_id, s.id_type, s.id_number) == (employer_id, id_type, id_number)
            ),
            None,
        )

    def _pending(
        self, employer_id: str, id_type: IdType, id_number: str, kind: DeclarationKind
    ) -> str | None:
        for slh, d in self.declarations.items():
            decl = d.declaration
            if (
                (decl.employer_id, decl.id_type, decl.id_number)
                == (employer_id, id_type, id_number)
                and decl.kind is kind
                and decl.state is DeclarationState.UNDER_REVIEW
            ):
                return slh
        return None

    def _declare(
        self, kind: DeclarationKind, employer_id: str, id_type: IdType, id_number: str, **extra: Any
    ) -> str:
        now = self._now()
        declared_at = dt.datetime.fromtimestamp(now, CHINA).replace(tzinfo=None)  # as sbsj
        seq = self._next()
        slh = f"SL{declared_at:%Y%m%d}{seq:06d}"
        rate = float(getattr(self._faults, "return_rate", 0.0))
        drawn = ReturnReason.RECORDS_DIFFER if rate and self._rng.random() < rate else None
        self.declarations[slh] = _Declared(
            Declaration(
                slh, kind, employer_id, id_type, id_number, DeclarationState.UNDER_REVIEW,
                declared_at.replace(microsecond=0),
            ),
            seq,
            now + float(getattr(self._faults, "review_delay_s", 0.0)),
            drawn,
            **extra,
        )  # fmt: skip
        return slh

    async def declare_addition(self, request: AdditionRequest) -> str:
        self._checked(mapping.addition_to_legacy, request)
        p = request.person

        def declare() -> str:
            self._unit(request.employer_id)
            insured = self._spell_here(request.employer_id, p.id_type, p.id_number)
            pending = self._pending(
                request.employer_id, p.id_type, p.id_number, DeclarationKind.ADDITION
            )
            if insured is not None or pending is not None:
                raise Duplicate(
                    self.system,
                    "the worker is insured with the unit or an addition is under review",
                    system_code=mapping.ADDITION_EXISTS,
                    field="id_number",
                )
            return self._declare(
                DeclarationKind.ADDITION,
                request.employer_id,
                p.id_type,
                p.id_number,
                start_date=request.start_date,
                wage=request.monthly_wage,
            )

        try:
            return await self._call("declarations.addition", declare, write=True)
        except Duplicate as exc:
            exc.existing_reference = await self._searched(
                request.employer_id, p.id_type, p.id_number, DeclarationKind.ADDITION
            )
            raise

    async def declare_removal(self, request: RemovalRequest) -> str:
        self._checked(mapping.removal_to_legacy, request)
        who = (request.employer_id, request.id_type, request.id_number)

        def declare() -> str:
            self._unit(request.employer_id)
            spell = self._spell_here(*who)
            if spell is None or self._pending(*who, DeclarationKind.REMOVAL) is not None:
                raise Rejected(
                    self.system,
                    "the worker is not insured with the unit, or a removal is under review",
                    system_code=mapping.NOT_INSURED_HERE,
                    field="id_number",
                )
            if request.stop_date < spell.start_date:
                raise Rejected(
                    self.system,
                    "invalid field stop_date",
                    system_code=mapping.INVALID_FIELD,
                    field="stop_date",
                )
            return self._declare(DeclarationKind.REMOVAL, *who, stop_date=request.stop_date)

        try:
            return await self._call("declarations.removal", declare, write=True)
        except Rejected as exc:
            if type(exc) is not Rejected or exc.system_code != mapping.NOT_INSURED_HERE:
                raise
            pending = await self._searched(*who, DeclarationKind.REMOVAL)
            if pending is not None:
                raise Duplicate(
                    self.system,
                    "a removal of the worker is already under review",
                    system_code=exc.system_code,
                    field="id_number",
                    existing_reference=pending,
                ) from None
            raise NotFound(
                self.system,
                "the worker is not insured with the unit",
                system_code=exc.system_code,
                field="id_number",
            ) from None

    async def _searched(
        self, employer_id: str, id_type: IdType, id_number: str, kind: DeclarationKind
    ) -> str | None:
        """The adapter's search after a refusal: the declaration of that kind under review."""
        try:
            found = await self.find_declarations(employer_id, id_type, id_number)
        except (Unavailable, Rejected):
            return None
        return next(
            (
                d.reference
                for d in found
                if d.kind is kind and d.state is DeclarationState.UNDER_REVIEW
            ),
            None,
        )

    def _checked(self, build: Callable[[Any], Any], request: Any) -> None:
        """What the adapter refuses unsent (a value the system cannot take)."""
        try:
            build(request)
        except mapping.MappingError as exc:
            raise Rejected(self.system, str(exc), field=exc.field) from None

    async def declaration(self, reference: str) -> Declaration:
        def get() -> Declaration:
            declared = self.declarations.get(reference)
            if declared is None:
                raise NotFound(
                    self.system,
                    "no such declaration",
                    system_code=mapping.NO_SUCH_DECLARATION,
                    field="reference",
                )
            return declared.declaration

        return await self._call("declarations.get", get)

    async def find_declarations(
        self, employer_id: str, id_type: IdType, id_number: str
    ) -> list[Declaration]:
        def search() -> list[Declaration]:
            self._unit(employer_id)
            mine = [
                d
                for d in self.declarations.values()
                if (d.declaration.employer_id, d.declaration.id_type, d.declaration.id_number)
                == (employer_id, id_type, id_number)
            ]
            return [d.declaration for d in sorted(mine, key=lambda d: d.seq, reverse=True)]

        return await self._call("declarations.search", search)

    async def withdraw(self, reference: str) -> None:
        def withdraw() -> None:
            declared = self.declarations.get(reference)
            if declared is None:
                raise NotFound(
                    self.system,
                    "no such declaration",
                    system_code=mapping.NO_SUCH_DECLARATION,
                    field="reference",
                )
            if declared.declaration.state is not DeclarationState.UNDER_REVIEW:
                raise Rejected(
                    self.system,
                    "the declaration is no longer under review",
                    system_code=mapping.NOT_UNDER_REVIEW,
                )
            self._set(declared, DeclarationState.WITHDRAWN)

        await self._call("declarations.withdraw", withdraw, write=True)

    async def reverse(self, reference: str, *, restore: AdditionRequest | None = None) -> str:
        # The adapter's own logic over the fake's operations (counted as it calls them).
        done = await self.declaration(reference)
        if done.state is not DeclarationState.APPROVED or done.effective_on is None:
            hint = " (withdraw it)" if done.state is DeclarationState.UNDER_REVIEW else ""
            raise Rejected(
                self.system,
                f"only an approved declaration is reversed; this one is {done.state.value}{hint}",
                field="reference",
            )
        if done.kind is DeclarationKind.ADDITION:
            return await self.declare_removal(
                RemovalRequest(
                    done.employer_id, done.id_type, done.id_number, done.effective_on,
                    StopReason.OTHER,
                )
            )  # fmt: skip
        if restore is None:
            raise ValueError("reversing a removal needs the addition to declare again")
        if (restore.employer_id, restore.person.id_number) != (done.employer_id, done.id_number):
            raise ValueError("the addition to restore is of another worker or unit")
        return await self.declare_addition(replace(restore, start_date=done.effective_on))

    async def insurance(self, id_type: IdType, id_number: str) -> list[Insurance]:
        self._checked(lambda _: mapping.person_to_legacy(id_type, id_number), None)

        def search() -> list[Insurance]:
            mine = [s for s in self.spells if (s.id_type, s.id_number) == (id_type, id_number)]
            mine.sort(key=lambda s: (s.start_date, s.seq), reverse=True)
            return [
                Insurance(
                    s.employer_id,
                    s.insurance_number,
                    s.start_date,
                    s.stop_date,
                    InsuranceState.INSURED if s.open else InsuranceState.STOPPED,
                )
                for s in mine
            ]

        return await self._call("insured.search", search)

    # ------------------------------------------------------------ the agency

    def _decide_due(self) -> None:
        now = self._now()
        for declared in list(self.declarations.values()):
            if (
                declared.declaration.state is DeclarationState.UNDER_REVIEW
                and declared.due_at <= now
            ):
                self._decide(declared)

    def _set(self, declared: _Declared, state: DeclarationState, **changes: Any) -> None:
        reason = changes.get("return_reason")
        if reason is not None:
            changes["return_note"] = RETURN_NOTES[reason]
        declared.declaration = replace(declared.declaration, state=state, **changes)

    def _decide(self, declared: _Declared) -> None:
        """As ``review.decide``: the drawn return first, then the contract's reasons."""
        d = declared.declaration
        here = self._spell_here(d.employer_id, d.id_type, d.id_number)
        returned = declared.drawn_return
        if returned is None and d.kind is DeclarationKind.ADDITION:
            elsewhere = any(
                s.open and (s.id_type, s.id_number) == (d.id_type, d.id_number)
                and s.employer_id != d.employer_id
                for s in self.spells
            )  # fmt: skip
            assert declared.wage is not None
            if not WAGE_FLOOR <= declared.wage <= WAGE_CEILING:
                returned = ReturnReason.WAGE_OUT_OF_RANGE
            elif elsewhere:
                returned = ReturnReason.INSURED_ELSEWHERE
            elif here is not None:
                returned = ReturnReason.OTHER
        elif returned is None and here is None:
            returned = ReturnReason.OTHER
        if returned is not None:
            self._set(declared, DeclarationState.RETURNED, return_reason=returned)
            return
        if d.kind is DeclarationKind.ADDITION:
            assert declared.start_date is not None
            number = self._numbers.setdefault(
                (d.id_type, d.id_number), f"37{len(self._numbers) + 1:010d}"
            )
            self.spells.append(
                _Spell(
                    d.employer_id, d.id_type, d.id_number, number, declared.start_date, None,
                    self._next(),
                )
            )  # fmt: skip
            self._set(
                declared,
                DeclarationState.APPROVED,
                insurance_number=number,
                effective_on=declared.start_date,
            )
        else:
            assert here is not None
            assert declared.stop_date is not None
            here.stop_date = declared.stop_date
            self._set(declared, DeclarationState.APPROVED, effective_on=declared.stop_date)


def _faults() -> SocialFaults:
    """The stand-in's settings, its quota off (as the tests' stand-in fixture leaves it)."""
    faults = SocialFaults()
    faults.quota_per_s = 0
    return faults
