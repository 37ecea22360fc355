"""What the systems' HTTP clients and adapters share."""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import re
import ssl
from typing import Any

from gateway.domain.model import EmployerBinding, EmployerProfile
from gateway.systems import Duplicate, SystemAdapter


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings every client of the gateway verifies servers with.

    httpx builds them (loading the CA bundle, ~20 ms) for every client made
    without them; built once here, as httpx would (``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR`` are honoured), and shared: a context is safe to share.
    """
    import httpx  # here: what imports this module for Retry-After need not load httpx

    return httpx.create_ssl_context()


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` as seconds, from either of its two forms (RFC 9110, 10.2.3):
    delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


async def bind_existing(
    adapter: SystemAdapter, profile: EmployerProfile, refusal: Duplicate
) -> EmployerBinding:
    """After "the unit is already open": bind the unit as the system holds it. The
    look-up checks the claim rather than trusting it; the id the refusal carried
    is the fallback when the look-up finds nothing, and otherwise the refusal stands."""
    existing = await adapter.find_employer(profile.credit_code)
    if existing is not None:
        return existing
    if refusal.existing_reference:
        return EmployerBinding(adapter.system, refusal.existing_reference, profile, created=False)
    raise refusal


_DIGITS = re.compile(r"[0-9]{1,18}")


def untyped_count(value: Any) -> int | None:
    """A count as a contract leaves it (a list's ``total``, untyped): a non-negative
    integer or a string of ASCII digits (at most 18: any list's count); None for
    anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return None
