"""Checks of rows, forms and employers: required columns, contract rules, age, warnings.

Lengths and characters (GBK among them) are judged in test_limits.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain import checks
from gateway.domain.checks import check_employer, check_form, check_row
from gateway.domain.model import (
    Business,
    ContractType,
    Education,
    EmployerProfile,
    EmploymentForm,
    EmploymentPersonCategory,
    EndReason,
    FilingPersonCategory,
    Gender,
    IdType,
    RegistrationForm,
    RegistrationRow,
)
from tests import factories

TODAY = dt.date(2024, 6, 10)
START = dt.date(2024, 6, 1)

PERSON_FIELDS = [
    "name",
    "gender",
    "ethnicity",
    "id_type",
    "id_number",
    "mobile",
    "household_address",
    "current_address",
    "education",
]


def row(business: Business = Business.HIRE, /, **changes: Any) -> RegistrationRow:
    """A valid row of the given business, with ``changes`` applied."""
    base = RegistrationRow(
        business=business,
        name="张三",
        gender=Gender.MALE,
        ethnicity="01",
        id_type=IdType.RESIDENT_ID,
        id_number=factories.resident_id(born=dt.date(1990, 3, 15)),
        mobile=factories.mobile(),
        household_address="山东省济南市历下区泉城路1号",
        current_address="山东省济南市市中区经七路2号",
        education=Education.BACHELOR,
    )
    if business in (Business.HIRE, Business.RENEW):
        base = dataclasses.replace(
            base,
            contract_type=ContractType.FIXED_TERM,
            start_date=START,
            contract_end_date=dt.date(2027, 5, 31),
            filing_person_category=FilingPersonCategory.URBAN_EMPLOYEE,
            employment_form=EmploymentForm.FULL_TIME,
            post="会计",
            labour_filing_locality="370102",
        )
    if business is Business.HIRE:
        base = dataclasses.replace(
            base,
            employment_person_category=EmploymentPersonCategory.COLLEGE_GRADUATE,
            employment_locality="370102",
        )
    if business is Business.END:
        base = dataclasses.replace(base, end_reason=EndReason.AGREEMENT, end_date=START)
    return dataclasses.replace(base, **changes)


def found(r: RegistrationRow, today: dt.date = TODAY) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in check_row(r, today=today).problems]


def test_a_system_s_row_rules_are_applied_with_the_others() -> None:
    def no_posts(r: RegistrationRow) -> list[checks.Problem]:
        return [checks.Problem("post", "NO_POSTS", "不要岗位", "No post")] if r.post else []

    checked = check_row(row(name=""), today=TODAY, rules=[no_posts])
    assert [(p.field, p.code) for p in checked.problems] == [
        ("name", "REQUIRED"),
        ("post", "NO_POSTS"),
    ]
    form = RegistrationForm("济南示例有限公司", factories.credit_code(), None, [row(), row()])
    checked_form = check_form(form, today=TODAY, rules=[no_posts])
    assert [(i, p.code) for i, p in checked_form.problems()] == [(0, "NO_POSTS"), (1, "NO_POSTS")]
    assert check_form(form, today=TODAY).ok


def warned(r: RegistrationRow, today: dt.date = TODAY) -> list[str]:
    return [w.code for w in check_row(r, today=today).warnings]


# ------------------------------------------------------------ messages


def test_every_message_is_bilingual_and_every_code_upper_snake() -> None:
    for code, (zh, en) in checks.MESSAGES.items():
        assert re.fullmatch(r"[A-Z]+(_[A-Z]+)*", code)
        assert re.search(r"[\u4e00-\u9fff]", zh)
        assert en.isascii()
    assert set(checks.MESSAGES) >= checks.WARNING_CODES


def test_every_unified_field_has_a_label() -> None:
    """Here, or declared, with its rules, by the system that asks for it."""
    from gateway.registry import registry

    row_fields = {f.name for f in dataclasses.fields(RegistrationRow)}
    employer_fields = {f.name for f in dataclasses.fields(EmployerProfile)}
    declared = {f.name for _, f in registry().row_fields()}
    assert declared <= row_fields
    assert not declared & set(checks.FIELD_LABELS)  # one owner per field
    assert (
        row_fields | employer_fields | {"unit_name", "rows"} <= set(checks.FIELD_LABELS) | declared
    )


# ------------------------------------------------------------ valid rows


@pytest.mark.parametrize("business", list(Business))
def test_a_complete_row_passes(business: Business) -> None:
    result = check_row(row(business), today=TODAY)
    assert result.problems == ()
    assert result.warnings == ()
    assert result.ok


def test_a_row_for_each_document_type_passes() -> None:
    for id_type, number in [
        (IdType.HK_MACAO_PERMIT, "H12345678"),
        (IdType.TAIWAN_PERMIT, "12345678"),
        (IdType.FOREIGN_PASSPORT, "E12345678"),
        (IdType.FOREIGN_PERMANENT_RESIDENT_ID, "USA310185120201"),
    ]:
        assert found(row(id_type=id_type, id_number=number)) == []


# -------------------------------------------------------- required columns

HIRE_ONLY = ["employment_person_category", "employment_locality"]
CONTRACT = [
    "contract_type",
    "start_date",
    "filing_person_category",
    "employment_form",
    "post",
    "labour_filing_locality",
]
REQUIRED = {
    Business.HIRE: PERSON_FIELDS + CONTRACT + HIRE_ONLY,
    Business.RENEW: PERSON_FIELDS + CONTRACT,
    Business.END: [*PERSON_FIELDS, "end_reason", "end_date"],
}


@pytest.mark.parametrize(
    ("business", "field"), [(b, f) for b, fields in REQUIRED.items() for f in fields]
)
def test_each_business_needs_its_columns(business: Business, field: str) -> None:
    assert (field, "REQUIRED") in found(row(business, **{field: None}))


@pytest.mark.parametrize("field", ["name", "id_number", "household_address", "post"])
def test_blank_text_counts_as_missing(field: str) -> None:
    assert (field, "REQUIRED") in found(row(**{field: "  "}))


@pytest.mark.parametrize(
    ("business", "field"),
    [
        (Business.RENEW, "employment_person_category"),
        (Business.RENEW, "employment_locality"),
        (Business.END, "contract_type"),
        (Business.END, "start_date"),
        (Business.END, "post"),
        (Business.HIRE, "end_reason"),
    ],
)
def test_columns_a_business_does_not_send_are_optional(business: Business, field: str) -> None:
    assert found(row(business, **{field: None})) == []


def test_every_missing_column_is_reported_at_once() -> None:
    bare = RegistrationRow(
        business=Business.HIRE,
        name="",
        gender=None,
        ethnicity=None,
        id_type=IdType.RESIDENT_ID,
        id_number="",
        mobile=None,
        household_address=None,
        current_address=None,
        education=None,
    )
    fields = [f for f, code in found(bare) if code == "REQUIRED"]
    assert sorted(fields) == sorted(set(REQUIRED[Business.HIRE]) - {"id_type"})


# ------------------------------------------------------------ coded fields


def test_codes_outside_their_table_are_refused() -> None:
    assert found(row(ethnicity="57")) == [("ethnicity", "CODE_UNKNOWN")]
    assert found(row(ethnicity="98")) == []
    bogus = row(education="11")  # the labour system's code, not the unified one
    assert found(bogus) == [("education", "CODE_UNKNOWN")]
    (p,) = check_row(bogus, today=TODAY).problems
    assert "文化程度" in p.message_zh


def test_an_unknown_business_still_gets_the_person_checked() -> None:
    assert found(row(business="HIRED", mobile="123")) == [
        ("business", "CODE_UNKNOWN"),
        ("mobile", "MOBILE_FORMAT"),
    ]


def test_the_row_gender_is_checked_against_the_id_number() -> None:
    woman = factories.resident_id(born=dt.date(1990, 3, 15), female=True)
    assert found(row(id_number=woman)) == [("id_number", "ID_NUMBER_GENDER_MISMATCH")]
    assert found(row(id_number=woman, gender=Gender.FEMALE)) == []


def test_localities_must_be_current_six_digit_divisions() -> None:
    assert found(row(employment_locality="37010")) == [("employment_locality", "DIVISION_FORMAT")]
    assert found(row(labour_filing_locality="379999")) == [
        ("labour_filing_locality", "DIVISION_UNKNOWN")
    ]
    assert found(row(employment_locality="110103")) == [
        ("employment_locality", "DIVISION_ABOLISHED")
    ]


# ------------------------------------------------------------- contracts


@pytest.mark.parametrize("business", [Business.HIRE, Business.RENEW])
def test_a_fixed_term_contract_needs_an_end_after_its_start(business: Business) -> None:
    assert found(row(business, contract_end_date=None)) == [("contract_end_date", "REQUIRED")]
    assert found(row(business, contract_end_date=START)) == [
        ("contract_end_date", "CONTRACT_END_NOT_AFTER_START")
    ]
    assert found(row(business, contract_end_date=START - dt.timedelta(days=1))) == [
        ("contract_end_date", "CONTRACT_END_NOT_AFTER_START")
    ]
    assert found(row(business, contract_end_date=START + dt.timedelta(days=1))) == []


def test_the_fixed_term_end_message_says_why_it_is_required() -> None:
    (p,) = check_row(row(contract_end_date=None), today=TODAY).problems
    assert "固定期限" in p.message_zh
    assert "fixed-term" in p.message_en


def test_an_open_ended_contract_has_no_end_date() -> None:
    open_ended = row(contract_type=ContractType.OPEN_ENDED)
    assert found(open_ended) == [("contract_end_date", "OPEN_ENDED_WITH_END_DATE")]
    assert found(dataclasses.replace(open_ended, contract_end_date=None)) == []


def test_a_task_contract_may_have_an_end_date_but_not_before_its_start() -> None:
    assert found(row(contract_type=ContractType.TASK, contract_end_date=None)) == []
    assert found(row(contract_type=ContractType.TASK, contract_end_date=START)) == [
        ("contract_end_date", "CONTRACT_END_NOT_AFTER_START")
    ]


@pytest.mark.parametrize(
    ("start", "shortest_end"),
    [
        (dt.date(2024, 3, 1), dt.date(2026, 2, 28)),
        (dt.date(2024, 6, 1), dt.date(2026, 5, 31)),
        (dt.date(2024, 2, 29), dt.date(2026, 2, 28)),
    ],
)
def test_a_dispatched_workers_fixed_term_is_at_least_two_years(
    start: dt.date, shortest_end: dt.date
) -> None:
    dispatched = row(employment_form=EmploymentForm.DISPATCHED, start_date=start)
    today = start + dt.timedelta(days=3)
    ok = dataclasses.replace(dispatched, contract_end_date=shortest_end)
    assert found(ok, today) == []
    short = dataclasses.replace(dispatched, contract_end_date=shortest_end - dt.timedelta(days=1))
    assert found(short, today) == [("contract_end_date", "DISPATCHED_TERM_TOO_SHORT")]
    (p,) = check_row(short, today=today).problems
    assert shortest_end.isoformat() in p.message_zh
    assert "art. 58" in p.message_en


def test_the_two_year_minimum_is_for_dispatched_fixed_terms_only() -> None:
    one_year = dt.date(2025, 5, 31)
    assert found(row(contract_end_date=one_year)) == []
    assert (
        found(
            row(
                employment_form=EmploymentForm.DISPATCHED,
                contract_type=ContractType.OPEN_ENDED,
                contract_end_date=None,
            )
        )
        == []
    )


# ------------------------------------------------------------------- age


@pytest.mark.parametrize("business", [Business.HIRE, Business.RENEW])
def test_the_worker_is_at_least_16_on_the_start_date(business: Business) -> None:
    sixteen_on_start = factories.resident_id(born=dt.date(2008, 6, 1))
    assert found(row(business, id_number=sixteen_on_start)) == []
    a_day_short = factories.resident_id(born=dt.date(2008, 6, 2))
    assert found(row(business, id_number=a_day_short)) == [("start_date", "UNDER_MINIMUM_AGE")]


def test_a_start_before_the_worker_was_born_is_under_age_too() -> None:
    """Found probing the checks against the systems: a start date in the past before the
    birth date the ID carries passed, as if a birth after the start were always one in
    the future (refused as such)."""
    born_after_start = factories.resident_id(born=START + dt.timedelta(days=3))
    assert START + dt.timedelta(days=3) <= TODAY  # born, but after the start
    assert found(row(id_number=born_after_start)) == [("start_date", "UNDER_MINIMUM_AGE")]


@pytest.mark.parametrize("invisible", ["\u200b", "\u200d\u200e", " \ufeff "])
def test_a_name_of_invisible_characters_is_no_name(invisible: str) -> None:
    """Found probing the checks against the systems: a name of a zero width space alone
    was taken, and sent, as a name."""
    assert found(row(name=invisible)) == [("name", "REQUIRED")]


def test_the_age_comes_from_any_document_that_carries_a_birth_date() -> None:
    body = "81000020100101001"
    permit = body + factories.ric_check(body)
    assert found(row(id_type=IdType.HMT_RESIDENCE_PERMIT, id_number=permit)) == [
        ("start_date", "UNDER_MINIMUM_AGE")
    ]
    body = "93115620100101001"
    foreign = body + factories.ric_check(body)
    assert found(row(id_type=IdType.FOREIGN_PERMANENT_RESIDENT_ID, id_number=foreign)) == [
        ("start_date", "UNDER_MINIMUM_AGE")
    ]


@pytest.mark.parametrize(
    ("id_type", "id_number"),
    [
        (IdType.FOREIGN_PASSPORT, "E12345678"),
        (IdType.FOREIGN_PERMANENT_RESIDENT_ID, "ABC370101234567"),
        (IdType.HK_MACAO_PERMIT, "H12345678"),
        (IdType.TAIWAN_PERMIT, "12345678"),
    ],
)
def test_the_age_of_a_document_without_a_birth_date_comes_from_the_row(
    id_type: IdType, id_number: str
) -> None:
    """The audit's finding: a passport holder born in 2015 was hired, the row's own date of
    birth (the column for the documents that carry none) never read for the age."""
    document = {"id_type": id_type, "id_number": id_number}
    sixteen_on_start = dt.date(2008, 6, 1)
    assert found(row(**document, birth_date=sixteen_on_start)) == []
    a_day_short = dt.date(2008, 6, 2)
    assert found(row(**document, birth_date=a_day_short)) == [("start_date", "UNDER_MINIMUM_AGE")]
    assert found(row(**document, birth_date=dt.date(2015, 1, 1))) == [
        ("start_date", "UNDER_MINIMUM_AGE")
    ]
    # Without one (social insurance off, where it is not required) nothing is reckoned.
    assert found(row(**document)) == []


def test_the_id_number_s_birth_date_counts_over_a_differing_row_date() -> None:
    """A resident ID carries the date: a row date that differs is the insurance rule's
    refusal (BIRTH_DATE_DIFFERS_FROM_ID), and the age is the ID's."""
    adult = factories.resident_id(born=dt.date(1990, 3, 15))
    assert found(row(id_number=adult, birth_date=dt.date(2015, 1, 1))) == []
    child = factories.resident_id(born=dt.date(2015, 1, 1))
    assert found(row(id_number=child, birth_date=dt.date(1990, 3, 15))) == [
        ("start_date", "UNDER_MINIMUM_AGE")
    ]


