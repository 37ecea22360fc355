"""Writes a system decides later, as a system declares them and the engine awaits them.

Some systems answer a write at once with an acceptance only (a declaration
"under review", 受理) and decide it later. Such an operation declares a
:class:`DecidedLater` on its ``OperationSpec``: how to read what was decided of
a write by its reference, how to find the step's own write when its answer was
lost, and one move of undoing it (withdrawing one under review, declaring the
reverse of one approved, awaiting that reverse). The system's own codes and
states stay in its package: the hooks answer in the terms below, which is all
the engine reads (``gateway.registrations.awaiting``). Plain types, no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gateway.registrations.model import Operation, StepError

__all__ = [
    "DecidedLater",
    "Decision",
    "Earlier",
    "UndoMove",
    "UndoPending",
    "UndoStuck",
    "Undone",
    "Verdict",
]


class Verdict(StrEnum):
    PENDING = "PENDING"  # not decided yet: look again later
    APPROVED = "APPROVED"  # in effect: the step is done
    REFUSED = "REFUSED"  # returned, or withdrawn by someone: a business refusal


@dataclass(frozen=True, slots=True)
class Decision:
    """What the system made of one write.

    ``since``: when the write was made (UTC), which spaces the polls (the longer
    the review, the longer the wait). ``note``: PENDING, what the step shows
    while it waits (it names the reference, never the person); REFUSED, why,
    in both languages.
    """

    reference: str
    verdict: Verdict
    since: dt.datetime
    note: StepError | None = None


@dataclass(frozen=True, slots=True)
class Undone:
    """Nothing of the step's write is in effect any more."""


@dataclass(frozen=True, slots=True)
class UndoPending:
    """The undo is under way: ``reference`` (a reverse write, or the write itself)
    is to be looked at again later, ``decision`` what it was when last read."""

    reference: str
    decision: Decision | None = None


@dataclass(frozen=True, slots=True)
class UndoStuck:
    """It cannot be undone without a person: ``error`` says why and what to do."""

    error: StepError


UndoMove = Undone | UndoPending | UndoStuck

#: ``(operation) -> payload | None``: the newest payload of ``operation`` the gateway
#: wrote, done, for the same worker and unit (an undo that must restore what an
#: earlier write declared, such as the wage of the addition a removal ended).
Earlier = Callable[[Operation], Awaitable[Any | None]]


@dataclass(frozen=True, slots=True)
class DecidedLater:
    """The hooks of an operation its system decides later.

    - ``read(adapter, reference) -> Decision``: what became of the write (or of
      its reverse) under ``reference``; raises the gateway's ``NotFound`` when
      the system holds nothing under it.
    - ``find(adapter, payload, since) -> Decision | None``: the step's own write
      if the system holds it (its answer was lost): one made for ``payload`` no
      earlier than ``since`` (when the step was created); never sends.
    - ``undo(adapter, payload, reference, earlier) -> UndoMove``: one move of
      undoing the write known as ``reference`` (the write itself, or the reverse
      an earlier move declared). Raises ``Unavailable`` when the system cannot be
      asked (the engine tries again later) and ``Rejected`` for a refusal that
      needs a person.
    """

    read: Callable[[Any, str], Awaitable[Decision]]
    find: Callable[[Any, Any, dt.datetime], Awaitable[Decision | None]]
    undo: Callable[[Any, Any, str, Earlier], Awaitable[UndoMove]]
