"""Writing the form: the template to fill, registrations exported, one to print.

Every text written goes through :func:`safe`: a cell that begins with ``=``,
``+``, ``-`` or ``@`` (or a tab or carriage return, which some spreadsheets
skip before judging) is written as text with a leading apostrophe, so that no
value a person typed becomes a formula in the reader's spreadsheet.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from gateway.domain import codes
from gateway.domain.model import RegistrationRow
from gateway.forms.instructions import business_lines
from gateway.forms.layout import (
    CODES_SHEET,
    EN_ROW,
    FIRST_DATA_ROW,
    FORM_SHEET,
    HEADER_FIELDS,
    HEADER_ROW,
    INSTRUCTIONS_SHEET,
    NUMBER_ROW,
    TITLE,
    TITLE_EN,
    TITLE_ROW,
    ZH_ROW,
    Column,
    Kind,
    column_letter,
    columns,
    display,
)
from gateway.registrations import labels

__all__ = ["ExportedRow", "as_listed", "safe", "template", "workbook_bytes", "write_form"]

#: Rows of the template that carry drop-down lists and formats.
TEMPLATE_ROWS = 1000
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_BOLD = Font(bold=True)
_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")


def safe(value: object) -> object:
    """A value as a cell may hold it without becoming a formula (formula injection)."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


@dataclass(frozen=True, slots=True)
class ExportedRow:
    """A registration as a row of the form, with what became of it."""

    row: RegistrationRow
    state: str = ""
    registration_id: str = ""


#: What a list in the graph never shows, to any role (docs/graph.md, "Masking":
#: ``householdAddress`` and ``currentAddress`` are null in lists, given in full only
#: by a single-worker read to the roles that see full numbers).
NOT_LISTED = ("household_address", "current_address")


def as_listed(item: ExportedRow) -> ExportedRow:
    """``item`` as a list in the graph shows it: without what a list never shows, left
    blank (the numbers are masked already, by ``exported(..., reveal=False)``)."""
    blank = {field: None for field in NOT_LISTED if getattr(item.row, field) is not None}
    if not blank:
        return item
    return dataclasses.replace(item, row=dataclasses.replace(item.row, **blank))  # type: ignore[arg-type]


def _put(sheet: Worksheet, row: int, column: int, value: object) -> None:
    cell = sheet.cell(row=row, column=column)
    cell.value = safe(value)  # type: ignore[assignment]
    if isinstance(cell.value, str):
        cell.data_type = "s"  # never "f", whatever it begins with


def _codes_sheet(book: Workbook, cols: Sequence[Column]) -> dict[str, str]:
    """The code tables, three columns each; the range of each table's Chinese labels."""
    sheet = book.create_sheet(CODES_SHEET)
    ranges: dict[str, str] = {}
    at = 1
    for column in cols:
        if column.table is None or column.table in ranges:
            continue
        table = codes.CODE_TABLES[column.table]
        sheet.cell(1, at, table.title_zh).font = _BOLD
        sheet.cell(2, at, table.title_en)
        for i, title in enumerate(("代码 Code", "中文", "English")):
            sheet.cell(3, at + i, title).font = _BOLD
        for r, code in enumerate(table, start=4):
            sheet.cell(r, at, code.code).data_type = "s"
            sheet.cell(r, at + 1, code.label_zh)
            sheet.cell(r, at + 2, code.label_en)
        letter = column_letter(at + 1)
        ranges[column.table] = f"'{CODES_SHEET}'!${letter}$4:${letter}${3 + len(table)}"
        for i, width in enumerate((10, 30, 40)):
            sheet.column_dimensions[column_letter(at + i)].width = width
        at += 4
    return ranges


def _instructions(
    book: Workbook, cols: Sequence[Column], fields: Sequence[tuple[str, str]] = ()
) -> None:
    """The sheet: how to fill, and what each business needs as the checks require it
    (``gateway.forms.instructions``): the notice's columns, then ``fields``, what the
    columns of the systems switched on need (``FormSettings.instructions``)."""
    sheet = book.create_sheet(INSTRUCTIONS_SHEET)
    lines = [
        ("填表说明", "Instructions"),
        (
            "每位劳动者的每项业务填写一行，自第6行起填写。",
            "One row per worker and business, from row 6.",
        ),
        (
            "带下拉箭头的列请从列表中选择；也可填写代码表中的代码。",
            "Choose coded columns from their lists, or type a code of the code sheet.",
        ),
        ("日期请填写为 2024-03-01。", "Write dates as 2024-03-01."),
        (
            "证件号码、手机号码请以文本填写，勿以数字保存。",
            "Type ID and mobile numbers as text, not as numbers.",
        ),
        ("不得使用公式。", "No formulas: the form takes typed values only."),
        *business_lines(),
        *fields,
        (
            "导入后如有问题，系统将返回标注了每个问题单元格的工作簿。",
            "After an import with problems, the workbook comes back with every problem "
            "cell marked.",
        ),
    ]
    for r, (zh, en) in enumerate(lines, start=1):
        sheet.cell(r, 1, zh)
        sheet.cell(r, 2, en)
    sheet.cell(1, 1).font = sheet.cell(1, 2).font = _BOLD
    sheet.column_dimensions["A"].width = 60
    sheet.column_dimensions["B"].width = 80
    r = len(lines) + 2
    sheet.cell(r, 1, "列 Column").font = _BOLD
    for i, column in enumerate(cols, start=r + 1):
        sheet.cell(i, 1, f"{column.number or '-'} {column.zh}")
        sheet.cell(i, 2, column.en)


