"""The audit log: who read or wrote which worker's personal data, when, for whom,
and how; kept for a configured period, then purged.

A worker is recorded twice, neither time in clear: masked for display, and as
an HMAC-SHA256 of ``id_type:id_number`` under a configured key, so that an
administrator can search by a full number while the table cannot be read back
into numbers (the key is not in the database, and ID numbers are too few to
survive a plain unkeyed hash).

Records can only be added. Each carries the hash of the one before it and a
hash of itself over both, so that changing, inserting or removing one breaks
the chain at that point (``verify_chain``). The one removal allowed is the
purge of the oldest records, past the retention period: it keeps the id and
hash of the last record it removed as the chain's checkpoint, and appends a
record of itself that names that checkpoint, so that moving the checkpoint by
hand shows as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.auth import ConfigurationError, Role
from gateway.domain.model import IdType
from gateway.periodic import every
from gateway.privacy import mask_id_number
from gateway.registrations.model import Registration
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
    StoreError,
)
from gateway.store.paging import check_first, decode_cursor, encode_cursor

logger = logging.getLogger("gateway.audit")

_CURSOR = "audit"
_VERIFY_BATCH = 500

#: Shortest HMAC key accepted (the hash's own size).
MIN_KEY_BYTES = 32

#: Six months, rounded up: the shortest retention the log accepts.
MIN_RETENTION_DAYS = 183

#: The action of the gateway's own record of a purge (no actor, no worker).
PURGE_ACTION = "purge_audit_log"
#: The action of an administrator's search of the log for one worker.
SEARCH_ACTION = "search_audit_log"
#: The action of a read of one worker through the graph.
READ_ACTION = "read_worker"


#: What an administrator does to a clerk's account (``AuditLog.record_account``).
def account_action(verb: str, role: Role | str) -> str:
    """The action of a change ``verb`` (create, divisions, password, disable, enable)
    to an account of ``role``: ``create_clerk``, ``set_admin_password``..."""
    role = Role(role).value
    match verb:
        case "create" | "disable" | "enable":
            return f"{verb}_{role}"
        case "password" | "divisions":
            return f"set_{role}_{verb}"
    raise ValueError(f"{verb!r} is no change to an account")


#: Changes to accounts: an administrator's to a clerk's in the graph, and the
#: operator's to any account with the ``accounts`` command on the server.
ACCOUNT_ACTIONS = tuple(
    account_action(verb, role)
    for role in Role
    for verb in ("create", "password", "disable", "enable")
    + (("divisions",) if role is Role.CLERK else ())
)
#: The action of a search of the registrations for one worker's.
SEARCH_REGISTRATIONS_ACTION = "search_registrations"

#: The registration form's files, each a read of many workers' data at once: one
#: record per file (``record_form``), no worker; its ``detail`` says how
#: many rows and within what, never a worker's data.
#: ``GET /forms/registrations.xlsx``: registrations exported as the form.
EXPORT_ACTION = "export_registrations"
#: ``importRegistrationForm``: a filled form uploaded, read and checked (the
#: registrations it stores are each recorded besides, ``submit_hire``...).
IMPORT_ACTION = "import_registration_form"
#: ``GET /forms/marked/{token}.xlsx``: an uploaded form fetched back with its problems
#: marked (every row of it, in full), or refused to a caller without the rights.
MARKED_FORM_ACTION = "fetch_marked_form"
FORM_ACTIONS = (EXPORT_ACTION, IMPORT_ACTION, MARKED_FORM_ACTION)


@dataclass(frozen=True, slots=True)
class AuditRetention:
    """How long records are kept, and how often the purge runs.

    ``days`` is at least ``MIN_RETENTION_DAYS``: a shorter period is refused.
    """

    days: int = MIN_RETENTION_DAYS
    purge_every_s: float = 86_400.0

    def __post_init__(self) -> None:
        if self.days < MIN_RETENTION_DAYS:
            raise ValueError(
                f"audit records are kept at least {MIN_RETENTION_DAYS} days (six months), "
                f"not {self.days}"
            )
        if not self.purge_every_s > 0:
            raise ValueError("the audit purge interval must be positive")

    @property
    def period(self) -> dt.timedelta:
        return dt.timedelta(days=self.days)


@dataclass(frozen=True, slots=True)
class Write:
    """One write of one worker's data, as ``record_writes`` takes it."""

    action: str
    id_type: IdType | str
    id_number: str
    result: AuditResult | str = AuditResult.ALLOWED
    reference: str | None = None  # the registration's id
    #: The worker's keyed hash where the full number is no longer known (a
    #: registration whose personal data were erased keeps only that); ``id_number``
    #: is then the masked one.
    worker_key: str | None = None


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What a purge removed: records ``(previous checkpoint, through_id]``."""

    removed: int
    through_id: int  # the checkpoint now (0: nothing ever purged)
    record: AuditRecord | None  # the purge's own record; None when nothing was removed


class AuditChainBroken(StoreError):
    """The chain does not verify: a purge refuses to remove what may be evidence."""

    def __init__(self, first_broken_id: int) -> None:
        super().__init__(f"the audit chain is broken at record {first_broken_id}")
        self.first_broken_id = first_broken_id


class AuditKeyMismatch(ConfigurationError, StoreError):
    """The audit key given is not the one this store's audit log was keyed with."""

    def __init__(self) -> None:
        super().__init__(
            "HRSS_AUDIT_KEY is not the key this store's audit log was written with: its "
            "records would no longer be found by worker (a person's request to see who read "
            "their data would find nothing). Set the store's key again (the demo keeps its "
            "key beside its store, in the data folder); see docs/deployment.md"
        )


