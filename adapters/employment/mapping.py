"""The employment system's records and codes, translated to the unified model and back.

Pure functions only: no I/O. The system speaks in the element codes of its data
dictionary (``aab001``, ``aac147`` …) and its own code tables; nothing of that
leaves this package except a business error's ``system_code``.

Two translations lose information, and the way back picks a documented
representative:

- The unified HK/Macao permit is two codes here, told apart by the number's
  first letter (``H`` → ``04``, ``M`` → ``05``); both come back as one.
- The twelve unified end reasons (by article of the Labour Contract Law) fold
  into six dismissal reasons (``bcc03y``); see ``REASON_FROM_LEGACY`` for what
  each one comes back as.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from gateway.domain.model import (
    DismissalRequest,
    Education,
    EmployerBinding,
    EmployerProfile,
    EmploymentForm,
    EmploymentPersonCategory,
    EmploymentRecord,
    EmploymentRegistrationRequest,
    EmploymentState,
    EndReason,
    Gender,
    IdType,
    Person,
    System,
)
from gateway.privacy import redact
from gateway.systems import AdapterError, Duplicate, NotFound, Rejected

SYSTEM = System.EMPLOYMENT


class MappingError(ValueError):
    """A value has no counterpart on the other side. ``field`` is the unified name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# ------------------------------------------------------------------ codes

_ID_TYPE_TO_LEGACY: dict[IdType, str] = {
    IdType.RESIDENT_ID: "01",
    IdType.TAIWAN_PERMIT: "06",
    IdType.FOREIGN_PERMANENT_RESIDENT_ID: "07",
    IdType.FOREIGN_PASSPORT: "08",
    IdType.HMT_RESIDENCE_PERMIT: "17",
}
HK_PERMIT, MACAO_PERMIT = "04", "05"
ID_TYPE_FROM_LEGACY: dict[str, IdType] = {
    **{code: kind for kind, code in _ID_TYPE_TO_LEGACY.items()},
    HK_PERMIT: IdType.HK_MACAO_PERMIT,
    MACAO_PERMIT: IdType.HK_MACAO_PERMIT,
}

FORM_TO_LEGACY: dict[EmploymentForm, str] = {
    EmploymentForm.FULL_TIME: "1",
    EmploymentForm.PART_TIME: "2",
    EmploymentForm.DISPATCHED: "3",
    EmploymentForm.OTHER: "9",
}
FORM_FROM_LEGACY = {code: form for form, code in FORM_TO_LEGACY.items()}

STATE_TO_LEGACY: dict[EmploymentState, str] = {
    EmploymentState.EMPLOYED: "1",
    EmploymentState.DISMISSED: "2",
    EmploymentState.REVOKED: "9",
}
STATE_FROM_LEGACY = {code: state for state, code in STATE_TO_LEGACY.items()}

REASON_TO_LEGACY: dict[EndReason, str] = {
    EndReason.EXPIRY: "1",
    EndReason.AGREEMENT: "2",
    EndReason.BY_UNIT_FOR_CAUSE: "3",
    EndReason.BY_UNIT_NO_FAULT: "3",
    EndReason.ECONOMIC_LAYOFF: "3",
    EndReason.BY_WORKER_NOTICE: "4",
    EndReason.BY_WORKER_UNIT_FAULT: "4",
    EndReason.BANKRUPTCY: "5",
    EndReason.CLOSURE: "5",
    EndReason.RETIREMENT: "9",
    EndReason.DEATH: "9",
    EndReason.OTHER_TERMINATION: "9",
}
#: The representative each coarse reason comes back as: the article its label
#: names (dismissed by the unit: art. 39; resigned: notice under art. 37; unit
#: closed: closure under art. 44), or "other termination" for ``9``.
REASON_FROM_LEGACY: dict[str, EndReason] = {
    "1": EndReason.EXPIRY,
    "2": EndReason.AGREEMENT,
    "3": EndReason.BY_UNIT_FOR_CAUSE,
    "4": EndReason.BY_WORKER_NOTICE,
    "5": EndReason.CLOSURE,
    "9": EndReason.OTHER_TERMINATION,
}


def id_type_to_legacy(id_type: IdType, id_number: str) -> str:
    """``aac058`` of a document; an HK/Macao permit is told apart by its number."""
    if id_type is IdType.HK_MACAO_PERMIT:
        first = id_number[:1].upper()
        if first == "H":
            return HK_PERMIT
        if first == "M":
            return MACAO_PERMIT
        raise MappingError("id_number", "an HK/Macao permit number starts with H or M")
    return _ID_TYPE_TO_LEGACY[id_type]


def id_type_from_legacy(code: str) -> IdType:
    return _lookup(ID_TYPE_FROM_LEGACY, code, "id_type")


def reason_to_legacy(reason: EndReason) -> str:
    return REASON_TO_LEGACY[reason]


def reason_from_legacy(code: str) -> EndReason:
    return _lookup(REASON_FROM_LEGACY, code, "end_reason")