@pytest.mark.parametrize("born", [START, START + dt.timedelta(days=1), dt.date(9999, 12, 31)])
def test_a_row_birth_date_on_or_after_the_start_is_left_to_its_own_rule(born: dt.date) -> None:
    """Refused by the field's rule (BIRTH_DATE_NOT_BEFORE_START, DATE_OUT_OF_RANGE), once."""
    passport = row(id_type=IdType.FOREIGN_PASSPORT, id_number="E12345678", birth_date=born)
    assert found(passport) == []


def test_an_unreadable_birth_date_is_refused_once_not_twice() -> None:
    body = "37010220250701001"  # born after the start and after today
    number = body + factories.ric_check(body)
    assert found(row(id_number=number)) == [("id_number", "ID_NUMBER_BIRTH_DATE_IN_FUTURE")]


# ------------------------------------------------------------------- end


def test_an_end_before_the_start_is_refused() -> None:
    ended = row(Business.END, start_date=dt.date(2024, 6, 2), end_date=dt.date(2024, 6, 1))
    assert found(ended) == [("end_date", "END_BEFORE_START")]


def test_gbk_matters_only_when_the_unemployment_system_is_called() -> None:
    assert found(row(Business.END, name="刘䶮")) == []
    assert found(row(Business.HIRE, name="刘䶮")) == []
    assert found(row(Business.END, name="欧阳娜娜", register_unemployment=True)) == []


