"""A clerk's commands on a registration that needs attention: retry, cancel; and
on a follow-up left after a completed core (the employer's too): retry it, with
corrected data, or cancel it alone.

What each command changes is planned by ``commands.retry`` and
``commands.cancel`` from the registration as read; every write is conditional
on that read, so that two clerks acting at once (or a clerk and a worker) never
both win. The registration is then decided again at once, as a worker would.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

from gateway.registrations import commands
from gateway.registrations.followups import (
    FollowUpActionRefused,
    not_correctable_now,
    waiting_follow_up,
)
from gateway.registrations.labels import REGISTRATION_STATE
from gateway.registrations.model import (
    Operation,
    Registration,
    RegistrationState,
    Step,
    StepState,
)
from gateway.registrations.ports import AuditAs, RegistrationStore
from gateway.registrations.writes import AmendStep, SetRegistrationState, Write

# The engine's parts log as the engine: one name for operators to follow.
log = logging.getLogger("gateway.registrations.engine")


class ClerkActionRefused(Exception):
    """A clerk's retry or cancel that cannot be done: a stable code, two messages."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en


def _not_found() -> ClerkActionRefused:
    return ClerkActionRefused(
        "REGISTRATION_NOT_FOUND", "找不到该登记", "There is no such registration"
    )


def _not_waiting(state: RegistrationState) -> ClerkActionRefused:
    return ClerkActionRefused(
        "REGISTRATION_NOT_NEEDING_ATTENTION",
        "只有待处理（需人工处理）的登记可以重试或取消，该登记当前状态为"
        f"“{REGISTRATION_STATE[state.name][0]}”",
        f"Only a registration that needs attention can be retried or cancelled; this one "
        f"is {state.value}",
    )


class Clerk:
    """Carries out clerks' commands: ``apply`` stores what was planned, ``decide``
    decides what follows for the registration as read again."""

    def __init__(
        self,
        store: RegistrationStore,
        *,
        clock: Callable[[], dt.datetime],
        step_deadline: dt.timedelta,
        undoable: Collection[Operation],
        apply: Callable[[Registration, Sequence[Write], dt.datetime], Awaitable[None]],
        decide: Callable[[Registration, dt.datetime], Awaitable[None]],
    ) -> None:
        self.store = store
        self.clock = clock
        self.step_deadline = step_deadline
        self.undoable = undoable
        self.apply = apply
        self.decide = decide

    async def retry(self, registration_id: str) -> Registration:
        """Put the stuck steps of a registration that needs attention back to work,
        each with a new deadline; a compensation that got stuck is resumed."""
        registration = await self._needing_attention(registration_id)
        now = self.clock()
        writes = commands.retry(
            registration, now, step_deadline=self.step_deadline, undoable=self.undoable
        )
        await self.apply(registration, writes, now)
        log.info("registration %s retried", registration.id)
        return await self._after(registration.id)

    async def cancel(self, registration_id: str) -> Registration:
        """Undo what a registration that needs attention has done, and end it
        CANCELLED. One whose compensation got stuck keeps the refusal as its
        failure and ends COMPENSATED."""
        registration = await self._needing_attention(registration_id)
        now = self.clock()
        writes = commands.cancel(
            registration, now, step_deadline=self.step_deadline, undoable=self.undoable
        )
        await self.apply(registration, writes, now)
        log.info("registration %s cancelled by a clerk", registration.id)
        return await self._after(registration.id)

    async def retry_follow_up(
        self,
        registration_id: str,
        operation: Operation,
        *,
        payload: Mapping[str, Any] | None = None,
        row: Mapping[str, Any] | None = None,
        audit_as: AuditAs | None = None,
    ) -> Registration:
        """Send a refused or stuck follow-up of a registration whose core is complete
        again, with a new deadline; with ``payload`` (and the corrected ``row`` it
        was planned from) what it sends is replaced first. The core stays."""
        registration, step = await self._waiting(registration_id, operation)
        if payload is not None and step.state is not StepState.REFUSED:
            raise not_correctable_now(step)
        now = self.clock()
        amend, resume = commands.retry_follow_up(step, now, step_deadline=self.step_deadline)
        amend = dataclasses.replace(amend, payload=payload, row=row)
        await self._amend(registration, amend, resume, now, audit_as)
        log.info("registration %s: follow-up %s retried", registration.id, operation.value)
        return await self._after(registration.id)

    async def cancel_follow_up(
        self, registration_id: str, operation: Operation, *, audit_as: AuditAs | None = None
    ) -> Registration:
        """Cancel a refused or stuck follow-up alone: the core stays as filed, and
        with nothing else waiting the registration completes."""
        registration, step = await self._waiting(registration_id, operation)
        now = self.clock()
        amend, resume = commands.cancel_follow_up(step)
        await self._amend(registration, amend, resume, now, audit_as)
        log.info("registration %s: follow-up %s cancelled", registration.id, operation.value)
        return await self._after(registration.id)

    async def _waiting(
        self, registration_id: str, operation: Operation
    ) -> tuple[Registration, Step]:
        registration = await self.store.get(registration_id)
        if registration is None:
            raise _not_found()
        return registration, waiting_follow_up(registration, operation)

    async def _amend(
        self,
        registration: Registration,
        amend: AmendStep,
        resume: SetRegistrationState,
        now: dt.datetime,
        audit_as: AuditAs | None,
    ) -> None:
        changed = await self.store.amend_step(
            amend.step_id,
            registration_id=registration.id,
            expect=amend.expect,
            while_registration=RegistrationState.NEEDS_ATTENTION,
            now=now,
            state=amend.state,
            error=amend.error,
            next_attempt_at=amend.next_attempt_at,
            deadline_at=amend.deadline_at,
            payload=None if amend.payload is None else dict(amend.payload),
            row=None if amend.row is None else dict(amend.row),
            audit_as=audit_as,
        )
        if not changed:
            # Another person (or a worker) acted on it since it was read.
            raise FollowUpActionRefused(
                "FOLLOW_UP_NOT_WAITING",
                "该后续事项刚刚已由他人处理，请刷新后再看",
                "Someone else has just acted on this follow-up; look at it again",
            )
        await self.apply(registration, [resume], now)

    async def _needing_attention(self, registration_id: str) -> Registration:
        registration = await self.store.get(registration_id)
        if registration is None:
            raise _not_found()
        if registration.state is not RegistrationState.NEEDS_ATTENTION:
            raise _not_waiting(registration.state)
        return registration

    async def _after(self, registration_id: str) -> Registration:
        registration = await self.store.get(registration_id)
        assert registration is not None
        await self.decide(registration, self.clock())
        fresh = await self.store.get(registration_id)
        assert fresh is not None
        return fresh
