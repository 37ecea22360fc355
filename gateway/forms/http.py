"""The form's HTTP side: the template, the marked workbook, and the upload limit.

``GET /forms/registration-template.xlsx`` answers anyone (the form is public);
for a signed-in employer its header is filled in. ``GET /forms/marked/{token}.xlsx``
answers only a caller with the uploader's rights, and NOT_FOUND otherwise, as
for a link that expired. :class:`UploadSizeLimit` gives multipart uploads their
own body limit, every other request keeping the GraphQL body limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.access import Access
from gateway.errors import Refusal
from gateway.forms.store import fetch_marked
from gateway.forms.writing import template
from gateway.http.guards import BodySizeLimit
from gateway.http.view import refusal_response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOT_FOUND = Refusal("NOT_FOUND", "No such workbook.", "未找到该工作簿。")
UNAUTHENTICATED = Refusal("UNAUTHENTICATED", "Sign in first.", "请先登录。")


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


def form_routes(authenticate: Authenticate) -> list[Route]:
    """The routes, with the gateway's own ``authenticate`` (bearer tokens)."""

    async def registration_template(request: Request) -> Response:
        gw = request.app.state.gateway
        caller = await authenticate(gw, request.headers.get("authorization"))
        if caller.refused:
            return refusal_response(401, UNAUTHENTICATED)
        header: dict[str, str | None] = {}
        code = caller.account.credit_code if caller.account is not None else None
        code = code or (caller.proven.credit_code if caller.proven is not None else None)
        if code is not None:
            record = await gw.store.employers.get(code)
            header = {"credit_code": code, "unit_name": record.name if record else None}
        content = template(header, social_insurance=gw.config.forms.social_insurance)
        return _xlsx(content, "registration-template.xlsx")

    async def marked_workbook(request: Request) -> Response:
        gw = request.app.state.gateway
        caller = await authenticate(gw, request.headers.get("authorization"))
        if caller.account is None:
            return refusal_response(401, UNAUTHENTICATED)
        access = Access.of(caller.account, gw.config.reveal_roles)
        content = await fetch_marked(gw, access, request.path_params["token"])
        if content is None:
            return refusal_response(404, NOT_FOUND)
        return _xlsx(content, "registration-form-marked.xlsx")

    return [
        Route("/forms/registration-template.xlsx", registration_template, methods=["GET"]),
        Route("/forms/marked/{token}.xlsx", marked_workbook, methods=["GET"]),
    ]