def test_unemployment_registration_goes_only_with_an_end() -> None:
    assert found(row(Business.HIRE, register_unemployment=True)) == [
        ("register_unemployment", "UNEMPLOYMENT_ONLY_ON_END")
    ]


@pytest.mark.parametrize("reason", [EndReason.DEATH, EndReason.RETIREMENT])
def test_no_unemployment_registration_after_death_or_retirement(reason: EndReason) -> None:
    r = row(Business.END, end_reason=reason, register_unemployment=True)
    assert found(r) == [("register_unemployment", "UNEMPLOYMENT_NOT_POSSIBLE")]
    assert found(dataclasses.replace(r, register_unemployment=False)) == []


def test_no_unemployment_registration_with_an_ending_still_to_come() -> None:
    """The finding: an ending dated after today with the unemployment registration was
    accepted, the dismissal and the contract's ending filed, and the unemployment
    system then refused a relation ended after its registration's day."""
    later = row(Business.END, end_date=TODAY + dt.timedelta(days=1), register_unemployment=True)
    assert found(later) == [("register_unemployment", "UNEMPLOYMENT_BEFORE_END")]
    [problem] = check_row(later, today=TODAY).problems
    assert "合同解除（终止）日期晚于今天" in problem.message_zh
    assert "the date the contract ended is after today" in problem.message_en
    assert found(dataclasses.replace(later, register_unemployment=False)) == []
    assert found(dataclasses.replace(later, end_date=TODAY)) == []


