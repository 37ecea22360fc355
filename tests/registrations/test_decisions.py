"""What follows from a registration's stored state, decided without a store.

Each case is a registration as a worker might read it (planned as the service
plans it, its steps then put in the states of the case) and the writes
``decisions.decide`` (or a clerk's ``retry`` / ``cancel``) must intend, in order.
The engine tests show the same decisions applied to a real store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from adapters.social_insurance.model import SYSTEM as INSURANCE
from adapters.standin.seed import EMPLOYERS
from gateway.domain.model import System
from gateway.registrations import commands, decisions, followups, messages
from gateway.registrations.decisions import (
    FORWARD,
    Bind,
    InvalidateEmployer,
    ScheduleSteps,
    SetRegistrationState,
    Write,
)
from gateway.registrations.model import (
    Channel,
    Operation,
    Registration,
    StepError,
    StepKind,
)
from gateway.registrations.model import RegistrationState as R
from gateway.registrations.model import StepState as S
from gateway.registrations.operations import UNDOABLE
from gateway.registrations.plan import new_id, plan_account
from gateway.registrations.writes import AmendStep
from tests.registrations.support import end_row, hire_row, plan

NOW = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)
DEADLINE = dt.timedelta(minutes=5)
LATER = NOW + dt.timedelta(minutes=1)
EARLIER = NOW - dt.timedelta(seconds=1)

E, L, U = System.EMPLOYMENT, System.LABOUR, System.UNEMPLOYMENT
SI = INSURANCE

REFUSAL = StepError(messages.SYSTEM_REJECTED, "拒绝", "refused", system_code="LD1001")
UNDO_IMPOSSIBLE = messages.undo_impossible(L, Operation.END_CONTRACT)
PASSED = messages.deadline_passed(E, Operation.REGISTER_EMPLOYMENT)
CANCEL_NOTE = StepError(followups.FOLLOW_UP_CANCELLED, "已取消", "cancelled")
FOUND = messages.found_existing(U, Operation.REGISTER_UNEMPLOYMENT)
#: The failure of a refusal whose step kept no error.
GENERAL_REFUSAL = StepError(
    messages.SYSTEM_REJECTED, "有系统拒绝办理", "A system refused the registration"
)


@dataclass(frozen=True)
class At:
    """A step as read: its state, when it is next due, what it has done."""

    state: S
    due: dt.datetime | None = None
    attempts: int = 0
    reference: str | None = None
    error: StepError | None = None


def pending(due: dt.datetime | None = None) -> At:
    return At(S.PENDING, due)


def sent(state: S, *, reference: str | None = "REF", error: StepError | None = None) -> At:
    """A step that was sent once (done, refused, undone, stuck...)."""
    return At(state, None, 1, reference if state is not S.REFUSED else None, error)


# ----------------------------------------------------------- what is expected


@dataclass(frozen=True)
class Sched:
    """A ``ScheduleSteps`` of the steps of these systems."""

    systems: tuple[System, ...]
    expect: tuple[S, ...]
    state: S | None = None
    deadline: bool = False
    unleased: bool = False


Expected = SetRegistrationState | Sched


def done(state: R, failure: StepError | None = None, *, release: bool = True) -> Expected:
    """The compensation's last write."""
    return SetRegistrationState(
        state, expect=(R.COMPENSATING,), failure=failure, release_worker=release
    )


def compensating(failure: StepError) -> Expected:
    return SetRegistrationState(
        R.COMPENSATING, expect=(*FORWARD, R.NEEDS_ATTENTION), failure=failure
    )


UNDO = (S.DONE,)
COMPLETED = SetRegistrationState(R.COMPLETED, expect=FORWARD, release_worker=True)
STARTED = SetRegistrationState(R.IN_PROGRESS, expect=(R.ACCEPTED,))


# ------------------------------------------------------------------ the cases


@dataclass(frozen=True)
class Case:
    name: str
    business: str  # "hire": E ∥ L; "end": (E ∥ L) then U
    state: R
    steps: dict[System, At]
    expected: list[Expected]
    failure: StepError | None = None
    undoable: frozenset[Operation] = field(default=UNDOABLE)


