"""What follows from a registration's stored state: decided without any I/O.

The writes it intends are ``writes`` (re-exported here for the engine and the
store); a person's commands (a clerk's retry and cancel, a follow-up's) are
``commands``.

After every step (and in the periodic sweep, and after a clerk's retry or
cancel) the engine reads the registration with its steps and asks ``decide``
what to store next: a short list of intended writes, which it then applies in
order. Each write carries the states it was decided from (``expect``,
``unleased_at``), so that the store refuses it once the registration or step
has moved on: a decision taken on an older read (another worker decided
meanwhile, a sweep's page) never overturns a newer one, and taking the same
decision twice changes nothing the second time.

Which operations a system can undo is passed in (``undoable``): it is the
systems' business, not the decisions'.

Core steps stand or fall together: a core refusal compensates everything done,
follow-ups included. A follow-up's refusal compensates nothing: once no step is
under way the registration waits for a person (``NEEDS_ATTENTION``, its core
complete), who retries that follow-up or cancels it alone (``SKIPPED``: the
registration then completes). A record a follow-up found already there (not
written by this registration) is never undone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Sequence

from gateway.registrations import messages
from gateway.registrations.followups import (
    finished,
    ours_to_undo,
    refused_follow_up,
)
from gateway.registrations.model import (
    Business,
    Operation,
    Registration,
    RegistrationState,
    Step,
    StepError,
    StepKind,
    StepState,
)
from gateway.registrations.writes import (
    AmendStep,
    Bind,
    InvalidateEmployer,
    ScheduleSteps,
    SetRegistrationState,
    Write,
)

__all__ = [
    "ACTIVE",
    "FORWARD",
    "UNDER_WAY",
    "AmendStep",
    "Bind",
    "InvalidateEmployer",
    "ScheduleSteps",
    "SetRegistrationState",
    "Write",
    "at_rest",
    "compensating",
    "decide",
    "first_refusal",
    "settled",
    "stalled",
    "takeable",
    "to_send",
    "undo_impossible",
]

#: A registration going forward, not yet refused, stuck or finished.
FORWARD = (RegistrationState.ACCEPTED, RegistrationState.IN_PROGRESS)
#: Step states in which some worker will still take the step.
ACTIVE = frozenset({StepState.PENDING, StepState.SENDING, StepState.UNKNOWN, StepState.UNDOING})
#: Registration states the sweep looks at (the others are final or wait for a person).
UNDER_WAY = (
    RegistrationState.ACCEPTED,
    RegistrationState.IN_PROGRESS,
    RegistrationState.COMPENSATING,
)


# ============================================================== the decisions


def decide(
    registration: Registration,
    now: dt.datetime,
    *,
    step_deadline: dt.timedelta,
    undoable: Collection[Operation],
) -> list[Write]:
    """What follows from ``registration`` as read: nothing when it is final or
    waits for a person; compensation once refused or cancelled; a person when
    a step is stuck; the end when every step is done; else the next stage."""
    if registration.state.is_final:
        return []
    if compensating(registration):
        return _compensate(registration, now, step_deadline=step_deadline, undoable=undoable)
    if registration.state is RegistrationState.NEEDS_ATTENTION:
        return []  # a person decides
    steps = registration.steps
    if any(s.state is StepState.STUCK for s in steps):
        return [SetRegistrationState(RegistrationState.NEEDS_ATTENTION, expect=FORWARD)]
    if all(finished(s) for s in steps):
        writes: list[Write] = []
        if registration.business is Business.OPEN_ACCOUNT:
            writes.append(_bind(registration))
        else:
            writes += _registered_units(registration)
        # Before the state changes: whoever sees COMPLETED then reads fresh records.
        writes += _invalidate(registration)
        writes.append(
            SetRegistrationState(RegistrationState.COMPLETED, expect=FORWARD, release_worker=True)
        )
        return writes
    if any(refused_follow_up(s) for s in steps) and not any(takeable(s) for s in steps):
        # The core is done (a follow-up comes only after it) and stays: a person
        # retries the follow-up or cancels it. Later stages wait meanwhile.
        return [SetRegistrationState(RegistrationState.NEEDS_ATTENTION, expect=FORWARD)]
    writes = []
    if registration.state is RegistrationState.ACCEPTED:
        writes.append(
            SetRegistrationState(
                RegistrationState.IN_PROGRESS, expect=(RegistrationState.ACCEPTED,)
            )
        )
    for stage in sorted({s.stage for s in steps}):
        group = [s for s in steps if s.stage == stage]
        if all(finished(s) for s in group):
            continue
        # The first stage not done: its steps are due once the earlier are.
        if registration.business is Business.OPEN_ACCOUNT and all(
            s.kind is StepKind.FOLLOW_UP for s in group
        ):
            # The core is done: the account works with the units opened so far
            # while the follow-ups go on (binding again is harmless).
            writes.append(_bind(registration))
        elif registration.business is not Business.OPEN_ACCOUNT:
            # A unit this registration registered where it was not bound is bound
            # before the steps that write for it there (binding again is harmless).
            writes += _registered_units(registration)
        waiting = tuple(
            s.id for s in group if s.state is StepState.PENDING and s.next_attempt_at is None
        )
        if waiting:
            writes.append(
                ScheduleSteps(waiting, at=now, expect=(StepState.PENDING,), unleased_at=now)
            )
        break
    return writes


def _bind(registration: Registration) -> Bind:
    ids = {s.system: s.reference for s in registration.steps if s.reference}
    return Bind(registration.credit_code, ids, registration.payload)


def _registered_units(registration: Registration) -> list[Write]:
    """A worker's registration that registered the unit in a system where it was
    not bound (switched on after the account was opened): bind it, and forget
    the unit's cached record."""
    done = [
        s
        for s in registration.steps
        if s.operation is Operation.OPEN_EMPLOYER and s.state is StepState.DONE and s.reference
    ]
    if not done:
        return []
    ids = {s.system: s.reference for s in done if s.reference}
    profile = done[0].payload.get("profile", {})
    return [
        Bind(registration.credit_code, ids, profile),
        InvalidateEmployer(registration.credit_code),
    ]


