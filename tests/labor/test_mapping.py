"""Legacy ⇄ unified mappings of the labour system: exact where lossless, stable where lossy."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.labor import mapping
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

LOSSLESS = [
    (IdType, mapping.id_type_to_legacy, mapping.id_type_from_legacy),
    (Gender, mapping.gender_to_legacy, mapping.gender_from_legacy),
    (ContractType, mapping.contract_type_to_legacy, mapping.contract_type_from_legacy),
    (EmploymentForm, mapping.employment_form_to_legacy, mapping.employment_form_from_legacy),
    (FilingPersonCategory, mapping.filing_category_to_legacy, mapping.filing_category_from_legacy),
    (ContractState, mapping.state_to_legacy, mapping.state_from_legacy),
]


@pytest.mark.parametrize(("enum", "out", "back"), LOSSLESS)
def test_lossless_codes_round_trip_both_ways(enum: type, out: object, back: object) -> None:
    values = list(enum)  # type: ignore[call-overload]
    legacy = [out(v) for v in values]  # type: ignore[operator]
    assert len(set(legacy)) == len(values)
    assert [back(code) for code in legacy] == values  # type: ignore[operator]


def test_documented_legacy_codes() -> None:
    assert [mapping.id_type_to_legacy(t) for t in IdType] == ["A", "B", "C", "E", "F", "D"]
    assert mapping.contract_type_to_legacy(ContractType.TASK) == "30"
    assert mapping.employment_form_to_legacy(EmploymentForm.DISPATCHED) == "P"
    assert mapping.state_to_legacy(ContractState.SUPERSEDED) == "XQ"
    assert mapping.state_to_legacy(ContractState.REVOKED) == "CX"


def test_education_table_is_the_documented_one() -> None:
    out = {e.value: mapping.education_to_legacy(e) for e in Education}
    assert out == {
        "10": "14", "20": "21", "30": "31", "40": "41", "50": "47",
        "60": "61", "70": "71", "80": "81", "90": "90", "97": "90",
    }  # fmt: skip
    back = {
        c: mapping.education_from_legacy(c).value for c in sorted(mapping.LEGACY_EDUCATION_CODES)
    }
    assert back == {
        "11": "10", "14": "10", "21": "20", "31": "30", "41": "40",
        "47": "50", "61": "60", "71": "70", "81": "80", "90": "97",
    }  # fmt: skip


@given(st.sampled_from(Education))
def test_education_is_stable_through_the_system(value: Education) -> None:
    legacy = mapping.education_to_legacy(value)
    assert mapping.education_to_legacy(mapping.education_from_legacy(legacy)) == legacy


@given(st.sampled_from(sorted(mapping.LEGACY_EDUCATION_CODES)))
def test_detailed_education_is_stable_through_the_gateway(code: str) -> None:
    unified = mapping.education_from_legacy(code)
    assert mapping.education_from_legacy(mapping.education_to_legacy(unified)) == unified


@given(st.sampled_from(EndReason))
def test_end_reasons(reason: EndReason) -> None:
    kind, article = mapping.end_to_legacy(reason)
    assert (kind == "ZZ") == reason.is_termination
    assert (article == "A44") == reason.is_termination
    back = mapping.end_from_legacy(kind, article)
    if reason.is_termination:
        assert back is EndReason.EXPIRY
    else:
        assert back is reason
    assert mapping.end_to_legacy(back) == (kind, article)


def test_unknown_codes_are_refused() -> None:
    for fn in (
        mapping.id_type_from_legacy,
        mapping.education_from_legacy,
        mapping.state_from_legacy,
        mapping.contract_type_from_legacy,
    ):
        with pytest.raises(ValueError, match="unknown"):
            fn("??")
    with pytest.raises(ValueError, match="unknown"):
        mapping.end_from_legacy("ZZ", "A44-2")


# ------------------------------------------------------------------ records

texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
)
dates = st.dates(dt.date(1990, 1, 1), dt.date(2040, 12, 31))

people = st.builds(
    Person,
    id_type=st.sampled_from(IdType),
    id_number=st.from_regex(r"\A[0-9A-Z]{9,18}\Z"),
    name=texts,
    gender=st.sampled_from(Gender),
    ethnicity=st.sampled_from(["01", "02", "56", "97"]),
    education=st.sampled_from(Education),
    mobile=st.none() | st.from_regex(r"\A1[3-9]\d{9}\Z"),
    household_address=st.none() | texts,
    current_address=st.none() | texts,
)
terms = st.builds(
    ContractTerm,
    contract_type=st.sampled_from(ContractType),
    start_date=dates,
    end_date=st.none() | dates,
    filing_category=st.sampled_from(FilingPersonCategory),
    employment_form=st.sampled_from(EmploymentForm),
    post=texts,
    locality=st.from_regex(r"\A\d{6}\Z"),
)


def coarse(p: Person) -> Person:
    """What the system keeps of a person: education through its detailed code."""
    education = mapping.education_from_legacy(mapping.education_to_legacy(p.education))
    return Person(
        p.id_type, p.id_number, p.name, p.gender, p.ethnicity, education,
        p.mobile, p.household_address, p.current_address,
    )  # fmt: skip


@given(people)
def test_worker_round_trip(p: Person) -> None:
    legacy = mapping.worker_to_legacy(p)
    assert set(legacy) == {
        "idType", "idNumber", "name", "gender", "nation", "education",
        "mobile", "hukouAddress", "address",
    }  # fmt: skip
    assert mapping.worker_from_legacy(legacy) == coarse(p)
    assert mapping.worker_to_legacy(mapping.worker_from_legacy(legacy)) == legacy


@given(terms)
def test_contract_round_trip(t: ContractTerm) -> None:
    legacy = mapping.contract_to_legacy(t)
    assert mapping.contract_from_legacy(legacy) == t


@given(
    people,
    terms,
    st.sampled_from(ContractState),
    st.none() | st.sampled_from(EndReason),
    st.none() | dates,
    st.datetimes(timezones=st.just(dt.timezone(dt.timedelta(hours=8)))),
)
def test_record_round_trip(
    p: Person,
    t: ContractTerm,
    state: ContractState,
    reason: EndReason | None,
    ended: dt.date | None,
    filed: dt.datetime,
) -> None:
    record = LabourContract(
        "BA3701022024010100001", "LD370102000001", p, t, state, filed, reason, ended
    )
    legacy = mapping.record_to_legacy(record)
    back = mapping.record_from_legacy(legacy)
    assert mapping.record_to_legacy(back) == legacy
    assert (back.reference, back.employer_id, back.term, back.state) == (
        record.reference,
        record.employer_id,
        t,
        state,
    )
    assert back.person == coarse(p)
    assert (back.filed_at, back.ended_on) == (filed, ended)
    if reason is None or not reason.is_termination:
        assert back.end_reason is reason


@given(
    st.builds(
        EmployerProfile,
        credit_code=st.from_regex(r"\A[0-9A-Y]{18}\Z"),
        name=texts,
        division=st.from_regex(r"\A\d{6}\Z"),
        contact=st.none() | texts,
        phone=st.none() | texts,
    )
)
def test_employer_round_trip(profile: EmployerProfile) -> None:
    legacy = mapping.employer_to_legacy(profile)
    code, back = mapping.employer_from_legacy({**legacy, "employerCode": "LD370102000009"})
    assert (code, back) == ("LD370102000009", profile)


def test_ending_request() -> None:
    ending = ContractEnding(
        "LD370102000001", "370102199001011234", EndReason.DEATH, dt.date(2025, 1, 2)
    )
    assert mapping.ending_to_legacy(ending) == {
        "employerCode": "LD370102000001",
        "idNumber": "370102199001011234",
        "endKind": "ZZ",
        "reasonCode": "A44",
        "endDate": dt.date(2025, 1, 2),
    }


@pytest.mark.parametrize(
    ("legacy", "operation", "unified"),
    [
        ("Worker/idNumber", "FileContract", "id_number"),
        ("Worker/nation", "FileContract", "ethnicity"),
        ("Worker/hukouAddress", "FileContract", "household_address"),
        ("Contract/region", "FileContract", "locality"),
        ("Contract/endDate", "RenewContract", "end_date"),
        ("region", "RegisterEmployer", "division"),
        ("region", "FileContract", "locality"),
        ("creditCode", "RegisterEmployer", "credit_code"),
        ("endDate", "TerminateContract", "date"),
        ("reasonCode", "TerminateContract", "reason"),
        ("idNumbers", "QueryContracts", "id_numbers"),
        ("employerCode", "RenewContract", "employer_id"),
        ("Worker.mobile", "FileContract", "mobile"),
        ("nothing", "FileContract", None),
        (None, "FileContract", None),
    ],
)
def test_field_names(legacy: str | None, operation: str, unified: str | None) -> None:
    assert mapping.field_from_legacy(legacy, operation) == unified
