"""Legacy ⇄ unified for the labour relations system: codes, records and field names.

Pure functions only. A legacy record here is a plain mapping with the
system's own element names (``idType``, ``Contract``, ``filingNo`` …) and
Python values (``datetime.date`` for ``xs:date``); the client turns zeep's
objects into such mappings, and the stand-in stores them.

Two mappings lose information, by the nature of the systems:

* Education. The unified model keeps the coarse 文化程度 set of the
  employment system; this system files the detailed GB/T 4658-2006 codes.
  Going out, each coarse code takes its most usual detailed code (postgraduate
  → ``14`` master); illiterate and "other" both become ``90``. Coming back,
  ``11`` doctorate and ``14`` master are both postgraduate, and ``90`` reads as
  "other" (the system cannot say "illiterate"). So a doctorate filed here shows
  as postgraduate, and is re-filed as a master if sent back.
* End reasons. The system records the article of the Labour Contract Law; for
  a termination that is always art. 44, whose six cases (expiry, retirement,
  death, …) it does not distinguish. A termination read back is reported as
  ``EndReason.EXPIRY``, the usual case, whatever the original case was.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from gateway.domain.model import (
    ContractEnding,
    ContractState,
    ContractTerm,
    ContractType,
    Education,
    EmployerProfile,
    EmploymentForm,
    EndReason,
    FilingPersonCategory,
    Gender,
    IdType,
    LabourContract,
    Person,
)

LegacyRecord = Mapping[str, Any]

# ------------------------------------------------------------------ codes

ID_TYPES: dict[IdType, str] = {
    IdType.RESIDENT_ID: "A",
    IdType.HK_MACAO_PERMIT: "B",
    IdType.TAIWAN_PERMIT: "C",
    IdType.FOREIGN_PASSPORT: "D",
    IdType.HMT_RESIDENCE_PERMIT: "E",
    IdType.FOREIGN_PERMANENT_RESIDENT_ID: "F",
}
_ID_TYPES_BACK = {v: k for k, v in ID_TYPES.items()}

GENDERS: dict[Gender, str] = {Gender.MALE: "1", Gender.FEMALE: "2"}
_GENDERS_BACK = {v: k for k, v in GENDERS.items()}

EDUCATION: dict[Education, str] = {
    Education.POSTGRADUATE: "14",
    Education.BACHELOR: "21",
    Education.JUNIOR_COLLEGE: "31",
    Education.SECONDARY_VOCATIONAL: "41",
    Education.TECHNICAL_SCHOOL: "47",
    Education.SENIOR_HIGH: "61",
    Education.JUNIOR_HIGH: "71",
    Education.PRIMARY: "81",
    Education.ILLITERATE: "90",
    Education.OTHER: "90",
}
_EDUCATION_BACK: dict[str, Education] = {
    "11": Education.POSTGRADUATE,
    "14": Education.POSTGRADUATE,
    "21": Education.BACHELOR,
    "31": Education.JUNIOR_COLLEGE,
    "41": Education.SECONDARY_VOCATIONAL,
    "47": Education.TECHNICAL_SCHOOL,
    "61": Education.SENIOR_HIGH,
    "71": Education.JUNIOR_HIGH,
    "81": Education.PRIMARY,
    "90": Education.OTHER,
}
#: The detailed codes the system accepts.
LEGACY_EDUCATION_CODES = frozenset(_EDUCATION_BACK)

CONTRACT_TYPES: dict[ContractType, str] = {
    ContractType.FIXED_TERM: "10",
    ContractType.OPEN_ENDED: "20",
    ContractType.TASK: "30",
}
_CONTRACT_TYPES_BACK = {v: k for k, v in CONTRACT_TYPES.items()}

EMPLOYMENT_FORMS: dict[EmploymentForm, str] = {
    EmploymentForm.FULL_TIME: "Q",
    EmploymentForm.PART_TIME: "F",
    EmploymentForm.DISPATCHED: "P",
    EmploymentForm.OTHER: "O",
}
_EMPLOYMENT_FORMS_BACK = {v: k for k, v in EMPLOYMENT_FORMS.items()}

# The province's 备案人员类别 is this system's own table, so the codes coincide.
FILING_CATEGORIES: dict[FilingPersonCategory, str] = {c: c.value for c in FilingPersonCategory}
_FILING_CATEGORIES_BACK = {v: k for k, v in FILING_CATEGORIES.items()}

STATES: dict[ContractState, str] = {
    ContractState.IN_FORCE: "ZX",
    ContractState.SUPERSEDED: "XQ",
    ContractState.RESCINDED: "JC",
    ContractState.TERMINATED: "ZZ",
    ContractState.REVOKED: "CX",
}
_STATES_BACK = {v: k for k, v in STATES.items()}

RESCISSION = "JC"
TERMINATION = "ZZ"
TERMINATION_ARTICLE = "A44"
#: What an art. 44 termination reads back as (see the module docstring).
TERMINATION_REPRESENTATIVE = EndReason.EXPIRY
#: Articles the system accepts as ``reasonCode``, with the end kind each belongs to.
END_ARTICLES: dict[str, str] = {
    **{r.value: RESCISSION for r in EndReason if not r.is_termination},
    TERMINATION_ARTICLE: TERMINATION,
}


def _back(table: Mapping[str, Any], code: Any, what: str) -> Any:
    try:
        return table[code]
    except KeyError:
        raise ValueError(f"unknown {what} code") from None


def id_type_to_legacy(value: IdType) -> str:
    return ID_TYPES[value]


def id_type_from_legacy(code: str) -> IdType:
    result: IdType = _back(_ID_TYPES_BACK, code, "idType")
    return result


def gender_to_legacy(value: Gender) -> str:
    return GENDERS[value]


def gender_from_legacy(code: str) -> Gender:
    result: Gender = _back(_GENDERS_BACK, code, "gender")
    return result


def education_to_legacy(value: Education) -> str:
    """Coarse → detailed; lossy (see the module docstring)."""
    return EDUCATION[value]


def education_from_legacy(code: str) -> Education:
    """Detailed → coarse; lossy (see the module docstring)."""
    result: Education = _back(_EDUCATION_BACK, code, "education")
    return result


def contract_type_to_legacy(value: ContractType) -> str:
    return CONTRACT_TYPES[value]


def contract_type_from_legacy(code: str) -> ContractType:
    result: ContractType = _back(_CONTRACT_TYPES_BACK, code, "contractType")
    return result


def employment_form_to_legacy(value: EmploymentForm) -> str:
    return EMPLOYMENT_FORMS[value]


def employment_form_from_legacy(code: str) -> EmploymentForm:
    result: EmploymentForm = _back(_EMPLOYMENT_FORMS_BACK, code, "employmentForm")
    return result


def filing_category_to_legacy(value: FilingPersonCategory) -> str:
    return FILING_CATEGORIES[value]


def filing_category_from_legacy(code: str) -> FilingPersonCategory:
    result: FilingPersonCategory = _back(_FILING_CATEGORIES_BACK, code, "filingCategory")
    return result


def state_to_legacy(value: ContractState) -> str:
    return STATES[value]


def state_from_legacy(code: str) -> ContractState:
    result: ContractState = _back(_STATES_BACK, code, "status")
    return result


def end_to_legacy(reason: EndReason) -> tuple[str, str]:
    """``(endKind, reasonCode)``: art. 44 cases are terminations, the rest rescissions."""
    if reason.is_termination:
        return TERMINATION, TERMINATION_ARTICLE
    return RESCISSION, reason.value


def end_from_legacy(end_kind: str | None, reason_code: str | None) -> EndReason:
    """Lossy for terminations (see the module docstring)."""
    if reason_code == TERMINATION_ARTICLE or (end_kind == TERMINATION and not reason_code):
        return TERMINATION_REPRESENTATIVE
    try:
        reason = EndReason(reason_code or "")
    except ValueError:
        raise ValueError("unknown endReason code") from None
    if reason.is_termination:  # only the bare article is a legacy code
        raise ValueError("unknown endReason code")
    return reason


# ---------------------------------------------------------------- records


def employer_to_legacy(profile: EmployerProfile) -> dict[str, Any]:
    """The ``RegisterEmployer`` request."""
    return {
        "creditCode": profile.credit_code,
        "name": profile.name,
        "region": profile.division,
        "contact": profile.contact,
        "phone": profile.phone,
    }


def employer_from_legacy(record: LegacyRecord) -> tuple[str, EmployerProfile]:
    """A ``GetEmployer`` answer: the employer code and the profile."""
    return record["employerCode"], EmployerProfile(
        credit_code=record["creditCode"],
        name=record["name"],
        division=record["region"],
        contact=record.get("contact") or None,
        phone=record.get("phone") or None,
    )


def worker_to_legacy(person: Person) -> dict[str, Any]:
    return {
        "idType": id_type_to_legacy(person.id_type),
        "idNumber": person.id_number,
        "name": person.name,
        "gender": gender_to_legacy(person.gender),
        "nation": person.ethnicity,
        "education": education_to_legacy(person.education),
        "mobile": person.mobile,
        "hukouAddress": person.household_address,
        "address": person.current_address,
    }


def worker_from_legacy(worker: LegacyRecord) -> Person:
    return Person(
        id_type=id_type_from_legacy(worker["idType"]),
        id_number=worker["idNumber"],
        name=worker["name"],
        gender=gender_from_legacy(worker["gender"]),
        ethnicity=worker["nation"],
        education=education_from_legacy(worker["education"]),
        mobile=worker.get("mobile") or None,
        household_address=worker.get("hukouAddress") or None,
        current_address=worker.get("address") or None,
    )


def contract_to_legacy(term: ContractTerm) -> dict[str, Any]:
    return {
        "contractType": contract_type_to_legacy(term.contract_type),
        "startDate": term.start_date,
        "endDate": term.end_date,
        "filingCategory": filing_category_to_legacy(term.filing_category),
        "employmentForm": employment_form_to_legacy(term.employment_form),
        "post": term.post,
        "region": term.locality,
    }


def contract_from_legacy(contract: LegacyRecord) -> ContractTerm:
    return ContractTerm(
        contract_type=contract_type_from_legacy(contract["contractType"]),
        start_date=contract["startDate"],
        end_date=contract.get("endDate"),
        filing_category=filing_category_from_legacy(contract["filingCategory"]),
        employment_form=employment_form_from_legacy(contract["employmentForm"]),
        post=contract["post"],
        locality=contract["region"],
    )


def ending_to_legacy(ending: ContractEnding) -> dict[str, Any]:
    """The ``TerminateContract`` request."""
    end_kind, reason_code = end_to_legacy(ending.reason)
    return {
        "employerCode": ending.employer_id,
        "idNumber": ending.id_number,
        "endKind": end_kind,
        "reasonCode": reason_code,
        "endDate": ending.date,
    }


def record_to_legacy(contract: LabourContract) -> dict[str, Any]:
    """A ``ContractRecord`` (the stand-in's seed goes this way)."""
    end_kind, reason_code = (
        end_to_legacy(contract.end_reason) if contract.end_reason else (None, None)
    )
    return {
        "filingNo": contract.reference,
        "employerCode": contract.employer_id,
        "Worker": worker_to_legacy(contract.person),
        "Contract": contract_to_legacy(contract.term),
        "status": state_to_legacy(contract.state),
        "endKind": end_kind,
        "endReason": reason_code,
        "endDate": contract.ended_on,
        "filedAt": contract.filed_at,
    }


def record_from_legacy(record: LegacyRecord) -> LabourContract:
    """A ``ContractRecord`` of ``QueryContracts``."""
    end_kind, reason_code = record.get("endKind"), record.get("endReason")
    filed_at: dt.datetime | None = record.get("filedAt")
    return LabourContract(
        reference=record["filingNo"],
        employer_id=record["employerCode"],
        person=worker_from_legacy(record["Worker"]),
        term=contract_from_legacy(record["Contract"]),
        state=state_from_legacy(record["status"]),
        filed_at=filed_at,
        end_reason=end_from_legacy(end_kind, reason_code) if end_kind or reason_code else None,
        ended_on=record.get("endDate"),
    )


# ------------------------------------------------------------ field names

_WORKER_FIELDS = {
    "idType": "id_type",
    "idNumber": "id_number",
    "name": "name",
    "gender": "gender",
    "nation": "ethnicity",
    "education": "education",
    "mobile": "mobile",
    "hukouAddress": "household_address",
    "address": "current_address",
}
_CONTRACT_FIELDS = {
    "contractType": "contract_type",
    "startDate": "start_date",
    "endDate": "end_date",
    "filingCategory": "filing_category",
    "employmentForm": "employment_form",
    "post": "post",
    "region": "locality",
}
_EMPLOYER_FIELDS = {
    "creditCode": "credit_code",
    "name": "name",
    "region": "division",
    "contact": "contact",
    "phone": "phone",
}
_TOP_FIELDS = {
    "employerCode": "employer_id",
    "idNumber": "id_number",
    "idNumbers": "id_numbers",
    "endKind": "reason",
    "reasonCode": "reason",
    "endDate": "date",
    "filingNo": "reference",
    "Worker": "person",
    "Contract": "term",
}


def field_from_legacy(legacy_field: str | None, operation: str) -> str | None:
    """The unified name of a field a fault names, e.g. ``Contract/region`` → ``locality``.

    The unified names are those of the request types (``Person``,
    ``ContractTerm``, ``EmployerProfile``, ``ContractEnding``). A bare name is
    read in the context of the operation, since the system reuses names
    (``region`` is the employer's division in ``RegisterEmployer`` and the
    filing locality in a ``Contract``).
    """
    if not legacy_field:
        return None
    parts = [p for p in legacy_field.replace(".", "/").split("/") if p]
    if not parts:
        return None
    name = parts[-1]
    parent = parts[-2] if len(parts) > 1 else None
    if parent == "Worker":
        return _WORKER_FIELDS.get(name)
    if parent == "Contract":
        return _CONTRACT_FIELDS.get(name)
    if operation in ("RegisterEmployer", "GetEmployer"):
        return _EMPLOYER_FIELDS.get(name)
    if operation in ("FileContract", "RenewContract"):
        if name in _CONTRACT_FIELDS:
            return _CONTRACT_FIELDS[name]
        if operation == "FileContract" and name in _WORKER_FIELDS:
            return _WORKER_FIELDS[name]
    return _TOP_FIELDS.get(name)


# An element path as a fault's message may name it: ``Worker/name``, ``creditCode``.
_PATH_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9_./])[A-Za-z][A-Za-z0-9]*(?:[/.][A-Za-z][A-Za-z0-9]*)*(?![A-Za-z0-9_])"
)
_ELEMENTS = frozenset({*_WORKER_FIELDS, *_CONTRACT_FIELDS, *_EMPLOYER_FIELDS, *_TOP_FIELDS})


def _named_field(path: str, operation: str) -> str | None:
    """The unified name of ``path`` when every step of it is an element of the contract."""
    if not all(part in _ELEMENTS for part in re.split(r"[/.]", path)):
        return None
    return field_from_legacy(path, operation)


def field_named_in(message: str | None, operation: str) -> str | None:
    """The unified name of the first element a fault's message names
    (``Worker/name: 名称超过40个字符`` → ``name``). The contract's detail has only
    ``code`` and ``message``: a ``<field>`` is our stand-in's."""
    for match in _PATH_IN_TEXT.finditer(message or ""):
        named = _named_field(match.group(0), operation)
        if named:
            return named
    return None


def clean_message(message: str, operation: str) -> str:
    """A fault's message with the elements it names as unified field names."""
    return _PATH_IN_TEXT.sub(lambda m: _named_field(m.group(0), operation) or m.group(0), message)