#: What ``audit_head.key_check`` holds, keyed with the audit key.
_KEY_CHECK_TEXT = b"hrss-gateway audit key check"


def key_check(key: bytes) -> str:
    """The audit key's check value: hex HMAC-SHA256 of a fixed text (the key cannot
    be recovered from it)."""
    return hmac.new(key, _KEY_CHECK_TEXT, hashlib.sha256).hexdigest()


def keyed(log: AuditLog | None) -> AuditLog:
    """``log``; a store opened without the audit key (the accounts command) has none."""
    if log is None:
        raise StoreError("the audit log needs a key: set HRSS_AUDIT_KEY")
    return log


def worker_key(key: bytes, id_type: IdType | str, id_number: str) -> str:
    """The searchable, non-reversible key of a worker: hex HMAC-SHA256."""
    message = f"{IdType(id_type).value}:{_normalize(id_number)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _normalize(id_number: str) -> str:
    # Resident IDs end in "X" or "x" alike; a search must find either.
    return id_number.strip().upper()


def registration_action(registration: Registration) -> str:
    """The action recording a registration: ``submit_`` and its business (``submit_hire``)."""
    return f"submit_{registration.business.value.lower()}"


def registration_writes(
    registrations: Iterable[Registration], result: AuditResult | str = AuditResult.ALLOWED
) -> list[Write]:
    """One ``Write`` per registration of a worker (an account opening concerns none)."""
    writes = []
    for r in registrations:
        if r.person_key is None:
            continue
        id_type, _, id_number = r.person_key.partition(":")
        writes.append(Write(registration_action(r), id_type, id_number, result, r.id))
    return writes


def record_hash(values: dict[str, Any]) -> str:
    """The hash of one record: its content and ``prev_hash``, canonically serialized."""
    content = {k: values[k] for k in _HASHED}
    # Columns added after the first records: hashed only when set, so that the
    # records written before them keep their hashes.
    content.update({k: values[k] for k in _HASHED_WHEN_SET if values.get(k) is not None})
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
_HASHED_WHEN_SET = ("reference", "detail")


