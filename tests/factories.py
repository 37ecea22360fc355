"""Valid identifiers for tests, their check characters computed here from the
standards (GB 11643, GB 32100), independently of the code under test."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_counter = itertools.count(1)


def ric_check(body17: str) -> str:
    total = sum(int(c) * w for c, w in zip(body17, _RIC_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def uscc_check(body17: str) -> str:
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total) % 31]


def resident_id(
    *, division: str = "370102", born: dt.date | None = None, female: bool = False
) -> str:
    """A fresh valid resident ID number (unique within the test run unless ``born`` is given)."""
    born = born or unique_born()
    n = next(_counter) % 500
    seq = 2 * n + (0 if female else 1)  # the 17th digit: odd for men, even for women
    body = f"{division}{born:%Y%m%d}{seq:03d}"
    return body + ric_check(body)


def unique_born(offset: int | None = None) -> dt.date:
    """Birth dates spread over the years, so that resident_id() stays unique."""
    k = next(_counter) if offset is None else offset
    return dt.date(1970, 1, 1) + dt.timedelta(days=(k * 37) % 12000)


def credit_code(*, division: str = "370102", prefix: str = "91") -> str:
    """A fresh valid unified social credit code."""
    n = next(_counter)
    body = f"{prefix}{division}MA{n:07d}"[:17]
    body = body.replace("I", "1").replace("O", "0")
    return body + uscc_check(body)


def mobile() -> str:
    return f"139{next(_counter):08d}"


def clerk_account(account_id: int = 1) -> Any:
    """A clerk of the Jinan window (370100), as the store would return it: for tests
    that act as one without a store."""
    from gateway.auth import Role
    from gateway.store import Account

    return Account(
        id=account_id,
        username="window-1",
        role=Role.CLERK,
        display_name=None,
        credit_code=None,
        divisions=("370100",),
        disabled=False,
        created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
