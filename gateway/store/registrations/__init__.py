"""Registrations: submissions and their idempotency keys, registrations, their steps.

Implements ``gateway.registrations.ports.RegistrationStore`` on SQLite and
PostgreSQL alike. Whatever two concurrent callers could both believe they won
is decided by the database in one statement, never by a read before a write:

- the idempotency key by the UNIQUE constraint of ``submissions``;
- "one unfinished registration per worker" by the primary key of
  ``worker_locks``;
- who carries out a step by a conditional UPDATE that only succeeds while the
  step has no live lease (``claim``) or is still leased to the caller
  (``save_step``).

Rows that lock several others take them in one order (steps by id, then
registrations), so that PostgreSQL never finds two transactions waiting on
each other. Payloads, warnings and errors are kept as JSON text; enumerations
as their values.

The parts: ``submitting`` (submissions and their keys), ``reading`` (``get``,
``list``), ``carrying`` (the claim, a step's outcome and what follows, states
and schedules), ``amending`` (a person's change to a step at rest; a system's
waiting steps woken), ``erasing`` (a finished registration's personal data
erased once its retention has passed), ``writes`` (the writes those share, in the caller's
transaction), ``rows`` (rows to and from the domain's dataclasses).
"""

from __future__ import annotations

from gateway.store.registrations.amending import Amending
from gateway.store.registrations.carrying import Carrying
from gateway.store.registrations.erasing import Erasing
from gateway.store.registrations.reading import Reading
from gateway.store.registrations.rows import ANONYMOUS, actor_scope
from gateway.store.registrations.submitting import Submitting
from gateway.store.registrations.writes import RegistrationNotFound, StepNotFound

__all__ = [
    "ANONYMOUS",
    "RegistrationNotFound",
    "Registrations",
    "StepNotFound",
    "actor_scope",
]


class Registrations(Submitting, Reading, Carrying, Amending, Erasing):
    """The registrations repository (``RegistrationStore``)."""
