"""Steps their system decides later, whichever system: the engine's side of the hooks.

A write whose operation declares ``decided_later`` (``gateway.decided``) is
answered with an acceptance only: the step is not done when it is answered. It
is saved ``UNKNOWN`` with the acceptance's reference and polled at
``next_attempt_at``, with backoff, by whichever worker claims it then
(``awaiting``). No worker waits: the wait is a time in the store, and the step's
deadline bounds it (past it, the step is stuck for a person).

What each answer means is the system's to say, through its hooks: here the
engine asks them with what a step holds (its payload, its reference, when it was
created), and spaces the polls. The system's own states and codes never reach
this module; a second system whose writes are decided later declares its hooks
in its own package and needs nothing here.
"""

from __future__ import annotations

import datetime as dt
import math

from gateway.decided import (
    DecidedLater,
    Decision,
    Earlier,
    UndoMove,
    Undone,
    UndoPending,
    UndoStuck,
    Verdict,
)
from gateway.registrations.backoff import Backoff
from gateway.registrations.model import Step, StepError
from gateway.registrations.plan import step_request
from gateway.registry import registry
from gateway.systems import SystemAdapter

__all__ = [
    "AWAITING_DECISION",
    "Decision",
    "UndoPending",
    "UndoStuck",
    "Undone",
    "Verdict",
    "find",
    "hooks",
    "is_declaration",
    "next_poll",
    "pending_note",
    "read",
    "undo",
]

#: What a step awaiting a decision shows when its system gave no note of its own.
AWAITING_DECISION = "AWAITING_DECISION"

_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


def hooks(step: Step) -> DecidedLater | None:
    """The step's operation's hooks when its system decides it later, else None."""
    try:
        return registry().operation(step.operation).decided_later
    except KeyError:
        return None


def is_declaration(step: Step) -> bool:
    """A write its system decides later (its registration says so)."""
    return hooks(step) is not None


def _hooks(step: Step) -> DecidedLater:
    found = hooks(step)
    if found is None:
        raise TypeError(f"{step.operation} is not decided later")
    return found


async def read(adapter: SystemAdapter, step: Step, reference: str) -> Decision:
    """What became of the write (or its reverse) under ``reference``; raises the
    gateway's ``NotFound`` when the system holds nothing under it."""
    return await _hooks(step).read(adapter, reference)


async def find(adapter: SystemAdapter, step: Step) -> Decision | None:
    """The step's write if the system holds it (an answer was lost); None if not.
    Raises the adapter's errors when the system cannot be asked."""
    return await _hooks(step).find(adapter, step_request(step), step.created_at or _EPOCH)


async def undo(adapter: SystemAdapter, step: Step, reference: str, earlier: Earlier) -> UndoMove:
    """One move of undoing the step's write known as ``reference``."""
    return await _hooks(step).undo(adapter, step_request(step), reference, earlier)


def next_poll(decision: Decision, now: dt.datetime, backoff: Backoff) -> dt.datetime:
    """When to ask again: the longer it has been pending, the longer the wait
    (doubling, from the backoff's base up to its cap, with its jitter)."""
    waited = max(0.0, (now - decision.since).total_seconds())
    base = max(backoff.base, 1e-3)
    attempt = 1 + int(math.log2(1 + waited / base))
    return now + dt.timedelta(seconds=backoff.delay(attempt))


def pending_note(step: Step, decision: Decision) -> StepError:
    """Not an error: what a step awaiting the decision shows."""
    if decision.note is not None:
        return decision.note
    spec = registry().operation(step.operation)
    return StepError(
        AWAITING_DECISION,
        f"{spec.label_zh}已受理（编号 {decision.reference}），等待审核",
        f"{spec.label_en[:1].upper()}{spec.label_en[1:]} was accepted (number "
        f"{decision.reference}) and awaits its system's decision",
    )