# fmt: off
CASES = [
    # ---------------------------------------------------------------- forward
    Case("accepted, first stage due: started", "hire", R.ACCEPTED,
         {E: pending(NOW), L: pending(NOW)}, [STARTED]),
    Case("in progress, a step in flight: nothing", "hire", R.IN_PROGRESS,
         {E: sent(S.DONE), L: At(S.SENDING, NOW, 1)}, []),
    Case("first stage done: the next one is due now", "end", R.IN_PROGRESS,
         {E: sent(S.DONE), L: sent(S.DONE), U: pending()},
         [Sched((U,), (S.PENDING,), unleased=True)]),
    Case("first stage not done: the next one waits", "end", R.IN_PROGRESS,
         {E: sent(S.DONE), L: pending(LATER), U: pending()}, []),
    Case("next stage already due: nothing", "end", R.IN_PROGRESS,
         {E: sent(S.DONE), L: sent(S.DONE), U: pending(NOW)}, []),
    Case("accepted with a stage done: started, then the next stage", "end", R.ACCEPTED,
         {E: sent(S.DONE), L: sent(S.DONE), U: pending()},
         [STARTED, Sched((U,), (S.PENDING,), unleased=True)]),
    Case("all done: completed", "hire", R.IN_PROGRESS,
         {E: sent(S.DONE), L: sent(S.DONE)}, [COMPLETED]),
    Case("all done from accepted: completed", "end", R.ACCEPTED,
         {E: sent(S.DONE), L: sent(S.DONE), U: sent(S.DONE)}, [COMPLETED]),
    Case("a step stuck: needs attention", "end", R.IN_PROGRESS,
         {E: sent(S.STUCK, reference=None, error=PASSED), L: sent(S.DONE), U: pending()},
         [SetRegistrationState(R.NEEDS_ATTENTION, expect=FORWARD)]),
    Case("needs attention: a person decides", "hire", R.NEEDS_ATTENTION,
         {E: sent(S.STUCK, reference=None, error=PASSED), L: sent(S.DONE)}, []),
    # ----------------------------------------------------------- final states
    *(
        Case(f"{state.value}: nothing", "hire", state,
             {E: sent(S.UNDONE), L: sent(S.REFUSED, error=REFUSAL)}, [], failure=REFUSAL)
        for state in (R.COMPLETED, R.COMPENSATED, R.CANCELLED)
    ),
    Case("completed with a step refused since: nothing", "hire", R.COMPLETED,
         {E: sent(S.DONE), L: sent(S.REFUSED, error=REFUSAL)}, []),
    # ----------------------------------------------------------- compensation
    Case("refused: compensating, the done step undone", "hire", R.IN_PROGRESS,
         {E: sent(S.DONE), L: sent(S.REFUSED, error=REFUSAL)},
         [compensating(REFUSAL), Sched((E,), UNDO, S.UNDOING, deadline=True)]),
    Case("refused: the stage never started is skipped", "end", R.IN_PROGRESS,
         {E: sent(S.DONE), L: sent(S.REFUSED, error=REFUSAL), U: pending()},
         [compensating(REFUSAL), Sched((E,), UNDO, S.UNDOING, deadline=True),
          Sched((U,), (S.PENDING,), unleased=True)]),
    Case("refused: a step backing off is made due to be skipped", "end", R.IN_PROGRESS,
         {E: pending(LATER), L: sent(S.REFUSED, error=REFUSAL), U: pending()},
         [compensating(REFUSAL), Sched((E, U), (S.PENDING,), unleased=True)]),
    Case("refused: a step due now is left to its worker", "hire", R.IN_PROGRESS,
         {E: pending(EARLIER), L: sent(S.REFUSED, error=REFUSAL)}, [compensating(REFUSAL)]),
    Case("refused: a step in flight is left to its worker", "hire", R.IN_PROGRESS,
         {E: At(S.SENDING, NOW, 1), L: sent(S.REFUSED, error=REFUSAL)}, [compensating(REFUSAL)]),
    Case("refused without an error: the general refusal", "hire", R.ACCEPTED,
         {E: pending(EARLIER), L: At(S.REFUSED, None, 1)}, [compensating(GENERAL_REFUSAL)]),
    Case("compensating, being undone: nothing more", "hire", R.COMPENSATING,
         {E: At(S.UNDOING, NOW, 1, "REF"), L: sent(S.REFUSED, error=REFUSAL)}, [],
         failure=REFUSAL),
    Case("compensating, all undone: compensated", "end", R.COMPENSATING,
         {E: sent(S.UNDONE), L: sent(S.REFUSED, error=REFUSAL), U: At(S.SKIPPED)},
         [done(R.COMPENSATED, REFUSAL)], failure=REFUSAL),
    Case("cancelled by a clerk: cancelled", "hire", R.COMPENSATING,
         {E: sent(S.UNDONE), L: At(S.SKIPPED)},
         [done(R.CANCELLED, messages.cancelled())], failure=messages.cancelled()),
    Case("compensation stuck: needs attention, the worker kept locked", "hire", R.COMPENSATING,
         {E: sent(S.STUCK, error=UNDO_IMPOSSIBLE), L: sent(S.REFUSED, error=REFUSAL)},
         [done(R.NEEDS_ATTENTION, REFUSAL, release=False)], failure=REFUSAL),
    Case("compensation stuck, waiting: a person decides", "hire", R.NEEDS_ATTENTION,
         {E: sent(S.STUCK, error=UNDO_IMPOSSIBLE), L: sent(S.REFUSED, error=REFUSAL)}, [],
         failure=REFUSAL),
    Case("stuck, then refused: compensating ends waiting for a person", "hire",
         R.NEEDS_ATTENTION,
         {E: sent(S.STUCK, reference=None, error=PASSED), L: sent(S.REFUSED, error=REFUSAL)},
         [compensating(REFUSAL), done(R.NEEDS_ATTENTION, REFUSAL, release=False)]),
    Case("a write no system can undo stays done", "hire", R.IN_PROGRESS,
         {E: sent(S.DONE), L: sent(S.REFUSED, error=REFUSAL)},
         [compensating(REFUSAL), done(R.COMPENSATED, REFUSAL)],
         undoable=frozenset()),
    # -------------------------------------------------------------- follow-ups
    Case("a follow-up refused: the core stays, a person decides", "end", R.IN_PROGRESS,
         {E: sent(S.DONE), L: sent(S.DONE), U: sent(S.REFUSED, error=REFUSAL)},
         [SetRegistrationState(R.NEEDS_ATTENTION, expect=FORWARD)]),
    Case("a follow-up refused, waiting: a person decides", "end", R.NEEDS_ATTENTION,
         {E: sent(S.DONE), L: sent(S.DONE), U: sent(S.REFUSED, error=REFUSAL)}, []),
    Case("a follow-up refused while another step is in flight: it finishes first", "end",
         R.IN_PROGRESS,
         {E: sent(S.DONE), L: At(S.UNKNOWN, LATER, 1), U: sent(S.REFUSED, error=REFUSAL)}, []),
    Case("a follow-up stuck: needs attention, nothing undone", "end", R.IN_PROGRESS,
         {E: sent(S.DONE), L: sent(S.DONE), U: sent(S.STUCK, reference=None, error=PASSED)},
         [SetRegistrationState(R.NEEDS_ATTENTION, expect=FORWARD)]),
    Case("a follow-up cancelled alone: completed, the core kept", "end", R.IN_PROGRESS,
         {E: sent(S.DONE), L: sent(S.DONE), U: sent(S.SKIPPED, reference=None, error=CANCEL_NOTE)},
         [COMPLETED]),
    Case("a step skipped for another reason is not a cancelled follow-up", "end", R.IN_PROGRESS,
         {E: sent(S.DONE), L: sent(S.DONE), U: At(S.SKIPPED)}, []),
    Case("a follow-up found already there: completed", "end", R.IN_PROGRESS,
         {E: sent(S.DONE), L: sent(S.DONE), U: sent(S.DONE, error=FOUND)},
         [COMPLETED]),
    Case("a core refusal undoes the done follow-up too", "end", R.IN_PROGRESS,
         {E: sent(S.REFUSED, error=REFUSAL), L: sent(S.DONE), U: sent(S.DONE)},
         [compensating(REFUSAL), Sched((L, U), UNDO, S.UNDOING, deadline=True)]),
    Case("a core refusal leaves a follow-up found already there", "end", R.IN_PROGRESS,
         {E: sent(S.REFUSED, error=REFUSAL), L: sent(S.DONE), U: sent(S.DONE, error=FOUND)},
         [compensating(REFUSAL), Sched((L,), UNDO, S.UNDOING, deadline=True)]),
    Case("compensated, a follow-up found already there left done", "end", R.COMPENSATING,
         {E: sent(S.REFUSED, error=REFUSAL), L: sent(S.UNDONE), U: sent(S.DONE, error=FOUND)},
         [done(R.COMPENSATED, REFUSAL)], failure=REFUSAL),
]
# fmt: on