def _compensate(
    registration: Registration,
    now: dt.datetime,
    *,
    step_deadline: dt.timedelta,
    undoable: Collection[Operation],
) -> list[Write]:
    steps = registration.steps
    failure = registration.failure or first_refusal(registration)
    if registration.state is RegistrationState.NEEDS_ATTENTION and registration.failure:
        return []  # a compensation that got stuck: a person decides
    writes: list[Write] = []
    if registration.state is not RegistrationState.COMPENSATING:
        # Whether this write or another's made it COMPENSATING, the steps
        # below are undone or skipped only from the states they are in.
        writes.append(
            SetRegistrationState(
                RegistrationState.COMPENSATING,
                expect=(*FORWARD, RegistrationState.NEEDS_ATTENTION),
                failure=failure,
            )
        )
    # Steps that no one is sending can be changed here; one in flight keeps
    # its lease and its worker decides again once it has saved its result.
    undo = tuple(s.id for s in steps if s.state is StepState.DONE and ours_to_undo(s, undoable))
    if undo:
        writes.append(
            ScheduleSteps(
                undo,
                at=now,
                expect=(StepState.DONE,),
                state=StepState.UNDOING,
                deadline_at=now + step_deadline,
            )
        )
    # Steps never sent are skipped by the worker that takes them (under its
    # lease); here they are only made due now, unless a worker holds one
    # (the store checks the lease when it writes, not on this older read).
    skip = tuple(
        s.id
        for s in steps
        if s.state is StepState.PENDING and (s.next_attempt_at is None or s.next_attempt_at > now)
    )
    if skip:
        writes.append(ScheduleSteps(skip, at=now, expect=(StepState.PENDING,), unleased_at=now))
    if undo or skip or not all(settled(s, undoable) for s in steps):
        return writes
    stuck = any(s.state is StepState.STUCK for s in steps)
    if stuck:
        state = RegistrationState.NEEDS_ATTENTION
    elif failure.code == messages.CANCELLED:
        state = RegistrationState.CANCELLED
    else:
        state = RegistrationState.COMPENSATED
    writes += _invalidate(registration)
    # A registration that needs attention keeps its worker locked: a clerk
    # may still retry it, and nothing else may be filed for that worker meanwhile.
    writes.append(
        SetRegistrationState(
            state,
            expect=(RegistrationState.COMPENSATING,),
            failure=failure,
            release_worker=not stuck,
        )
    )
    return writes