# -------------------------------------------------------------- warnings


@pytest.mark.parametrize("business", [Business.HIRE, Business.RENEW, Business.END])
@given(
    start=st.dates(),
    end=st.dates() | st.none(),
    contract_type=st.sampled_from(ContractType),
    form=st.sampled_from(EmploymentForm),
)
def test_any_dates_are_checked_never_an_internal_error(
    business: Business,
    start: dt.date,
    end: dt.date | None,
    contract_type: ContractType,
    form: EmploymentForm,
) -> None:
    """Years 1 to 9999: the sums reckoned from a date (two years of a dispatched
    contract, a month to file it in) overflowed at the ends (9999-12-31 was an
    AssertionError, then INTERNAL)."""
    dates = (
        {"end_date": start}
        if business is Business.END
        else {"start_date": start, "contract_end_date": end}
    )
    r = row(business, contract_type=contract_type, employment_form=form, **dates)
    checked = check_row(r, today=TODAY)
    in_range = [d for d in dates.values() if d is not None]
    outside = any(not checks.EARLIEST_DATE <= d <= checks.LATEST_DATE for d in in_range)
    assert ("DATE_OUT_OF_RANGE" in [p.code for p in checked.problems]) == outside


def test_a_date_outside_the_years_of_working_lives_is_refused_and_nothing_reckoned() -> None:
    assert found(row(start_date=dt.date(9999, 12, 31))) == [("start_date", "DATE_OUT_OF_RANGE")]
    assert warned(row(start_date=dt.date(9999, 12, 31))) == []
    assert found(row(contract_end_date=dt.date(2100, 1, 1))) == [
        ("contract_end_date", "DATE_OUT_OF_RANGE")
    ]
    assert found(row(Business.END, end_date=dt.date(1899, 12, 31))) == [
        ("end_date", "DATE_OUT_OF_RANGE")
    ]
    # Other problems of the row are still reported with it.
    assert found(row(name="", start_date=dt.date(2162, 1, 1))) == [
        ("name", "REQUIRED"),
        ("start_date", "DATE_OUT_OF_RANGE"),
    ]
    [problem] = check_row(row(start_date=dt.date(9999, 1, 1)), today=TODAY).problems
    assert problem.message_en == "The start date must be between 1900-01-01 and 2099-12-31"
    assert problem.message_zh == "开始（就业）时间应在1900-01-01至2099-12-31之间"
    # The bounds themselves are dates of working lives.
    edge = row(start_date=checks.EARLIEST_DATE, contract_end_date=checks.LATEST_DATE)
    assert "DATE_OUT_OF_RANGE" not in [p.code for p in check_row(edge, today=TODAY).problems]


