"""Legacy records of the unemployment system ⇄ the unified model: pure functions.

The system speaks compact pinyin field names (``zjhm``, ``jcldgxrq``…), its own
code tables and ``YYYYMMDD`` dates. Everything that turns those into the
unified model, or back, lives here, so that the client stays I/O only and the
stand-in stores exactly what the real system would.

Only the reason for unemployment (``syyy``) is lossy: the system has six codes
for the twelve unified reasons. Reading a code back gives a representative
(``REASON_FROM_LEGACY``), chosen so as not to attribute a fault the system
never recorded.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from gateway.domain.model import (
    Education,
    EmployerProfile,
    EndReason,
    Gender,
    IdType,
    Person,
    System,
    UnemploymentRegistration,
    UnemploymentRequest,
    UnemploymentState,
)
from gateway.privacy import redact
from gateway.systems import AdapterError, Duplicate, NotFound, Rejected, Unavailable


class LegacyFormatError(ValueError):
    """A record from the system that does not follow its own contract.

    ``field`` is the legacy field at fault; the value is never kept, since it
    may be personal data.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


# ------------------------------------------------------------------ codes

ID_TYPE_TO_LEGACY: dict[IdType, str] = {
    IdType.RESIDENT_ID: "SFZ",
    IdType.HK_MACAO_PERMIT: "GATXZ",
    IdType.TAIWAN_PERMIT: "TWTXZ",
    IdType.FOREIGN_PASSPORT: "HZ",
    IdType.HMT_RESIDENCE_PERMIT: "JZZ",
    IdType.FOREIGN_PERMANENT_RESIDENT_ID: "YJZ",
}
ID_TYPE_FROM_LEGACY: dict[str, IdType] = {v: k for k, v in ID_TYPE_TO_LEGACY.items()}

GENDER_TO_LEGACY: dict[Gender, str] = {Gender.MALE: "M", Gender.FEMALE: "F"}
GENDER_FROM_LEGACY: dict[str, Gender] = {v: k for k, v in GENDER_TO_LEGACY.items()}

# The system's whcd is the employment system's coarse aac011 set, which is
# also the unified Education table: the codes are the same strings.
EDUCATION_TO_LEGACY: dict[Education, str] = {e: e.value for e in Education}
EDUCATION_FROM_LEGACY: dict[str, Education] = {e.value: e for e in Education}

REASON_TO_LEGACY: dict[EndReason, str] = {
    EndReason.EXPIRY: "01",
    EndReason.BY_UNIT_FOR_CAUSE: "02",
    EndReason.BY_UNIT_NO_FAULT: "02",
    EndReason.ECONOMIC_LAYOFF: "02",
    EndReason.AGREEMENT: "03",
    EndReason.BY_WORKER_NOTICE: "04",
    EndReason.BY_WORKER_UNIT_FAULT: "04",
    EndReason.BANKRUPTCY: "05",
    EndReason.CLOSURE: "05",
    EndReason.RETIREMENT: "99",
    EndReason.DEATH: "99",
    EndReason.OTHER_TERMINATION: "99",
}
#: The representative read back for each coarse code. ``02`` reads as a
#: no-fault rescission (art. 40) and ``04`` as an ordinary resignation
#: (art. 37): the system never recorded whose fault it was, so the gateway
#: must not show one. ``05`` reads as closure, the wider of the two; ``99``
#: as the catch-all termination.
REASON_FROM_LEGACY: dict[str, EndReason] = {
    "01": EndReason.EXPIRY,
    "02": EndReason.BY_UNIT_NO_FAULT,
    "03": EndReason.AGREEMENT,
    "04": EndReason.BY_WORKER_NOTICE,
    "05": EndReason.CLOSURE,
    "99": EndReason.OTHER_TERMINATION,
}

STATE_TO_LEGACY: dict[UnemploymentState, str] = {
    UnemploymentState.REGISTERED: "1",
    UnemploymentState.CANCELLED: "2",
}
STATE_FROM_LEGACY: dict[str, UnemploymentState] = {v: k for k, v in STATE_TO_LEGACY.items()}

#: GB/T 3304: the 56 groups, ``97`` other, ``98`` foreign-born Chinese citizen.
ETHNICITY_CODES: frozenset[str] = frozenset([f"{n:02d}" for n in range(1, 57)] + ["97", "98"])

#: Legacy field → unified field, for errors that name a field. The unit's
#: ``dwmc`` and the person's ``xm`` are both a ``name`` in the unified model.
FIELD_NAMES: dict[str, str] = {
    "tyshxydm": "credit_code",
    "dwmc": "name",
    "xzqh": "division",
    "dwbh": "employer_id",
    "zjlx": "id_type",
    "zjhm": "id_number",
    "xm": "name",
    "xb": "gender",
    "mz": "ethnicity",
    "whcd": "education",
    "sjhm": "mobile",
    "hjdz": "household_address",
    "jzdz": "current_address",
    "jcldgxrq": "relation_ended_on",
    "syyy": "reason",
    "djbh": "reference",
    "djrq": "registered_on",
    "zt": "state",
    "pageNo": "page",
    "pageSize": "size",
}

