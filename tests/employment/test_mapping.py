"""The employment mappings: codes both ways, records both ways, errors and field names."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.employment import mapping
from adapters.employment.standin import LABELS, RECORD_KEYS
from gateway.domain import model
from gateway.domain.model import (
    DismissalRequest,
    Education,
    EmploymentForm,
    EmploymentPersonCategory,
    EmploymentRecord,
    EmploymentRegistrationRequest,
    EmploymentState,
    EndReason,
    Gender,
    IdType,
    Person,
)
from gateway.systems import Duplicate, NotFound, Rejected

# ------------------------------------------------------------- strategies

ETHNICITIES = [f"{n:02d}" for n in range(1, 57)] + ["97", "98"]
text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
dates = st.dates(dt.date(1990, 1, 1), dt.date(2040, 12, 31))
digits = st.text("0123456789", min_size=8, max_size=10)


@st.composite
def documents(draw: st.DrawFn) -> tuple[IdType, str]:
    kind = draw(st.sampled_from(IdType))
    if kind is IdType.HK_MACAO_PERMIT:
        return kind, draw(st.sampled_from("HM")) + draw(digits)
    return kind, draw(st.text("0123456789X", min_size=9, max_size=18))


@st.composite
def people(draw: st.DrawFn) -> Person:
    kind, number = draw(documents())
    return Person(
        id_type=kind,
        id_number=number,
        name=draw(text),
        gender=draw(st.sampled_from(Gender)),
        ethnicity=draw(st.sampled_from(ETHNICITIES)),
        education=draw(st.sampled_from(Education)),
        mobile=draw(st.none() | st.text("0123456789", min_size=11, max_size=11)),
        household_address=draw(st.none() | text),
        current_address=draw(st.none() | text),
    )


@st.composite
def records(draw: st.DrawFn, reasons: st.SearchStrategy[EndReason]) -> EmploymentRecord:
    state = draw(st.sampled_from(EmploymentState))
    dismissed = state is EmploymentState.DISMISSED or draw(st.booleans())
    return EmploymentRecord(
        reference=draw(st.from_regex(r"[A-Z]{2}\d{12}", fullmatch=True)),
        employer_id=draw(st.from_regex(r"JY\d{12}", fullmatch=True)),
        person=draw(people()),
        start_date=draw(dates),
        state=state,
        person_category=draw(st.none() | st.sampled_from(EmploymentPersonCategory)),
        employment_form=draw(st.none() | st.sampled_from(EmploymentForm)),
        post=draw(st.none() | text),
        locality=draw(st.none() | st.from_regex(r"\d{6}", fullmatch=True)),
        dismissal_date=draw(dates) if dismissed else None,
        dismissal_reason=draw(reasons) if dismissed else None,
        system_person_id=draw(st.none() | st.from_regex(r"\d{12}", fullmatch=True)),
    )


REPRESENTATIVES = st.sampled_from(sorted(set(mapping.REASON_FROM_LEGACY.values())))


# ------------------------------------------------------------ round trips


@given(people())
def test_person_round_trip_is_identity(person: Person) -> None:
    assert mapping.person_from_legacy(mapping.person_to_legacy(person)) == person


@given(records(REPRESENTATIVES))
def test_record_round_trip_is_identity_where_lossless(record: EmploymentRecord) -> None:
    legacy = mapping.record_to_legacy(record)
    assert list(legacy) == list(RECORD_KEYS)
    assert mapping.record_from_legacy(legacy) == record


@given(records(st.sampled_from(EndReason)))
def test_record_round_trip_is_stable_where_lossy(record: EmploymentRecord) -> None:
    legacy = mapping.record_to_legacy(record)
    assert mapping.record_to_legacy(mapping.record_from_legacy(legacy)) == legacy


@given(st.sampled_from(EndReason))
def test_every_reason_comes_back_as_one_with_the_same_code(reason: EndReason) -> None:
    code = mapping.reason_to_legacy(reason)
    assert mapping.reason_to_legacy(mapping.reason_from_legacy(code)) == code


@given(documents())
def test_document_codes_are_stable(document: tuple[IdType, str]) -> None:
    kind, number = document
    code = mapping.id_type_to_legacy(kind, number)
    assert mapping.id_type_from_legacy(code) is kind
    assert mapping.id_type_to_legacy(mapping.id_type_from_legacy(code), number) == code


@given(people(), dates, st.sampled_from(EmploymentPersonCategory), st.sampled_from(EmploymentForm))
def test_a_registration_reads_back_as_the_record_it_makes(
    person: Person, start: dt.date, category: EmploymentPersonCategory, form: EmploymentForm
) -> None:
    request = EmploymentRegistrationRequest(
        "JY370100000123", person, start, category, form, "岗位", "370102"
    )
    body = mapping.registration_to_legacy(request)
    record = mapping.record_from_legacy({**body, "ywlsh": "DJ1", "zt": "1"})
    assert record.person == person
    assert (record.start_date, record.person_category, record.employment_form) == (
        start,
        category,
        form,
    )
    assert (record.employer_id, record.post, record.locality) == (
        "JY370100000123",
        "岗位",
        "370102",
    )


# ---------------------------------------------------------------- tables


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        (EndReason.EXPIRY, "1"),
        (EndReason.AGREEMENT, "2"),
        (EndReason.BY_UNIT_FOR_CAUSE, "3"),
        (EndReason.BY_UNIT_NO_FAULT, "3"),
        (EndReason.ECONOMIC_LAYOFF, "3"),
        (EndReason.BY_WORKER_NOTICE, "4"),
        (EndReason.BY_WORKER_UNIT_FAULT, "4"),
        (EndReason.BANKRUPTCY, "5"),
        (EndReason.CLOSURE, "5"),
        (EndReason.RETIREMENT, "9"),
        (EndReason.DEATH, "9"),
        (EndReason.OTHER_TERMINATION, "9"),
    ],
)
def test_dismissal_reasons(reason: EndReason, code: str) -> None:
    assert mapping.reason_to_legacy(reason) == code


def test_documents() -> None:
    assert mapping.id_type_to_legacy(IdType.RESIDENT_ID, "37010219850312002X") == "01"
    assert mapping.id_type_to_legacy(IdType.HK_MACAO_PERMIT, "H60123456") == "04"
    assert mapping.id_type_to_legacy(IdType.HK_MACAO_PERMIT, "M60123456") == "05"
    assert mapping.id_type_to_legacy(IdType.TAIWAN_PERMIT, "12345678") == "06"
    assert mapping.id_type_to_legacy(IdType.FOREIGN_PERMANENT_RESIDENT_ID, "x") == "07"
    assert mapping.id_type_to_legacy(IdType.FOREIGN_PASSPORT, "x") == "08"
    assert mapping.id_type_to_legacy(IdType.HMT_RESIDENCE_PERMIT, "x") == "17"
    with pytest.raises(mapping.MappingError) as raised:
        mapping.id_type_to_legacy(IdType.HK_MACAO_PERMIT, "X60123456")
    assert raised.value.field == "id_number"


def test_forms_and_states() -> None:
    assert {f: mapping.form_to_legacy(f) for f in EmploymentForm} == {
        EmploymentForm.FULL_TIME: "1",
        EmploymentForm.PART_TIME: "2",
        EmploymentForm.DISPATCHED: "3",
        EmploymentForm.OTHER: "9",
    }
    assert [mapping.state_from_legacy(c) for c in "129"] == [
        EmploymentState.EMPLOYED,
        EmploymentState.DISMISSED,
        EmploymentState.REVOKED,
    ]


def test_dismissal_body() -> None:
    body = mapping.dismissal_to_legacy(
        DismissalRequest(
            "JY1", IdType.HK_MACAO_PERMIT, "M1234567", dt.date(2024, 5, 31), EndReason.DEATH
        )
    )
    assert body == {
        "aab001": "JY1",
        "aac058": "05",
        "aac147": "M1234567",
        "bcc03x": "2024-05-31",
        "bcc03y": "9",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("zt", "3"), ("aac058", "02"), ("aac004", "0"), ("aac011", "11"), ("aae030", "20240101")],
)
def test_unknown_codes_in_a_record_name_the_unified_field(field: str, value: str) -> None:
    legacy = mapping.record_to_legacy(_sample_record())
    legacy[field] = value
    with pytest.raises(mapping.MappingError) as raised:
        mapping.record_from_legacy(legacy)
    assert raised.value.field == mapping.unified_field(field)


def _sample_record() -> EmploymentRecord:
    person = Person(
        IdType.RESIDENT_ID, "37010219850312002X", "刘洋", Gender.FEMALE, "01", Education.BACHELOR
    )
    return EmploymentRecord("DJ1", "JY1", person, dt.date(2021, 3, 1), EmploymentState.EMPLOYED)


# ----------------------------------------------------- fields and errors

_UNIFIED_NAMES = (
    {f.name for f in dataclasses.fields(model.RegistrationRow)}
    | {f.name for f in dataclasses.fields(model.RegistrationForm)}
    | {f.name for f in dataclasses.fields(model.EmployerProfile)}
    | {f.name for f in dataclasses.fields(model.EmploymentRecord)}
    | {f.name for f in dataclasses.fields(model.EmploymentRegistrationRequest)}
    | {"id_numbers", "page", "size"}
)


@pytest.mark.parametrize("legacy", sorted(set(LABELS) | set(RECORD_KEYS)))
def test_every_element_has_a_unified_name(legacy: str) -> None:
    assert mapping.unified_field(legacy) in _UNIFIED_NAMES
    assert mapping.unified_field(legacy, "unit.open") in _UNIFIED_NAMES


def test_the_division_is_the_employers_when_opening_and_the_locality_when_registering() -> None:
    assert mapping.unified_field("aab301", "unit.open") == "division"
    assert mapping.unified_field("aab301", "employment.register") == "employment_locality"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("E2001", Duplicate),
        ("E3001", Duplicate),
        ("E3002", Duplicate),
        ("E4001", NotFound),
        ("E4002", NotFound),
        ("E4004", NotFound),
        ("E3003", Rejected),
        ("E1001", Rejected),
        ("E1002", Rejected),
        ("E0401", Rejected),
        ("E9999", Rejected),
    ],
)
def test_business_codes_map_to_the_taxonomy(code: str, kind: type[Rejected]) -> None:
    error = mapping.business_error(code, "业务办理失败", None, "employment.register")
    assert type(error) is kind
    assert error.system_code == code
    assert error.system is model.System.EMPLOYMENT


def test_e2001_carries_the_existing_unit() -> None:
    error = mapping.business_error("E2001", "单位已开户", {"aab001": "JY370100000101"}, "unit.open")
    assert isinstance(error, Duplicate)
    assert error.existing_reference == "JY370100000101"


@given(
    st.sampled_from(sorted(mapping.FIELD_NAMES)),
    st.sampled_from(["unit.open", "employment.register", "employment.dismiss"]),
)
def test_an_invalid_field_is_named_in_unified_terms(legacy: str, operation: str) -> None:
    error = mapping.business_error("E1001", f"参数错误：{legacy}（某字段）不合法", None, operation)
    assert isinstance(error, Rejected)
    assert error.field == mapping.unified_field(legacy, operation)
    assert error.field is not None
    assert error.field in error.message
    assert not re.search(rf"(?<![a-z_]){legacy}(?![a-z_0-9])", error.message) or legacy in (
        "page",
        "size",
    )


@given(st.from_regex(r"1[3-9]\d{9}", fullmatch=True))
def test_system_messages_lose_their_personal_data(mobile: str) -> None:
    number = "37010219850312002X"
    error = mapping.business_error(
        "E3002", f"人员{number}（手机{mobile}）已在其他单位登记", None, "employment.register"
    )
    assert number not in error.message
    assert mobile not in error.message
    assert str(error).startswith("employment:")


def test_dates_are_strict() -> None:
    assert mapping.date_from_legacy("2024-02-29", "start_date") == dt.date(2024, 2, 29)
    for bad in ("20240229", "2024-2-29", "2023-02-29", "2024-02-29T00:00"):
        with pytest.raises(mapping.MappingError):
            mapping.date_from_legacy(bad, "start_date")