def test_employment_registered_more_than_30_days_after_the_start_is_late() -> None:
    hire = row(start_date=dt.date(2024, 5, 1), contract_end_date=dt.date(2027, 4, 30))
    assert warned(hire, today=dt.date(2024, 5, 31)) == []
    # 31 days, but a month has not passed yet (1 May + 1 month = 1 June)
    assert warned(hire, today=dt.date(2024, 6, 1)) == ["LATE_EMPLOYMENT_REGISTRATION"]
    assert warned(hire, today=dt.date(2024, 6, 2)) == [
        "LATE_EMPLOYMENT_REGISTRATION",
        "LATE_CONTRACT_FILING",
    ]


def test_a_month_from_the_31st_ends_on_the_last_day_of_the_next_month() -> None:
    hire = row(start_date=dt.date(2024, 1, 31), contract_end_date=dt.date(2027, 1, 30))
    assert "LATE_CONTRACT_FILING" not in warned(hire, today=dt.date(2024, 2, 29))
    assert "LATE_CONTRACT_FILING" in warned(hire, today=dt.date(2024, 3, 1))


def test_warnings_do_not_refuse_the_row_and_apply_to_hires_only() -> None:
    late = dict(start_date=dt.date(2023, 1, 1), contract_end_date=dt.date(2026, 1, 1))
    hire = check_row(row(**late), today=TODAY)
    assert hire.ok
    assert {w.code for w in hire.warnings} <= checks.WARNING_CODES
    assert len(hire.warnings) == 2
    assert all(w.field == "start_date" for w in hire.warnings)
    assert warned(row(Business.RENEW, **late)) == []