def shaped(case: Case) -> Registration:
    """The case's registration: planned as the service plans it, then read in
    the case's states."""
    hired = hire_row()
    row = hired if case.business == "hire" else end_row(hired)
    _, (registration,) = plan([row], deadline=DEADLINE)
    assert {s.system for s in registration.steps} == set(case.steps)
    steps = []
    for step in registration.steps:
        at = case.steps[step.system]
        steps.append(
            dataclasses.replace(
                step,
                state=at.state,
                next_attempt_at=at.due,
                attempts=at.attempts,
                reference=at.reference,
                last_error=at.error,
            )
        )
    return dataclasses.replace(registration, state=case.state, failure=case.failure, steps=steps)


def meant(registration: Registration, expected: Sequence[Expected]) -> list[Write]:
    ids: dict[System, str] = {s.system: s.id for s in registration.steps}
    writes: list[Write] = []
    for e in expected:
        if isinstance(e, Sched):
            writes.append(
                ScheduleSteps(
                    tuple(ids[s] for s in e.systems),
                    at=NOW,
                    expect=e.expect,
                    state=e.state,
                    deadline_at=NOW + DEADLINE if e.deadline else None,
                    unleased_at=NOW if e.unleased else None,
                )
            )
        else:
            writes.append(e)
    return writes


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_what_follows_a_stored_state(case: Case) -> None:
    registration = shaped(case)
    writes = decisions.decide(registration, NOW, step_deadline=DEADLINE, undoable=case.undoable)
    assert writes == meant(registration, case.expected)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_write_is_conditional_on_what_was_read(case: Case) -> None:
    """Each intended write names the states it was decided from, and the one it
    moves from is among them: the store refuses it once anything moved on."""
    registration = shaped(case)
    states = {s.id: s.state for s in registration.steps}
    for write in decisions.decide(
        registration, NOW, step_deadline=DEADLINE, undoable=case.undoable
    ):
        if isinstance(write, SetRegistrationState):
            assert write.expect
            assert not any(e.is_final for e in write.expect)
        elif isinstance(write, ScheduleSteps):
            assert write.expect
            assert all(states[i] in write.expect for i in write.ids)


