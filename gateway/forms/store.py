"""Where a marked workbook waits to be fetched: the gateway's cache, for a while.

The link's token is random (256 bits) and the workbook is kept with the rights
of whoever uploaded it: only a caller with the same rights may fetch it
(``Access.may_fetch_marked_form``), and it is gone after ``marked_ttl_s``. The
cache is shared through Redis when the gateways share one.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING

from gateway.access import Access, Principal

if TYPE_CHECKING:
    from gateway.services import Gateway

MARKED_PATH = "/forms/marked/{token}.xlsx"
_KEY = "form-marked:{token}"


async def keep_marked(gateway: Gateway, access: Access, content: bytes) -> tuple[str, dt.datetime]:
    """Keep the workbook; its path and when it expires."""
    token = secrets.token_urlsafe(32)
    ttl = gateway.config.forms.marked_ttl_s
    await gateway.cache.set(_KEY.format(token=token), (access.principal, content), ttl=ttl)
    expires = gateway.clock() + dt.timedelta(seconds=ttl)
    return MARKED_PATH.format(token=token), expires


async def fetch_marked(gateway: Gateway, access: Access, token: str) -> bytes | None:
    """The workbook, if it is still kept and this caller may have it; None either way."""
    if not token.replace("-", "").replace("_", "").isalnum() or len(token) > 64:
        return None
    kept = await gateway.cache.get(_KEY.format(token=token))
    if kept is None:
        return None
    owner, content = kept
    if not isinstance(owner, Principal) or not access.may_fetch_marked_form(owner):
        return None
    return bytes(content)
