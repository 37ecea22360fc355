"""The form's HTTP side: the template, the marked workbook, and the upload limit.

``GET /forms/registration-template.xlsx`` answers anyone (the form is public);
for a signed-in employer its header is filled in. ``GET /forms/marked/{token}.xlsx``
answers only a caller with the uploader's rights, and NOT_FOUND otherwise, as
for a link that expired. :class:`UploadSizeLimit` gives multipart uploads their
own body limit, every other request keeping the GraphQL body limit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.access import Access, EmployerScope
from gateway.domain.checks import check_credit_code
from gateway.domain.identifiers import normalize_credit_code
from gateway.domain.limits import invalid_text
from gateway.errors import PASSWORD_CHANGE_REQUIRED, Refusal
from gateway.forms.busy import one_at_a_time
from gateway.forms.printing import export_workbook, exported, print_page
from gateway.forms.store import find_marked, marked_detail
from gateway.forms.writing import ExportedRow, as_listed, template
from gateway.http.guards import BodySizeLimit
from gateway.http.view import refusal_response
from gateway.registrations import model as reg
from gateway.registrations.policy import CHINA
from gateway.registrations.ports import RegistrationFilter
from gateway.store.accounts import normalize_username
from gateway.store.audit import EXPORT_ACTION, MARKED_FORM_ACTION, record_form
from gateway.store.model import AuditResult
from gateway.store.registrations.erasing import erased_worker_key

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOT_FOUND = Refusal("NOT_FOUND", "No such workbook.", "未找到该工作簿。")
NO_REGISTRATION = Refusal("NOT_FOUND", "No such registration.", "未找到该登记。")
BAD_CREDIT_CODE = Refusal(
    "BAD_INPUT",
    "creditCode is not a unified social credit code (18 characters, GB 32100).",
    "creditCode 不是有效的统一社会信用代码（18 位，GB 32100）。",
    field="creditCode",
)
BAD_FILTER = Refusal(
    "BAD_INPUT",
    "A filter is not valid: state and business are the graph's values, channel its value "
    "in lower case (service_window), dates are 2024-03-01.",
    "筛选条件无效：状态与业务类别取值同 GraphQL，渠道取小写值（如 service_window），"
    "日期格式如 2024-03-01。",
)


def _bad_day(field: str) -> Refusal:
    return Refusal(
        "BAD_INPUT",
        f"{field} is not a day the export can start or end at: give a date such as "
        "2024-03-01, whose midnight in the province lies between the years 1 and 9999 in UTC.",
        f"{field} 不是导出可以起止的日期：请提供形如 2024-03-01 的日期，"
        "其在本省的零时须在协调世界时 1 年至 9999 年之间。",
        field=field,
    )


class _BadDay(Exception):
    """A ``from`` or ``to`` that is no date, or whose bound lies beyond the calendar."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def _local_midnight(field: str, text: str, *, days_after: int = 0) -> dt.datetime:
    """The start of the day ``days_after`` the date ``text`` where the province is
    (UTC+8), as an aware time in UTC; :class:`_BadDay` naming ``field`` when ``text`` is
    no date or that time lies beyond the years 1 to 9999 in UTC (the store converts every
    time to UTC: 0001-01-01 at midnight there is in year 0, and 9999-12-31 has no next
    day)."""
    try:
        day = dt.date.fromisoformat(text) + dt.timedelta(days=days_after)
        return dt.datetime.combine(day, dt.time(), tzinfo=CHINA).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise _BadDay(field) from None


#: One export of an account at a time in a process (``gateway/forms/busy.py``).
EXPORT_BUSY = Refusal(
    "FORM_EXPORT_BUSY",
    "Another export of this account is being written: ask again when it is done.",
    "本账号的另一份导出正在生成，请在其完成后再请求。",
)
#: Seconds a refused export is told to wait (an export of 10,000 rows takes about 5 s).
EXPORT_RETRY_AFTER_S = 5


class _ExportBusy(Exception):
    """Raised by ``one_at_a_time`` while another export of the account is written."""