def test_a_finished_account_opening_binds_the_units_ids_then_completes() -> None:
    profile = EMPLOYERS[1].profile
    registration = plan_account(
        profile,
        submission_id=new_id(),
        channel=Channel.GOVERNMENT_PORTAL,
        actor_id=None,
        actor_username=None,
        warnings=[],
        now=NOW,
        step_deadline=DEADLINE,
    )
    ids = {E: "E-1", L: "L-1", U: "U-1"}
    for step in registration.steps:
        step.state, step.reference = S.DONE, ids[step.system]
    registration.state = R.IN_PROGRESS

    writes = decisions.decide(registration, NOW, step_deadline=DEADLINE, undoable=UNDOABLE)

    assert writes == [
        Bind(profile.credit_code, ids, registration.payload),
        InvalidateEmployer(profile.credit_code),
        COMPLETED,
    ]


def test_an_account_opening_binds_the_core_units_before_its_follow_ups() -> None:
    """Social insurance opens the unit after the core systems, as a follow-up: the
    account works with the units opened so far while it goes on, and its refusal
    leaves them bound and the registration waiting for a person."""
    profile = EMPLOYERS[1].profile
    registration = plan_account(
        profile,
        systems=[E, L, U, SI],
        submission_id=new_id(),
        channel=Channel.GOVERNMENT_PORTAL,
        actor_id=None,
        actor_username=None,
        warnings=[],
        now=NOW,
        step_deadline=DEADLINE,
    )
    kinds = {s.system: (s.stage, s.kind) for s in registration.steps}
    assert kinds == {
        E: (0, StepKind.CORE),
        L: (0, StepKind.CORE),
        U: (0, StepKind.CORE),
        SI: (1, StepKind.FOLLOW_UP),
    }
    core = {E: "E-1", L: "L-1", U: "U-1"}
    for step in registration.steps:
        if step.system in core:
            step.state, step.reference = S.DONE, core[step.system]
    registration.state = R.IN_PROGRESS
    (insurance,) = [s for s in registration.steps if s.system == SI]

    writes = decisions.decide(registration, NOW, step_deadline=DEADLINE, undoable=UNDOABLE)

    assert writes == [
        Bind(profile.credit_code, core, registration.payload),
        ScheduleSteps((insurance.id,), at=NOW, expect=(S.PENDING,), unleased_at=NOW),
    ]
    insurance.state, insurance.last_error = S.REFUSED, REFUSAL
    writes = decisions.decide(registration, NOW, step_deadline=DEADLINE, undoable=UNDOABLE)
    assert writes == [SetRegistrationState(R.NEEDS_ATTENTION, expect=FORWARD)]


