"""ID numbers and credit codes: every document type, the python-stdnum cases, properties.

Valid numbers are built with tests/factories.py, whose check characters are
computed from the standards independently of the code under test.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from gateway.domain import identifiers
from gateway.domain.checks import (
    Problem,
    birth_date_from_id,
    check_credit_code,
    check_id_number,
    check_mobile,
    check_phone,
)
from gateway.domain.model import Gender, IdType
from tests.factories import ric_check, uscc_check

TODAY = dt.date(2025, 6, 1)
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def eleven_two(body17: str) -> str:
    return body17 + ric_check(body17)


def codes_of(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


def check(id_type: IdType, number: str, gender: Gender | None = None) -> list[str]:
    return codes_of(check_id_number(id_type, number, today=TODAY, gender=gender))


# ---------------------------------------------------- the python-stdnum cases


def test_stdnum_ric_rejects_an_id_born_before_its_division_code_existed() -> None:
    # 370602 (芝罘区) is dated [1983-] in stdnum's data; people born in 1979 were
    # issued IDs later under it. stdnum refuses them, the gateway must not.
    number = "370602197911300014"
    with pytest.raises(ValidationError):
        ric.validate(number)
    assert check(IdType.RESIDENT_ID, number, gender=Gender.MALE) == []


def test_stdnum_ric_raises_key_error_on_a_county_it_does_not_know() -> None:
    # A known province with an unknown county: stdnum 2.x raises KeyError('county')
    # (other versions InvalidComponent). The gateway reports it as a problem.
    number = eleven_two("37999919900101001")
    with pytest.raises((KeyError, ValidationError)):
        ric.validate(number)
    assert check(IdType.RESIDENT_ID, number) == ["ID_NUMBER_DIVISION_UNKNOWN"]


@pytest.mark.parametrize("prefix", ["810000", "820000", "830000"])
def test_stdnum_ric_rejects_hong_kong_macao_taiwan_residence_permits(prefix: str) -> None:
    # Born before 1997: stdnum's data dates 810000 from 1997 and lacks 830000.
    number = eleven_two(prefix + "19900101002")
    assert not ric.is_valid(number)
    assert check(IdType.HMT_RESIDENCE_PERMIT, number, gender=Gender.FEMALE) == []


def test_stdnum_ric_rejects_the_new_foreign_permanent_resident_id() -> None:
    number = eleven_two("93115619851203001")  # 9, issuing place 31, country 156
    assert not ric.is_valid(number)
    assert check(IdType.FOREIGN_PERMANENT_RESIDENT_ID, number) == []


@pytest.mark.parametrize("body", ["N2370102MA0000001", "Y1370102MA0000001", "A1110000MA0000001"])
def test_stdnum_uscc_rejects_credit_codes_that_begin_with_a_letter(body: str) -> None:
    code = body + uscc_check(body)
    assert not uscc.is_valid(code)
    assert check_credit_code(code) == []


# -------------------------------------------------------------- resident ID


def test_a_valid_resident_id_passes_with_or_without_a_gender() -> None:
    male = eleven_two("37010219900101001")
    female = eleven_two("37010219900101002")
    assert check(IdType.RESIDENT_ID, male) == []
    assert check(IdType.RESIDENT_ID, male, gender=Gender.MALE) == []
    assert check(IdType.RESIDENT_ID, female, gender=Gender.FEMALE) == []


def test_the_17th_digit_must_agree_with_the_gender() -> None:
    male = eleven_two("37010219900101001")
    assert check(IdType.RESIDENT_ID, male, gender=Gender.FEMALE) == ["ID_NUMBER_GENDER_MISMATCH"]
    female = eleven_two("37010219900101000")  # 0 is even: a woman
    assert check(IdType.RESIDENT_ID, female, gender=Gender.MALE) == ["ID_NUMBER_GENDER_MISMATCH"]


def test_an_x_check_character_is_accepted_in_capitals_only() -> None:
    body = next(b for b in (f"3701021990010100{i}" for i in range(10)) if ric_check(b) == "X")
    assert check(IdType.RESIDENT_ID, body + "X") == []
    assert check(IdType.RESIDENT_ID, body + "x") == ["ID_NUMBER_FORMAT"]
    assert identifiers.normalize_id_number(f" {body[:6]} {body[6:]}x ") == body + "X"


@pytest.mark.parametrize(
    "number",
    ["37010219900101001", "3701021990010100123", "37010219900101001A", "3701021990O101001X", ""],
)
def test_a_resident_id_must_be_17_digits_and_a_check_character(number: str) -> None:
    expected = ["REQUIRED"] if number == "" else ["ID_NUMBER_FORMAT"]
    assert check(IdType.RESIDENT_ID, number) == expected


def test_every_problem_of_a_resident_id_is_reported_at_once() -> None:
    body = "37999919900230001"  # unknown county, 30 February
    wrong = "0" if ric_check(body) != "0" else "1"
    assert check(IdType.RESIDENT_ID, body + wrong, gender=Gender.FEMALE) == [
        "ID_NUMBER_DIVISION_UNKNOWN",
        "ID_NUMBER_CHECKSUM",
        "ID_NUMBER_BIRTH_DATE_INVALID",
        "ID_NUMBER_GENDER_MISMATCH",
    ]


@pytest.mark.parametrize("born", ["19901301", "19900230", "19900001", "18991231", "00000000"])
def test_the_birth_date_must_be_a_real_date(born: str) -> None:
    number = eleven_two(f"370102{born}001")
    assert check(IdType.RESIDENT_ID, number) == ["ID_NUMBER_BIRTH_DATE_INVALID"]
    assert birth_date_from_id(IdType.RESIDENT_ID, number) is None


def test_the_birth_date_must_not_be_after_today() -> None:
    number = eleven_two("37010220250602001")
    assert check(IdType.RESIDENT_ID, number) == ["ID_NUMBER_BIRTH_DATE_IN_FUTURE"]
    born_today = eleven_two("37010220250601001")
    assert check(IdType.RESIDENT_ID, born_today) == []
    later = check_id_number(IdType.RESIDENT_ID, number, today=dt.date(2025, 6, 2))
    assert later == []


def test_an_abolished_division_still_identifies_a_resident_id() -> None:
    # 110103 崇文区 was abolished in 2010; IDs issued under it stay valid.
    assert check(IdType.RESIDENT_ID, eleven_two("11010319800101001")) == []


@pytest.mark.parametrize("body", ["81000019900101001", "82000020000101001", "93115619851203001"])
def test_a_permit_or_permanent_resident_number_is_not_a_resident_id(body: str) -> None:
    assert check(IdType.RESIDENT_ID, eleven_two(body)) == ["ID_NUMBER_TYPE_MISMATCH"]


# ------------------------------------------- permits and permanent resident IDs


def test_a_residence_permit_must_carry_a_hong_kong_macao_or_taiwan_prefix() -> None:
    assert check(IdType.HMT_RESIDENCE_PERMIT, eleven_two("37010219900101001")) == [
        "ID_NUMBER_PREFIX"
    ]
    assert check(IdType.HMT_RESIDENCE_PERMIT, eleven_two("84000019900101001")) == [
        "ID_NUMBER_PREFIX"
    ]


def test_a_residence_permit_carries_gender_and_birth_date() -> None:
    number = eleven_two("81000019900101001")
    assert check(IdType.HMT_RESIDENCE_PERMIT, number, gender=Gender.FEMALE) == [
        "ID_NUMBER_GENDER_MISMATCH"
    ]
    future = eleven_two("83000020300101001")
    assert check(IdType.HMT_RESIDENCE_PERMIT, future) == ["ID_NUMBER_BIRTH_DATE_IN_FUTURE"]


def test_the_new_permanent_resident_id_begins_with_9_and_uses_the_same_check() -> None:
    good = eleven_two("93115619851203002")
    assert check(IdType.FOREIGN_PERMANENT_RESIDENT_ID, good) == []
    assert check(
        IdType.FOREIGN_PERMANENT_RESIDENT_ID, good[:17] + ("1" if good[17] != "1" else "2")
    ) == ["ID_NUMBER_CHECKSUM"]
    assert check(IdType.FOREIGN_PERMANENT_RESIDENT_ID, eleven_two("13115619851203002")) == [
        "ID_NUMBER_PREFIX"
    ]
    assert check(IdType.FOREIGN_PERMANENT_RESIDENT_ID, eleven_two("93115619851303002")) == [
        "ID_NUMBER_BIRTH_DATE_INVALID"
    ]


def test_the_permanent_resident_id_asserts_no_gender() -> None:
    number = eleven_two("93115619851203001")
    for gender in Gender:
        assert check(IdType.FOREIGN_PERMANENT_RESIDENT_ID, number, gender=gender) == []
    assert identifiers.gender_from_id(IdType.FOREIGN_PERMANENT_RESIDENT_ID, number) is None


@pytest.mark.parametrize(
    ("number", "ok"),
    [
        ("USA310185120201", True),  # old form: 3 letters and 12 digits
        ("usa310185120201", False),
        ("US3101851202011", False),
        ("USA31018512020", False),
        ("USA3101851202011", False),
    ],
)
def test_the_old_permanent_resident_id(number: str, ok: bool) -> None:
    expected = [] if ok else ["ID_NUMBER_FORMAT"]
    assert check(IdType.FOREIGN_PERMANENT_RESIDENT_ID, number) == expected
    assert birth_date_from_id(IdType.FOREIGN_PERMANENT_RESIDENT_ID, number) is None


@pytest.mark.parametrize(
    ("id_type", "number", "ok"),
    [
        (IdType.HK_MACAO_PERMIT, "H12345678", True),
        (IdType.HK_MACAO_PERMIT, "M12345678", True),
        (IdType.HK_MACAO_PERMIT, "H1234567890", True),  # newer cards: 10 digits
        (IdType.HK_MACAO_PERMIT, "H123456789", False),
        (IdType.HK_MACAO_PERMIT, "H1234567", False),
        (IdType.HK_MACAO_PERMIT, "h12345678", False),
        (IdType.HK_MACAO_PERMIT, "T12345678", False),
        (IdType.HK_MACAO_PERMIT, "12345678", False),
        (IdType.TAIWAN_PERMIT, "12345678", True),
        (IdType.TAIWAN_PERMIT, "1234567890", True),  # older cards: 10 digits
        (IdType.TAIWAN_PERMIT, "123456789", False),
        (IdType.TAIWAN_PERMIT, "T12345678", False),
        (IdType.FOREIGN_PASSPORT, "E1234567", True),
        (IdType.FOREIGN_PASSPORT, "AB123", True),
        (IdType.FOREIGN_PASSPORT, "A" * 20, True),
        (IdType.FOREIGN_PASSPORT, "AB12", False),
        (IdType.FOREIGN_PASSPORT, "A" * 21, False),
        (IdType.FOREIGN_PASSPORT, "E123-4567", False),
        (IdType.FOREIGN_PASSPORT, "e1234567", False),
    ],
)
def test_permits_and_passports(id_type: IdType, number: str, ok: bool) -> None:
    assert check(id_type, number) == ([] if ok else ["ID_NUMBER_FORMAT"])
    assert check(id_type, number, gender=Gender.FEMALE) == ([] if ok else ["ID_NUMBER_FORMAT"])


@pytest.mark.parametrize("id_type", list(IdType))
def test_a_blank_number_is_required_and_problems_land_on_the_given_field(id_type: IdType) -> None:
    problems = check_id_number(id_type, "  ", today=TODAY, field="contact_id")
    assert [(p.field, p.code) for p in problems] == [("contact_id", "REQUIRED")]


def test_birth_date_from_id() -> None:
    resident = eleven_two("37010219900215001")
    assert birth_date_from_id(IdType.RESIDENT_ID, resident) == dt.date(1990, 2, 15)
    permit = eleven_two("82000020010731002")
    assert birth_date_from_id(IdType.HMT_RESIDENCE_PERMIT, permit) == dt.date(2001, 7, 31)
    foreign = eleven_two("93115619851203001")
    assert birth_date_from_id(IdType.FOREIGN_PERMANENT_RESIDENT_ID, foreign) == dt.date(1985, 12, 3)
    assert birth_date_from_id(IdType.FOREIGN_PASSPORT, resident) is None
    assert birth_date_from_id(IdType.TAIWAN_PERMIT, "12345678") is None
    assert birth_date_from_id(IdType.RESIDENT_ID, "3701021990021500") is None


def test_gender_from_id() -> None:
    assert identifiers.gender_from_id(IdType.RESIDENT_ID, eleven_two("37010219900101003")) == (
        Gender.MALE
    )
    assert identifiers.gender_from_id(IdType.RESIDENT_ID, eleven_two("37010219900101008")) == (
        Gender.FEMALE
    )
    assert identifiers.gender_from_id(IdType.FOREIGN_PASSPORT, "E12345678") is None


def test_messages_never_hold_the_number() -> None:
    number = eleven_two("37999920300230001")[:17] + "0"
    problems = check_id_number(IdType.RESIDENT_ID, number, today=TODAY, gender=Gender.FEMALE)
    assert len(problems) >= 3
    for p in problems:
        for fragment in (number, number[:6], number[6:14], number[-4:]):
            assert fragment not in p.message_zh
            assert fragment not in p.message_en


# ------------------------------------------------------------- properties

# Varied divisions: current, dated, renamed, abolished, province and city level.
KNOWN_DIVISIONS = [
    "110101", "110103", "120110", "370000", "370100", "370102", "370602",
    "440305", "650102", "130502", "540102", "710000",
]  # fmt: skip

birth_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY)


@given(
    division=st.sampled_from(KNOWN_DIVISIONS),
    born=birth_dates,
    sequence=st.integers(0, 999),
)
def test_resident_id_accepts_its_check_digit_and_no_other(
    division: str, born: dt.date, sequence: int
) -> None:
    body = f"{division}{born:%Y%m%d}{sequence:03d}"
    good = ric_check(body)
    assert check(IdType.RESIDENT_ID, body + good) == []
    assert birth_date_from_id(IdType.RESIDENT_ID, body + good) == born
    for other in "0123456789X":
        if other != good:
            assert check(IdType.RESIDENT_ID, body + other) == ["ID_NUMBER_CHECKSUM"]


@given(
    prefix=st.sampled_from(["810000", "820000", "830000", "9"]),
    rest=st.text("0123456789", min_size=5, max_size=5),
    born=birth_dates,
    sequence=st.integers(0, 999),
)
def test_permits_accept_their_check_digit_and_no_other(
    prefix: str, rest: str, born: dt.date, sequence: int
) -> None:
    head = prefix if len(prefix) == 6 else prefix + rest
    id_type = (
        IdType.HMT_RESIDENCE_PERMIT if len(prefix) == 6 else (IdType.FOREIGN_PERMANENT_RESIDENT_ID)
    )
    body = f"{head}{born:%Y%m%d}{sequence:03d}"
    good = ric_check(body)
    assert check(id_type, body + good) == []
    for other in "0123456789X":
        if other != good:
            assert check(id_type, body + other) == ["ID_NUMBER_CHECKSUM"]


credit_bodies = st.builds(
    lambda head, division, org: head + division + org,
    st.text(ALPHABET, min_size=2, max_size=2),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(ALPHABET, min_size=9, max_size=9),
)


@given(body=credit_bodies)
def test_credit_code_accepts_its_check_character_and_no_other(body: str) -> None:
    good = uscc_check(body)
    assert check_credit_code(body + good) == []
    assert identifiers.uscc_check(body) == good
    for other in ALPHABET:
        if other != good:
            assert codes_of(check_credit_code(body + other)) == ["CREDIT_CODE_CHECKSUM"]


@given(body=credit_bodies.filter(lambda b: b[0].isalpha()))
def test_letter_prefixed_credit_codes_are_accepted(body: str) -> None:
    assert check_credit_code(body + uscc_check(body)) == []


# ------------------------------------------------------------ credit codes


def test_credit_code_format() -> None:
    body = "91370102MA3C8TLK6"
    good = body + uscc_check(body)
    assert check_credit_code(good) == []
    assert codes_of(check_credit_code(good.lower())) == ["CREDIT_CODE_FORMAT"]
    assert codes_of(check_credit_code(good[:17])) == ["CREDIT_CODE_FORMAT"]
    assert codes_of(check_credit_code(good + "1")) == ["CREDIT_CODE_FORMAT"]
    assert codes_of(check_credit_code("")) == ["REQUIRED"]
    assert codes_of(check_credit_code(None)) == ["REQUIRED"]
    assert identifiers.normalize_credit_code(" " + good.lower() + "\n") == good


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z"])
def test_credit_code_alphabet_leaves_out_i_o_s_v_z(letter: str) -> None:
    code = f"91370102MA{letter}C8TLK6" + "0"
    assert codes_of(check_credit_code(code)) == ["CREDIT_CODE_FORMAT"]


def test_credit_code_places_3_to_8_are_a_division() -> None:
    body = "9137A102MA3C8TLK6"
    assert codes_of(check_credit_code(body + uscc_check(body))) == ["CREDIT_CODE_FORMAT"]


def test_a_credit_code_problem_lands_on_the_given_field() -> None:
    (p,) = check_credit_code("1", field="employer_credit_code")
    assert p.field == "employer_credit_code"
    assert p.message_zh.startswith("统一社会信用代码应为18位")
    assert p.message_en.startswith("Unified social credit code must be 18 characters")


# ----------------------------------------------------------------- phones


@pytest.mark.parametrize("mobile", ["13012345678", "15912345678", "19912345678"])
def test_valid_mobiles(mobile: str) -> None:
    assert check_mobile(mobile) == []


@pytest.mark.parametrize(
    "mobile",
    ["12012345678", "10012345678", "1391234567", "139123456789", "+8613912345678", "139 1234 5678"],
)
def test_invalid_mobiles(mobile: str) -> None:
    problems = check_mobile(mobile)
    assert codes_of(problems) == ["MOBILE_FORMAT"]
    assert problems[0].field == "mobile"
    assert mobile not in problems[0].message_zh + problems[0].message_en


def test_a_blank_mobile_is_required() -> None:
    assert codes_of(check_mobile(None)) == ["REQUIRED"]
    assert codes_of(check_mobile("")) == ["REQUIRED"]


@pytest.mark.parametrize(
    ("phone", "ok"),
    [
        ("0531-88888888", True),
        ("053188888888", True),
        ("010-6666666", True),
        ("0531-88888888-123", True),
        ("400-123-4567", True),
        ("13912345678", True),
        ("88888888", False),  # no area code
        ("12345", False),
    ],
)
def test_contact_phones(phone: str, ok: bool) -> None:
    assert codes_of(check_phone(phone)) == ([] if ok else ["PHONE_FORMAT"])


# ------------------------------------------------------- full-width input


def test_full_width_digits_are_refused_as_typed_and_normalised_to_ascii() -> None:
    number = eleven_two("37010219900101001")
    full_width = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert check(IdType.RESIDENT_ID, full_width) == ["ID_NUMBER_FORMAT"]
    assert check(IdType.TAIWAN_PERMIT, "１２３４５６７８") == ["ID_NUMBER_FORMAT"]
    assert codes_of(check_mobile("１３９１２３４５６７８")) == ["MOBILE_FORMAT"]
    assert identifiers.normalize_id_number(full_width) == number
    assert identifiers.normalize_id_number("ｈ１２３４５６７８") == "H12345678"
    assert identifiers.normalize_credit_code("９１３７０１０２ＭＡ３Ｃ８ＴＬＫ６Ｘ") == (
        "91370102MA3C8TLK6X"
    )


@pytest.mark.parametrize(
    "typed",
    [
        "138 1234 5678",
        "138-1234-5678",
        "１３８１２３４５６７８",
        " 138\u30001234\t5678 ",
        "１３８－１２３４－５６７８",
    ],
)
def test_a_mobile_is_normalised_as_an_id_number_is(typed: str) -> None:
    assert codes_of(check_mobile(typed)) == ["MOBILE_FORMAT"]  # judged as given
    assert identifiers.normalize_mobile(typed) == "13812345678"
    assert check_mobile(identifiers.normalize_mobile(typed)) == []


@pytest.mark.parametrize(
    "typed", ["12345", "+86 138 1234 5678", "1381234567x", "２３８１２３４５６７８"]
)
def test_a_normalised_mobile_that_is_still_no_mobile_is_refused(typed: str) -> None:
    assert codes_of(check_mobile(identifiers.normalize_mobile(typed))) == ["MOBILE_FORMAT"]


@pytest.mark.parametrize(
    "typed",
    [
        "９１３７０１０２ＭＡ３Ｃ４ＴＬＱ２Ｎ",
        " 91370102ma3c4tlq2n ",
        "91370102MA3C4TLQ2N",
        "\u3000９１３７０１０２ｍａ３ｃ４ｔｌｑ２ｎ\u3000",
    ],
)
def test_a_credit_code_typed_in_full_width_lower_case_or_with_spaces_is_the_code(
    typed: str,
) -> None:
    assert identifiers.normalize_credit_code(typed) == "91370102MA3C4TLQ2N"
    assert check_credit_code(identifiers.normalize_credit_code(typed)) == []
