"""Code tables: completeness against the model's enums, GB/T 3304 order, lookups, divisions."""

from __future__ import annotations

import dataclasses
import re
from enum import StrEnum

import pytest

from gateway.domain import codes, model

ENUM_TABLES: list[tuple[type[StrEnum], str]] = [
    (model.Gender, "gender"),
    (model.IdType, "id_type"),
    (model.Education, "education"),
    (model.ContractType, "contract_type"),
    (model.EmploymentForm, "employment_form"),
    (model.EmploymentPersonCategory, "employment_person_category"),
    (model.FilingPersonCategory, "filing_person_category"),
    (model.EndReason, "end_reason"),
    (model.Business, "business"),
    (model.EmploymentState, "employment_state"),
    (model.ContractState, "contract_state"),
    (model.UnemploymentState, "unemployment_state"),
]


@pytest.mark.parametrize(("enum", "table_name"), ENUM_TABLES)
def test_every_enum_member_has_a_label_and_nothing_else(
    enum: type[StrEnum], table_name: str
) -> None:
    table = codes.CODE_TABLES[table_name]
    assert [c.code for c in table] == [m.value for m in enum]
    for member in enum:
        assert codes.label(table_name, member)
        assert codes.label(table_name, member, "en")


def test_every_table_is_registered_under_its_own_snake_case_name() -> None:
    expected = {name for _, name in ENUM_TABLES} | {"ethnicity"}
    assert set(codes.CODE_TABLES) == expected
    for name, table in codes.CODE_TABLES.items():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", name)
        assert table.name == name
        assert table.title_zh
        assert table.title_en
        for c in table:
            assert c.label_zh.strip()
            assert c.label_en.strip()


def test_ethnicity_has_the_56_groups_in_gbt_3304_order_and_the_two_residual_codes() -> None:
    table = codes.ETHNICITY
    assert len(table) == 58
    assert [c.code for c in table] == [f"{i:02d}" for i in range(1, 57)] + ["97", "98"]
    assert [(c.code, c.label_zh, c.label_en) for c in table.codes[:10]] == [
        ("01", "汉族", "Han"),
        ("02", "蒙古族", "Mongol"),
        ("03", "回族", "Hui"),
        ("04", "藏族", "Tibetan"),
        ("05", "维吾尔族", "Uyghur"),
        ("06", "苗族", "Miao"),
        ("07", "彝族", "Yi"),
        ("08", "壮族", "Zhuang"),
        ("09", "布依族", "Buyei"),
        ("10", "朝鲜族", "Korean"),
    ]
    assert table.get("11") == codes.Code("11", "满族", "Manchu")
    assert table.get("23") == codes.Code("23", "高山族", "Gaoshan")
    assert table.get("56") == codes.Code("56", "基诺族", "Jino")
    assert codes.label("ethnicity", "97") == "其他"
    assert codes.label("ethnicity", "98") == "外国血统中国籍人士"
    assert len({c.label_zh for c in table}) == 58


@pytest.mark.parametrize(
    ("table", "code", "zh", "en"),
    [
        ("gender", "1", "男", "Male"),
        ("gender", "2", "女", "Female"),
        ("education", "90", "文盲或半文盲", "Illiterate or semi-literate"),
        ("employment_person_category", "99", "其他", "Other"),
        ("filing_person_category", "5", "退休返聘人员", "Re-employed retiree"),
        ("end_reason", "A41", "经济性裁员（第四十一条）", "Economic layoff (art. 41)"),
        ("id_type", "RESIDENT_ID", "居民身份证", "Resident identity card"),
    ],
)
def test_label_gives_the_label_in_either_language(table: str, code: str, zh: str, en: str) -> None:
    assert codes.label(table, code) == zh
    assert codes.label(table, code, "en") == en
    assert codes.is_valid(table, code)


def test_end_reasons_name_their_article() -> None:
    for c in codes.END_REASON:
        article = re.match(r"A(\d+)", c.code)
        assert article
        assert f"art. {article.group(1)}" in c.label_en


def test_unknown_codes_have_no_label_and_are_not_valid() -> None:
    assert codes.label("gender", "0") is None
    assert not codes.is_valid("gender", "9")
    assert not codes.is_valid("ethnicity", "57")
    assert not codes.is_valid("ethnicity", "1")
    assert not codes.is_valid("education", "")


def test_an_unknown_table_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        codes.label("nationality", "CHN")
    with pytest.raises(KeyError):
        codes.is_valid("nationality", "CHN")


def test_tables_cannot_be_changed() -> None:
    with pytest.raises(TypeError):
        codes.CODE_TABLES["gender"] = codes.ETHNICITY  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        codes.GENDER.codes[0].label_zh = "X"  # type: ignore[misc]
    assert isinstance(codes.GENDER.codes, tuple)


def test_a_table_refuses_a_duplicate_code() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        codes.CodeTable("t", "t", "t", (codes.Code("1", "a", "a"), codes.Code("1", "b", "b")))


# -------------------------------------------------------------- divisions


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("370102", "历下区"),  # stdnum data: '[1983-]历下区'
        ("370602", "芝罘区"),
        ("370100", "济南市"),  # no year range at all
        ("370000", "山东省"),
        ("110101", "东城区"),
        ("810000", "香港特别行政区"),
        ("120110", "东丽区"),  # '[-1991]东郊区,[1992-]东丽区': the latest name
    ],
)
def test_division_name_reads_stdnums_data_through_its_year_ranges(code: str, name: str) -> None:
    assert codes.division_name(code) == name
    assert codes.is_known_division(code)


def test_division_name_in_a_given_year() -> None:
    assert codes.division_name("120110", 1990) == "东郊区"
    assert codes.division_name("120110", 1992) == "东丽区"
    assert codes.division_name("370102", 1980) is None  # created in 1983
    assert codes.division_name("110103", 2005) == "崇文区"
    assert codes.division_name("110103", 2011) is None  # abolished in 2010


def test_abolished_divisions_are_known_but_not_current() -> None:
    assert codes.is_known_division("110103")
    assert not codes.is_current_division("110103")
    assert codes.is_current_division("370102")
    assert codes.division_history("120110") == (
        codes.DivisionName("东郊区", None, 1991),
        codes.DivisionName("东丽区", 1992, None),
    )


@pytest.mark.parametrize(
    "code",
    [
        "379999",  # the province is known, the county is not: stdnum answers with the province
        "999999",
        "000000",
        "830000",  # Taiwan's permit prefix: not in the data
        "37010",
        "3701020",
        "37010a",
        "３７０１０２",  # full-width digits
        "",
    ],
)
def test_division_name_is_none_for_what_is_not_a_division(code: str) -> None:
    assert codes.division_name(code) is None
    assert not codes.is_known_division(code)
    assert not codes.is_current_division(code)