def test_an_account_opening_refused_in_one_system_keeps_the_units_opened() -> None:
    registration = plan_account(
        EMPLOYERS[1].profile,
        submission_id=new_id(),
        channel=Channel.GOVERNMENT_PORTAL,
        actor_id=None,
        actor_username=None,
        warnings=[],
        now=NOW,
        step_deadline=DEADLINE,
    )
    for step in registration.steps:
        step.state, step.reference = S.DONE, "X"
    registration.steps[1].state, registration.steps[1].last_error = S.REFUSED, REFUSAL
    registration.state = R.IN_PROGRESS

    writes = decisions.decide(registration, NOW, step_deadline=DEADLINE, undoable=UNDOABLE)

    assert writes == [
        compensating(REFUSAL),
        InvalidateEmployer(registration.credit_code),
        done(R.COMPENSATED, REFUSAL),
    ]


# ------------------------------------------------------------- a clerk's plans


@dataclass(frozen=True)
class ClerkCase:
    name: str
    command: Callable[..., list[Write]]
    business: str
    steps: dict[System, At]
    expected: list[Expected]
    failure: StepError | None = None


def back(state: R, failure: StepError | None = None) -> Expected:
    return SetRegistrationState(state, expect=(R.NEEDS_ATTENTION,), failure=failure)


# fmt: off
CLERK_CASES = [
    ClerkCase("retry: a step stuck unsent is asked before it is sent again",
              commands.retry, "hire",
              {E: sent(S.STUCK, reference=None, error=PASSED), L: sent(S.DONE)},
              [Sched((E,), (S.STUCK,), S.UNKNOWN, deadline=True), back(R.IN_PROGRESS)]),
    ClerkCase("retry: a stuck undo with its reference is undone again",
              commands.retry, "hire",
              {E: sent(S.STUCK, error=PASSED), L: sent(S.REFUSED, error=REFUSAL)},
              [Sched((E,), (S.STUCK,), S.UNDOING, deadline=True), back(R.COMPENSATING)],
              failure=REFUSAL),
    ClerkCase("retry: an undo found impossible is checked again",
              commands.retry, "end",
              {E: sent(S.UNDONE), L: sent(S.STUCK, reference=None, error=UNDO_IMPOSSIBLE),
               U: sent(S.REFUSED, error=REFUSAL)},
              [Sched((L,), (S.STUCK,), S.UNDOING, deadline=True), back(R.COMPENSATING)],
              failure=REFUSAL),
    ClerkCase("retry: a step backing off keeps its state, due now with a new deadline",
              commands.retry, "end",
              {E: sent(S.STUCK, reference=None, error=PASSED), L: At(S.UNKNOWN, LATER, 2),
               U: pending()},
              [Sched((E,), (S.STUCK,), S.UNKNOWN, deadline=True),
               Sched((L,), (S.UNKNOWN,), deadline=True), back(R.IN_PROGRESS)]),
    ClerkCase("cancel: done undone, stuck asked, never started skipped",
              commands.cancel, "end",
              {E: sent(S.DONE), L: sent(S.STUCK, reference=None, error=PASSED), U: pending()},
              [Sched((E,), (S.DONE,), S.UNDOING, deadline=True),
               Sched((L,), (S.STUCK,), S.UNKNOWN, deadline=True),
               Sched((U,), (S.PENDING,), deadline=True),
               back(R.COMPENSATING, messages.cancelled())]),
    ClerkCase("retry: a refused follow-up is sent again, the core untouched",
              commands.retry, "end",
              {E: sent(S.DONE), L: sent(S.DONE), U: sent(S.REFUSED, error=REFUSAL)},
              [Sched((U,), (S.REFUSED,), S.PENDING, deadline=True), back(R.IN_PROGRESS)]),
    ClerkCase("cancel: the core is undone, a refused follow-up stays refused",
              commands.cancel, "end",
              {E: sent(S.DONE), L: sent(S.DONE), U: sent(S.REFUSED, error=REFUSAL)},
              [Sched((E, L), (S.DONE,), S.UNDOING, deadline=True),
               back(R.COMPENSATING, messages.cancelled())]),
    ClerkCase("cancel: a stuck compensation keeps its refusal",
              commands.cancel, "hire",
              {E: sent(S.STUCK, error=PASSED), L: sent(S.REFUSED, error=REFUSAL)},
              [Sched((E,), (S.STUCK,), S.UNDOING, deadline=True),
               back(R.COMPENSATING, REFUSAL)],
              failure=REFUSAL),
]
# fmt: on


