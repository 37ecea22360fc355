"""The audit log: who read which worker's personal data, when, for whom, and how.

A worker is recorded twice, neither time in clear: masked for display, and as
an HMAC-SHA256 of ``id_type:id_number`` under a configured key, so that an
administrator can search by a full number while the table cannot be read back
into numbers (the key is not in the database, and ID numbers are too few to
survive a plain unkeyed hash).

Records can only be added. Each carries the hash of the one before it and a
hash of itself over both, so that changing or removing one breaks the chain
at that point (``verify_chain``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import sqlalchemy as sa

from gateway.auth import Role
from gateway.domain.model import IdType
from gateway.privacy import mask_id_number
from gateway.store import tables as t
from gateway.store.database import Database, now
from gateway.store.model import (
    Account,
    AuditRecord,
    AuditResult,
    ChainCheck,
    Channel,
    CursorPage,
    InvalidCursor,
)
from gateway.store.paging import check_first, decode_cursor, encode_cursor

_CURSOR = "audit"
_VERIFY_BATCH = 500

#: Shortest HMAC key accepted (the hash's own size).
MIN_KEY_BYTES = 32


def worker_key(key: bytes, id_type: IdType | str, id_number: str) -> str:
    """The searchable, non-reversible key of a worker: hex HMAC-SHA256."""
    message = f"{IdType(id_type).value}:{_normalize(id_number)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _normalize(id_number: str) -> str:
    # Resident IDs end in "X" or "x" alike; a search must find either.
    return id_number.strip().upper()


def record_hash(values: dict[str, Any]) -> str:
    """The hash of one record: its content and ``prev_hash``, canonically serialized."""
    content = {k: values[k] for k in _HASHED}
    content["at"] = values["at"].astimezone(dt.UTC).isoformat(timespec="microseconds")
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_HASHED = (
    "id",
    "at",
    "actor_id",
    "actor_username",
    "actor_role",
    "action",
    "worker_id_type",
    "worker_masked",
    "worker_key",
    "credit_code",
    "channel",
    "result",
    "prev_hash",
)


class AuditLog:
    """The ``audit_records`` repository: append and search, nothing else."""

    def __init__(self, db: Database, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the audit key must be at least {MIN_KEY_BYTES} bytes")
        self._db = db
        self._key = key

    def worker_key(self, id_type: IdType | str, id_number: str) -> str:
        """The key to search the log for one worker by full ID number."""
        return worker_key(self._key, id_type, id_number)

    async def record(
        self,
        *,
        actor: Account,
        action: str,
        id_type: IdType | str,
        id_number: str,
        credit_code: str | None,
        channel: Channel | str,
        result: AuditResult | str,
        at: dt.datetime | None = None,
    ) -> AuditRecord:
        """Append one record; returns it with its place and hash in the chain."""
        if not action or len(action) > 64:
            raise ValueError("an audit action is 1 to 64 characters")
        values: dict[str, Any] = {
            "at": (at or now()).astimezone(dt.UTC),
            "actor_id": actor.id,
            "actor_username": actor.username,
            "actor_role": actor.role.value,
            "action": action,
            "worker_id_type": IdType(id_type).value,
            "worker_masked": mask_id_number(_normalize(id_number)),
            "worker_key": self.worker_key(id_type, id_number),
            "credit_code": credit_code,
            "channel": Channel(channel).value,
            "result": AuditResult(result).value,
        }
        async with self._db.write() as conn:
            # The lock on the head row makes appenders take turns: each sees the
            # hash its predecessor committed, so the chain cannot fork.
            head = (
                await conn.execute(
                    sa.select(t.audit_head.c.last_id, t.audit_head.c.last_hash)
                    .where(t.audit_head.c.id == 1)
                    .with_for_update()
                )
            ).one()
            values["id"] = head.last_id + 1
            values["prev_hash"] = head.last_hash
            values["hash"] = record_hash(values)
            await conn.execute(sa.insert(t.audit_records).values(**values))
            await conn.execute(
                sa.update(t.audit_head)
                .where(t.audit_head.c.id == 1)
                .values(last_id=values["id"], last_hash=values["hash"])
            )
        return _record(values)

    async def query(
        self,
        *,
        worker_key: str | None = None,
        actor: int | None = None,
        credit_code: str | None = None,
        since: dt.datetime | None = None,
        first: int,
        after: str | None = None,
    ) -> CursorPage[AuditRecord]:
        """Records, newest first, filtered by worker (its ``worker_key``), actor
        (account id), employer and time."""
        check_first(first)
        r = t.audit_records
        query = sa.select(r).order_by(r.c.id.desc()).limit(first + 1)
        if worker_key is not None:
            query = query.where(r.c.worker_key == worker_key)
        if actor is not None:
            query = query.where(r.c.actor_id == actor)
        if credit_code is not None:
            query = query.where(r.c.credit_code == credit_code)
        if since is not None:
            query = query.where(r.c.at >= since)
        if after is not None:
            key = decode_cursor(_CURSOR, after)
            if not key.isdigit():
                raise InvalidCursor("invalid cursor")
            query = query.where(r.c.id < int(key))
        if first == 0:
            return CursorPage(items=[], cursors=[], has_next_page=False)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        items = [_record(row._asdict()) for row in rows[:first]]
        return CursorPage(
            items=items,
            cursors=[encode_cursor(_CURSOR, str(a.id)) for a in items],
            has_next_page=len(rows) > first,
        )

    async def verify_chain(self) -> ChainCheck:
        """Walk the whole chain: every record in place, unchanged, and the head at its end."""
        r = t.audit_records
        checked, expected_id, prev = 0, 1, t.GENESIS_HASH
        async with self._db.read() as conn:
            while True:
                rows = (
                    await conn.execute(
                        sa.select(r)
                        .where(r.c.id >= expected_id)
                        .order_by(r.c.id)
                        .limit(_VERIFY_BATCH)
                    )
                ).all()
                for row in rows:
                    values = row._asdict()
                    if (
                        values["id"] != expected_id
                        or values["prev_hash"] != prev
                        or record_hash(values) != values["hash"]
                    ):
                        return ChainCheck(ok=False, checked=checked, first_broken_id=expected_id)
                    checked, expected_id, prev = checked + 1, expected_id + 1, values["hash"]
                if len(rows) < _VERIFY_BATCH:
                    break
            head = (await conn.execute(sa.select(t.audit_head).where(t.audit_head.c.id == 1))).one()
        if head.last_id != expected_id - 1 or head.last_hash != prev:
            # Records cut off the end, or the head moved without them.
            return ChainCheck(ok=False, checked=checked, first_broken_id=expected_id)
        return ChainCheck(ok=True, checked=checked)


def _record(values: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        id=values["id"],
        at=values["at"],
        actor_id=values["actor_id"],
        actor_username=values["actor_username"],
        actor_role=Role(values["actor_role"]),
        action=values["action"],
        worker_id_type=values["worker_id_type"],
        worker_masked=values["worker_masked"],
        worker_key=values["worker_key"],
        credit_code=values["credit_code"],
        channel=Channel(values["channel"]),
        result=AuditResult(values["result"]),
        prev_hash=values["prev_hash"],
        hash=values["hash"],
    )
