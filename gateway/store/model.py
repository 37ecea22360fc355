"""What the store hands out: accounts, employers, audit records, pages, and its errors.

Frozen dataclasses with no database in them; the repositories build them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from gateway.auth import Role
from gateway.domain.model import EmployerProfile, System

T = TypeVar("T")

_DIVISION = re.compile(r"\d{6}")


class StoreError(Exception):
    """Base of the store's errors. Messages name no personal data."""


class DuplicateUsername(StoreError):
    def __init__(self, username: str) -> None:
        super().__init__(f"the username {username!r} is taken")
        self.username = username


class AccountNotFound(StoreError):
    def __init__(self, username: str) -> None:
        super().__init__(f"no account {username!r}")
        self.username = username


class InvalidRecord(StoreError, ValueError):
    """A value the store refuses to keep (a malformed division code...)."""


class InvalidAccount(InvalidRecord):
    """An account that breaks a rule (role without its binding, bad username...)."""


class WeakPassword(InvalidAccount):
    """A new password the policy refuses (``gateway.passwords``): a stable code and
    two messages, none of which repeats the password."""

    def __init__(self, code: str, message_en: str, message_zh: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_en = message_en
        self.message_zh = message_zh


class EmployerNotFound(StoreError):
    def __init__(self, credit_code: str) -> None:
        super().__init__(f"no employer with credit code {credit_code}")
        self.credit_code = credit_code


class BindingConflict(StoreError):
    """The system id is already bound to another unit, or this unit to another id."""


class InvalidCursor(StoreError, ValueError):
    """A pagination cursor that this list did not give out."""


class Channel(StrEnum):
    """Where a request came from (DESIGN.md, item 5 of the notice)."""

    GOVERNMENT_PORTAL = "government_portal"
    EMPLOYMENT_SERVICE_HALL = "employment_service_hall"
    SERVICE_WINDOW = "service_window"


class AuditResult(StrEnum):
    ALLOWED = "allowed"
    REFUSED = "refused"
    NOT_FOUND = "not_found"


def check_division(code: str) -> str:
    """A GB/T 2260 six-digit code, or ``InvalidRecord``."""
    if not _DIVISION.fullmatch(code):
        raise InvalidRecord(f"a division is six digits (GB/T 2260), not {code!r}")
    return code


def division_prefix(code: str) -> str:
    """The prefix every division under ``code`` starts with.

    GB/T 2260 is a hierarchy: ``370000`` is the province, ``370100`` a city in
    it, ``370102`` a district of that city. A window bound to a city acts for
    the units of all its districts.
    """
    check_division(code)
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def covers_division(divisions: Iterable[str], division: str) -> bool:
    """True when ``division`` is one of ``divisions`` or lies under one of them."""
    return any(division.startswith(division_prefix(d)) for d in divisions)


@dataclass(frozen=True, slots=True)
class Account:
    """A person who signs in to the gateway. The password hash never leaves the store."""

    id: int
    username: str
    role: Role
    display_name: str | None
    credit_code: str | None  # employers: their unit
    divisions: tuple[str, ...]  # clerks: where their window acts
    disabled: bool
    created_at: dt.datetime
    #: When the account's sessions were last ended, its password set or the
    #: account disabled (None: never): the gateway's own tokens issued before
    #: then are refused.
    credentials_changed_at: dt.datetime | None = None
    #: The password was given by an administrator, who knows it: the account's
    #: sessions may only change it (``changePassword``) until it is changed.
    password_must_change: bool = False
    #: The last sign-in with a password (None: never since it was recorded).
    last_signed_in_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True, init=False)
