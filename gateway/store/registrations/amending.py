"""A person's change to a step at rest (a follow-up retried or cancelled alone),
and the steps waiting for a system made due when it is back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from gateway.domain.model import System
from gateway.registrations.model import RegistrationState, StepError, StepState
from gateway.registrations.ports import AuditAs
from gateway.store import tables as t
from gateway.store.audit import Write as AuditWrite
from gateway.store.audit import keyed
from gateway.store.registrations import rows, writes


class Amending(writes.Base):
    """``amend_step`` and ``wake``."""

    async def amend_step(
        self,
        step_id: str,
        *,
        registration_id: str,
        expect: Collection[StepState],
        while_registration: RegistrationState,
        now: dt.datetime,
        state: StepState,
        error: StepError | None,
        next_attempt_at: dt.datetime | None = None,
        deadline_at: dt.datetime | None = None,
        payload: dict[str, Any] | None = None,
        row: dict[str, Any] | None = None,
        audit_as: AuditAs | None = None,
    ) -> bool:
        """A person's change to one step at rest (a follow-up retried with corrected
        data, or cancelled alone), in one transaction; see ``RegistrationStore``.

        Only while the step is in a state of ``expect``, unleased, and its
        registration in ``while_registration``: False, with nothing written,
        otherwise (another person acted first). ``payload`` replaces what the step
        sends and ``row`` the registration's row it was planned from.
        """
        s, r = t.steps, t.registrations
        values: dict[str, Any] = {
            "state": StepState(state).value,
            "last_error": rows.dump_error(error),
            "next_attempt_at": next_attempt_at,
            "lease_owner": None,
            "lease_until": None,
            "updated_at": now,
            "finished_at": None if next_attempt_at is not None else now,
        }
        if deadline_at is not None:
            values["deadline_at"] = deadline_at
        if payload is not None:
            values["payload"] = rows.dump(payload)
        async with self._db.write() as conn:
            result = await conn.execute(
                sa.update(s)
                .where(
                    s.c.id == step_id,
                    s.c.registration_id == registration_id,
                    s.c.state.in_([StepState(e).value for e in expect]),
                    sa.or_(s.c.lease_until.is_(None), s.c.lease_until <= now),
                    sa.exists().where(
                        r.c.id == registration_id,
                        r.c.state == RegistrationState(while_registration).value,
                    ),
                )
                .values(values)
            )
            if result.rowcount != 1:
                known = await conn.execute(sa.select(s.c.id).where(s.c.id == step_id))
                if known.first() is None:
                    raise writes.StepNotFound(step_id)
                return False
            if row is not None:
                await conn.execute(
                    sa.update(r).where(r.c.id == registration_id).values(payload=rows.dump(row))
                )
            if audit_as is not None:
                found = (
                    await conn.execute(
                        sa.select(r.c.person_key, r.c.credit_code).where(r.c.id == registration_id)
                    )
                ).one()
                if found.person_key is not None:
                    id_type, _, id_number = found.person_key.partition(":")
                    await keyed(self._audit).record_writes(
                        actor=audit_as.account,
                        channel=audit_as.channel,
                        credit_code=found.credit_code,
                        writes=[
                            AuditWrite(
                                audit_as.action, id_type, id_number, "allowed", registration_id
                            )
                        ],
                        at=now,
                        conn=conn,
                    )
            await writes.bump(conn, [registration_id], now)
        self.on_change([registration_id])
        return True

    async def wake(self, system: System, *, now: dt.datetime) -> int:
        """Make due at ``now`` every step waiting for ``system`` to be tried again;
        see ``RegistrationStore.wake``."""
        s, r = t.steps, t.registrations
        waiting = sa.and_(
            s.c.system == System(system).value,
            s.c.state.in_(writes.WORKABLE),
            s.c.next_attempt_at > now,
            sa.or_(s.c.lease_until.is_(None), s.c.lease_until < now),
            sa.exists().where(r.c.id == s.c.registration_id, r.c.state.not_in(writes.AT_REST)),
        )
        async with self._db.write() as conn:
            result = await conn.execute(
                sa.update(s).where(waiting).values(next_attempt_at=now, updated_at=now)
            )
        return int(result.rowcount or 0)
