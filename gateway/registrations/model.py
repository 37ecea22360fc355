"""Integrated registrations: what is stored before any system is called.

A *submission* is one mutation call (one idempotency key); it holds one
*registration* per worker (or one for an account); each registration is a
small plan of *steps*, one per system write, in stages: every step of stage
``n`` waits until all steps of the earlier stages are done.

| business      | stage 0                                      | stage 1                 |
|---------------|----------------------------------------------|-------------------------|
| open account  | open employer (in every system switched on, in parallel) |             |
| hire          | register employment ∥ file contract          |                         |
| renew         | renew contract                               |                         |
| end           | dismiss ∥ end contract                       | register unemployment (if asked) |
| separate      | the one system write asked for               |                         |

Each step is *core* or a *follow-up* (``StepKind``; the plan says which). The
core steps stand or fall together: a core refusal undoes everything done. A
follow-up (the worker's unemployment registration) starts once the core is
done and never undoes it: refused or stuck, it waits for the employer or a
clerk to retry it (with corrected data) or to cancel it alone.

A system registered through ``gateway.registry`` may add steps of its own to a
business (``SystemSpec.plan``), in the stage and of the kind it declares.

Plain dataclasses, no framework import: the store persists them, the engine
carries them out, the schema shows them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from gateway.domain.model import OpenName, System


class Business(StrEnum):
    OPEN_ACCOUNT = "OPEN_ACCOUNT"  # 开通或合并网上账号
    HIRE = "HIRE"  # 招用劳动者
    RENEW = "RENEW"  # 劳动合同续签
    END = "END"  # 终止或解除劳动合同
    SEPARATE = "SEPARATE"  # 分口办理: one system alone (transition period only)


class Channel(StrEnum):
    GOVERNMENT_PORTAL = "government_portal"  # 山东政务服务网
    EMPLOYMENT_SERVICE_HALL = "employment_service_hall"  # 公共就业人才服务网上服务大厅
    SERVICE_WINDOW = "service_window"  # 综合服务窗口 (a clerk acts for the employer)


class Operation(OpenName):
    """One write to one system. Open: a system's package names its own
    operations, and declares in its ``SystemSpec`` which system each writes to,
    what it sends, how it is found again and how it is undone (``gateway.registry``).
    The constants are the core systems' writes."""

    __slots__ = ()
    _pattern = re.compile(r"[A-Z][A-Z0-9_]{0,31}")

    OPEN_EMPLOYER: ClassVar[Operation]  # any system; nothing to undo (the unit stays open)
    REGISTER_EMPLOYMENT: ClassVar[Operation]  # employment; undo: revoke
    DISMISS: ClassVar[Operation]  # employment; undo: revoke the dismissal
    FILE_CONTRACT: ClassVar[Operation]  # labour; undo: revoke the filing
    RENEW_CONTRACT: ClassVar[Operation]  # labour; undo: revoke the renewal
    END_CONTRACT: ClassVar[Operation]  # labour; undo: revoke the ending
    REGISTER_UNEMPLOYMENT: ClassVar[Operation]  # unemployment; undo: cancel

    @property
    def name(self) -> str:
        return self.value


Operation.OPEN_EMPLOYER = Operation("OPEN_EMPLOYER")
Operation.REGISTER_EMPLOYMENT = Operation("REGISTER_EMPLOYMENT")
Operation.DISMISS = Operation("DISMISS")
Operation.FILE_CONTRACT = Operation("FILE_CONTRACT")
Operation.RENEW_CONTRACT = Operation("RENEW_CONTRACT")
Operation.END_CONTRACT = Operation("END_CONTRACT")
Operation.REGISTER_UNEMPLOYMENT = Operation("REGISTER_UNEMPLOYMENT")
Operation._core = (
    Operation.OPEN_EMPLOYER,
    Operation.REGISTER_EMPLOYMENT,
    Operation.DISMISS,
    Operation.FILE_CONTRACT,
    Operation.RENEW_CONTRACT,
    Operation.END_CONTRACT,
    Operation.REGISTER_UNEMPLOYMENT,
)


class StepKind(StrEnum):
    """Whether a step stands or falls with the others (core) or is done after them."""

    CORE = "CORE"  # refused: everything done is undone
    FOLLOW_UP = "FOLLOW_UP"  # after the core; refused: waits for a person, the core stays


class RegistrationState(StrEnum):
    ACCEPTED = "ACCEPTED"  # stored, no step started
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"  # every step done (or a cancelled follow-up skipped)
    COMPENSATING = "COMPENSATING"  # a core step was refused; undoing the done ones
    COMPENSATED = "COMPENSATED"  # refused, and everything done was undone
    #: A deadline passed, an undo was impossible, or a follow-up was refused
    #: (then the core is done and stays: see ``core_complete``).
    NEEDS_ATTENTION = "NEEDS_ATTENTION"
    CANCELLED = "CANCELLED"  # a clerk or administrator cancelled it (done steps undone)

    @property
    def is_final(self) -> bool:
        return self in (
            RegistrationState.COMPLETED,
            RegistrationState.COMPENSATED,
            RegistrationState.CANCELLED,
        )


