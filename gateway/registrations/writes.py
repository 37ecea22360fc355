"""The writes a decision intends: what the store applies, each conditional on
the states it was decided from (``expect``, ``unleased_at``), so that the store
refuses it once the registration or step has moved on. Plain data, no I/O
(``decisions`` decides them, ``commands`` plans a person's, the store applies them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.domain.model import System
from gateway.registrations.model import RegistrationState, StepError, StepState

__all__ = [
    "AmendStep",
    "Bind",
    "InvalidateEmployer",
    "ScheduleSteps",
    "SetRegistrationState",
    "Write",
]


@dataclass(frozen=True, slots=True)
class SetRegistrationState:
    """``RegistrationStore.update_registration``: only from a state in ``expect``."""

    state: RegistrationState
    expect: tuple[RegistrationState, ...]
    failure: StepError | None = None
    release_worker: bool = False


@dataclass(frozen=True, slots=True)
class ScheduleSteps:
    """``RegistrationStore.schedule``: due at ``at``, only from a state in ``expect``
    (and, with ``unleased_at``, only without a live lease then)."""

    ids: tuple[str, ...]
    at: dt.datetime
    expect: tuple[StepState, ...]
    state: StepState | None = None
    deadline_at: dt.datetime | None = None
    unleased_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Bind:
    """Record each system's id of the unit an account opening found or opened;
    ``payload`` is the opening's (its profile, should the unit be unknown yet)."""

    credit_code: str
    ids: Mapping[System, str]
    payload: Mapping[str, object] = field(compare=False)


@dataclass(frozen=True, slots=True)
class InvalidateEmployer:
    """Forget the cached record of the unit an account opening changed."""

    credit_code: str


Write = SetRegistrationState | ScheduleSteps | Bind | InvalidateEmployer


@dataclass(frozen=True, slots=True)
class AmendStep:
    """``RegistrationStore.amend_step``: a person's change to one follow-up at rest,
    only from a state in ``expect`` while the registration needs attention."""

    step_id: str
    expect: tuple[StepState, ...]
    state: StepState
    error: StepError | None
    next_attempt_at: dt.datetime | None = None
    deadline_at: dt.datetime | None = None
    payload: Mapping[str, object] | None = field(default=None, compare=False)
    row: Mapping[str, object] | None = field(default=None, compare=False)