# --------------------------------------------------------------- privacy


def test_no_message_holds_the_id_or_mobile_number() -> None:
    number = factories.resident_id(born=dt.date(2015, 1, 1))
    mobile = "12912345678"
    bad = row(
        id_number=number[:17] + ("0" if number[17] != "0" else "1"),
        mobile=mobile,
        gender=Gender.FEMALE,
        ethnicity="77",
        employment_locality="999999",
        start_date=dt.date(2020, 1, 1),
        contract_end_date=dt.date(2019, 1, 1),
    )
    result = check_row(bad, today=TODAY)
    assert len(result.problems) >= 6
    for p in result.problems + result.warnings:
        text = p.message_zh + p.message_en
        assert number[:17] not in text
        assert mobile not in text
        assert number[-4:] not in text


# ------------------------------------------------------------------ forms


def form(*rows: RegistrationRow, **changes: Any) -> RegistrationForm:
    base = RegistrationForm(
        unit_name="济南某某科技有限公司",
        credit_code=factories.credit_code(),
        contact="李四",
        rows=list(rows),
    )
    return dataclasses.replace(base, **changes)


def test_a_good_form_is_ok() -> None:
    result = check_form(form(row(), row(Business.END)), today=TODAY)
    assert result.ok
    assert result.header == ()
    assert [r.index for r in result.rows] == [0, 1]
    assert list(result.problems()) == []


