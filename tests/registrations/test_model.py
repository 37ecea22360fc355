"""What a registration says of itself to those who follow it (pure: no system,
no store)."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.registrations.model import (
    WORKABLE_STEP_STATES,
    RegistrationState,
    StepState,
    next_try,
)
from tests.registrations.support import hire_row, plan

AT = dt.datetime(2026, 12, 3, 8, 30, tzinfo=dt.UTC)


R, S = RegistrationState, StepState


@pytest.mark.parametrize(
    ("state", "step_state", "tried"),
    [
        (R.ACCEPTED, S.PENDING, True),
        (R.IN_PROGRESS, S.PENDING, True),
        (R.IN_PROGRESS, S.UNKNOWN, True),  # to be asked about, or a decision awaited
        (R.IN_PROGRESS, S.SENDING, True),  # taken again if its worker's lease runs out
        (R.COMPENSATING, S.UNDOING, True),
        (R.IN_PROGRESS, S.DONE, False),
        (R.IN_PROGRESS, S.REFUSED, False),
        (R.IN_PROGRESS, S.SKIPPED, False),
        (R.IN_PROGRESS, S.STUCK, False),
        (R.COMPENSATED, S.UNDONE, False),
        (R.COMPLETED, S.DONE, False),
        # Waiting for a person: nothing is tried until a clerk retries it.
        (R.NEEDS_ATTENTION, S.PENDING, False),
        (R.NEEDS_ATTENTION, S.UNKNOWN, False),
        (R.CANCELLED, S.PENDING, False),
    ],
)
def test_a_step_is_said_to_be_tried_next_only_while_a_worker_will(
    state: RegistrationState, step_state: StepState, tried: bool
) -> None:
    (registration,) = plan([hire_row()])[1]
    registration.state = state
    step = registration.steps[0]
    step.state, step.next_attempt_at = step_state, AT
    assert next_try(step, registration) == (AT if tried else None)


def test_the_states_a_worker_takes_are_those_still_to_send_ask_about_or_undo() -> None:
    assert {s.name for s in WORKABLE_STEP_STATES} == {"PENDING", "UNKNOWN", "SENDING", "UNDOING"}
