"""A clerk's commands on a registration that needs attention: retry, cancel.

What each command changes is planned by ``decisions.retry`` and
``decisions.cancel`` from the registration as read; every write is conditional
on that read, so that two clerks acting at once (or a clerk and a worker) never
both win. The registration is then decided again at once, as a worker would.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence

from gateway.registrations import decisions
from gateway.registrations.decisions import Write
from gateway.registrations.model import Operation, Registration, RegistrationState
from gateway.registrations.ports import RegistrationStore

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
        f"只有待处理（需人工处理）的登记可以重试或取消，该登记当前状态为 {state.value}",
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
        writes = decisions.retry(
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
        writes = decisions.cancel(
            registration, now, step_deadline=self.step_deadline, undoable=self.undoable
        )
        await self.apply(registration, writes, now)
        log.info("registration %s cancelled by a clerk", registration.id)
        return await self._after(registration.id)

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
