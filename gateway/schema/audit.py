"""The audit log in the graph, for administrators: who read or wrote which
worker's data, and whether the chain of records is whole.

Workers appear masked only. A search by a worker's full ID number is matched
on its keyed hash, and is itself recorded (``search_audit_log``), allowed or
refused: looking up who touched a person's data is a look-up of that person.
Listings without a worker are not recorded: they show masked data only, and a
record per listing would bury the reads that matter.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

import strawberry
from strawberry.scalars import JSON

from gateway.domain import model
from gateway.domain.identifiers import normalize_credit_code
from gateway.errors import (
    aware,
    bad_input,
    check_first,
    check_id_number_length,
    forbidden,
    invalid_cursor,
)
from gateway.registrations import model as reg
from gateway.schema.context import Context
from gateway.schema.enums import IdType, register
from gateway.store.audit import SEARCH_ACTION
from gateway.store.model import AuditRecord, AuditResult, ChainCheck, InvalidCursor

register(
    AuditResult,
    "审计结果: what became of the act.",
    {
        AuditResult.ALLOWED.name: ("已执行", "Allowed: done or read"),
        AuditResult.REFUSED.name: ("已拒绝", "Refused: the caller may not"),
        AuditResult.NOT_FOUND.name: ("未找到", "Not found, or out of the caller's reach"),
    },
)


@strawberry.input(description="Which audit records to list (all given conditions hold).")
class AuditLogFilter:
    worker_id_type: IdType | None = strawberry.field(
        default=None, description="证件类型: only records of workers with this ID type."
    )
    worker_id_number: str | None = strawberry.field(
        default=None,
        description="证件号码: one worker's full ID number (give workerIdType too). Searched "
        "by its keyed hash; never stored. The search itself is recorded.",
    )
    actor: str | None = strawberry.field(default=None, description="经办账号: a user name.")
    credit_code: str | None = strawberry.field(
        default=None, description="统一社会信用代码: for this employer."
    )
    since: dt.datetime | None = strawberry.field(
        default=None, description="From this time on (included), with its time zone."
    )
    until: dt.datetime | None = strawberry.field(
        default=None, description="Before this time (excluded), with its time zone."
    )
    action: str | None = strawberry.field(
        default=None,
        description="操作: e.g. `read_worker`, `submit_hire`, `submit_renew`, `submit_end`, "
        "`submit_separate`, `search_audit_log`, `search_registrations`, `purge_audit_log`, "
        "`print_registration`; the form's files, one record each, no worker: "
        "`export_registrations`, `import_registration_form`, `fetch_marked_form`; "
        "and an administrator's changes to clerks' accounts: `create_clerk`, "
        "`set_clerk_divisions`, `set_clerk_password`, `disable_clerk`, `enable_clerk`.",
    )


@strawberry.type(
    description="审计记录: one read or write of one worker's data, a change to a clerk's "
    "account, or a purge."
)
class AuditEntry:
    record: strawberry.Private[AuditRecord]

    @strawberry.field(description="Its place in the chain (grows by one per record).")
    def position(self) -> int:
        return self.record.id

    @strawberry.field(description="时间: when (UTC).")
    def at(self) -> dt.datetime:
        return self.record.at

    @strawberry.field(description="经办账号: the user name, null for the gateway's own acts.")
    def actor(self) -> str | None:
        return self.record.actor_username

    @strawberry.field(description="角色: `employer`, `clerk` or `admin` at the time.")
    def role(self) -> str | None:
        return None if self.record.actor_role is None else str(self.record.actor_role)

    @strawberry.field(description="操作: what was done (`read_worker`, `submit_hire`...).")
    def action(self) -> str:
        return self.record.action

    @strawberry.field(description="证件类型 of the worker concerned.")
    def worker_id_type(self) -> IdType | None:
        value = self.record.worker_id_type
        return None if value is None else model.IdType(value)

    @strawberry.field(description="证件号码, masked (first 6 and last 4 characters).")
    def worker(self) -> str | None:
        return self.record.worker_masked

    @strawberry.field(description="统一社会信用代码 of the employer it was done for.")
    def credit_code(self) -> str | None:
        return self.record.credit_code

    @strawberry.field(description="办理渠道.")
    def channel(self) -> reg.Channel | None:
        value = self.record.channel
        return None if value is None else reg.Channel(value.value)

    @strawberry.field(description="结果: allowed, refused, or not found.")
    def result(self) -> AuditResult:
        return self.record.result

    @strawberry.field(description="The registration written, for a submission.")
    def registration_id(self) -> strawberry.ID | None:
        value = self.record.reference
        return None if value is None else strawberry.ID(value)

    @strawberry.field(
        description="For a purge: how many records it removed (`removed`), through which "
        "position (`through_id`), and the retention in days; for a change to a clerk's "
        "account: the account (`account`) and, where they changed, its `divisions`. JSON, no "
        "personal data, never a password."
    )
    def detail(self) -> JSON | None:
        return None if self.record.detail is None else cast(JSON, self.record.detail)

    @strawberry.field(description="哈希: SHA-256 over this record and the previous one's hash.")
    def hash(self) -> str:
        return self.record.hash

    @strawberry.field(description="The previous record's hash.")
    def prev_hash(self) -> str:
        return self.record.prev_hash


@strawberry.type(description="A page of audit records, newest first.")
class AuditLogConnection:
    nodes: list[AuditEntry] = strawberry.field(description="The records of this page.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")
    has_next_page: bool = strawberry.field(description="Whether more follow.")


@strawberry.type(description="审计链校验: whether the records still form one unbroken chain.")
class AuditChain:
    check: strawberry.Private[ChainCheck]
    first_broken: AuditEntry | None = strawberry.field(
        description="The first record that does not hold, if it is still there (null when "
        "it was removed, or when all is well)."
    )

    @strawberry.field(description="True when every record is in place and unchanged.")
    def ok(self) -> bool:
        return self.check.ok

    @strawberry.field(description="How many records were checked and held.")
    def checked(self) -> int:
        return self.check.checked

    @strawberry.field(description="Position of the first record that does not hold.")
    def first_broken_position(self) -> int | None:
        return self.check.first_broken_id

    @strawberry.field(
        description="Where the chain now starts: the last position removed by a purge "
        "past the retention period (0: nothing purged yet)."
    )
    def checkpoint(self) -> int:
        return self.check.checkpoint_id

    @strawberry.field(description="The newest position.")
    def last_position(self) -> int:
        return self.check.last_id


async def _record_search(ctx: Context, f: AuditLogFilter, allowed: bool) -> None:
    assert f.worker_id_type is not None and f.worker_id_number is not None
    await ctx.gateway.store.audit.record(
        actor=ctx.require_account(),
        action=SEARCH_ACTION,
        id_type=f.worker_id_type,
        id_number=f.worker_id_number,
        credit_code=None,
        channel=ctx.access.channel,
        result=AuditResult.ALLOWED if allowed else AuditResult.REFUSED,
    )


async def audit_log(
    ctx: Context, f: AuditLogFilter | None, first: int, after: str | None
) -> AuditLogConnection:
    """The records matching ``f``: administrators only (others: FORBIDDEN)."""
    access = ctx.access  # signed in, or refused before anything else
    f = f or AuditLogFilter()
    number = (f.worker_id_number or "").strip() or None
    if number is not None:
        check_id_number_length("workerIdNumber", number)
    if number is not None and f.worker_id_type is None:
        raise bad_input(
            "workerIdType",
            "Give the worker's ID type with the ID number.",
            "请同时提供证件类型和证件号码。",
        )
    if not access.may_read_audit():
        if number is not None:
            await _record_search(ctx, f, allowed=False)
        raise forbidden()
    check_first(first)
    since, until = aware("since", f.since), aware("until", f.until)
    store = ctx.gateway.store
    audit = store.audit
    actor_id: int | None = None
    if f.actor is not None:
        actor = await store.accounts.get(f.actor.strip())
        if actor is None:
            return AuditLogConnection(nodes=[], end_cursor=None, has_next_page=False)
        actor_id = actor.id
    key = None
    if number is not None and f.worker_id_type is not None:
        key = audit.worker_key(f.worker_id_type, number)
    try:
        page = await audit.query(
            worker_key=key,
            worker_id_type=f.worker_id_type,
            actor=actor_id,
            credit_code=normalize_credit_code(f.credit_code) if f.credit_code else None,
            since=since,
            until=until,
            action=f.action,
            first=first,
            after=after,
        )
    except InvalidCursor:
        raise invalid_cursor() from None
    if number is not None:
        # After the query: the search does not find itself.
        await _record_search(ctx, f, allowed=True)
    return AuditLogConnection(
        nodes=[AuditEntry(record=r) for r in page.items],
        end_cursor=page.end_cursor,
        has_next_page=page.has_next_page,
    )


async def audit_chain(ctx: Context) -> AuditChain:
    """Whether the chain verifies: administrators only (others: FORBIDDEN)."""
    if not ctx.access.may_read_audit():
        raise forbidden()
    audit = ctx.gateway.store.audit
    check = await audit.verify_chain()
    broken = None
    if check.first_broken_id is not None:
        record = await audit.get(check.first_broken_id)
        broken = None if record is None else AuditEntry(record=record)
    return AuditChain(check=check, first_broken=broken)


__all__ = [
    "AuditChain",
    "AuditEntry",
    "AuditLogConnection",
    "AuditLogFilter",
    "audit_chain",
    "audit_log",
]
