"""Legacy records of the social insurance system ⇄ the unified model: pure functions.

The system speaks the national dictionary's names (``aac002``, ``jfgz``…), its
own code tables, ``YYYY-MM-DD`` dates and amounts as decimal strings. The
encryption of ``aac002`` and ``aac003`` belongs to the transport (``client.py``):
the records here are in clear.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from adapters.social_insurance.model import (
    SYSTEM,
    AdditionRequest,
    Declaration,
    DeclarationKind,
    DeclarationState,
    Insurance,
    InsuranceState,
    InsuranceType,
    RemovalRequest,
    ReturnReason,
    StopReason,
)
from gateway.domain.checks import is_amount
from gateway.domain.identifiers import birth_date_from_id
from gateway.domain.model import EmployerProfile, Gender, IdType
from gateway.privacy import redact
from gateway.systems import AdapterError, Duplicate, NotFound, Rejected, Unavailable

K = TypeVar("K")
V = TypeVar("V")


class LegacyFormatError(ValueError):
    """A record that does not follow the contract. ``field`` is the legacy field;
    the value is never kept, since it may be personal data."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class MappingError(ValueError):
    """A unified value the system cannot take. ``field`` is the unified name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _inverse(table: Mapping[K, V]) -> dict[V, K]:
    return {v: k for k, v in table.items()}


# ------------------------------------------------------------------ codes

#: ``aac058``: the employment system's document codes (the contract says so).
ID_TYPE_TO_LEGACY: dict[IdType, str] = {
    IdType.RESIDENT_ID: "01",
    IdType.TAIWAN_PERMIT: "06",
    IdType.FOREIGN_PERMANENT_RESIDENT_ID: "07",
    IdType.FOREIGN_PASSPORT: "08",
    IdType.HMT_RESIDENCE_PERMIT: "17",
}
HK_PERMIT, MACAO_PERMIT = "04", "05"
ID_TYPE_FROM_LEGACY: dict[str, IdType] = {
    **_inverse(ID_TYPE_TO_LEGACY),
    HK_PERMIT: IdType.HK_MACAO_PERMIT,
    MACAO_PERMIT: IdType.HK_MACAO_PERMIT,
}
GENDER_TO_LEGACY: dict[Gender, str] = {Gender.MALE: "1", Gender.FEMALE: "2"}
GENDER_FROM_LEGACY = _inverse(GENDER_TO_LEGACY)
STOP_REASON_TO_LEGACY: dict[StopReason, str] = {
    StopReason.CONTRACT_ENDED: "01",
    StopReason.LEFT_UNIT: "02",
    StopReason.OTHER: "09",
}
STOP_REASON_FROM_LEGACY = _inverse(STOP_REASON_TO_LEGACY)
KIND_TO_LEGACY: dict[DeclarationKind, str] = {
    DeclarationKind.ADDITION: "ZY",
    DeclarationKind.REMOVAL: "JY",
}
KIND_FROM_LEGACY = _inverse(KIND_TO_LEGACY)
STATE_TO_LEGACY: dict[DeclarationState, str] = {
    DeclarationState.UNDER_REVIEW: "01",
    DeclarationState.APPROVED: "02",
    DeclarationState.RETURNED: "03",
    DeclarationState.WITHDRAWN: "04",
}
STATE_FROM_LEGACY = _inverse(STATE_TO_LEGACY)
RETURN_REASON_TO_LEGACY: dict[ReturnReason, str] = {
    ReturnReason.RECORDS_DIFFER: "R01",
    ReturnReason.WAGE_OUT_OF_RANGE: "R02",
    ReturnReason.INSURED_ELSEWHERE: "R03",
    ReturnReason.OTHER: "R09",
}
RETURN_REASON_FROM_LEGACY = _inverse(RETURN_REASON_TO_LEGACY)
INSURANCE_STATE_TO_LEGACY: dict[InsuranceState, str] = {
    InsuranceState.INSURED: "1",
    InsuranceState.STOPPED: "2",
}
INSURANCE_STATE_FROM_LEGACY = _inverse(INSURANCE_STATE_TO_LEGACY)
INSURANCE_TYPES = frozenset(t.value for t in InsuranceType)


def id_type_to_legacy(id_type: IdType, id_number: str) -> str:
    """``aac058``; an HK/Macao permit is told apart by the first letter of its number."""
    if id_type is IdType.HK_MACAO_PERMIT:
        first = id_number[:1].upper()
        if first in ("H", "M"):
            return HK_PERMIT if first == "H" else MACAO_PERMIT
        raise MappingError("id_number", "an HK/Macao permit number starts with H or M")
    return ID_TYPE_TO_LEGACY[id_type]


def _code(table: Mapping[str, V], record: Mapping[str, Any], name: str) -> V:
    value = record.get(name)
    if not isinstance(value, str) or value not in table:
        raise LegacyFormatError(name, "not one of the contract's codes")
    return table[value]


# ---------------------------------------------------------- dates, amounts

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_AMOUNT = re.compile(r"\d{1,9}\.\d{2}")


def date_to_legacy(value: dt.date) -> str:
    return value.isoformat()


def date_from_legacy(value: Any, name: str) -> dt.date:
    # fromisoformat alone also takes "20240101", which the contract does not.
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise LegacyFormatError(name, "not a YYYY-MM-DD date")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise LegacyFormatError(name, "not a calendar date") from None


def wage_to_legacy(wage: Decimal) -> str:
    """Yuan with two decimals; a fraction of a cent or a negative wage is not a wage."""
    if not wage.is_finite() or (wage != 0 and not is_amount(wage)):  # zero is a wage here
        raise MappingError("monthly_wage", "the monthly wage must be whole cents, not negative")
    return f"{wage:.2f}"


def wage_from_legacy(value: Any, name: str = "jfgz") -> Decimal:
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise LegacyFormatError(name, "not a decimal amount with two places")
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise LegacyFormatError(name, "not a decimal amount") from None


def birth_date_of(request: AdditionRequest) -> dt.date:
    """The date of birth given, or the one the worker's document carries (a resident
    ID, a residence permit, the new foreign permanent resident ID: GB 11643's digits
    7 to 14), read as the row's check reads it (``birth_date_from_id``): a row the
    check let through without a date must not be refused here after the core wrote."""
    if request.birth_date is not None:
        return request.birth_date
    person = request.person
    carried = birth_date_from_id(person.id_type, person.id_number.upper())
    if carried is not None:
        return carried
    raise MappingError("birth_date", "the date of birth is needed for this document")


# ------------------------------------------------------------ unified → legacy


def employer_to_legacy(profile: EmployerProfile) -> dict[str, str]:
    return {"tyshxydm": profile.credit_code, "dwmc": profile.name, "xzqh": profile.division}


def addition_to_legacy(request: AdditionRequest) -> dict[str, Any]:
    p = request.person
    if not request.insurance_types:
        raise MappingError("insurance_types", "at least one insurance type is needed")
    return {
        "dwbh": request.employer_id,
        "aac058": id_type_to_legacy(p.id_type, p.id_number),
        "aac002": p.id_number,
        "aac003": p.name,
        "aac004": GENDER_TO_LEGACY[p.gender],
        "csrq": date_to_legacy(birth_date_of(request)),
        "cbrq": date_to_legacy(request.start_date),
        "jfgz": wage_to_legacy(request.monthly_wage),
        # The system's order, one each: a set in a list.
        "xzlx": sorted({t.value for t in request.insurance_types}),
    }


def removal_to_legacy(request: RemovalRequest) -> dict[str, Any]:
    return {
        "dwbh": request.employer_id,
        "aac058": id_type_to_legacy(request.id_type, request.id_number),
        "aac002": request.id_number,
        "tbrq": date_to_legacy(request.stop_date),
        "tbyy": STOP_REASON_TO_LEGACY[request.reason],
    }


def person_to_legacy(id_type: IdType, id_number: str) -> dict[str, str]:
    """The body of ``insured/search``."""
    return {"aac058": id_type_to_legacy(id_type, id_number), "aac002": id_number}


def search_to_legacy(employer_id: str, id_type: IdType, id_number: str) -> dict[str, str]:
    """The body of ``declarations/search``."""
    return {"dwbh": employer_id, **person_to_legacy(id_type, id_number)}


# ------------------------------------------------------------ legacy → unified


def _text(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value:
        raise LegacyFormatError(name, "missing")
    return value


def _optional_text(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise LegacyFormatError(name, "not text")
    return value or None


def employer_from_legacy(unit: Mapping[str, Any]) -> tuple[str, EmployerProfile]:
    """The unit's insurance number and its profile as the system holds it."""
    profile = EmployerProfile(_text(unit, "tyshxydm"), _text(unit, "dwmc"), _text(unit, "xzqh"))
    return _text(unit, "dwbh"), profile


