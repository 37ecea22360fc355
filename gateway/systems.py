"""What the gateway asks of every existing system: one Protocol, one error taxonomy.

Each package under ``adapters/`` exports an object satisfying one of these
Protocols. Protocol details, legacy field names and legacy codes stay inside the
adapter package; what crosses this boundary is the unified model and these
errors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar, Protocol, Self, runtime_checkable

from gateway.domain.model import (
    ContractEnding,
    ContractTerm,
    DismissalRequest,
    EmployerBinding,
    EmployerProfile,
    EmploymentRecord,
    EmploymentRegistrationRequest,
    EmploymentState,
    LabourContract,
    Page,
    Person,
    System,
    UnemploymentRegistration,
    UnemploymentRequest,
)

# ---------------------------------------------------------------- errors


class AdapterError(Exception):
    """Something a system said or failed to say. Messages never hold personal data.

    ``message`` is the adapter's account of it, in English, for those who run the
    gateway (what failed, the system's words after it). ``said`` is the system's
    own words alone, as it gave them (in Chinese, for the systems of this
    province), fit for a clerk: what the Chinese messages quote. None when the
    system said nothing (a timeout, a dropped connection)."""

    #: The system's own words (see above); an adapter sets it where it has them.
    said: str | None = None

    def __init__(self, system: System, message: str) -> None:
        super().__init__(f"{system.value}: {message}")
        self.system = system
        self.message = message

    def saying(self, said: str | None) -> Self:
        """This error, with the system's own words (blank: none)."""
        self.said = said.strip() if said and said.strip() else None
        return self


class Unavailable(AdapterError):
    """The system could not be reached or did not answer: retry later.

    ``outcome_unknown`` is True when a write was sent and its answer was lost
    (a timeout after sending, a dropped connection, a server error): the write
    may or may not have been committed, and only a query tells.

    ``reached_system`` is False when the gateway itself held the call back (its
    own open circuit breaker, no slot in its bulkhead): nothing went out, so it
    is no attempt, and a step's backoff must not grow with it.
    """

    reached_system: ClassVar[bool] = True

    def __init__(
        self,
        system: System,
        message: str,
        *,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
        held_back_after: Unavailable | None = None,
    ) -> None:
        super().__init__(system, message)
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown
        #: A call held back (``reached_system`` False, the breaker open): the system's
        #: last failure that counted toward opening it, to say what the system did.
        self.held_back_after = held_back_after

    @property
    def turned_away(self) -> Unavailable | None:
        """The system's answer that turned calls away for now (said so, or when to come
        back: a request quota, a maintenance window), this one's or, for a call held
        back, the one it was held back after; None for silence (no answer, a timeout,
        a server error)."""
        answer = self if self.reached_system else self.held_back_after
        if answer is None or not answer.reached_system:
            return None
        return answer if answer.said or answer.retry_after is not None else None


class Rejected(AdapterError):
    """A business refusal. ``system_code`` is the system's own code, for diagnosis;
    ``field`` is the unified field name when the system named one."""

    def __init__(
        self,
        system: System,
        message: str,
        *,
        system_code: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(system, message)
        self.system_code = system_code
        self.field = field


class NotFound(Rejected):
    """The employer, person or record asked for does not exist in that system."""


class Duplicate(Rejected):
    """The system already holds it. ``existing_reference`` is its id when the system says."""

    def __init__(
        self,
        system: System,
        message: str,
        *,
        system_code: str | None = None,
        field: str | None = None,
        existing_reference: str | None = None,
    ) -> None:
        super().__init__(system, message, system_code=system_code, field=field)
        self.existing_reference = existing_reference


#: A gloss in Latin letters a system puts in brackets beside its Chinese words (the
#: labour system's "终止日期不应早于合同开始日期 (invalid value)"): a bracket holding no
#: Chinese and a word of two letters or more, a code alone (``(E3001)``) kept.
_LATIN_GLOSS = re.compile(r"\s*[(（][^()（）\u3400-\u9fff]*[A-Za-z]{2}[^()（）\u3400-\u9fff]*[)）]")
_CHINESE = re.compile(r"[\u3400-\u9fff]")


def quoted(error: AdapterError) -> str | None:
    """What a Chinese message about ``error`` quotes: the system's own words; for a
    refusal the adapter explained itself (the system gave none), that explanation,
    rather than nothing; None for a system that said nothing at all.

    Words in Chinese are quoted without the glosses in Latin letters a system adds in
    brackets: a Chinese message reads in Chinese (the English message, which quotes
    the adapter's account, keeps them)."""
    words = error.said or (error.message if isinstance(error, Rejected) else None)
    if words and _CHINESE.search(words):
        words = _LATIN_GLOSS.sub("", words).strip() or words
    return words


# ------------------------------------------------------------- protocols


@runtime_checkable
class SystemAdapter(Protocol):
    """What every system offers the gateway."""

    system: System

    async def find_employer(self, credit_code: str) -> EmployerBinding | None:
        """The employer as this system knows it, or None."""
        ...

    async def ensure_employer(self, profile: EmployerProfile) -> EmployerBinding:
        """Open the employer, or bind the one that exists (``created`` says which)."""
        ...

    async def ping(self) -> None:
        """Return when the system answers; raise ``Unavailable`` otherwise."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class EmploymentSystem(SystemAdapter, Protocol):
    """就业: employment registration and dismissal filing."""

    async def register(self, request: EmploymentRegistrationRequest) -> str:
        """Register the employment; return the system's reference."""
        ...

    async def dismiss(self, request: DismissalRequest) -> str:
        """File the dismissal; return the system's reference."""
        ...

    async def revoke(self, reference: str) -> None:
        """Undo a registration or a dismissal (compensation)."""
        ...

    async def query(
        self, id_numbers: Sequence[str], employer_id: str | None = None
    ) -> list[EmploymentRecord]:
        """Every record of these people, every state, newest first per person."""
        ...

    async def list_by_employer(
        self,
        employer_id: str,
        *,
        state: EmploymentState | None = None,
        page: int = 1,
        size: int = 100,
    ) -> Page[EmploymentRecord]: ...


@runtime_checkable
class LabourSystem(SystemAdapter, Protocol):
    """劳动关系: labour-contract filing (new, renewal, ending)."""

    async def file(self, employer_id: str, person: Person, term: ContractTerm) -> str:
        """File a new contract; return the filing number."""
        ...

    async def renew(self, employer_id: str, id_number: str, term: ContractTerm) -> str:
        """File a renewal (the contract in force is superseded); return its filing number."""
        ...

    async def end(self, ending: ContractEnding) -> str:
        """File the rescission or termination of the contract in force."""
        ...

    async def revoke(self, reference: str) -> None:
        """Undo a filing; revoking a renewal or an ending restores the earlier record."""
        ...

    async def query(
        self, id_numbers: Sequence[str], employer_id: str | None = None
    ) -> list[LabourContract]:
        """Every contract of these people, every state."""
        ...


@runtime_checkable
class UnemploymentSystem(SystemAdapter, Protocol):
    """失业: unemployment registration."""

    async def register(self, request: UnemploymentRequest) -> str:
        """Register the person as unemployed; return the registration number."""
        ...

    async def cancel(self, reference: str) -> None: ...

    async def query_person(self, id_number: str) -> list[UnemploymentRegistration]:
        """Every registration of one person, newest first."""
        ...

    async def query(self, id_numbers: Sequence[str]) -> list[UnemploymentRegistration]:
        """Several people: one call each (the system has no batch), bounded in flight."""
        ...

    async def list_by_employer(
        self, employer_id: str, *, page: int = 1, size: int = 20
    ) -> Page[UnemploymentRegistration]: ...