def test_header_problems() -> None:
    result = check_form(form(unit_name=" ", credit_code="91370102MA3C8TLK6X"), today=TODAY)
    assert [(p.field, p.code) for p in result.header] == [
        ("unit_name", "REQUIRED"),
        ("credit_code", "CREDIT_CODE_CHECKSUM"),
        ("rows", "NO_ROWS"),
    ]
    assert not result.ok


def test_form_problems_carry_their_row_index() -> None:
    result = check_form(form(row(), row(mobile="1"), row(name="")), today=TODAY)
    assert not result.ok
    assert [r.ok for r in result.rows] == [True, False, False]
    assert [(i, p.code) for i, p in result.problems()] == [(1, "MOBILE_FORMAT"), (2, "REQUIRED")]


def test_the_same_person_and_business_twice_in_a_form_is_refused() -> None:
    first = row()
    again = dataclasses.replace(first, mobile=factories.mobile())
    ended = row(Business.END, id_number=first.id_number)
    result = check_form(form(first, ended, again), today=TODAY)
    assert [[p.code for p in r.problems] for r in result.rows] == [[], [], ["DUPLICATE_IN_FORM"]]
    (p,) = result.rows[2].problems
    assert "第1行" in p.message_zh


def test_a_duplicate_names_the_first_row_as_the_rows_are_numbered_for_people() -> None:
    # A workbook's rows 甲, 乙, 丙, 乙 on sheet rows 6 to 9: the first 乙 is on row 7.
    jia, yi, bing = row(), row(), row()
    again = dataclasses.replace(yi, mobile=factories.mobile())
    numbered = check_form(form(jia, yi, bing, again), today=TODAY, row_numbers=[6, 7, 8, 9])
    (p,) = numbered.rows[3].problems
    assert p.code == "DUPLICATE_IN_FORM"
    assert "本表第7行" in p.message_zh
    assert "Row 7 of this form" in p.message_en
    # Indexes stay 0-based; by default a row is named by its 1-based position.
    assert [r.index for r in numbered.rows] == [0, 1, 2, 3]
    (p,) = check_form(form(jia, yi, bing, again), today=TODAY).rows[3].problems
    assert "本表第2行" in p.message_zh
    assert "Row 2 of this form" in p.message_en


def test_form_warnings_leave_it_ok() -> None:
    late = row(start_date=dt.date(2024, 1, 2), contract_end_date=dt.date(2027, 1, 1))
    result = check_form(form(late), today=TODAY)
    assert result.ok
    assert [(i, w.code) for i, w in result.warnings()] == [
        (0, "LATE_EMPLOYMENT_REGISTRATION"),
        (0, "LATE_CONTRACT_FILING"),
    ]


# -------------------------------------------------------------- employers


def employer(**changes: Any) -> EmployerProfile:
    base = EmployerProfile(
        credit_code=factories.credit_code(),
        name="济南某某科技有限公司",
        division="370102",
        contact="李四",
        phone="0531-88888888",
    )
    return dataclasses.replace(base, **changes)


def test_a_good_employer_passes() -> None:
    assert check_employer(employer()) == []
    assert check_employer(employer(phone=None, contact=None)) == []
    cooperative = factories.credit_code(prefix="N2")
    assert check_employer(employer(credit_code=cooperative)) == []


def test_employer_problems() -> None:
    problems = check_employer(employer(credit_code="", name="", division="3701", phone="12345"))
    assert [(p.field, p.code) for p in problems] == [
        ("credit_code", "REQUIRED"),
        ("name", "REQUIRED"),
        ("division", "DIVISION_FORMAT"),
        ("phone", "PHONE_FORMAT"),
    ]
    assert problems[1].message_zh == "单位名称为必填项"
    assert problems[1].message_en == "Unit name is required"
