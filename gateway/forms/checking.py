"""From cells to registration rows, and every problem at the cell it concerns.

A cell is first read as its column's kind (a code, a date, yes or no, a
number); what cannot be read is a problem of that cell. The rows are then
checked by the domain's own checks (``check_form``) and against the strictest
limit of every system each row reaches (the caller passes the registrar's
``check_row_limits``): nothing is checked here that the GraphQL form is not
checked by, and each problem is placed at its sheet, row and column.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from openpyxl.utils.datetime import from_excel

from gateway.domain import model
from gateway.domain.checks import Problem, RowRule, check_form
from gateway.domain.identifiers import (
    normalize_credit_code,
    normalize_id_number,
    normalize_mobile,
)
from gateway.forms.layout import (
    HEADER_FIELDS,
    NO,
    YES,
    Column,
    Kind,
    by_header,
    code_of,
    column_letter,
)
from gateway.forms.progress import Phase, Progress
from gateway.forms.reading import FileRefused, FormFile
from gateway.registrations.outcomes import unit_name_differs

__all__ = ["CellProblem", "ReadForm", "check", "read_form"]

_ENUMS: Mapping[str, type[StrEnum]] = MappingProxyType(
    {
        "business": model.Business,
        "gender": model.Gender,
        "id_type": model.IdType,
        "education": model.Education,
        "contract_type": model.ContractType,
        "employment_person_category": model.EmploymentPersonCategory,
        "filing_person_category": model.FilingPersonCategory,
        "employment_form": model.EmploymentForm,
        "end_reason": model.EndReason,
    }
)

CELL_MESSAGES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "FORMULA_NOT_ALLOWED": (
            "{f_zh}是公式，登记表只接收填写的值",
            "the {f_en} is a formula: the form takes typed values only",
        ),
        "CELL_NOT_A_DATE": (
            "{f_zh}不是日期（请填写如 2024-03-01）",
            "the {f_en} is not a date (write it as 2024-03-01)",
        ),
        "CELL_NOT_YES_NO": ("{f_zh}应填“是”或“否”", "the {f_en} must be yes (是) or no (否)"),
        "CELL_NOT_A_NUMBER": ("{f_zh}应为金额", "the {f_en} must be an amount"),
        "CELL_NUMBER_NOT_TEXT": (
            "{f_zh}以数字保存，超过15位的数字已丢失末位，请设为文本格式后重新填写",
            "the {f_en} was saved as a number, which loses digits past the 15th: "
            "format the cell as text and type it again",
        ),
    }
)


@dataclass(frozen=True, slots=True)
class CellProblem:
    """A problem (or warning) where a person sees it: sheet, row, column.

    ``row`` is the sheet's own 1-based row number; ``column`` the column's header
    (Chinese and English) and ``letter`` its letter; both None for the form as a whole."""

    sheet: str
    row: int | None
    column: str | None
    letter: str | None
    field: str
    code: str
    message_zh: str
    message_en: str
    warning: bool = False


@dataclass(slots=True)
class ReadForm:
    """What a file says: the header, the rows, and what could not be read of them."""

    sheet: str
    header: dict[str, str | None]
    header_cells: dict[str, tuple[int, int]]  # field -> (row, 1-based column) of its value
    columns: dict[str, tuple[int, Column]]  # field -> (1-based column, Column)
    header_row: int = 0
    rows: list[model.RegistrationRow] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    problems: list[CellProblem] = field(default_factory=list)

    def place(self, row: int | None, field_name: str) -> tuple[int | None, str | None, str | None]:
        """(row number, column header, column letter) of a field of a row (None: header)."""
        if row is None:
            cell = self.header_cells.get(field_name)
            label = next((f"{zh} {en}" for f, zh, en in HEADER_FIELDS if f == field_name), None)
            if cell is None:
                return None, label, None
            return cell[0], label, column_letter(cell[1])
        number = self.row_numbers[row]
        found = self.columns.get(field_name)
        if found is None:
            return number, None, None
        return number, found[1].header, column_letter(found[0])

    def problem(self, row: int | None, p: Problem, *, warning: bool = False) -> CellProblem:
        number, column, letter = self.place(row, p.field)
        return CellProblem(
            self.sheet, number, column, letter, p.field, p.code, p.message_zh, p.message_en, warning
        )


def _norm(text: object) -> str:
    return re.sub(r"\s+", "", str(text)).replace("（", "(").replace("）", ")").rstrip(":：")


def _cell_problem(column: Column, code: str) -> Problem:
    zh, en = CELL_MESSAGES[code]
    message_en = en.format(f_en=column.en)
    return Problem(
        column.field, code, zh.format(f_zh=column.zh), message_en[0].upper() + message_en[1:]
    )


_DATE_TEXT = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 2958466:
        found = from_excel(value)
        return found.date() if isinstance(found, dt.datetime) else None
    text = str(value).strip()
    match = _DATE_TEXT.match(text) or re.match(r"^(\d{4})(\d{2})(\d{2})$", text)
    if match is None:
        raise ValueError(text)
    return dt.date(int(match[1]), int(match[2]), int(match[3]))


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        if abs(value) >= 1e15:
            raise OverflowError  # digits lost already
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value).strip()


def _cell(column: Column, value: object) -> tuple[Any, str | None]:
    """(the value for the row, the code of the cell's problem if any)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return (False if column.kind is Kind.YES_NO else None), None
    if isinstance(value, str) and value.lstrip().startswith("="):
        return None, "FORMULA_NOT_ALLOWED"
    try:
        if column.kind is Kind.DATE:
            return _date(value), None
        if column.kind is Kind.YES_NO:
            text = _text(value).upper()
            if text in YES or text in NO:
                return text in YES, None
            return None, "CELL_NOT_YES_NO"
        if column.kind is Kind.MONEY:
            amount = Decimal(_text(value))
            return (
                (amount, None) if amount.is_finite() and amount > 0 else (None, "CELL_NOT_A_NUMBER")
            )
        text = _text(value)
    except OverflowError:
        return None, "CELL_NUMBER_NOT_TEXT"
    except (ValueError, InvalidOperation):
        return None, "CELL_NOT_A_DATE" if column.kind is Kind.DATE else "CELL_NOT_A_NUMBER"
    if column.kind is Kind.CODE and column.table:
        code = code_of(column.table, text)
        enum = _ENUMS.get(column.table)
        if enum is not None and code in enum._value2member_map_:
            return enum(code), None
        if column.table == "ethnicity" and code.isdigit() and len(code) == 1:
            return code.zfill(2), None  # a number cell lost its leading zero
        return code, None
    return text, None


def _header_text(raw: object) -> str | None:
    if raw is None:
        return None
    try:
        text = _text(raw)
    except OverflowError:  # a long number: its digits are gone; the checks refuse what is left
        text = str(raw)
    return text or None


def _find_header(
    rows: Iterator[tuple[int, tuple[object, ...]]], headers: Mapping[str, Column]
) -> tuple[dict[str, tuple[int, int]], dict[str, str | None], int, dict[str, tuple[int, Column]]]:
    """Reads up to and including the column headers: the header block on the way."""
    cells: dict[str, tuple[int, int]] = {}
    values: dict[str, str | None] = {f: None for f, _, _ in HEADER_FIELDS}
    for number, row in rows:
        found = {_norm(v): i for i, v in enumerate(row, start=1) if v is not None}
        columns = {headers[h].field: (i, headers[h]) for h, i in found.items() if h in headers}
        if len(columns) >= 3:
            return cells, values, number, columns
        for i, v in enumerate(row):
            label = _norm(v) if v is not None else ""
            for name, zh, _en in HEADER_FIELDS:
                if label.startswith(_norm(zh)) and name not in cells:
                    cells[name] = (number, i + 2)
                    raw = row[i + 1] if i + 1 < len(row) else None
                    values[name] = _header_text(raw)
        if number > 50:
            break
    raise FileRefused(
        "FORM_NOT_RECOGNISED",
        "No row of column headers of the registration form was found: use the template.",
        "未找到登记表的列标题行，请使用登记表模板填写。",
    )


def read_form(
    file: FormFile, *, systems: Collection[str] = (), progress: Progress | None = None
) -> ReadForm:
    """Every row of the file as a registration row, with the problems of its cells."""
    progress = progress or Progress()
    progress.start(Phase.READING, None)
    headers = {_norm(h): c for h, c in by_header(systems).items()}

    def declared(n: int) -> None:
        progress.total = n

    rows = file.rows(declared)
    try:
        return _read_rows(file, rows, headers, progress)
    finally:
        rows.close()  # the workbook's file, even when a refusal stopped the reading


def _read_rows(
    file: FormFile,
    rows: Generator[tuple[int, tuple[object, ...]], None, None],
    headers: Mapping[str, Column],
    progress: Progress,
) -> ReadForm:
    cells, values, header_row, columns = _find_header(rows, headers)
    required = [c for c in headers.values() if c.number]
    missing = [c.zh for c in required if c.field not in columns]
    if missing:
        raise FileRefused(
            "FORM_COLUMNS_MISSING",
            f"Columns of the form are missing: {', '.join(missing)}.",
            f"登记表缺少以下列：{'、'.join(missing)}。",
        )
    read = ReadForm(file.sheet, values, cells, columns, header_row)
    english = {_norm(c.en) for _, c in columns.values()}
    for number, raw in rows:
        progress.done = number
        if sum(1 for v in raw if v is not None and _norm(v) in english) >= 3:
            continue  # the English headers beneath the Chinese ones
        fields: dict[str, Any] = {}
        cell_problems: list[Problem] = []
        for name, (index, column) in columns.items():
            value = raw[index - 1] if index - 1 < len(raw) else None
            fields[name], code = _cell(column, value)
            if code is not None:
                cell_problems.append(_cell_problem(column, code))
        fields.setdefault("register_unemployment", False)
        read.row_numbers.append(number)
        read.rows.append(_row(fields))
        index = len(read.rows) - 1
        read.problems += [read.problem(index, p) for p in cell_problems]
    return read


def _row(fields: dict[str, Any]) -> model.RegistrationRow:
    for name in ("name", "id_number"):
        fields[name] = fields.get(name) or ""
    # As the registrar normalises them (full-width digits, spaces, hyphens), so that
    # both check alike.
    fields["id_number"] = normalize_id_number(fields["id_number"])
    if isinstance(fields.get("mobile"), str):
        fields["mobile"] = normalize_mobile(fields["mobile"])
    return model.RegistrationRow(**fields)


def check(
    read: ReadForm,
    *,
    today: dt.date,
    limits: Callable[[model.RegistrationRow], list[Problem]],
    rules: Sequence[RowRule] = (),
    unit_name: str | None = None,
    credit_code: str | None = None,
    progress: Progress | None = None,
) -> list[CellProblem]:
    """Every problem and warning of the form, cells first; a field whose cell could not
    be read is not also reported as missing. ``unit_name``/``credit_code`` are the
    unit's on record (the header's code's, else the signed-in employer's own): they
    stand in for a blank header, and a header's name that differs from ``unit_name``
    is a warning at its cell (``UNIT_NAME_DIFFERS``). ``rules``: the checks
    of the fields the systems add to the row (the registrar's). The header's credit
    code is read as the graph reads a ``creditCode`` (``normalize_credit_code``: full
    width, lower case, spaces), and a message naming another row names its sheet row."""
    typed_code = read.header.get("credit_code")
    form = model.RegistrationForm(
        read.header.get("unit_name") or unit_name or "",
        (normalize_credit_code(typed_code) if typed_code else None) or credit_code or "",
        read.header.get("contact"),
        read.rows,
    )
    checked = check_form(form, today=today, rules=rules, row_numbers=read.row_numbers)
    found = list(read.problems)
    unreadable = {(p.row, p.field) for p in read.problems}
    found += [read.problem(None, p) for p in checked.header]
    if unit_name is not None:
        differs = unit_name_differs(read.header.get("unit_name"), unit_name)
        if differs is not None:
            found.append(read.problem(None, differs, warning=True))
    progress = progress or Progress()
    progress.start(Phase.CHECKING, len(read.rows))
    for result, row in zip(checked.rows, read.rows, strict=True):
        progress.done = result.index + 1
        number = read.row_numbers[result.index]
        problems = [*result.problems, *limits(row)]
        found += [
            read.problem(result.index, p) for p in problems if (number, p.field) not in unreadable
        ]
        found += [read.problem(result.index, w, warning=True) for w in result.warnings]
    return found