def form_to_legacy(form: EmploymentForm) -> str:
    return FORM_TO_LEGACY[form]


def form_from_legacy(code: str) -> EmploymentForm:
    return _lookup(FORM_FROM_LEGACY, code, "employment_form")


def state_to_legacy(state: EmploymentState) -> str:
    return STATE_TO_LEGACY[state]


def state_from_legacy(code: str) -> EmploymentState:
    return _lookup(STATE_FROM_LEGACY, code, "state")


def date_to_legacy(value: dt.date) -> str:
    return value.isoformat()


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def date_from_legacy(value: str, field: str) -> dt.date:
    # fromisoformat alone would also take "20240101", which the contract does not allow.
    if not _DATE.fullmatch(value):
        raise MappingError(field, f"{field} is not a YYYY-MM-DD date")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise MappingError(field, f"{field} is not a calendar date") from None


def _lookup(table: Mapping[str, Any], code: str, field: str) -> Any:
    try:
        return table[code]
    except (KeyError, TypeError):
        raise MappingError(field, f"{field} has a code the gateway does not know") from None


def _enum(kind: type[Any], code: Any, field: str) -> Any:
    try:
        return kind(code)
    except ValueError:
        raise MappingError(field, f"{field} has a code the gateway does not know") from None


# ------------------------------------------------------------ field names

#: The unified name of each element the system may name in an error: the
#: column names of the unified registration form, the employer profile's
#: otherwise. ``aab301`` is the employer's division when an employer is opened
#: and the employment-registration locality everywhere else.
FIELD_NAMES: dict[str, str] = {
    "aab001": "employer_id",
    "aab998": "credit_code",
    "aab004": "unit_name",
    "aab301": "employment_locality",
    "aae004": "contact",
    "aae005": "phone",
    "aac001": "system_person_id",
    "aac058": "id_type",
    "aac147": "id_number",
    "aac003": "name",
    "aac004": "gender",
    "aac005": "ethnicity",
    "aac011": "education",
    "aac067": "mobile",
    "aac010": "household_address",
    "aae006": "current_address",
    "aae030": "start_date",
    "bcc03x": "end_date",
    "bcc03y": "end_reason",
    "acc032": "employment_person_category",
    "aac048": "employment_form",
    "aca111": "post",
    "ywlsh": "reference",
    "zt": "state",
    "aac147_list": "id_numbers",
    "page": "page",
    "size": "size",
}
_EMPLOYER_OPERATIONS = frozenset({"unit.open", "unit.get"})
_FIELD_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9_])("
    + "|".join(sorted(map(re.escape, FIELD_NAMES), key=len, reverse=True))
    + r")(?![A-Za-z0-9_])"
)


def unified_field(legacy: str, operation: str | None = None) -> str | None:
    """The unified name of a legacy element, or None when it has none."""
    if legacy == "aab301" and operation in _EMPLOYER_OPERATIONS:
        return "division"
    return FIELD_NAMES.get(legacy)


def field_named_in(message: str, operation: str | None = None) -> str | None:
    """The unified name of the first element a system message names."""
    match = _FIELD_IN_TEXT.search(message)
    return unified_field(match.group(1), operation) if match else None


def clean_message(message: str, operation: str | None = None) -> str:
    """A system message fit to leave the package: personal data masked, element
    codes replaced by unified field names."""
    renamed = _FIELD_IN_TEXT.sub(
        lambda m: unified_field(m.group(1), operation) or m.group(1), message
    )
    return redact(renamed)


# ---------------------------------------------------------------- errors

DUPLICATE_CODES = frozenset({"E2001", "E3001", "E3002"})
NOT_FOUND_CODES = frozenset({"E4001", "E4002", "E4004"})
UNIT_ALREADY_OPEN = "E2001"
UNIT_NOT_FOUND = "E4004"
BAD_CREDENTIALS = "E0401"


def business_error(code: str, msg: str, data: Any, operation: str) -> AdapterError:
    """The unified error for a business answer other than ``"0"``, with the
    system's own words (``said``)."""
    said = clean_message(msg, operation)
    return _business_error(code, msg, said, data, operation).saying(said)


def _business_error(code: str, msg: str, said: str, data: Any, operation: str) -> AdapterError:
    message = said or "the system refused the request"
    field = field_named_in(msg, operation)
    if code in DUPLICATE_CODES:
        existing = data.get("aab001") if isinstance(data, dict) else None
        return Duplicate(
            SYSTEM,
            message,
            system_code=code,
            field=field,
            existing_reference=existing if isinstance(existing, str) else None,
        )
    if code in NOT_FOUND_CODES:
        return NotFound(SYSTEM, message, system_code=code, field=field)
    if code == BAD_CREDENTIALS:
        return Rejected(
            SYSTEM, f"the system refused the gateway's API key: {message}", system_code=code
        )
    return Rejected(SYSTEM, message, system_code=code, field=field)


