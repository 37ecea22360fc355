"""The unemployment mappings and error translation, as pure functions (no HTTP)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.http import parse_retry_after
from adapters.unemployment import mapping
from adapters.unemployment.client import decode_body, encode_body
from gateway.domain.model import (
    Education,
    EmployerProfile,
    EndReason,
    Gender,
    IdType,
    Person,
    UnemploymentRegistration,
    UnemploymentState,
)
from gateway.systems import Duplicate, NotFound, Rejected, Unavailable

# ------------------------------------------------------------- strategies

texts = st.text(min_size=1, max_size=30)
optional_texts = st.none() | texts
dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(9999, 12, 31))
ethnicities = st.sampled_from(sorted(mapping.ETHNICITY_CODES))

persons = st.builds(
    Person,
    id_type=st.sampled_from(IdType),
    id_number=texts,
    name=texts,
    gender=st.sampled_from(Gender),
    ethnicity=ethnicities,
    education=st.sampled_from(Education),
    mobile=optional_texts,
    household_address=optional_texts,
    current_address=optional_texts,
)


def registrations(reasons: st.SearchStrategy[EndReason]) -> st.SearchStrategy[Any]:
    return st.builds(
        UnemploymentRegistration,
        reference=texts,
        employer_id=texts,
        person=persons,
        relation_ended_on=dates,
        reason=reasons,
        registered_on=dates,
        state=st.sampled_from(UnemploymentState),
    )


legacy_rows = st.fixed_dictionaries(
    {
        "djbh": texts,
        "dwbh": texts,
        "zjlx": st.sampled_from(sorted(mapping.ID_TYPE_FROM_LEGACY)),
        "zjhm": texts,
        "xm": texts,
        "xb": st.sampled_from(["M", "F"]),
        "mz": ethnicities,
        "whcd": st.sampled_from(sorted(mapping.EDUCATION_FROM_LEGACY)),
        "sjhm": optional_texts,
        "hjdz": optional_texts,
        "jzdz": optional_texts,
        "jcldgxrq": dates.map(lambda d: d.strftime("%Y%m%d")),
        "syyy": st.sampled_from(["01", "02", "03", "04", "05", "99"]),
        "djrq": dates.map(lambda d: d.strftime("%Y%m%d")),
        "zt": st.sampled_from(["1", "2"]),
    }
)

# ------------------------------------------------------------ round trips


@given(registrations(st.sampled_from(sorted(mapping.REASON_FROM_LEGACY.values()))))
def test_registration_round_trip_is_identity_for_representative_reasons(
    record: UnemploymentRegistration,
) -> None:
    assert mapping.registration_from_legacy(mapping.record_to_legacy(record)) == record


@given(registrations(st.sampled_from(EndReason)))
def test_lossy_reason_is_stable_after_one_trip(record: UnemploymentRegistration) -> None:
    legacy = mapping.record_to_legacy(record)
    again = mapping.record_to_legacy(mapping.registration_from_legacy(legacy))
    assert again == legacy
    back = mapping.registration_from_legacy(legacy)
    assert back.reason == mapping.REASON_FROM_LEGACY[mapping.REASON_TO_LEGACY[record.reason]]
    assert back.person == record.person


@given(legacy_rows)
def test_legacy_row_round_trip_is_identity(row: dict[str, Any]) -> None:
    assert mapping.record_to_legacy(mapping.registration_from_legacy(row)) == row


@given(dates)
def test_date_round_trip(day: dt.date) -> None:
    text = mapping.date_to_legacy(day)
    assert len(text) == 8
    assert mapping.date_from_legacy(text) == day


@pytest.mark.parametrize("bad", ["2024031", "20240230", "2024-03-01", "２０２４０３０１", ""])
def test_bad_dates_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"date|month|day|range"):
        mapping.date_from_legacy(bad)


@given(texts, texts, st.from_regex(r"[1-9]\d{5}", fullmatch=True))
def test_employer_round_trip(code: str, name: str, division: str) -> None:
    profile = EmployerProfile(code, name, division)
    legacy = mapping.employer_to_legacy(profile)
    assert set(legacy) == set(mapping.UNIT_FIELDS)
    assert mapping.employer_from_legacy({**legacy, "dwbh": "SY3701020001"}) == (
        "SY3701020001",
        profile,
    )


# ------------------------------------------------------------ code tables


def test_reason_table_is_the_documented_one() -> None:
    expected = {
        "01": {EndReason.EXPIRY},
        "02": {EndReason.BY_UNIT_FOR_CAUSE, EndReason.BY_UNIT_NO_FAULT, EndReason.ECONOMIC_LAYOFF},
        "03": {EndReason.AGREEMENT},
        "04": {EndReason.BY_WORKER_NOTICE, EndReason.BY_WORKER_UNIT_FAULT},
        "05": {EndReason.BANKRUPTCY, EndReason.CLOSURE},
        "99": {EndReason.RETIREMENT, EndReason.DEATH, EndReason.OTHER_TERMINATION},
    }
    for code, reasons in expected.items():
        assert {r for r, c in mapping.REASON_TO_LEGACY.items() if c == code} == reasons
        assert mapping.REASON_FROM_LEGACY[code] in reasons
    assert set(mapping.REASON_TO_LEGACY) == set(EndReason)


def test_code_tables_are_complete_and_as_documented() -> None:
    assert mapping.ID_TYPE_TO_LEGACY == {
        IdType.RESIDENT_ID: "SFZ",
        IdType.HK_MACAO_PERMIT: "GATXZ",
        IdType.TAIWAN_PERMIT: "TWTXZ",
        IdType.FOREIGN_PASSPORT: "HZ",
        IdType.HMT_RESIDENCE_PERMIT: "JZZ",
        IdType.FOREIGN_PERMANENT_RESIDENT_ID: "YJZ",
    }
    assert mapping.GENDER_TO_LEGACY == {Gender.MALE: "M", Gender.FEMALE: "F"}
    assert sorted(mapping.EDUCATION_FROM_LEGACY) == [
        "10", "20", "30", "40", "50", "60", "70", "80", "90", "97",
    ]  # fmt: skip
    assert mapping.STATE_FROM_LEGACY == {
        "1": UnemploymentState.REGISTERED,
        "2": UnemploymentState.CANCELLED,
    }
    assert len(mapping.ETHNICITY_CODES) == 58


@pytest.mark.parametrize(
    ("field", "value"),
    [("zjlx", "XX"), ("xb", "1"), ("whcd", "11"), ("syyy", "06"), ("zt", "9"), ("djrq", "2024")],
)
def test_unknown_codes_from_the_system_name_the_field(field: str, value: str) -> None:
    row = {
        **mapping.record_to_legacy(
            UnemploymentRegistration(
                "D1",
                "U1",
                Person(IdType.RESIDENT_ID, "X", "Y", Gender.MALE, "01", Education.OTHER),
                dt.date(2024, 1, 1),
                EndReason.EXPIRY,
                dt.date(2024, 1, 2),
                UnemploymentState.REGISTERED,
            )
        ),
        field: value,
    }
    with pytest.raises(mapping.LegacyFormatError) as caught:
        mapping.registration_from_legacy(row)
    assert caught.value.field == field
    assert value not in str(caught.value)


def test_empty_optional_values_read_as_absent() -> None:
    row = {
        "djbh": "D", "dwbh": "U", "zjlx": "SFZ", "zjhm": "1", "xm": "甲", "xb": "F",
        "mz": "01", "whcd": "20", "sjhm": "", "hjdz": None, "jcldgxrq": "20240101",
        "syyy": "03", "djrq": "20240102", "zt": "2",
    }  # fmt: skip
    record = mapping.registration_from_legacy(row)
    assert (record.person.mobile, record.person.household_address) == (None, None)
    assert record.person.current_address is None  # left out altogether


def test_field_names_in_messages() -> None:
    assert mapping.field_named_in("字段 jcldgxrq 无效：应为YYYYMMDD日期") == "jcldgxrq"
    assert mapping.field_named_in("参数pageSize错误") == "pageSize"
    assert mapping.field_named_in("系统错误") is None
    assert mapping.translate_field_names("字段 zjhm 无效") == "字段 id_number 无效"


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("status", "body", "kind", "code", "field"),
    [
        (409, {"errcode": 40901, "errmsg": "有", "dwbh": "SY1"}, Duplicate, "40901", "credit_code"),
        (409, {"errcode": 40902, "errmsg": "已登记"}, Duplicate, "40902", "id_number"),
        (404, {"errcode": 40401, "errmsg": "单位不存在"}, NotFound, "40401", "employer_id"),
        (404, {"errcode": 40402, "errmsg": "不存在"}, NotFound, "40402", "reference"),
        (409, {"errcode": 40903, "errmsg": "已注销"}, Rejected, "40903", None),
        (400, {"errcode": 40001, "errmsg": "字段 sjhm 无效"}, Rejected, "40001", "mobile"),
        (400, {"errcode": 40001, "errmsg": "参数错误"}, Rejected, "40001", None),
        (400, {"errcode": 40003, "errmsg": "每页条数不能超过20"}, Rejected, "40003", "size"),
        (401, {"errcode": 40100, "errmsg": "认证失败"}, Rejected, "40100", None),
        (401, None, Rejected, "HTTP 401", None),
        (418, None, Rejected, "HTTP 418", None),
    ],
)  # fmt: skip
def test_business_errors(
    status: int, body: Any, kind: type[Exception], code: str, field: str | None
) -> None:
    error = mapping.error_from_answer(status, body)
    assert type(error) is kind
    assert isinstance(error, Rejected)
    assert (error.system_code, error.field) == (code, field)
    if isinstance(error, Duplicate) and code == "40901":
        assert error.existing_reference == "SY1"
    assert code not in error.message


def test_maintenance_and_server_errors() -> None:
    maintenance = mapping.error_from_answer(
        503, {"errcode": 50300, "errmsg": "维护"}, retry_after=30.0, write=True
    )
    assert isinstance(maintenance, Unavailable)
    assert (maintenance.retry_after, maintenance.outcome_unknown) == (30.0, False)
    assert "maintenance" in maintenance.message
    down = mapping.error_from_answer(503, None)
    assert isinstance(down, Unavailable)
    assert down.retry_after is None
    for write in (True, False):
        failed = mapping.error_from_answer(500, {"errcode": 50000, "errmsg": "x"}, write=write)
        assert isinstance(failed, Unavailable)
        assert failed.outcome_unknown is write


def test_messages_hold_no_personal_data_nor_legacy_names() -> None:
    errmsg = "人员 张三丰 (370102198001010011, 13912345678, 山东省济南市某路1号) 的 zjhm 无效"
    error = mapping.error_from_answer(
        400,
        {"errcode": 40001, "errmsg": errmsg},
        personal=["张三丰", "370102198001010011", "山东省济南市某路1号"],
    )
    for secret in ("张三丰", "370102198001010011", "13912345678", "山东省济南市某路1号", "zjhm"):
        assert secret not in str(error)
    assert "id_number" in str(error)


# ------------------------------------------------------- client encoding


def test_encode_body_is_gbk_json_and_names_the_unified_field() -> None:
    raw = encode_body({"xm": "欧阳娜娜", "sjhm": None})
    assert json.loads(raw.decode("gbk")) == {"xm": "欧阳娜娜", "sjhm": None}
    with pytest.raises(Rejected) as caught:
        encode_body({"zjhm": "1", "hjdz": "北京𠮷路"})
    assert caught.value.field == "household_address"
    assert "𠮷" not in str(caught.value)


def test_decode_body_tolerates_what_is_not_gbk_json() -> None:
    assert decode_body('{"a": "中"}'.encode("gbk")) == {"a": "中"}
    assert decode_body(b"<html>503</html>") is None
    assert decode_body(b"") is None
    assert decode_body(b'{"a": "\xff"}') is None


def test_retry_after_in_both_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)
    seconds = parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert seconds is not None
    assert 80 <= seconds <= 90
