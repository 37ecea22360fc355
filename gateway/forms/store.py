"""Where a marked workbook waits to be fetched: the gateway's cache, for a while.

The link's token is random (256 bits) and the workbook is kept with the rights
of whoever uploaded it: only a caller with the same rights may fetch it
(``Access.may_fetch_marked_form``), and it is gone after ``marked_ttl_s``. The
cache is shared through Redis when the gateways share one: there the entry's
name holds a keyed hash of the token, not the token (whoever lists the keys
learns no link), and its value (the workbook, every row in full) is sealed
like every value the cache puts in Redis (``gateway/cache.py``).

While Redis cannot be reached the workbook is kept in the process that marked it
(``GatewayCache.keep``), so the upload is answered with its link all the same; in
a deployment of several processes the link then opens only in that one (another
answers 404, as for a link expired), until the workbook expires.

Each fetch, and each attempt by a caller without the rights, is a record of the
audit log (``fetch_marked_form``), written by the route (``gateway/forms/http.py``)
with :func:`marked_detail`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.access import Access, Principal

if TYPE_CHECKING:
    from gateway.services import Gateway

MARKED_PATH = "/forms/marked/{token}.xlsx"
_KEY = "form-marked:{hashed}"


@dataclass(frozen=True, slots=True)
class Marked:
    """A marked workbook as it is kept: whose rights open it, and for the audit log
    the unit its form was for and how many rows it held, when known."""

    owner: Principal
    content: bytes
    credit_code: str | None = None
    rows: int | None = None


def _key(gateway: Gateway, token: str) -> str:
    return _KEY.format(hashed=gateway.cache.keyed("form-marked", token))


def _well_formed(token: str) -> bool:
    return token.replace("-", "").replace("_", "").isalnum() and len(token) <= 64


async def keep_marked(
    gateway: Gateway,
    access: Access,
    content: bytes,
    *,
    credit_code: str | None = None,
    rows: int | None = None,
) -> tuple[str, dt.datetime]:
    """Keep the workbook; its path and when it expires. ``credit_code``: the unit the
    form is for (by default an employer's own), ``rows`` its rows, for the audit log."""
    token = secrets.token_urlsafe(32)
    ttl = gateway.config.forms.marked_ttl_s
    owner = access.principal
    kept = Marked(owner, bytes(content), credit_code or owner.credit_code, rows)
    await gateway.cache.keep(_key(gateway, token), kept, ttl=ttl)
    expires = gateway.clock() + dt.timedelta(seconds=ttl)
    return MARKED_PATH.format(token=token), expires


async def find_marked(gateway: Gateway, token: str) -> Marked | None:
    """The workbook kept under ``token``, whoever may have it; None when there is none
    (never was, expired, or not one the cache could vouch for)."""
    if not _well_formed(token):
        return None
    kept = await gateway.cache.find(_key(gateway, token))
    return kept if isinstance(kept, Marked) else None


async def fetch_marked(gateway: Gateway, access: Access, token: str) -> bytes | None:
    """The workbook, if it is still kept and this caller may have it; None either way."""
    kept = await find_marked(gateway, token)
    if kept is None or not access.may_fetch_marked_form(kept.owner):
        return None
    return kept.content


def token_of(path: str) -> str:
    """The token of a marked workbook's path (``MARKED_PATH``)."""
    return path.rsplit("/", 1)[-1].removesuffix(".xlsx")


def workbook_reference(gateway: Gateway, token: str) -> str:
    """How the audit log names a marked workbook: a keyed hash of its token, the same
    in the record of the import that kept it and of every fetch, and no link."""
    return gateway.cache.keyed("form-marked-audit", token)[:16]


def marked_detail(gateway: Gateway, token: str, kept: Marked) -> dict[str, Any]:
    """What the audit record of a fetch says of the workbook: a keyed hash of its link
    (the same for every fetch of it, and no link), its size, its rows, whose rights
    open it. Nothing of a worker."""
    detail: dict[str, Any] = {
        "workbook": workbook_reference(gateway, token),
        "bytes": len(kept.content),
        "uploaded_by": kept.owner.role.value,
    }
    if kept.rows is not None:
        detail["rows"] = kept.rows
    return detail
