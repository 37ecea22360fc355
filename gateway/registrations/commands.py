"""A person's commands, decided without any I/O: what a clerk's retry or cancel of
a registration that needs attention, and the employer's or a clerk's retry or
cancel of one waiting follow-up, change, from the registration as read.

Every write is conditional on the state it was read in (``writes``): a second
clerk acting at the same time finds it moved, and nothing more happens. The
clerk's side that reads, checks and applies them is ``clerk``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from gateway.registrations import followups, messages
from gateway.registrations.decisions import ACTIVE, undo_impossible
from gateway.registrations.followups import ours_to_undo, refused_follow_up
from gateway.registrations.model import (
    Operation,
    Registration,
    RegistrationState,
    Step,
    StepState,
)
from gateway.registrations.writes import AmendStep, ScheduleSteps, SetRegistrationState, Write

__all__ = ["cancel", "cancel_follow_up", "requeue", "retry", "retry_follow_up"]


def retry(
    registration: Registration,
    now: dt.datetime,
    *,
    step_deadline: dt.timedelta,
    undoable: Collection[Operation],
) -> list[Write]:
    """A clerk retries a registration that needs attention: its stuck steps go
    back to work, each with a new deadline; a stuck compensation is resumed."""
    resumed = registration.failure is not None
    writes: list[Write] = list(
        requeue(registration, now, now + step_deadline, compensating=resumed, undoable=undoable)
    )
    # A second clerk acting at the same time finds it moved: nothing more to do.
    writes.append(
        SetRegistrationState(
            RegistrationState.COMPENSATING if resumed else RegistrationState.IN_PROGRESS,
            expect=(RegistrationState.NEEDS_ATTENTION,),
        )
    )
    return writes


def cancel(
    registration: Registration,
    now: dt.datetime,
    *,
    step_deadline: dt.timedelta,
    undoable: Collection[Operation],
) -> list[Write]:
    """A clerk cancels a registration that needs attention: what it did is
    undone. One whose compensation got stuck keeps the refusal as its failure."""
    writes: list[Write] = list(
        requeue(registration, now, now + step_deadline, compensating=True, undoable=undoable)
    )
    # The registration becomes takeable only now, after its steps are set.
    writes.append(
        SetRegistrationState(
            RegistrationState.COMPENSATING,
            expect=(RegistrationState.NEEDS_ATTENTION,),
            failure=registration.failure or messages.cancelled(),
        )
    )
    return writes


def retry_follow_up(
    step: Step, now: dt.datetime, *, step_deadline: dt.timedelta
) -> tuple[AmendStep, SetRegistrationState]:
    """The employer or a clerk sends a waiting follow-up again, with a new deadline
    (its payload, if corrected, is the caller's). A refused one is sent anew; a
    stuck one may have reached its system: it is asked first. The core stays."""
    return (
        AmendStep(
            step.id,
            expect=(step.state,),
            state=StepState.PENDING if step.state is StepState.REFUSED else StepState.UNKNOWN,
            error=step.last_error,  # why it waited, until the system answers again
            next_attempt_at=now,
            deadline_at=now + step_deadline,
        ),
        SetRegistrationState(
            RegistrationState.IN_PROGRESS, expect=(RegistrationState.NEEDS_ATTENTION,)
        ),
    )


def cancel_follow_up(step: Step) -> tuple[AmendStep, SetRegistrationState]:
    """The employer or a clerk cancels a waiting follow-up alone: skipped, with a
    note; the registration goes on (and completes, if nothing else waits)."""
    return (
        AmendStep(
            step.id,
            expect=(step.state,),
            state=StepState.SKIPPED,
            error=followups.cancel_note(step),
        ),
        SetRegistrationState(
            RegistrationState.IN_PROGRESS, expect=(RegistrationState.NEEDS_ATTENTION,)
        ),
    )


def requeue(
    registration: Registration,
    now: dt.datetime,
    deadline: dt.datetime,
    *,
    compensating: bool,
    undoable: Collection[Operation],
) -> list[ScheduleSteps]:
    """Which steps go back to work, and in which state, due ``now``.

    Grouped by the state each step was read in and the one it goes to, in the
    order the groups are first met; a step that moved since (another clerk's
    retry) is left alone by the store.
    """
    groups: dict[tuple[StepState, StepState | None], list[str]] = {}
    for step in registration.steps:
        state: StepState | None
        if step.state is StepState.STUCK:
            if step.reference is not None or undo_impossible(step):
                # A stuck undo; one without a reference is checked again
                # (a clerk may have revoked it by hand since).
                state = StepState.UNDOING
            else:
                # Asked before anything is sent, even if never sent: one query
                # costs less than a double write should two clerks retry at once.
                state = StepState.UNKNOWN
        elif compensating and step.state is StepState.DONE and ours_to_undo(step, undoable):
            state = StepState.UNDOING
        elif not compensating and refused_follow_up(step):
            state = StepState.PENDING  # refused, sent again: the system answers anew
        elif step.state in ACTIVE and step.next_attempt_at is not None:
            state = None  # keeps its state; a new deadline and due now
        elif compensating and step.state is StepState.PENDING:
            state = None  # a later stage never started: due now, to be skipped
        else:
            continue
        groups.setdefault((step.state, state), []).append(step.id)
    return [
        ScheduleSteps(tuple(ids), at=now, expect=(was,), state=state, deadline_at=deadline)
        for (was, state), ids in groups.items()
    ]