def _invalidate(registration: Registration) -> list[Write]:
    """The cached records this registration wrote, forgotten before its final
    state: an account opening's unit. A worker's records are forgotten by each
    step, before its outcome is saved (``step.StepWorker``)."""
    if registration.business is Business.OPEN_ACCOUNT:
        return [InvalidateEmployer(registration.credit_code)]
    return []


# ====================================================== a step about to be sent


def to_send(
    step: Step, registration: Registration, now: dt.datetime, *, renumbered: bool = False
) -> Step | None:
    """The step as it is saved before its first call, when it is leased at ``now``
    to be sent (``PENDING``, its registration going forward, its deadline not
    passed): ``SENDING`` with one more attempt, and with ``renumbered`` (a
    declaration: each one sent gets a number of its own) no reference. None
    when the worker must look first (an outcome to reconcile, an undo, a skip,
    a deadline)."""
    if (
        step.state is not StepState.PENDING
        or at_rest(registration)
        or compensating(registration)
        or (step.deadline_at is not None and now >= step.deadline_at)
    ):
        return None
    return dataclasses.replace(
        step,
        state=StepState.SENDING,
        attempts=step.attempts + 1,
        reference=None if renumbered else step.reference,
    )


# ============================================================== what is read


def at_rest(registration: Registration) -> bool:
    """Finished, or waiting for a person: no worker acts for it."""
    return registration.state.is_final or registration.state is RegistrationState.NEEDS_ATTENTION


def compensating(registration: Registration) -> bool:
    """A core step refused, or cancelled: read from what is stored durably, never
    from a flag that a concurrent write could have overtaken. A refused follow-up
    is not: it waits for a person, and the core stays."""
    return registration.failure is not None or any(
        s.state is StepState.REFUSED and s.kind is StepKind.CORE for s in registration.steps
    )


def first_refusal(registration: Registration) -> StepError:
    for step in registration.steps:
        if (
            step.state is StepState.REFUSED
            and step.kind is StepKind.CORE
            and step.last_error is not None
        ):
            return step.last_error
    return StepError(
        messages.SYSTEM_REJECTED, "有系统拒绝办理", "A system refused the registration"
    )


def settled(step: Step, undoable: Collection[Operation]) -> bool:
    """Nothing more to do for this step in a compensation."""
    if step.state is StepState.DONE:
        return not ours_to_undo(step, undoable)
    return step.state in (
        StepState.UNDONE,
        StepState.SKIPPED,
        StepState.REFUSED,
        StepState.STUCK,
    )


def takeable(step: Step) -> bool:
    """A worker will take this step (now or at its next attempt)."""
    if step.state is StepState.PENDING:
        return step.next_attempt_at is not None
    return step.state in ACTIVE


def undo_impossible(step: Step) -> bool:
    return step.last_error is not None and step.last_error.code == messages.UNDO_IMPOSSIBLE


def stalled(registrations: Sequence[Registration]) -> list[Registration]:
    """Those under way with no step left for a worker to take: a worker died
    between finishing a step and deciding what follows."""
    return [r for r in registrations if not any(takeable(s) for s in r.steps)]
