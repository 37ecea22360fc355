"""Social insurance mapping and cryptography: pure functions, no I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.social_insurance import crypto, mapping
from adapters.social_insurance.model import (
    SYSTEM,
    AdditionRequest,
    DeclarationKind,
    DeclarationState,
    InsuranceState,
    InsuranceType,
    RemovalRequest,
    ReturnReason,
    StopReason,
)
from gateway.domain.identifiers import birth_date_from_id
from gateway.domain.model import Education, Gender, IdType, Person
from gateway.systems import Duplicate, NotFound, Rejected, Unavailable
from tests import factories

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


def a_person(**changes: object) -> Person:
    base = Person(
        IdType.RESIDENT_ID, "370102199003070011", "张三", Gender.MALE, "01", Education.BACHELOR
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def an_addition(**changes: object) -> AdditionRequest:
    base = AdditionRequest("SB37010200000001", a_person(), dt.date(2026, 3, 1), Decimal("5200"))
    return replace(base, **changes)  # type: ignore[arg-type]


# ------------------------------------------------------------------ codes


@pytest.mark.parametrize(
    ("table", "inverse", "kind"),
    [
        (mapping.STOP_REASON_TO_LEGACY, mapping.STOP_REASON_FROM_LEGACY, StopReason),
        (mapping.KIND_TO_LEGACY, mapping.KIND_FROM_LEGACY, DeclarationKind),
        (mapping.STATE_TO_LEGACY, mapping.STATE_FROM_LEGACY, DeclarationState),
        (mapping.RETURN_REASON_TO_LEGACY, mapping.RETURN_REASON_FROM_LEGACY, ReturnReason),
        (mapping.INSURANCE_STATE_TO_LEGACY, mapping.INSURANCE_STATE_FROM_LEGACY, InsuranceState),
        (mapping.GENDER_TO_LEGACY, mapping.GENDER_FROM_LEGACY, Gender),
    ],
)
def test_every_code_table_is_total_and_round_trips(
    table: dict[object, str], inverse: dict[str, object], kind: type
) -> None:
    assert set(table) == set(kind)  # type: ignore[call-overload]
    assert all(inverse[code] is value for value, code in table.items())


def test_the_contracts_codes() -> None:
    assert [t.value for t in InsuranceType] == ["110", "210", "310", "410", "510"]
    assert set(mapping.STOP_REASON_FROM_LEGACY) == {"01", "02", "09"}
    assert set(mapping.STATE_FROM_LEGACY) == {"01", "02", "03", "04"}
    assert set(mapping.RETURN_REASON_FROM_LEGACY) == {"R01", "R02", "R03", "R09"}
    assert set(mapping.ID_TYPE_FROM_LEGACY) == {"01", "04", "05", "06", "07", "08", "17"}


def test_hk_and_macao_permits_by_their_first_letter() -> None:
    assert mapping.id_type_to_legacy(IdType.HK_MACAO_PERMIT, "H12345678") == "04"
    assert mapping.id_type_to_legacy(IdType.HK_MACAO_PERMIT, "m1234567801") == "05"
    with pytest.raises(mapping.MappingError) as caught:
        mapping.id_type_to_legacy(IdType.HK_MACAO_PERMIT, "12345678")
    assert caught.value.field == "id_number"
    for code in ("04", "05"):
        assert mapping.ID_TYPE_FROM_LEGACY[code] is IdType.HK_MACAO_PERMIT


# -------------------------------------------------------------- additions


def test_an_addition_in_the_systems_terms() -> None:
    legacy = mapping.addition_to_legacy(
        an_addition(insurance_types=(InsuranceType.MEDICAL, InsuranceType.PENSION))
    )
    assert legacy == {
        "dwbh": "SB37010200000001",
        "aac058": "01",
        "aac002": "370102199003070011",
        "aac003": "张三",
        "aac004": "1",
        "csrq": "1990-03-07",  # from the resident ID
        "cbrq": "2026-03-01",
        "jfgz": "5200.00",
        "xzlx": ["110", "310"],
    }


def test_the_birth_date_is_given_where_the_document_has_none() -> None:
    passport = a_person(id_type=IdType.FOREIGN_PASSPORT, id_number="E12345678")
    with pytest.raises(mapping.MappingError) as caught:
        mapping.addition_to_legacy(an_addition(person=passport))
    assert caught.value.field == "birth_date"
    given_date = an_addition(person=passport, birth_date=dt.date(1980, 1, 2))
    assert mapping.addition_to_legacy(given_date)["csrq"] == "1980-01-02"
    # A given date wins over the one in the number.
    assert mapping.birth_date_of(an_addition(birth_date=dt.date(1991, 1, 1))) == dt.date(1991, 1, 1)


def test_a_new_foreign_permanent_resident_id_gives_its_birth_date_as_the_check_reads_it() -> None:
    """The finding: the row's check took the birth date from the new 18-digit foreign
    permanent resident ID and asked for none, and the addition, a follow-up sent after
    the employment registration and the contract were filed, was refused for want of
    one: the mapping read a date only from resident IDs and residence permits."""
    number = "937156196609099450"
    assert birth_date_from_id(IdType.FOREIGN_PERMANENT_RESIDENT_ID, number) == dt.date(1966, 9, 9)
    foreigner = a_person(id_type=IdType.FOREIGN_PERMANENT_RESIDENT_ID, id_number=number)
    assert mapping.addition_to_legacy(an_addition(person=foreigner))["csrq"] == "1966-09-09"


@pytest.mark.parametrize("wage", ["5200.001", "-1", "NaN", "sNaN", "Infinity", "9" * 32])
def test_a_wage_is_whole_cents(wage: str) -> None:
    with pytest.raises(mapping.MappingError) as caught:
        mapping.wage_to_legacy(Decimal(wage))
    assert caught.value.field == "monthly_wage"


@given(st.decimals(min_value=0, max_value=Decimal("999999999.99"), places=2))
def test_wages_round_trip(wage: Decimal) -> None:
    assert mapping.wage_from_legacy(mapping.wage_to_legacy(wage)) == wage


def test_no_insurance_type_is_refused() -> None:
    with pytest.raises(mapping.MappingError) as caught:
        mapping.addition_to_legacy(an_addition(insurance_types=()))
    assert caught.value.field == "insurance_types"


def test_a_removal_stops_the_day_after_the_relation_ends() -> None:
    request = RemovalRequest.after_relation_ended(
        "SB1", IdType.RESIDENT_ID, "370102199003070011", dt.date(2026, 2, 28), StopReason.LEFT_UNIT
    )
    assert mapping.removal_to_legacy(request) == {
        "dwbh": "SB1",
        "aac058": "01",
        "aac002": "370102199003070011",
        "tbrq": "2026-03-01",
        "tbyy": "02",
    }


# ----------------------------------------------------------- answers back


def test_a_declaration_read_back() -> None:
    row = {
        "slh": "SL20260301000001", "ywlx": "ZY", "dwbh": "SB1", "aac058": "05",
        "aac002": "M12345678", "zt": "03", "sbsj": "2026-03-01T09:30:00",
        "thyy": "R02", "thsm": "缴费工资超出上下限", "grbh": None, "sxrq": None,
    }  # fmt: skip
    d = mapping.declaration_from_legacy(row)
    assert (d.kind, d.id_type, d.state, d.return_reason) == (
        DeclarationKind.ADDITION,
        IdType.HK_MACAO_PERMIT,
        DeclarationState.RETURNED,
        ReturnReason.WAGE_OUT_OF_RANGE,
    )
    assert d.declared_at == dt.datetime(2026, 3, 1, 9, 30)
    assert (d.insurance_number, d.effective_on, d.return_note) == (None, None, "缴费工资超出上下限")
    for name, bad in (("zt", "05"), ("sbsj", "yesterday"), ("slh", None), ("sxrq", "20260301")):
        with pytest.raises(mapping.LegacyFormatError) as caught:
            mapping.declaration_from_legacy({**row, name: bad})
        assert caught.value.field == name


def test_insurance_read_back() -> None:
    spell = mapping.insurance_from_legacy(
        {"dwbh": "SB1", "grbh": "370000000001", "cbrq": "2020-01-01", "tbrq": None, "zt": "1"}
    )
    assert (spell.state, spell.stop_date, spell.start_date) == (
        InsuranceState.INSURED, None, dt.date(2020, 1, 1),
    )  # fmt: skip


# ------------------------------------------------------------------ errors


def test_errors_map_to_the_taxonomy() -> None:
    def err(status: int, code: str | None, message: str = "", **kw: object) -> object:
        body = (
            None
            if code is None
            else {"code": code, "message": message, "data": kw.pop("data", None)}
        )
        return mapping.error_from_answer(status, body, **kw)  # type: ignore[arg-type]

    over = err(429, "4290", retry_after=2.0)
    assert isinstance(over, Unavailable)
    assert (over.retry_after, over.outcome_unknown) == (2.0, False)
    maintenance = err(503, "5030", retry_after=60.0, write=True)
    assert isinstance(maintenance, Unavailable)
    assert (maintenance.retry_after, maintenance.outcome_unknown) == (60.0, False)
    lost = err(502, None, write=True)
    assert isinstance(lost, Unavailable)
    assert lost.outcome_unknown is True
    assert isinstance(err(401, "4010"), Rejected)
    assert not isinstance(err(401, "4010"), Unavailable)
    assert isinstance(err(401, "4012"), Unavailable)
    unit = err(200, "1001", data={"dwbh": "SB9"})
    assert isinstance(unit, Duplicate)
    assert unit.existing_reference == "SB9"
    assert isinstance(err(200, "1004"), NotFound)
    assert isinstance(err(200, "1005"), NotFound)
    invalid = err(200, "1400", "字段 aac003 无效：长度31个字符，超过30个字符")
    assert isinstance(invalid, Rejected)
    assert (invalid.field, invalid.system_code) == ("name", "1400")
    assert "aac003" not in str(invalid)
    proxy = err(404, None, write=True)
    assert isinstance(proxy, Unavailable)
    assert proxy.system is SYSTEM


def test_messages_never_carry_what_we_sent() -> None:
    number = factories.resident_id()
    error = mapping.error_from_answer(
        200,
        {"code": "1400", "message": f"字段 aac002 无效：{number} 张三丰 不正确"},
        personal=[number, "张三丰"],
    )
    assert number not in str(error)
    assert "张三丰" not in str(error)
    # An ID number the system quotes that we did not send is masked all the same.
    other = factories.resident_id()
    masked = mapping.error_from_answer(200, {"code": "1999", "message": f"与 {other} 冲突"})
    assert other not in str(masked)


# ------------------------------------------------------------- cryptography


def test_sm3_is_the_standards() -> None:
    # GB/T 32905-2016, appendix A, example 1.
    assert crypto.sm3_hex(b"abc") == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


def test_the_string_to_sign() -> None:
    text = crypto.string_to_sign("get", "/si/v2/units/X", "a=1&b=2", "1700000000000", "n" * 16, b"")
    assert text.split("\n") == [
        "GET", "/si/v2/units/X", "a=1&b=2", "1700000000000", "n" * 16, crypto.sm3_hex(b""),
    ]  # fmt: skip
    assert crypto.canonical_query([("b", "2"), ("a", "1")]) == "a=1&b=2"
    assert crypto.canonical_query([]) == ""


@given(st.text(max_size=40))
def test_sm4_round_trips_with_a_fresh_iv(value: str) -> None:
    first, second = crypto.encrypt(KEY, value), crypto.encrypt(KEY, value)
    assert first != second
    assert crypto.decrypt(KEY, first) == crypto.decrypt(KEY, second) == value


@pytest.mark.parametrize("bad", ["", "not base64!", "AAAA", "under another key"])
def test_what_does_not_decrypt(bad: str) -> None:
    if bad == "under another key":
        bad = crypto.encrypt(bytes(16), "张三")
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt(KEY, bad)