#: The fields of a registration row, in the contract's order.
ROW_FIELDS: tuple[str, ...] = (
    "djbh",
    "dwbh",
    "zjlx",
    "zjhm",
    "xm",
    "xb",
    "mz",
    "whcd",
    "sjhm",
    "hjdz",
    "jzdz",
    "jcldgxrq",
    "syyy",
    "djrq",
    "zt",
)
#: The fields of a registration request, in the contract's order.
REGISTRATION_FIELDS: tuple[str, ...] = ROW_FIELDS[1:12]
UNIT_FIELDS: tuple[str, ...] = ("tyshxydm", "dwmc", "xzqh")

_FIELD_TOKEN = re.compile(r"[A-Za-z]+")


def unified_field(legacy: str) -> str | None:
    """The unified name of a legacy field, or None when it is not one."""
    return FIELD_NAMES.get(legacy)


def field_named_in(message: str) -> str | None:
    """The first legacy field a system message names, as its legacy name.

    The contract only says that a 40001 message names the field; a word that
    is one of the dictionary's fields is taken to be that name.
    """
    for token in _FIELD_TOKEN.findall(message):
        if token in FIELD_NAMES:
            return token
    return None


def translate_field_names(message: str) -> str:
    """Replace the legacy field names in a system message by the unified ones."""
    return _FIELD_TOKEN.sub(lambda m: FIELD_NAMES.get(m.group(0), m.group(0)), message)


# ------------------------------------------------------------------ dates


def date_to_legacy(value: dt.date) -> str:
    return value.strftime("%Y%m%d")


def date_from_legacy(value: str) -> dt.date:
    """Parse ``YYYYMMDD`` strictly: eight digits and a real day."""
    if len(value) != 8 or not value.isascii() or not value.isdigit():
        raise ValueError("not a YYYYMMDD date")
    return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))


# ---------------------------------------------------------- unified → legacy


def employer_to_legacy(profile: EmployerProfile) -> dict[str, str]:
    """The body of ``POST /sy/dw``. The system keeps no contact person."""
    return {"tyshxydm": profile.credit_code, "dwmc": profile.name, "xzqh": profile.division}


def person_to_legacy(person: Person) -> dict[str, str | None]:
    return {
        "zjlx": ID_TYPE_TO_LEGACY[person.id_type],
        "zjhm": person.id_number,
        "xm": person.name,
        "xb": GENDER_TO_LEGACY[person.gender],
        "mz": person.ethnicity,
        "whcd": EDUCATION_TO_LEGACY[person.education],
        "sjhm": person.mobile,
        "hjdz": person.household_address,
        "jzdz": person.current_address,
    }


def registration_to_legacy(request: UnemploymentRequest) -> dict[str, str | None]:
    """The body of ``POST /sy/djxx``."""
    return {
        "dwbh": request.employer_id,
        **person_to_legacy(request.person),
        "jcldgxrq": date_to_legacy(request.relation_ended_on),
        "syyy": REASON_TO_LEGACY[request.reason],
    }


def record_to_legacy(record: UnemploymentRegistration) -> dict[str, str | None]:
    """A whole row, as the system answers it (used by the stand-in's seed)."""
    return {
        "djbh": record.reference,
        **registration_to_legacy(
            UnemploymentRequest(
                record.employer_id, record.person, record.relation_ended_on, record.reason
            )
        ),
        "djrq": date_to_legacy(record.registered_on),
        "zt": STATE_TO_LEGACY[record.state],
    }


# ---------------------------------------------------------- legacy → unified