def _form_sheet(
    book: Workbook,
    cols: Sequence[Column],
    header: dict[str, str | None],
    extra: Sequence[tuple[str, str]] = (),
) -> Worksheet:
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    sheet.title = FORM_SHEET
    width = len(cols) + len(extra)
    _put(sheet, TITLE_ROW, 1, f"{TITLE}\n{TITLE_EN}")
    sheet.merge_cells(start_row=TITLE_ROW, start_column=1, end_row=TITLE_ROW, end_column=width)
    sheet.cell(TITLE_ROW, 1).font = Font(bold=True, size=16)
    sheet.cell(TITLE_ROW, 1).alignment = Alignment(horizontal="center", wrap_text=True)
    sheet.row_dimensions[TITLE_ROW].height = 42
    at = 1
    for name, zh, en in HEADER_FIELDS:
        sheet.cell(HEADER_ROW, at, zh).font = _BOLD
        sheet.cell(HEADER_ROW, at).comment = Comment(en, "hrss-gateway")
        _put(sheet, HEADER_ROW, at + 1, header.get(name))
        sheet.cell(HEADER_ROW, at + 1).number_format = "@"
        sheet.merge_cells(
            start_row=HEADER_ROW, start_column=at + 1, end_row=HEADER_ROW, end_column=at + 4
        )
        at += 6
    heads = [(c.number, c.zh, c.en) for c in cols] + [("", zh, en) for zh, en in extra]
    for i, (number, zh, en) in enumerate(heads, start=1):
        for row, text in ((NUMBER_ROW, number or None), (ZH_ROW, zh), (EN_ROW, en)):
            cell = sheet.cell(row, i, text)
            cell.font, cell.fill, cell.border = _BOLD, _HEAD_FILL, _BOX
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for i, column in enumerate(cols, start=1):
        sheet.column_dimensions[column_letter(i)].width = column.width
    sheet.freeze_panes = f"C{FIRST_DATA_ROW}"
    return sheet


def _validations(
    sheet: Worksheet, cols: Sequence[Column], ranges: dict[str, str], last: int
) -> None:
    for i, column in enumerate(cols, start=1):
        area = f"{column_letter(i)}{FIRST_DATA_ROW}:{column_letter(i)}{last}"
        rule: DataValidation | None = None
        if column.kind is Kind.CODE and column.table:
            rule = DataValidation(type="list", formula1=f"={ranges[column.table]}")
        elif column.kind is Kind.YES_NO:
            rule = DataValidation(type="list", formula1='"是,否"')
        elif column.kind is Kind.DATE:
            rule = DataValidation(type="date", operator="greaterThan", formula1="1")
        if rule is not None:
            rule.error = (
                "请从列表中选择或按说明填写 / Choose from the list or follow the instructions"
            )
            rule.errorTitle = column.zh
            rule.showErrorMessage = True
            sheet.add_data_validation(rule)
            rule.add(area)
        fmt = (
            "yyyy-mm-dd"
            if column.kind is Kind.DATE
            else "@"
            if column.kind is not Kind.MONEY
            else "0.00"
        )
        for r in range(FIRST_DATA_ROW, last + 1):
            sheet.cell(r, i).number_format = fmt


def write_form(
    header: dict[str, str | None],
    rows: Iterable[ExportedRow] = (),
    *,
    systems: Collection[str] = (),
    instructions: Sequence[tuple[str, str]] = (),
    with_states: bool = False,
    template_rows: int = TEMPLATE_ROWS,
) -> Workbook:
    """The form as a workbook: the template when ``rows`` is empty, else an export.
    ``instructions``: what the columns of ``systems`` need (``FormSettings.instructions``)."""
    cols = columns(systems)
    extra = [("登记状态", "State"), ("登记编号", "Registration")] if with_states else []
    book = Workbook()
    sheet = _form_sheet(book, cols, header, extra)
    _instructions(book, cols, instructions)
    ranges = _codes_sheet(book, cols)
    r = FIRST_DATA_ROW - 1
    for r, item in enumerate(rows, start=FIRST_DATA_ROW):
        for i, column in enumerate(cols, start=1):
            value = getattr(item.row, column.field, None)
            _put(sheet, r, i, display(column, value))
            if column.kind is Kind.DATE:
                sheet.cell(r, i).number_format = "yyyy-mm-dd"
        if with_states:
            _put(sheet, r, len(cols) + 1, codes_state(item.state))
            _put(sheet, r, len(cols) + 2, item.registration_id)
    last = max(r, FIRST_DATA_ROW - 1 + template_rows)
    if last >= FIRST_DATA_ROW:  # an export of nothing has no rows to validate
        _validations(sheet, cols, ranges, last)
    return book


def codes_state(state: str) -> str:
    """A registration state as the form shows it."""
    label = labels.REGISTRATION_STATE.get(state)
    return f"{label[0]} {state}" if label else state


def template(
    header: dict[str, str | None],
    *,
    systems: Collection[str] = (),
    instructions: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The empty form to fill, the header filled in where it is known, with the
    columns of ``systems`` (those switched on) and what they need (``instructions``)."""
    return workbook_bytes(write_form(header, systems=systems, instructions=instructions))


def workbook_bytes(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