@pytest.mark.parametrize("case", CLERK_CASES, ids=[c.name for c in CLERK_CASES])
def test_what_a_clerks_command_puts_back_to_work(case: ClerkCase) -> None:
    registration = shaped(
        Case(case.name, case.business, R.NEEDS_ATTENTION, case.steps, [], failure=case.failure)
    )
    writes = case.command(registration, NOW, step_deadline=DEADLINE, undoable=UNDOABLE)
    assert writes == meant(registration, case.expected)


@pytest.mark.parametrize(
    ("was", "goes"), [(S.REFUSED, S.PENDING), (S.STUCK, S.UNKNOWN)], ids=["refused", "stuck"]
)
def test_a_follow_up_retried_alone(was: S, goes: S) -> None:
    """Sent anew if it was refused; asked first if stuck (it may have reached its
    system); due now with a new deadline, the error kept until the system answers."""
    error = REFUSAL if was is S.REFUSED else PASSED
    registration = shaped(
        Case(
            "",
            "end",
            R.NEEDS_ATTENTION,
            {E: sent(S.DONE), L: sent(S.DONE), U: sent(was, reference=None, error=error)},
            [],
        )
    )
    follow_up = registration.steps[-1]
    amend, resume = commands.retry_follow_up(follow_up, NOW, step_deadline=DEADLINE)
    assert amend == AmendStep(
        follow_up.id, (was,), goes, error, next_attempt_at=NOW, deadline_at=NOW + DEADLINE
    )
    assert resume == back(R.IN_PROGRESS)


def test_a_follow_up_cancelled_alone() -> None:
    registration = shaped(
        Case(
            "",
            "end",
            R.NEEDS_ATTENTION,
            {E: sent(S.DONE), L: sent(S.DONE), U: sent(S.REFUSED, error=REFUSAL)},
            [],
        )
    )
    follow_up = registration.steps[-1]
    amend, resume = commands.cancel_follow_up(follow_up)
    assert amend == AmendStep(
        follow_up.id, (S.REFUSED,), S.SKIPPED, followups.cancel_note(follow_up)
    )
    assert resume == back(R.IN_PROGRESS)
    # Once stored, the registration completes with the core kept.
    follow_up.state, follow_up.last_error = amend.state, amend.error
    registration.state = R.IN_PROGRESS
    writes = decisions.decide(registration, NOW, step_deadline=DEADLINE, undoable=UNDOABLE)
    assert writes[-1] == COMPLETED


def test_the_sweep_looks_again_only_at_registrations_no_worker_will_take() -> None:
    waiting = shaped(
        Case("", "end", R.IN_PROGRESS, {E: sent(S.DONE), L: sent(S.DONE), U: pending()}, [])
    )
    backing_off = shaped(
        Case("", "hire", R.IN_PROGRESS, {E: sent(S.DONE), L: At(S.UNKNOWN, LATER, 1)}, [])
    )
    undoing = shaped(
        Case("", "hire", R.COMPENSATING, {E: At(S.UNDOING, NOW, 1, "R"), L: sent(S.REFUSED)}, [])
    )
    assert decisions.stalled([waiting, backing_off, undoing]) == [waiting]