def declaration_from_legacy(row: Mapping[str, Any]) -> Declaration:
    sbsj = _text(row, "sbsj")
    try:
        declared_at = dt.datetime.fromisoformat(sbsj)
    except ValueError:
        raise LegacyFormatError("sbsj", "not an ISO date-time") from None
    thyy = row.get("thyy")
    sxrq = row.get("sxrq")
    return Declaration(
        reference=_text(row, "slh"),
        kind=_code(KIND_FROM_LEGACY, row, "ywlx"),
        employer_id=_text(row, "dwbh"),
        id_type=_code(ID_TYPE_FROM_LEGACY, row, "aac058"),
        id_number=_text(row, "aac002"),
        state=_code(STATE_FROM_LEGACY, row, "zt"),
        declared_at=declared_at,
        return_reason=None if thyy is None else _code(RETURN_REASON_FROM_LEGACY, row, "thyy"),
        return_note=_optional_text(row, "thsm"),
        insurance_number=_optional_text(row, "grbh"),
        effective_on=None if sxrq is None else date_from_legacy(sxrq, "sxrq"),
    )


def insurance_from_legacy(row: Mapping[str, Any]) -> Insurance:
    tbrq = row.get("tbrq")
    return Insurance(
        employer_id=_text(row, "dwbh"),
        insurance_number=_text(row, "grbh"),
        start_date=date_from_legacy(row.get("cbrq"), "cbrq"),
        stop_date=None if tbrq is None else date_from_legacy(tbrq, "tbrq"),
        state=_code(INSURANCE_STATE_FROM_LEGACY, row, "zt"),
    )