class EmployerRecord:
    """A unit as the gateway knows it, with its id in each system that knows it.

    ``ids`` maps a system to the unit's id there (a system missing: not bound
    yet). ``employment_id``, ``labour_id`` and ``unemployment_id`` are kept as
    arguments and properties for the core systems.
    """

    credit_code: str
    name: str
    division: str
    ids: Mapping[System, str]
    updated_at: dt.datetime | None  # set by the store

    def __init__(
        self,
        credit_code: str,
        name: str,
        division: str,
        employment_id: str | None = None,
        labour_id: str | None = None,
        unemployment_id: str | None = None,
        updated_at: dt.datetime | None = None,
        *,
        ids: Mapping[System, str | None] | None = None,
    ) -> None:
        found: dict[System, str] = {}
        core = (
            (System.EMPLOYMENT, employment_id),
            (System.LABOUR, labour_id),
            (System.UNEMPLOYMENT, unemployment_id),
        )
        for system, employer_id in [*core, *(ids or {}).items()]:
            if employer_id:
                found[System(system)] = employer_id
        object.__setattr__(self, "credit_code", credit_code)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "division", division)
        object.__setattr__(self, "ids", MappingProxyType(found))
        object.__setattr__(self, "updated_at", updated_at)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EmployerRecord):
            return NotImplemented
        return (self.credit_code, self.name, self.division, dict(self.ids), self.updated_at) == (
            other.credit_code,
            other.name,
            other.division,
            dict(other.ids),
            other.updated_at,
        )

    def __hash__(self) -> int:
        return hash((self.credit_code, self.name, self.division, self.updated_at))

    def __reduce__(self) -> tuple[Any, ...]:
        # Cached by pickling (gateway/cache.py); a mapping proxy does not pickle.
        return (
            _employer_record,
            (self.credit_code, self.name, self.division, dict(self.ids), self.updated_at),
        )

    def __repr__(self) -> str:
        ids = ", ".join(f"{s}={i!r}" for s, i in self.ids.items())
        return f"EmployerRecord({self.credit_code!r}, {self.name!r}, {self.division!r}, {ids})"

    def profile(self) -> EmployerProfile:
        """The unit as the gateway holds it (contact and phone are not kept)."""
        return EmployerProfile(self.credit_code, self.name, self.division)

    def system_id(self, system: System) -> str | None:
        """The unit's id in ``system``, None while it is not bound there."""
        return self.ids.get(system)

    def replace(self, **changes: Any) -> EmployerRecord:
        """A copy with ``changes`` (``ids`` replaces every binding)."""
        values: dict[str, Any] = {
            "credit_code": self.credit_code,
            "name": self.name,
            "division": self.division,
            "updated_at": self.updated_at,
            "ids": dict(self.ids),
        }
        values.update(changes)
        return EmployerRecord(**values)

    @property
    def employment_id(self) -> str | None:
        return self.ids.get(System.EMPLOYMENT)

    @property
    def labour_id(self) -> str | None:
        return self.ids.get(System.LABOUR)

    @property
    def unemployment_id(self) -> str | None:
        return self.ids.get(System.UNEMPLOYMENT)


def _employer_record(
    credit_code: str,
    name: str,
    division: str,
    ids: dict[System, str],
    updated_at: dt.datetime | None,
) -> EmployerRecord:
    return EmployerRecord(credit_code, name, division, updated_at=updated_at, ids=ids)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One read or write (or refused attempt) of one worker's personal data, or an
    act of the gateway on the log itself (a purge: no actor, channel or worker)."""

    id: int  # position in the chain
    at: dt.datetime
    actor_id: int | None
    actor_username: str | None
    actor_role: Role | None
    action: str
    worker_id_type: str | None
    worker_masked: str | None  # for display: first 6 and last 4 characters
    worker_key: str | None  # keyed hash of the full number, for searching
    credit_code: str | None
    channel: Channel | None
    result: AuditResult
    prev_hash: str
    hash: str
    reference: str | None = None  # the registration written, if any
    detail: dict[str, Any] | None = None  # no personal data


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """The outcome of walking the audit chain from its checkpoint (0: the start)."""

    ok: bool
    checked: int
    first_broken_id: int | None = None
    checkpoint_id: int = 0
    last_id: int = 0


@dataclass(frozen=True, slots=True)
class CursorPage(Generic[T]):
    """A slice of a list, with a cursor after each item (Relay-style pagination)."""

    items: list[T]
    cursors: list[str]
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None