def _detail_text(detail: dict[str, Any] | None) -> str | None:
    if detail is None:
        return None
    return json.dumps(detail, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _check_action(action: str) -> None:
    if not action or len(action) > 64:
        raise ValueError("an audit action is 1 to 64 characters")
    if action == PURGE_ACTION:
        raise ValueError(f"the action {PURGE_ACTION!r} is the gateway's own")


class AuditLog:
    """The ``audit_records`` repository: append and search; purge past retention."""

    def __init__(self, db: Database, key: bytes, retention: AuditRetention | None = None) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the audit key must be at least {MIN_KEY_BYTES} bytes")
        self._db = db
        self._key = key
        self.retention = retention or AuditRetention()

    async def check_key(self) -> None:
        """``AuditKeyMismatch`` unless this log's key is the one its store's records
        were keyed with. The first keyed process to open a store writes its key's
        check value (a store made, or upgraded from before the check, takes it)."""
        mine = key_check(self._key)
        async with self._db.read() as conn:
            stored = (await conn.execute(_KEY_CHECK)).scalar_one()
        if stored is None:
            async with self._db.write() as conn:
                # Conditional: of two processes opening a new store at once, one writes.
                await conn.execute(_CLAIM_KEY, {"b_check": mine})
                stored = (await conn.execute(_KEY_CHECK)).scalar_one()
        if not hmac.compare_digest(stored, mine):
            raise AuditKeyMismatch()

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
        reference: str | None = None,
        at: dt.datetime | None = None,
        worker_key: str | None = None,
    ) -> AuditRecord:
        """Append one record; returns it with its place and hash in the chain
        (``worker_key``: see ``Write``)."""
        write = Write(action, id_type, id_number, result, reference, worker_key)
        values = self._values(actor, write, credit_code, channel, at)
        async with self._db.write() as conn:
            (appended,) = await _append(conn, [values])
        return appended

    async def record_account(
        self,
        *,
        actor: Account | None,
        action: str,
        channel: Channel | str | None,
        detail: dict[str, Any],
        conn: AsyncConnection | None = None,
    ) -> AuditRecord:
        """One change made to an account (``ACCOUNT_ACTIONS``): by an administrator
        through a channel, or (``actor`` None, no channel) by the operator with the
        ``accounts`` command, ``detail`` then naming the operator. No worker; ``detail``
        names the account and what it became (never a password). Given ``conn``, a
        write transaction of this store, the record is part of it: stored if and only
        if the change is."""
        if action not in ACCOUNT_ACTIONS:
            raise ValueError(f"{action!r} is not a change to an account")
        values = _system_values(action, detail)
        if actor is not None:
            values |= {
                "actor_id": actor.id,
                "actor_username": actor.username,
                "actor_role": Role(actor.role).value,
            }
        if channel is not None:
            values["channel"] = Channel(channel).value
        if conn is not None:
            (appended,) = await _append(conn, [values])
            return appended
        async with self._db.write() as own:
            (appended,) = await _append(own, [values])
        return appended

    async def record_writes(
        self,
        *,
        actor: Account,
        channel: Channel | str,
        credit_code: str | None,
        writes: Sequence[Write],
        at: dt.datetime | None = None,
        conn: AsyncConnection | None = None,
    ) -> list[AuditRecord]:
        """Append one record per write, together (one submission of many rows).

        Given ``conn``, a write transaction of this store, the records are part
        of it: stored if and only if what they record is.
        """
        rows = [self._values(actor, w, credit_code, channel, at) for w in writes]
        if not rows:
            return []
        if conn is not None:
            return await _append(conn, rows)
        async with self._db.write() as own:
            return await _append(own, rows)

    async def record_registrations(
        self, actor: Account, registrations: Sequence[Registration], conn: AsyncConnection
    ) -> list[AuditRecord]:
        """One record per registration of a worker submitted by ``actor``, in
        ``conn``'s transaction: the records exist if and only if the registrations do."""
        groups: dict[tuple[str, str], list[Registration]] = {}
        for r in registrations:
            groups.setdefault((r.channel, r.credit_code), []).append(r)
        records: list[AuditRecord] = []
        for (channel, credit_code), group in groups.items():
            records += await self.record_writes(
                actor=actor,
                channel=channel,
                credit_code=credit_code,
                writes=registration_writes(group),
                conn=conn,
            )
        return records

    def _values(
        self,
        actor: Account,
        write: Write,
        credit_code: str | None,
        channel: Channel | str,
        at: dt.datetime | None,
    ) -> dict[str, Any]:
        _check_action(write.action)
        if write.reference is not None and not 1 <= len(write.reference) <= 64:
            raise ValueError("an audit reference is 1 to 64 characters")
        return {
            "at": (at or now()).astimezone(dt.UTC),
            "actor_id": actor.id,
            "actor_username": actor.username,
            "actor_role": Role(actor.role).value,
            "action": write.action,
            "worker_id_type": IdType(write.id_type).value,
            "worker_masked": mask_id_number(_normalize(write.id_number)),
            "worker_key": write.worker_key or self.worker_key(write.id_type, write.id_number),
            "credit_code": credit_code,
            "channel": Channel(channel).value,
            "result": AuditResult(write.result).value,
            "reference": write.reference,
            "detail": None,
        }

    async def query(
        self,
        *,
        worker_key: str | Sequence[str] | None = None,
        worker_id_type: IdType | str | None = None,
        actor: int | None = None,
        credit_code: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        action: str | None = None,
        reference: str | None = None,
        first: int,
        after: str | None = None,
    ) -> CursorPage[AuditRecord]:
        """Records, newest first, filtered by worker (its ``worker_key``, or any of
        several), ID type, actor (account id), employer, time (``since`` included,
        ``until`` excluded), action and registration."""
        check_first(first)
        r = t.audit_records
        query = sa.select(r).order_by(r.c.id.desc()).limit(first + 1)
        if isinstance(worker_key, str):
            query = query.where(r.c.worker_key == worker_key)
        elif worker_key is not None:
            query = query.where(r.c.worker_key.in_(list(worker_key)))
        if worker_id_type is not None:
            query = query.where(r.c.worker_id_type == IdType(worker_id_type).value)
        if actor is not None:
            query = query.where(r.c.actor_id == actor)
        if credit_code is not None:
            query = query.where(r.c.credit_code == credit_code)
        if since is not None:
            query = query.where(r.c.at >= since)
        if until is not None:
            query = query.where(r.c.at < until)
        if action is not None:
            query = query.where(r.c.action == action)
        if reference is not None:
            query = query.where(r.c.reference == reference)
        if after is not None:
            key = decode_cursor(_CURSOR, after)
            # A position: digits of a 64-bit integer (an integer beyond it was an
            # OverflowError in SQLite, out of range in PostgreSQL).
            if not (len(key) <= 19 and key.isascii() and key.isdigit() and int(key) < 2**63):
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

    async def get(self, record_id: int) -> AuditRecord | None:
        """One record by its place in the chain (None: purged, or never there)."""
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(t.audit_records).where(t.audit_records.c.id == record_id)
                )
            ).one_or_none()
        return None if row is None else _record(row._asdict())

    async def verify_chain(self) -> ChainCheck:
        """Walk the chain from its checkpoint: every record in place, unchanged, the
        head at its end, and the checkpoint the one the last purge recorded."""
        async with self._snapshot() as conn:
            head = await _head(conn)
            base, last = head.base_id, head.last_id

            def broken(at_id: int, checked: int) -> ChainCheck:
                return ChainCheck(False, checked, at_id, checkpoint_id=base, last_id=last)

            below = await conn.scalar(
                sa.select(sa.func.min(t.audit_records.c.id)).where(t.audit_records.c.id <= base)
            )
            if below is not None:
                # Put back under the checkpoint, or slipped in before the first record.
                return broken(int(below), 0)
            checked, expected_id, prev, ok = await _walk(conn, base + 1, head.base_hash)
            if not ok:
                return broken(expected_id, checked)
            if last != expected_id - 1 or head.last_hash != prev:
                # Records cut off the end (the first missing one), or added past
                # the head (the first of them), or the head moved without them.
                return broken(min(expected_id, last + 1), checked)
            if base and not await _checkpoint_recorded(conn, base, head.base_hash):
                # The oldest records went without a purge saying so.
                return broken(base + 1, checked)
        return ChainCheck(True, checked, checkpoint_id=base, last_id=last)

    async def purge(self, at: dt.datetime | None = None) -> PurgeResult:
        """Remove the records older than the retention period (as of ``at``, by
        default now), and record that it did.

        Only the oldest run of the chain goes, up to the first record still in
        the period: the chain stays whole from the new checkpoint. Refuses
        (``AuditChainBroken``) when what it would remove does not verify.
        """
        cutoff = (at or now()) - self.retention.period
        r = t.audit_records
        async with self._snapshot() as conn:
            head = await _head(conn)
            base = head.base_id
            first_kept = await conn.scalar(
                sa.select(sa.func.min(r.c.id)).where(r.c.id > base, r.c.at >= cutoff)
            )
            through = head.last_id if first_kept is None else int(first_kept) - 1
            if through <= base:
                return PurgeResult(0, base, None)
            if base and not await _checkpoint_recorded(conn, base, head.base_hash):
                raise AuditChainBroken(base + 1)
            _, expected_id, through_hash, ok = await _walk(conn, base + 1, head.base_hash, through)
            if not ok or expected_id != through + 1:
                raise AuditChainBroken(expected_id)
        async with self._db.write() as conn:
            locked = await _head(conn, lock=True)
            if locked.base_id != base:
                # Another process purged meanwhile; the next run takes up from there.
                return PurgeResult(0, locked.base_id, None)
            deleted = await conn.execute(sa.delete(r).where(r.c.id > base, r.c.id <= through))
            removed = deleted.rowcount
            if removed != through - base:
                raise AuditChainBroken(base + 1)  # rolls the deletion back
            await conn.execute(
                sa.update(t.audit_head)
                .where(t.audit_head.c.id == 1)
                .values(base_id=through, base_hash=through_hash)
            )
            detail = {
                "removed": removed,
                "through_id": through,
                "through_hash": through_hash,
                "retention_days": self.retention.days,
                "cutoff": cutoff.astimezone(dt.UTC).isoformat(),
            }
            (record,) = await _append(conn, [_system_values(PURGE_ACTION, detail)])
        # The head's hash in the logs too: an anchor outside the database.
        logger.info(
            "audit log purged",
            extra={
                "audit_removed": removed,
                "audit_through_id": through,
                "audit_head_id": record.id,
                "audit_head_hash": record.hash,
            },
        )
        return PurgeResult(removed, through, record)

    @contextlib.asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A read transaction that sees one state throughout: the walk and the head
        agree even while others append."""
        if self._db.dialect == "postgresql":
            async with self._db.engine.connect() as conn:
                await conn.execution_options(isolation_level="REPEATABLE READ")
                async with conn.begin():
                    yield conn
        else:
            # SQLite in WAL keeps a read transaction's snapshot from its first read.
            async with self._db.read() as conn:
                yield conn


async def purge_periodically(
    audit: AuditLog,
    *,
    stop: asyncio.Event,
    clock: Callable[[], dt.datetime] = now,
) -> None:
    """Purge at once, then every ``retention.purge_every_s`` until ``stop`` is set:
    the background task of a serving gateway."""

    async def purge() -> None:
        try:
            await audit.purge(clock())
        except AuditChainBroken as exc:
            logger.error(
                "audit chain broken: nothing purged",
                extra={"audit_first_broken_id": exc.first_broken_id},
            )

    def failed(exc: Exception) -> None:
        # The store's error text may quote SQL: its type is enough here.
        logger.error("audit purge failed: %s", type(exc).__name__)

    await every(audit.retention.purge_every_s, stop, purge, failed=failed)


async def check_store_key(url: str, key: bytes) -> None:
    """``AuditKeyMismatch`` unless ``key`` is the audit key of the store at ``url``
    (its schema brought up to date first): ``serve`` asks before its server
    starts, where uvicorn would bury the message in a traceback."""
    from gateway.store.database import create_engine

    db = Database(create_engine(url))
    try:
        await db.migrate()
        await AuditLog(db, key).check_key()
    finally:
        await db.close()


async def verify_store(url: str, key: bytes) -> ChainCheck:
    """Verify the audit chain of the store at ``url`` (a command's body)."""
    from gateway.store.store import Store

    async with await Store.open(url, audit_key=key) as store:
        return await store.audit.verify_chain()


async def purge_store(
    url: str, key: bytes, retention: AuditRetention, at: dt.datetime | None = None
) -> PurgeResult:
    """Purge the audit log of the store at ``url`` (a command's body)."""
    from gateway.store.store import Store

    async with await Store.open(url, audit_key=key) as store:
        return await AuditLog(store.db, key, retention).purge(at)


_KEY_CHECK = sa.select(t.audit_head.c.key_check).where(t.audit_head.c.id == 1)
_CLAIM_KEY = (
    sa.update(t.audit_head)
    .where(t.audit_head.c.id == 1, t.audit_head.c.key_check.is_(None))
    .values(key_check=sa.bindparam("b_check"))
)


async def _head(conn: AsyncConnection, *, lock: bool = False) -> sa.Row[Any]:
    query = sa.select(t.audit_head).where(t.audit_head.c.id == 1)
    # The lock on the head row makes appenders take turns: each sees the hash
    # its predecessor committed, so the chain cannot fork.
    return (await conn.execute(query.with_for_update() if lock else query)).one()


async def _append(conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[AuditRecord]:
    head = await _head(conn, lock=True)
    last_id, last_hash = head.last_id, head.last_hash
    for values in rows:
        last_id += 1
        values["id"], values["prev_hash"] = last_id, last_hash
        values["hash"] = last_hash = record_hash(values)
    await conn.execute(sa.insert(t.audit_records), rows)
    await conn.execute(
        sa.update(t.audit_head)
        .where(t.audit_head.c.id == 1)
        .values(last_id=last_id, last_hash=last_hash)
    )
    return [_record(values) for values in rows]


async def record_form(
    audit: AuditLog,
    *,
    actor: Account,
    action: str,
    channel: Channel | str,
    credit_code: str | None,
    detail: dict[str, Any],
    result: AuditResult | str = AuditResult.ALLOWED,
    conn: AsyncConnection | None = None,
) -> AuditRecord:
    """Append to ``audit`` the record of one file of the registration form
    (``FORM_ACTIONS``): exported, uploaded, or fetched back marked, by ``actor``
    through ``channel``, for the unit ``credit_code`` (None: several, or none known).
    No worker: ``detail`` says how many rows and within what (scope, filters), never a
    worker's data. Given ``conn``, a write transaction of the log's store, the record
    is part of it."""
    if action not in FORM_ACTIONS:
        raise ValueError(f"{action!r} is not an act on a form's file")
    values = _system_values(action, detail) | {
        "actor_id": actor.id,
        "actor_username": actor.username,
        "actor_role": Role(actor.role).value,
        "credit_code": credit_code,
        "channel": Channel(channel).value,
        "result": AuditResult(result).value,
    }
    if conn is not None:
        (appended,) = await _append(conn, [values])
        return appended
    async with audit._db.write() as own:
        (appended,) = await _append(own, [values])
    return appended


def account_change(
    audit: AuditLog,
    *,
    actor: Account | None,
    action: str,
    channel: Channel | str | None,
    detail: dict[str, Any],
) -> Callable[[AsyncConnection], Awaitable[None]]:
    """``audit.record_account`` to run in the change's own transaction (the ``also``
    of ``Accounts``' changes): stored if and only if the change is."""

    async def record(conn: AsyncConnection) -> None:
        await audit.record_account(
            actor=actor, action=action, channel=channel, detail=detail, conn=conn
        )

    return record


def _system_values(action: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": now(),
        "actor_id": None,
        "actor_username": None,
        "actor_role": None,
        "action": action,
        "worker_id_type": None,
        "worker_masked": None,
        "worker_key": None,
        "credit_code": None,
        "channel": None,
        "result": AuditResult.ALLOWED.value,
        "reference": None,
        "detail": _detail_text(detail),
    }


async def _walk(
    conn: AsyncConnection, start_id: int, prev: str, through: int | None = None
) -> tuple[int, int, str, bool]:
    """Check records from ``start_id`` (through ``through``, or to the end): how
    many held, the id expected next, the last good hash, and whether all held."""
    r = t.audit_records
    checked, expected_id = 0, start_id
    while True:
        query = sa.select(r).where(r.c.id >= expected_id).order_by(r.c.id).limit(_VERIFY_BATCH)
        if through is not None:
            query = query.where(r.c.id <= through)
        rows = (await conn.execute(query)).all()
        for row in rows:
            values = row._asdict()
            if (
                values["id"] != expected_id
                or values["prev_hash"] != prev
                or record_hash(values) != values["hash"]
            ):
                return checked, expected_id, prev, False
            checked, expected_id, prev = checked + 1, expected_id + 1, values["hash"]
        if len(rows) < _VERIFY_BATCH:
            return checked, expected_id, prev, True


async def _checkpoint_recorded(conn: AsyncConnection, base_id: int, base_hash: str) -> bool:
    """Whether the newest purge record names this checkpoint (a purge is always
    newer than what it removed, so its record outlives it)."""
    r = t.audit_records
    detail = await conn.scalar(
        sa.select(r.c.detail)
        .where(r.c.action == PURGE_ACTION, r.c.actor_id.is_(None))
        .order_by(r.c.id.desc())
        .limit(1)
    )
    if detail is None:
        return False
    try:
        said = json.loads(detail)
    except ValueError:
        return False
    return bool(said.get("through_id") == base_id and said.get("through_hash") == base_hash)


def _record(values: dict[str, Any]) -> AuditRecord:
    detail = values.get("detail")
    return AuditRecord(
        id=values["id"],
        at=values["at"],
        actor_id=values["actor_id"],
        actor_username=values["actor_username"],
        actor_role=None if values["actor_role"] is None else Role(values["actor_role"]),
        action=values["action"],
        worker_id_type=values["worker_id_type"],
        worker_masked=values["worker_masked"],
        worker_key=values["worker_key"],
        credit_code=values["credit_code"],
        channel=None if values["channel"] is None else Channel(values["channel"]),
        result=AuditResult(values["result"]),
        prev_hash=values["prev_hash"],
        hash=values["hash"],
        reference=values.get("reference"),
        detail=None if detail is None else json.loads(detail),
    )