# ------------------------------------------------------------ field names

FIELD_NAMES: dict[str, str] = {
    "tyshxydm": "credit_code",
    "dwbh": "employer_id",
    "dwmc": "name",
    "xzqh": "division",
    "aac058": "id_type",
    "aac002": "id_number",
    "aac003": "name",
    "aac004": "gender",
    "csrq": "birth_date",
    "cbrq": "start_date",
    "jfgz": "monthly_wage",
    "xzlx": "insurance_types",
    "tbrq": "stop_date",
    "tbyy": "stop_reason",
    "slh": "reference",
}
#: The personal values of a request, kept out of every message.
PERSONAL_FIELDS = ("aac002", "aac003")
_FIELD_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def unified_field(legacy: str) -> str | None:
    return FIELD_NAMES.get(legacy)


def field_named_in(message: str) -> str | None:
    """The first dictionary field a 1400 message names (the contract: "naming the field")."""
    return next((t for t in _FIELD_TOKEN.findall(message) if t in FIELD_NAMES), None)


def _detail(message: Any, personal: Iterable[str]) -> str:
    """The system's message, fit to leave the adapter: unified field names, no
    value we sent (a name has no pattern to mask), ID-like runs masked."""
    if not isinstance(message, str) or not message.strip():
        return ""
    text = _FIELD_TOKEN.sub(lambda m: FIELD_NAMES.get(m.group(0), m.group(0)), message.strip())
    for value in sorted({v for v in personal if len(v) >= 2}, key=len, reverse=True):
        text = text.replace(value, "***")
    return ": " + redact(text)


# ------------------------------------------------------------------ errors