def _text(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value:
        raise LegacyFormatError(name, "missing")
    return value


def _optional_text(row: Mapping[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise LegacyFormatError(name, "not a string")
    return value


def _code(row: Mapping[str, Any], name: str, table: Mapping[str, Any]) -> Any:
    value = _text(row, name)
    if value not in table:
        raise LegacyFormatError(name, "unknown code")
    return table[value]


def _date(row: Mapping[str, Any], name: str) -> dt.date:
    try:
        return date_from_legacy(_text(row, name))
    except ValueError as exc:
        if isinstance(exc, LegacyFormatError):
            raise
        raise LegacyFormatError(name, "not a YYYYMMDD date") from None


def person_from_legacy(row: Mapping[str, Any]) -> Person:
    return Person(
        id_type=_code(row, "zjlx", ID_TYPE_FROM_LEGACY),
        id_number=_text(row, "zjhm"),
        name=_text(row, "xm"),
        gender=_code(row, "xb", GENDER_FROM_LEGACY),
        ethnicity=_text(row, "mz"),
        education=_code(row, "whcd", EDUCATION_FROM_LEGACY),
        mobile=_optional_text(row, "sjhm"),
        household_address=_optional_text(row, "hjdz"),
        current_address=_optional_text(row, "jzdz"),
    )


def registration_from_legacy(row: Mapping[str, Any]) -> UnemploymentRegistration:
    """One row of ``GET /sy/djxx``; raises LegacyFormatError naming the legacy field."""
    return UnemploymentRegistration(
        reference=_text(row, "djbh"),
        employer_id=_text(row, "dwbh"),
        person=person_from_legacy(row),
        relation_ended_on=_date(row, "jcldgxrq"),
        reason=_code(row, "syyy", REASON_FROM_LEGACY),
        registered_on=_date(row, "djrq"),
        state=_code(row, "zt", STATE_FROM_LEGACY),
    )


def employer_from_legacy(unit: Mapping[str, Any]) -> tuple[str, EmployerProfile]:
    """The answer of ``GET /sy/dw/{tyshxydm}``: the unit's dwbh and its profile."""
    return _text(unit, "dwbh"), EmployerProfile(
        credit_code=_text(unit, "tyshxydm"),
        name=_text(unit, "dwmc"),
        division=_text(unit, "xzqh"),
    )


# ------------------------------------------------------------------ errors

#: The fields whose values are personal data, scrubbed from system messages.
PERSONAL_FIELDS: tuple[str, ...] = ("zjhm", "xm", "sjhm", "hjdz", "jzdz")

_SYSTEM = System.UNEMPLOYMENT


def _detail(errmsg: Any, personal: Iterable[str]) -> str:
    """The system's message, fit to leave the adapter: unified field names,
    no value we sent (a name cannot be recognised by pattern), IDs masked."""
    if not isinstance(errmsg, str) or not errmsg.strip():
        return ""
    text = translate_field_names(errmsg.strip())
    for value in sorted({v for v in personal if len(v) >= 2}, key=len, reverse=True):
        text = text.replace(value, "***")
    return ": " + redact(text)


def error_from_answer(
    status: int,
    body: Any,
    *,
    retry_after: float | None = None,
    write: bool = False,
    personal: Iterable[str] = (),
) -> AdapterError:
    """The unified error for an answer that is not a success.

    ``personal`` are the personal values of the request, kept out of the
    message. A 5xx other than 503 may follow a commit, so for a write its
    outcome is unknown; a 503 is the system refusing work before doing any.
    """
    detail = _detail(body.get("errmsg") if isinstance(body, dict) else None, personal)
    # The system's own words apart, as a Chinese message quotes them (AdapterError.said).
    return _error(status, body, detail, retry_after, write).saying(detail.removeprefix(": "))


def _error(
    status: int, body: Any, detail: str, retry_after: float | None, write: bool
) -> AdapterError:
    errcode = body.get("errcode") if isinstance(body, dict) else None
    code = str(errcode) if isinstance(errcode, int) and not isinstance(errcode, bool) else None
    errmsg = body.get("errmsg") if isinstance(body, dict) else None
    system_code = code or f"HTTP {status}"

    if status == 503:
        what = "in its maintenance window" if code == "50300" else "unavailable"
        return Unavailable(_SYSTEM, f"the system is {what}", retry_after=retry_after)
    if status >= 500:
        return Unavailable(_SYSTEM, f"server error{detail}", outcome_unknown=write)
    if status == 401:
        return Rejected(
            _SYSTEM, "the system refused the gateway's credentials", system_code=system_code
        )
    if code == "40901":
        existing = body.get("dwbh") if isinstance(body, dict) else None
        return Duplicate(
            _SYSTEM,
            f"the unit is already open{detail}",
            system_code=code,
            field="credit_code",
            existing_reference=existing if isinstance(existing, str) and existing else None,
        )
    if code == "40902":
        return Duplicate(
            _SYSTEM,
            f"the person already has an active unemployment registration{detail}",
            system_code=code,
            field="id_number",
        )
    if code == "40401":
        return NotFound(_SYSTEM, f"no such unit{detail}", system_code=code, field="employer_id")
    if code == "40402":
        return NotFound(
            _SYSTEM, f"no such registration{detail}", system_code=code, field="reference"
        )
    if code == "40903":
        return Rejected(_SYSTEM, f"the registration is already cancelled{detail}", system_code=code)
    if code == "40001":
        named = field_named_in(errmsg) if isinstance(errmsg, str) else None
        field = unified_field(named) if named else None
        what = f"invalid field {field}" if field else "invalid field"
        return Rejected(_SYSTEM, f"{what}{detail}", system_code=code, field=field)
    if code == "40003":
        return Rejected(
            _SYSTEM, f"page too large (at most 20){detail}", system_code=code, field="size"
        )
    if status == 404:
        return NotFound(_SYSTEM, f"not found{detail}", system_code=system_code)
    if status == 409:
        return Duplicate(_SYSTEM, f"already exists{detail}", system_code=system_code)
    return Rejected(_SYSTEM, f"refused{detail}", system_code=system_code)