# --------------------------------------------------------------- records


def employer_to_legacy(profile: EmployerProfile) -> dict[str, Any]:
    """The body of ``POST /unit/open``."""
    return {
        "aab998": profile.credit_code,
        "aab004": profile.name,
        "aab301": profile.division,
        "aae004": profile.contact,
        "aae005": profile.phone,
    }


def employer_from_legacy(unit: Mapping[str, Any]) -> EmployerBinding:
    """A unit as ``GET /unit`` answers it."""
    return EmployerBinding(
        system=SYSTEM,
        employer_id=_required(unit, "aab001"),
        profile=EmployerProfile(
            credit_code=_required(unit, "aab998"),
            name=_required(unit, "aab004"),
            division=_required(unit, "aab301", "division"),
            contact=_optional(unit, "aae004"),
            phone=_optional(unit, "aae005"),
        ),
    )


def person_to_legacy(person: Person) -> dict[str, Any]:
    return {
        "aac058": id_type_to_legacy(person.id_type, person.id_number),
        "aac147": person.id_number,
        "aac003": person.name,
        "aac004": person.gender.value,
        "aac005": person.ethnicity,
        "aac011": person.education.value,
        "aac067": person.mobile,
        "aac010": person.household_address,
        "aae006": person.current_address,
    }


def person_from_legacy(record: Mapping[str, Any]) -> Person:
    return Person(
        id_type=id_type_from_legacy(_required(record, "aac058")),
        id_number=_required(record, "aac147"),
        name=_required(record, "aac003"),
        gender=_enum(Gender, _required(record, "aac004"), "gender"),
        ethnicity=_required(record, "aac005"),
        education=_enum(Education, _required(record, "aac011"), "education"),
        mobile=_optional(record, "aac067"),
        household_address=_optional(record, "aac010"),
        current_address=_optional(record, "aae006"),
    )


def registration_to_legacy(request: EmploymentRegistrationRequest) -> dict[str, Any]:
    """The body of ``POST /employment/register``."""
    return {
        "aab001": request.employer_id,
        **person_to_legacy(request.person),
        "aae030": date_to_legacy(request.start_date),
        "acc032": request.person_category.value,
        "aac048": form_to_legacy(request.employment_form),
        "aca111": request.post,
        "aab301": request.locality,
    }


def dismissal_to_legacy(request: DismissalRequest) -> dict[str, Any]:
    """The body of ``POST /employment/dismiss``."""
    return {
        "aab001": request.employer_id,
        "aac058": id_type_to_legacy(request.id_type, request.id_number),
        "aac147": request.id_number,
        "bcc03x": date_to_legacy(request.date),
        "bcc03y": reason_to_legacy(request.reason),
    }


def record_to_legacy(record: EmploymentRecord) -> dict[str, Any]:
    """A record in the system's documented shape, absent values as null."""
    return {
        "ywlsh": record.reference,
        "aab001": record.employer_id,
        "aac001": record.system_person_id,
        **person_to_legacy(record.person),
        "aae030": date_to_legacy(record.start_date),
        "bcc03x": date_to_legacy(record.dismissal_date) if record.dismissal_date else None,
        "acc032": record.person_category.value if record.person_category else None,
        "aac048": form_to_legacy(record.employment_form) if record.employment_form else None,
        "aca111": record.post,
        "aab301": record.locality,
        "bcc03y": reason_to_legacy(record.dismissal_reason) if record.dismissal_reason else None,
        "zt": state_to_legacy(record.state),
    }


def record_from_legacy(record: Mapping[str, Any]) -> EmploymentRecord:
    """A record of ``/employment/query`` or ``/employment/list``."""
    category = _optional(record, "acc032")
    form = _optional(record, "aac048")
    dismissed = _optional(record, "bcc03x")
    reason = _optional(record, "bcc03y")
    return EmploymentRecord(
        reference=_required(record, "ywlsh"),
        employer_id=_required(record, "aab001"),
        person=person_from_legacy(record),
        start_date=date_from_legacy(_required(record, "aae030"), "start_date"),
        state=state_from_legacy(_required(record, "zt")),
        person_category=(
            _enum(EmploymentPersonCategory, category, "employment_person_category")
            if category is not None
            else None
        ),
        employment_form=form_from_legacy(form) if form is not None else None,
        post=_optional(record, "aca111"),
        locality=_optional(record, "aab301"),
        dismissal_date=date_from_legacy(dismissed, "end_date") if dismissed else None,
        dismissal_reason=reason_from_legacy(reason) if reason is not None else None,
        system_person_id=_optional(record, "aac001"),
    )


def _required(record: Mapping[str, Any], key: str, field: str | None = None) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value:
        name = field or unified_field(key) or "a field"
        raise MappingError(name, f"{name} is missing from the system's answer")
    return value


def _optional(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        name = unified_field(key) or "a field"
        raise MappingError(name, f"{name} is not text in the system's answer")
    return value
