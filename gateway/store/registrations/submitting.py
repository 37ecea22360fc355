"""Submitting: a submission, its registrations and steps stored at once, and
their idempotency keys.

Whatever two concurrent callers could both believe they won is decided by the
database in one statement: the idempotency key by the UNIQUE constraint of
``submissions``; "one unfinished registration per worker" by the primary key of
``worker_locks``.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa

from gateway.registrations.model import Registration, Submission
from gateway.registrations.ports import Created, KeyConflict, Replayed, SubmitOutcome, WorkersBusy
from gateway.store import tables as t
from gateway.store.audit import keyed
from gateway.store.model import Account, StoreError
from gateway.store.registrations import rows, writes

# A conflict can vanish before it is read (the key expired, the worker's
# registration finished): then submitting again decides. More than a few such
# races in a row means something else is wrong.
_SUBMIT_ATTEMPTS = 3


class Submitting(writes.Base):
    """Storing submissions; who holds a key or a worker."""

    async def submit(
        self,
        submission: Submission,
        registrations: Sequence[Registration],
        *,
        audit_as: Account | None = None,
    ) -> SubmitOutcome:
        """Store a submission, its registrations and steps, and lock their workers,
        in one transaction; see ``RegistrationStore.submit``.

        Two registrations of one submission for the same worker are refused as
        ``WorkersBusy`` too: the second would wait on the first forever.
        """
        stored = [rows.stamped(r, submission) for r in registrations]
        keys = [r.person_key for r in stored if r.person_key is not None]
        # Counted once: ``keys.count`` for each key held the event loop for the square
        # of the rows (1.6 s for a form of 10,000).
        twice = sorted(k for k, n in Counter(keys).items() if n > 1)
        if twice:
            return WorkersBusy(twice)
        for _ in range(_SUBMIT_ATTEMPTS):
            stage = "submission"
            try:
                async with self._db.write() as conn:
                    await conn.execute(
                        sa.insert(t.submissions).values(rows.submission_row(submission))
                    )
                    stage = "registrations"
                    await rows.insert_registrations(conn, stored)
                    stage = "locks"
                    if keys:
                        await conn.execute(
                            sa.insert(t.worker_locks),
                            [
                                {"person_key": r.person_key, "registration_id": r.id}
                                for r in stored
                                if r.person_key is not None
                            ],
                        )
                    if audit_as is not None:
                        stage = "audit"
                        await keyed(self._audit).record_registrations(audit_as, stored, conn)
                return Created(stored)
            except sa.exc.IntegrityError:
                # Which constraint refused is known from where it happened; what
                # holds it is read afterwards, once the winner has committed.
                if stage == "submission":
                    outcome: SubmitOutcome | None = await self._replay(submission)
                elif stage == "locks":
                    held = await self._holders(keys)
                    outcome = WorkersBusy(list(held), held) if held else None
                else:
                    raise
                if outcome is not None:
                    return outcome
        raise StoreError("the submission kept conflicting with others; try again")

    async def _replay(self, submission: Submission) -> Replayed | KeyConflict | None:
        s = t.submissions
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(s.c.id, s.c.request_hash).where(
                        s.c.actor_scope == rows.actor_scope(submission.actor_id),
                        s.c.idempotency_key == submission.idempotency_key,
                    )
                )
            ).one_or_none()
            if row is None:
                return None
            if row.request_hash != submission.request_hash:
                return KeyConflict()
            r = t.registrations
            found = await rows.load(
                conn, sa.select(r).where(r.c.submission_id == row.id).order_by(r.c.ordinal)
            )
        return Replayed(found)

    async def busy_workers(self, person_keys: Sequence[str]) -> builtins.list[str]:
        """Those of ``person_keys`` locked by an unfinished registration, in the order given."""
        return list(await self._holders(person_keys))

    async def _holders(self, person_keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Each of ``person_keys`` locked by an unfinished registration, in the order
        given: the registration's id and its unit's credit code."""
        wanted = list(dict.fromkeys(person_keys))
        if not wanted:
            return {}
        w, r = t.worker_locks, t.registrations
        async with self._db.read() as conn:
            locked = {
                row.person_key: (row.registration_id, row.credit_code)
                for row in await conn.execute(
                    sa.select(w.c.person_key, w.c.registration_id, r.c.credit_code)
                    .join(r, r.c.id == w.c.registration_id)
                    .where(w.c.person_key.in_(wanted))
                )
            }
        return {k: locked[k] for k in wanted if k in locked}

    async def expire_submissions(self, now: dt.datetime) -> int:
        """Forget idempotency keys whose ``expires_at`` has passed; how many."""
        s = t.submissions
        async with self._db.write() as conn:
            result = await conn.execute(sa.delete(s).where(s.c.expires_at < now))
        return result.rowcount