FORBIDDEN = Refusal("FORBIDDEN", "Your role may not do this.", "您的角色无权进行此操作。")
UNAUTHENTICATED = Refusal("UNAUTHENTICATED", "Sign in first.", "请先登录。")


def _refused(caller: Any) -> Response | None:
    """The answer to a caller who may not fetch workers' data: not signed in with an
    account, or signed in with a password an administrator gave and not yet changed."""
    if caller.account is None:
        return refusal_response(401, UNAUTHENTICATED)
    if caller.account.password_must_change:
        return refusal_response(403, PASSWORD_CHANGE_REQUIRED)
    return None


#: ``gateway.app.authenticate``: (gateway, Authorization header) -> its Caller
#: (``account``, ``proven``, ``refused``), passed in to keep this module below the app.
Authenticate = Callable[[Any, str | None], Awaitable[Any]]


class UploadSizeLimit:
    """``BodySizeLimit`` with ``upload_bytes`` for ``multipart/form-data`` bodies (the
    form's uploads) and ``body_bytes`` for everything else."""

    def __init__(self, app: ASGIApp, *, body_bytes: int, upload_bytes: int) -> None:
        self.body = BodySizeLimit(app, max_bytes=body_bytes)
        self.upload = BodySizeLimit(app, max_bytes=upload_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http = scope["type"] == "http"
        content_type = Headers(scope=scope).get("content-type", "") if http else ""
        multipart = content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"
        await (self.upload if multipart else self.body)(scope, receive, send)


def _xlsx(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


#: What the template says of the columns the systems switched on add
#: (``FormSettings.instructions``).
Instructions = tuple[tuple[str, str], ...]


@functools.lru_cache(maxsize=2)
def _blank_template(systems: tuple[str, ...], instructions: Instructions = ()) -> bytes:
    """The template for anyone not signed in as an employer: the same bytes every time,
    written once (the route is public)."""
    return template({}, systems=systems, instructions=instructions)


@functools.lru_cache(maxsize=64)
def _employer_template(
    credit_code: str,
    unit_name: str | None,
    systems: tuple[str, ...],
    instructions: Instructions = (),
) -> bytes:
    """An employer's template, its header filled in: written once for the employers
    asking lately (about 65 KB each). Writing one takes a fifth of a second of CPU,
    which an employer's rate limit (600 requests a minute) let one account ask ten
    times a second, all the same bytes."""
    header = {"credit_code": credit_code, "unit_name": unit_name}
    return template(header, systems=systems, instructions=instructions)


def form_routes(authenticate: Authenticate) -> list[Route]:
    """The routes, with the gateway's own ``authenticate`` (bearer tokens)."""

    async def registration_template(request: Request) -> Response:
        gw = request.app.state.gateway
        caller = await authenticate(gw, request.headers.get("authorization"))
        if caller.refused:
            return refusal_response(401, UNAUTHENTICATED)
        code = caller.account.credit_code if caller.account is not None else None
        code = code or (caller.proven.credit_code if caller.proven is not None else None)
        on, said = gw.config.forms.systems, gw.config.forms.instructions
        if code is not None:
            record = await gw.store.employers.get(code)
            name = record.name if record else None
            # Writing a workbook is CPU work: off the event loop.
            content = await asyncio.to_thread(_employer_template, code, name, on, said)
        else:
            content = await asyncio.to_thread(_blank_template, on, said)
        return _xlsx(content, "registration-template.xlsx")

    async def marked_workbook(request: Request) -> Response:
        gw = request.app.state.gateway
        caller = await authenticate(gw, request.headers.get("authorization"))
        refused = _refused(caller)
        if refused is not None:
            return refused
        access = Access.of(caller.account, gw.config.reveal_roles)
        token = request.path_params["token"]
        found = await find_marked(gw, token)
        if found is None:  # no such link, or expired: nobody's data
            return refusal_response(404, NOT_FOUND)
        allowed = access.may_fetch_marked_form(found.owner)
        # The uploaded rows, in full: a read of those workers' data, or an attempt.
        await record_form(
            gw.store.audit,
            actor=caller.account,
            action=MARKED_FORM_ACTION,
            channel=access.channel,
            credit_code=found.credit_code,
            result=AuditResult.ALLOWED if allowed else AuditResult.NOT_FOUND,
            detail=marked_detail(gw, token, found),
        )
        if not allowed:
            return refusal_response(404, NOT_FOUND)
        return _xlsx(found.content, "registration-form-marked.xlsx")

    async def export(request: Request) -> Response:
        gw = request.app.state.gateway
        caller = await authenticate(gw, request.headers.get("authorization"))
        refused = _refused(caller)
        if refused is not None:
            return refused
        access = Access.of(caller.account, gw.config.reveal_roles)
        q = request.query_params
        try:
            states = [reg.RegistrationState(s) for s in q.getlist("state")] or None
            business = reg.Business(q["business"]) if "business" in q else None
            channel = reg.Channel(q["channel"]) if "channel" in q else None
            # The days a clerk means, in the province: from local midnight to local midnight.
            since = _local_midnight("from", q["from"]) if "from" in q else None
            until = _local_midnight("to", q["to"], days_after=1) if "to" in q else None
        except _BadDay as bad:
            return refusal_response(400, _bad_day(bad.field))
        except ValueError:
            return refusal_response(400, BAD_FILTER)
        scope = access.employer_scope()
        code = normalize_credit_code(q.get("creditCode") or "") or None
        if code is not None and check_credit_code(code):
            # Written into the form's header: only a credit code (NUL there was a 500).
            return refusal_response(400, BAD_CREDIT_CODE)
        if invalid_text(q.get("actor", "")):
            return refusal_response(400, BAD_FILTER)
        narrowed = scope.narrowed_to(code) if code else scope
        actor = normalize_username(q["actor"]) if q.get("actor") else None
        try:
            with one_at_a_time(gw.exporting, caller.account.id, _ExportBusy):
                items: list[ExportedRow] = []
                units: list[str] = []  # each row's unit, for the audit record
                limit, after = gw.config.forms.max_rows, None
                while narrowed is not None and len(items) < limit:
                    # Every condition in the store's query: filtered here, a day long ago
                    # was found by reading every registration since, and a recent one by
                    # reading all.
                    page = await gw.store.registrations.list(
                        RegistrationFilter(
                            narrowed.credit_codes,
                            narrowed.divisions,
                            states,
                            business,
                            channel=channel,
                            actor_username=actor,
                            since=since,
                            until=until,
                        ),
                        first=100,
                        after=after,
                    )
                    for r in page.items:
                        item = exported(r, reveal=False)
                        if item is not None:
                            # A list: numbers masked, addresses blank, as the graph's.
                            items.append(as_listed(item))
                            units.append(r.credit_code)
                    if not page.has_next_page:
                        break
                    after = page.end_cursor
                header: dict[str, str | None] = {}
                if code:
                    record = await gw.store.employers.get(code)
                    # The name on record only for a unit the caller reaches: for any
                    # other, the export is what it is for a code nobody holds (the graph
                    # answers NOT_FOUND alike), not a way to learn which units the
                    # gateway holds and their names.
                    reached = record is not None and access.may_reach_employer(
                        record.credit_code, record.division
                    )
                    header = {"credit_code": code, "unit_name": record.name if reached else None}
                content = await gw.in_workbook_thread(
                    export_workbook,
                    header,
                    items[:limit],
                    systems=gw.config.forms.systems,
                    instructions=gw.config.forms.instructions,
                )
                # Many workers' data read at once: one record of the file, before it goes.
                exported_units = sorted(set(units[:limit]))
                await record_form(
                    gw.store.audit,
                    actor=caller.account,
                    action=EXPORT_ACTION,
                    channel=access.channel,
                    credit_code=code or _one(exported_units) or _one(scope.credit_codes),
                    detail=_export_detail(
                        q, code, actor, scope, exported_units, len(units[:limit])
                    ),
                )
        except _ExportBusy:
            return refusal_response(
                429, EXPORT_BUSY, headers={"Retry-After": str(EXPORT_RETRY_AFTER_S)}
            )
        return _xlsx(content, "registrations.xlsx")

    async def print_registration(request: Request) -> Response:
        gw = request.app.state.gateway
        caller = await authenticate(gw, request.headers.get("authorization"))
        refused = _refused(caller)
        if refused is not None:
            return refused
        access = Access.of(caller.account, gw.config.reveal_roles)
        wanted = request.path_params["id"]
        # An id with NUL in it cannot exist (and PostgreSQL's text cannot even look for it).
        found = None if invalid_text(wanted) else await gw.store.registrations.get(wanted)
        if found is None or not access.may_reach_employer(found.credit_code, found.division):
            return refusal_response(404, NO_REGISTRATION)
        item = exported(found, reveal=access.may_reveal())
        if item is None:
            return refusal_response(404, NO_REGISTRATION)
        if not access.may_reveal():
            # The graph gives the addresses only with the full numbers (``worker``).
            item = as_listed(item)
        # One worker's personal data is read: the audit log says who, for whom.
        await gw.store.audit.record(
            actor=caller.account,
            action="print_registration",
            id_type=item.row.id_type,
            id_number=from_key(found.person_key) if found.erased_at is None else item.row.id_number,
            credit_code=found.credit_code,
            channel=access.channel,
            result=AuditResult.ALLOWED,
            reference=found.id,
            # Erased, the registration keeps the worker's keyed hash, not the number.
            worker_key=erased_worker_key(found.person_key) if found.erased_at else None,
        )
        record = await gw.store.employers.get(found.credit_code)
        header = {"credit_code": found.credit_code, "unit_name": record.name if record else None}
        content = await asyncio.to_thread(print_page, header, item, systems=gw.config.forms.systems)
        return _xlsx(content, f"registration-{found.id}.xlsx")

    return [
        Route("/forms/registration-template.xlsx", registration_template, methods=["GET"]),
        Route("/forms/marked/{token}.xlsx", marked_workbook, methods=["GET"]),
        Route("/forms/registrations.xlsx", export, methods=["GET"]),
        Route("/forms/registrations/{id}/print.xlsx", print_registration, methods=["GET"]),
    ]


#: Units named in an export's audit record, at most (past it, their number only).
EXPORT_UNITS_NAMED = 100


def _one(codes: Sequence[str] | None) -> str | None:
    """The one unit of ``codes``; None for none or several."""
    return codes[0] if codes is not None and len(codes) == 1 else None


def _export_detail(
    q: QueryParams,
    code: str | None,
    actor: str | None,
    scope: EmployerScope,
    units: list[str],
    rows: int,
) -> dict[str, Any]:
    """What an export's audit record says of it: the filters as given (normalised),
    the caller's scope, how many rows of how many units. Nothing of a worker."""
    filters: dict[str, Any] = {}
    if q.getlist("state"):
        filters["state"] = [reg.RegistrationState(s).value for s in q.getlist("state")]
    for name, kind in (("business", reg.Business), ("channel", reg.Channel)):
        if name in q:
            filters[name] = kind(q[name]).value
    for name in ("from", "to"):
        if name in q:
            filters[name] = q[name]
    if code:
        filters["creditCode"] = code
    if actor:
        filters["actor"] = actor
    reach: dict[str, Any] = {}
    if scope.credit_codes is not None:
        reach["credit_codes"] = list(scope.credit_codes)
    if scope.divisions is not None:
        reach["divisions"] = list(scope.divisions)
    detail: dict[str, Any] = {
        "rows": rows,
        "units": len(units),
        "filters": filters,
        "scope": reach or {"all": True},
    }
    if len(units) <= EXPORT_UNITS_NAMED:
        detail["credit_codes"] = units
    return detail


def from_key(person_key: str | None) -> str:
    """The ID number of a registration's ``person_key`` (``TYPE:NUMBER``)."""
    return (person_key or ":").split(":", 1)[1]
