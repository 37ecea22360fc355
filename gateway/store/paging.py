"""Opaque cursors for keyset pagination.

A cursor names the last item seen, not an offset, so that a page stays right
while rows are added. It carries the name of its list, so that a cursor from
one list is refused by another instead of being read as nonsense.
"""

from __future__ import annotations

import base64
import binascii

from gateway.store.model import InvalidCursor

#: The largest page any list gives out.
MAX_PAGE = 100


def check_first(first: int) -> int:
    if not 0 <= first <= MAX_PAGE:
        raise ValueError(f"first must be between 0 and {MAX_PAGE}")
    return first


def encode_cursor(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> str:
    """The key inside ``cursor``, which must come from the list ``kind``."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("invalid cursor") from None
    found, sep, key = text.partition(":")
    # NUL is no key of any list (and PostgreSQL's text cannot even compare with it).
    if found != kind or not sep or not key or "\x00" in key:
        raise InvalidCursor("invalid cursor")
    return key