UNIT_EXISTS = "1001"
ADDITION_EXISTS = "1002"
NOT_INSURED_HERE = "1003"
NO_SUCH_UNIT = "1004"
NO_SUCH_DECLARATION = "1005"
INVALID_FIELD = "1400"
NOT_UNDER_REVIEW = "1409"
BAD_SIGNATURE, STALE_TIMESTAMP, NONCE_REUSED = "4010", "4011", "4012"
OVER_QUOTA = "4290"
MAINTENANCE = "5030"


def error_from_answer(
    status: int,
    body: Any,
    *,
    retry_after: float | None = None,
    write: bool = False,
    personal: Iterable[str] = (),
) -> AdapterError:
    """The unified error for an answer that is not a success.

    A refusal before any work (401, 429, 503) leaves a write surely undone; a
    502 or another 5xx may follow a commit, so for a write its outcome is unknown.
    """
    detail = _detail(body.get("message") if isinstance(body, dict) else None, personal)
    # The system's own words apart, as a Chinese message quotes them (AdapterError.said).
    return _error(status, body, detail, retry_after, write).saying(detail.removeprefix(": "))


def _error(
    status: int, body: Any, detail: str, retry_after: float | None, write: bool
) -> AdapterError:
    envelope = body if isinstance(body, dict) else {}
    raw_code = envelope.get("code")
    code = raw_code if isinstance(raw_code, str) else None
    system_code = code or f"HTTP {status}"
    if status == 429 or code == OVER_QUOTA:
        return Unavailable(SYSTEM, "over the system's request quota", retry_after=retry_after)
    if status == 503:
        what = "in its maintenance window" if code == MAINTENANCE else "unavailable"
        return Unavailable(SYSTEM, f"the system is {what}", retry_after=retry_after)
    if status >= 500:
        return Unavailable(SYSTEM, f"server error (HTTP {status})", outcome_unknown=write)
    if code == NONCE_REUSED:
        # Every request gets a fresh nonce: a replay refusal was not our request's doing,
        # and the system did nothing with it. Sending again is safe.
        return Unavailable(SYSTEM, "the system took the request for a replay")
    if status == 401 or code in (BAD_SIGNATURE, STALE_TIMESTAMP):
        what = "clock differs from ours" if code == STALE_TIMESTAMP else "refused our signature"
        return Rejected(SYSTEM, f"the system's {what}", system_code=system_code)
    if code == UNIT_EXISTS:
        data = envelope.get("data")
        existing = data.get("dwbh") if isinstance(data, dict) else None
        return Duplicate(
            SYSTEM,
            f"the unit is already registered{detail}",
            system_code=code,
            field="credit_code",
            existing_reference=existing if isinstance(existing, str) and existing else None,
        )
    if code == ADDITION_EXISTS:
        return Duplicate(
            SYSTEM,
            f"the worker is insured with the unit or an addition is under review{detail}",
            system_code=code,
            field="id_number",
        )
    if code == NOT_INSURED_HERE:
        return Rejected(
            SYSTEM,
            f"the worker is not insured with the unit, or a removal is under review{detail}",
            system_code=code,
            field="id_number",
        )
    if code == NO_SUCH_UNIT:
        return NotFound(SYSTEM, f"no such unit{detail}", system_code=code, field="employer_id")
    if code == NO_SUCH_DECLARATION:
        return NotFound(SYSTEM, f"no such declaration{detail}", system_code=code, field="reference")
    if code == NOT_UNDER_REVIEW:
        return Rejected(
            SYSTEM, f"the declaration is no longer under review{detail}", system_code=code
        )
    if code == INVALID_FIELD:
        named = field_named_in(envelope.get("message") or "")
        field = unified_field(named) if named else None
        what = f"invalid field {field}" if field else "invalid field"
        return Rejected(SYSTEM, f"{what}{detail}", system_code=code, field=field)
    if code is None:
        # Not the contract's envelope: a proxy's page, a path the system does not serve.
        return Unavailable(SYSTEM, f"unreadable answer (HTTP {status})", outcome_unknown=write)
    return Rejected(SYSTEM, f"refused{detail}", system_code=system_code)