class StepState(StrEnum):
    PENDING = "PENDING"  # to send (again), at next_attempt_at
    SENDING = "SENDING"  # sent or about to be: if found so after a crash, the outcome is unknown
    UNKNOWN = "UNKNOWN"  # sent, answer lost: ask the system before sending again
    DONE = "DONE"  # the system holds it; ``reference`` is its id there
    #: A business refusal: of a core step, the registration is compensated; of a
    #: follow-up, it waits for a person (retry with corrected data, or cancel it).
    REFUSED = "REFUSED"
    UNDOING = "UNDOING"  # compensation under way (revoke / cancel)
    UNDONE = "UNDONE"  # compensated
    #: Not done, on purpose: an earlier step was refused, the registration was
    #: cancelled, or this follow-up alone was cancelled (``last_error`` says which).
    SKIPPED = "SKIPPED"
    STUCK = "STUCK"  # cannot finish by itself (deadline, undo impossible): needs a person


#: The states a worker takes a step in, once it is due (``next_attempt_at``) and
#: its registration moves by itself (not final, not waiting for a person).
WORKABLE_STEP_STATES = frozenset(
    {StepState.PENDING, StepState.UNKNOWN, StepState.SENDING, StepState.UNDOING}
)


@dataclass(frozen=True, slots=True)
class StepError:
    """The last error of a step, as people read it (no personal data)."""

    code: str  # SYSTEM_UNAVAILABLE, SYSTEM_REJECTED, DEADLINE_PASSED, ...
    message_zh: str
    message_en: str
    system_code: str | None = None
    field: str | None = None


@dataclass(slots=True)
class Step:
    id: str
    registration_id: str
    system: System
    operation: Operation
    stage: int
    #: What to send, in unified terms (built by ``plan``; read by the engine).
    payload: dict[str, Any]
    state: StepState = StepState.PENDING
    kind: StepKind = StepKind.CORE
    reference: str | None = None
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    deadline_at: dt.datetime | None = None
    last_error: StepError | None = None
    lease_owner: str | None = None
    lease_until: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Warning:
    """Accepted, but someone should know (late registration, late contract)."""

    code: str
    field: str
    message_zh: str
    message_en: str


@dataclass(slots=True)
class Registration:
    id: str
    submission_id: str
    business: Business
    state: RegistrationState
    credit_code: str
    division: str  # the employer's, so that a clerk finds the registrations of its divisions
    #: The worker's ID type and number (None for an account), for finding and locking.
    person_key: str | None
    #: The row as received, in unified terms (what ``plan`` was built from).
    payload: dict[str, Any]
    channel: Channel
    actor_id: int | None
    actor_username: str | None
    steps: list[Step] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)
    #: Why it was refused (the refusing step's error), when it was.
    failure: StepError | None = None
    version: int = 0  # grows with every change: subscriptions follow it
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    #: When its personal data were erased, its retention past (None: not yet):
    #: numbers masked, addresses blank, ``person_key`` a keyed hash
    #: (``gateway.store.registrations.erasing``).
    erased_at: dt.datetime | None = None


def core_complete(registration: Registration) -> bool:
    """Every core step is done: what the employer is bound to file is filed."""
    return all(s.state is StepState.DONE for s in registration.steps if s.kind is StepKind.CORE)


def next_try(step: Step, registration: Registration) -> dt.datetime | None:
    """When a worker takes ``step`` next: its ``next_attempt_at`` while it is to be
    sent, asked about or undone and its registration moves by itself; None once
    the step is finished, or while its registration waits for a person (a clerk's
    retry gives it a new time)."""
    if step.state not in WORKABLE_STEP_STATES:
        return None
    if registration.state.is_final or registration.state is RegistrationState.NEEDS_ATTENTION:
        return None
    return step.next_attempt_at


def follow_ups_left(registration: Registration) -> list[Step]:
    """The follow-up steps neither done nor cancelled (or undone with the rest);
    none of a registration that is final."""
    if registration.state.is_final:
        return []
    return [
        s
        for s in registration.steps
        if s.kind is StepKind.FOLLOW_UP
        and s.state not in (StepState.DONE, StepState.SKIPPED, StepState.UNDONE)
    ]


@dataclass(frozen=True, slots=True)
class Submission:
    """One mutation call: its idempotency key and what it created."""

    id: str
    actor_id: int | None
    idempotency_key: str
    request_hash: str
    registration_ids: tuple[str, ...]
    created_at: dt.datetime
    expires_at: dt.datetime


def request_hash(content: Any) -> str:
    """A stable hash of a request's content, to tell a retry from a different request."""
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
