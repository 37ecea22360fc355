"""What the arguments several fields share say of themselves (the SDL's argument
descriptions, GraphiQL's documentation pane): one wording for one rule.

Each says what the code does (``gateway.errors.check_first``, the request limits
of ``gateway.schema.limits``, ``gateway.store.paging``, the registrar's checks of
an idempotency key and ``gateway.store.registrations``' replays); a rule changed
there is changed here. Numbers come from where the code keeps them, but for
``KEY_MAX``.
"""

from __future__ import annotations

from gateway.config import GatewayConfig
from gateway.errors import MAX_ID_NUMBER
from gateway.passwords import MIN_PASSWORD_LENGTH
from gateway.profile import RequestLimits
from gateway.store.paging import MAX_PAGE

__all__ = [
    "AFTER",
    "CREDIT_CODE",
    "FIRST",
    "ID_NUMBER",
    "ID_TYPE",
    "KEY",
    "NEW_PASSWORD",
    "REGISTRATION_ID",
    "WORKERS_AFTER",
]

#: The longest idempotency key (the registrar's ``_check_key``).
KEY_MAX = 128

KEY = (
    f"幂等键 (idempotency key): 1 to {KEY_MAX} printable characters (BAD_IDEMPOTENCY_KEY "
    "otherwise), one per submission, compared with the acting account's own keys only. The "
    "same key with the same content returns the first answer's registrations "
    "(`replayed: true`): send it again after a timeout. The same key with other content is "
    "IDEMPOTENCY_KEY_REUSED. A key is taken only when something is stored (an answer with "
    "problems and nothing stored leaves it free), and kept for "
    f"`policy.idempotencyKeyHours` ({GatewayConfig().idempotency_ttl_s / 3600:g} by default)."
)

FIRST = (
    f"每页条数: how many on this page, 1 to {MAX_PAGE} (default 20). Over the request "
    f"limit (HRSS_MAX_PAGE_SIZE, {RequestLimits().max_page_size} by default) it is "
    "PAGE_TOO_LARGE, refused before anything runs; below 1, BAD_INPUT on `first`."
)

AFTER = (
    "游标: the `endCursor` of the page before, from this same list; the page starts after "
    "the item it names (an item, not an offset: items added since shift nothing). One "
    "that is no cursor, or another list's, is BAD_INPUT on `after`. Null: the first page."
)

WORKERS_AFTER = (
    "游标: a row's `cursor` (the page before's `pageInfo.endCursor`); the page starts after "
    "that position in the unit's list of people. One the list did not give out is "
    "BAD_INPUT on `after`: another shape, or a position written otherwise or past any "
    "list, before any system is asked; a position past this list, once it is read. The "
    "last row's cursor gives an empty page. Null: the first page."
)

CREDIT_CODE = (
    "统一社会信用代码 of the employer (GB 32100, 18 characters; full-width characters, "
    "spaces, hyphens and lower case are read as the code). An employer account may leave "
    "it out for its own unit; anyone else gives it (BAD_INPUT on `creditCode` without "
    "it). A unit the caller may not reach is NOT_FOUND, as one that does not exist."
)

ID_TYPE = "证件类型 of the person (with `idNumber`)."

ID_NUMBER = (
    "证件号码: the person's full number (full-width characters, spaces, hyphens and lower "
    f"case are read as the number). Longer than {MAX_ID_NUMBER} characters: BAD_INPUT on "
    "`idNumber`; a number no document of `idType` can have (a wrong check character, say): "
    "null, with no system asked."
)

REGISTRATION_ID = (
    "The registration's `id`, as a submission's answer or `registrations` gives it. One "
    "that does not exist, or that the caller may not see, is NOT_FOUND."
)

NEW_PASSWORD = (
    f"新密码: checked as every new password is: at least {MIN_PASSWORD_LENGTH} characters, "
    "not containing the user name, neither leaked in a breach nor easy to guess "
    "(PASSWORD_TOO_SHORT, PASSWORD_CONTAINS_USERNAME, PASSWORD_BREACHED, "
    "PASSWORD_TOO_COMMON, with field `newPassword`)."
)
