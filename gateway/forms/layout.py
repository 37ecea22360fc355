"""Where everything sits on the form: the sheets, the header block, the columns.

The columns are the notice's 21, in its order, under its Chinese headers (the
English beneath), then the unemployment request that goes with an ending, then
the fields the systems switched on add to the row (social insurance's
contribution wage and date of birth), as their specs declare them. A column is found again on
import by its Chinese header, so a spreadsheet that moved or hid a column still
reads. Coded columns show the Chinese label of a code; on import a code, its
Chinese or English label, or "code label" are all taken.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from gateway.domain import codes

if TYPE_CHECKING:
    from gateway.registry import RowField

TITLE = "山东省人力资源社会保障领域一体化登记表"
TITLE_EN = "Integrated human resources and social security registration form of Shandong"
FORM_SHEET = "登记表"
INSTRUCTIONS_SHEET = "填表说明"
CODES_SHEET = "代码表"
#: Problems of a CSV file are reported on this "sheet".
CSV_SHEET = "CSV"

#: The header block: (field, Chinese label, English label), on row HEADER_ROW,
#: each label followed by its value in the next cell.
HEADER_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("unit_name", "单位名称", "Unit name"),
    ("credit_code", "统一社会信用代码", "Unified social credit code"),
    ("contact", "单位联系人", "Contact person"),
)
TITLE_ROW = 1
HEADER_ROW = 2
NUMBER_ROW = 3  # the notice numbers its columns
ZH_ROW = 4
EN_ROW = 5
FIRST_DATA_ROW = 6


class Kind(StrEnum):
    TEXT = "TEXT"
    CODE = "CODE"
    DATE = "DATE"
    YES_NO = "YES_NO"
    MONEY = "MONEY"


@dataclass(frozen=True, slots=True)
class Column:
    """One column: the unified field it fills, its headers, how its cells read."""

    field: str
    zh: str
    en: str
    kind: Kind = Kind.TEXT
    table: str | None = None  # the code table of a CODE column
    width: int = 14
    number: str = ""  # the notice's column number, blank for the columns it lacks

    @property
    def header(self) -> str:
        return f"{self.zh} {self.en}"


def _code(field: str, zh: str, en: str, n: int, width: int = 14) -> Column:
    return Column(field, zh, en, Kind.CODE, field, width, str(n))


#: The notice's 21 columns, in its order.
NOTICE_COLUMNS: tuple[Column, ...] = (
    _code("business", "业务类别", "Business", 1, 24),
    Column("name", "姓名", "Name", number="2", width=10),
    _code("gender", "性别", "Gender", 3, 6),
    _code("ethnicity", "民族", "Ethnicity", 4, 10),
    _code("id_type", "证件类型", "ID type", 5, 16),
    Column("id_number", "证件号码", "ID number", number="6", width=20),
    Column("mobile", "移动电话号码", "Mobile", number="7", width=14),
    Column("household_address", "户籍地址", "Household address", number="8", width=24),
    Column("current_address", "现居住址", "Current address", number="9", width=24),
    _code("education", "文化程度", "Education", 10, 10),
    _code("contract_type", "合同类型", "Contract type", 11, 16),
    Column("start_date", "开始(就业)时间", "Start date", Kind.DATE, number="12", width=12),
    Column("contract_end_date", "终止时间", "Contract end date", Kind.DATE, number="13", width=12),
    _code("employment_person_category", "就业人员类别", "Employment person category", 14, 16),
    _code("filing_person_category", "备案人员类别", "Filing person category", 15, 14),
    _code("employment_form", "用工形式", "Form of employment", 16, 10),
    Column("post", "岗位(工种)", "Post", number="17", width=14),
    _code("end_reason", "合同解除(终止)原因", "Reason the contract ended", 18, 24),
    Column("end_date", "合同解除(终止)日期", "Date the contract ended", Kind.DATE, number="19"),
    Column("employment_locality", "就业属地", "Employment locality", number="20", width=10),
    Column("labour_filing_locality", "劳动备案属地", "Labour filing locality", number="21"),
)

#: What the notice leaves to the ending's paperwork: the worker asks to be
#: registered unemployed (a row of the GraphQL form has it too).
UNEMPLOYMENT_COLUMN = Column(
    "register_unemployment", "申请失业登记", "Register unemployed", Kind.YES_NO, width=10
)
_KINDS = {"money": Kind.MONEY, "date": Kind.DATE, "text": Kind.TEXT}

YES = ("是", "Y", "YES", "TRUE", "1")
NO = ("否", "N", "NO", "FALSE", "0")


def system_columns(systems: Collection[str]) -> tuple[Column, ...]:
    """The columns the systems in ``systems`` (those switched on) add to the row."""
    from gateway.registry import registry

    return tuple(field_column(f) for spec, f in registry().row_fields() if spec.system in systems)


def field_column(f: RowField) -> Column:
    """The column of a field a system adds to the row."""
    return Column(
        f.name,
        f.header_zh or f.label_zh,
        f.header_en or f.label_en[:1].upper() + f.label_en[1:],
        _KINDS[f.kind],
        width=f.width,
    )


def columns(systems: Collection[str] = ()) -> tuple[Column, ...]:
    """The form's columns, in order, with those of the systems switched on."""
    return (*NOTICE_COLUMNS, UNEMPLOYMENT_COLUMN, *system_columns(systems))


def by_header(systems: Collection[str] = ()) -> Mapping[str, Column]:
    """Columns by their Chinese header (what an import finds them by)."""
    return MappingProxyType({c.zh: c for c in columns(systems)})


def code_display(table: str, code: str) -> str:
    """What a coded cell shows: the Chinese label (the code itself if it has none)."""
    return codes.label(table, code) or code


def code_choices(table: str) -> list[str]:
    """The drop-down list of a coded column."""
    return [c.label_zh for c in codes.CODE_TABLES[table]]


def _lookup(table: str) -> Mapping[str, str]:
    found: dict[str, str] = {}
    for c in codes.CODE_TABLES[table]:
        for key in (c.code, c.label_zh, c.label_en.casefold(), f"{c.code} {c.label_zh}"):
            found.setdefault(key, c.code)
    return found


_LOOKUPS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {c.table: _lookup(c.table) for c in NOTICE_COLUMNS if c.table}
)


def code_of(table: str, text: str) -> str:
    """The code a coded cell means; the text itself when it means none (the checks
    then refuse it as CODE_UNKNOWN, naming the table)."""
    lookup = _LOOKUPS[table]
    text = " ".join(text.split())
    return lookup.get(text) or lookup.get(text.casefold()) or text


def display(column: Column, value: object) -> object:
    """A row's value as the form shows it in ``column``."""
    if value is None:
        return None
    if column.kind is Kind.CODE and column.table:
        return code_display(column.table, str(value))
    if column.kind is Kind.YES_NO:
        return "是" if value else None
    if column.kind is Kind.DATE and isinstance(value, dt.date):
        return value
    return value


def column_letter(index: int) -> str:
    """1 -> A, 27 -> AA."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
