"""Rows of registrations and steps, to and from the domain's dataclasses.

Payloads, warnings and errors are kept as JSON text; enumerations as their values.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.model import System
from gateway.registrations.model import (
    Business,
    Channel,
    Operation,
    Registration,
    RegistrationState,
    Step,
    StepError,
    StepKind,
    StepState,
    Submission,
)
from gateway.registrations.model import Warning as RegistrationWarning
from gateway.store import tables as t


def actor_scope(actor_id: int | None) -> str:
    """Whose idempotency keys a key is compared with."""
    return ANONYMOUS if actor_id is None else str(actor_id)


#: The actor scope of idempotency keys given without an account.
ANONYMOUS = "anonymous"


def saved(step: Step, now: dt.datetime) -> dict[str, Any]:
    """What a worker writes of a step it holds (its ``updated_at`` becomes ``now``)."""
    return {
        "state": StepState(step.state).value,
        "reference": step.reference,
        "attempts": step.attempts,
        "next_attempt_at": step.next_attempt_at,
        "deadline_at": step.deadline_at,
        "last_error": dump_error(step.last_error),
        "lease_owner": step.lease_owner,
        "lease_until": step.lease_until,
        "updated_at": now,
        "finished_at": step.finished_at,
    }


def stamped(registration: Registration, submission: Submission) -> Registration:
    """A copy of ``registration`` as it will be stored: timestamps it lacks are
    the submission's, and it must belong to the submission."""
    if registration.submission_id != submission.id:
        raise ValueError("a registration must belong to the submission it is stored with")
    at = submission.created_at
    steps = []
    for step in registration.steps:
        if step.registration_id != registration.id:
            raise ValueError("a step must belong to the registration it is stored with")
        steps.append(
            dataclasses.replace(
                step,
                created_at=step.created_at or at,
                updated_at=step.updated_at or step.created_at or at,
            )
        )
    return dataclasses.replace(
        registration,
        steps=steps,
        warnings=list(registration.warnings),
        created_at=registration.created_at or at,
        updated_at=registration.updated_at or registration.created_at or at,
    )


def submission_row(submission: Submission) -> dict[str, Any]:
    return {
        "id": submission.id,
        "actor_id": submission.actor_id,
        "actor_scope": actor_scope(submission.actor_id),
        "idempotency_key": submission.idempotency_key,
        "request_hash": submission.request_hash,
        "created_at": submission.created_at,
        "expires_at": submission.expires_at,
    }


#: Registrations inserted by one statement (their steps by the next): SQLAlchemy
#: prepares a statement's parameters on the event loop in one stretch, 0.3 s and more
#: for a form of 10,000 rows, every other request waiting; between two statements
#: the loop runs the others' work.
ROWS_PER_INSERT = 500


async def insert_registrations(conn: AsyncConnection, stored: Sequence[Registration]) -> None:
    for start in range(0, len(stored), ROWS_PER_INSERT):
        chunk = stored[start : start + ROWS_PER_INSERT]
        await conn.execute(
            sa.insert(t.registrations),
            [registration_row(r, ordinal) for ordinal, r in enumerate(chunk, start)],
        )
        step_rows = [step_row(s, ordinal) for r in chunk for ordinal, s in enumerate(r.steps)]
        if step_rows:
            await conn.execute(sa.insert(t.steps), step_rows)


def registration_row(r: Registration, ordinal: int) -> dict[str, Any]:
    return {
        "id": r.id,
        "submission_id": r.submission_id,
        "ordinal": ordinal,
        "business": Business(r.business).value,
        "state": RegistrationState(r.state).value,
        "credit_code": r.credit_code,
        "division": r.division,
        "person_key": r.person_key,
        "payload": dump(r.payload),
        "channel": Channel(r.channel).value,
        "actor_id": r.actor_id,
        "actor_username": r.actor_username,
        "warnings": dump([dataclasses.asdict(w) for w in r.warnings]),
        "failure": dump_error(r.failure),
        "version": r.version,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "erased_at": r.erased_at,
    }


def step_row(s: Step, ordinal: int) -> dict[str, Any]:
    return {
        "id": s.id,
        "registration_id": s.registration_id,
        "ordinal": ordinal,
        "system": System(s.system).value,
        "operation": Operation(s.operation).value,
        "stage": s.stage,
        "payload": dump(s.payload),
        "state": StepState(s.state).value,
        "kind": StepKind(s.kind).value,
        "reference": s.reference,
        "attempts": s.attempts,
        "next_attempt_at": s.next_attempt_at,
        "deadline_at": s.deadline_at,
        "last_error": dump_error(s.last_error),
        "lease_owner": s.lease_owner,
        "lease_until": s.lease_until,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "finished_at": s.finished_at,
    }


#: The steps of several registrations, in their order (built once: a statement
#: built anew is walked again for its cache key at every execution).
_STEPS_OF = (
    sa.select(t.steps)
    .where(t.steps.c.registration_id.in_(sa.bindparam("b_registrations", expanding=True)))
    .order_by(t.steps.c.stage, t.steps.c.created_at, t.steps.c.ordinal)
)


async def load(
    conn: AsyncConnection, query: sa.Select[Any], parameters: dict[str, Any] | None = None
) -> builtins.list[Registration]:
    """The registrations ``query`` (with ``parameters``) selects, in its order, each
    with its steps."""
    rows = (await conn.execute(query, parameters)).all()
    if not rows:
        return []
    steps: dict[str, list[Step]] = {}
    step_rows = await conn.execute(_STEPS_OF, {"b_registrations": [row.id for row in rows]})
    for row in step_rows:
        steps.setdefault(row.registration_id, []).append(step(row))
    return [registration(row, steps.get(row.id, [])) for row in rows]


def registration(row: Any, steps: builtins.list[Step]) -> Registration:
    return Registration(
        id=row.id,
        submission_id=row.submission_id,
        business=Business(row.business),
        state=RegistrationState(row.state),
        credit_code=row.credit_code,
        division=row.division,
        person_key=row.person_key,
        payload=json.loads(row.payload),
        channel=Channel(row.channel),
        actor_id=row.actor_id,
        actor_username=row.actor_username,
        steps=steps,
        warnings=[RegistrationWarning(**w) for w in json.loads(row.warnings)],
        failure=load_error(row.failure),
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        erased_at=row.erased_at,
    )


def step(row: Any) -> Step:
    return Step(
        id=row.id,
        registration_id=row.registration_id,
        system=System(row.system),
        operation=Operation(row.operation),
        stage=row.stage,
        payload=json.loads(row.payload),
        state=StepState(row.state),
        kind=StepKind(row.kind),
        reference=row.reference,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        deadline_at=row.deadline_at,
        last_error=load_error(row.last_error),
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


# ------------------------------------------------------------ JSON and cursors


def dump(value: Any) -> str:
    # No ``default=``: a value JSON cannot hold is a bug to see, not to stringify.
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def dump_error(error: StepError | None) -> str | None:
    return None if error is None else dump(dataclasses.asdict(error))


def load_error(text: str | None) -> StepError | None:
    return None if text is None else StepError(**json.loads(text))
