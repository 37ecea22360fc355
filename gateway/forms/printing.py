"""Registrations out of the gateway: the form with their states, and one to print.

The export lists many workers, so ID and mobile numbers are masked, as the
graph masks them in a list; the page to print is one worker's, at the window,
and shows them in full to the roles that may see them (``Access.may_reveal``).
The page is A4, portrait, one page wide, with room for signatures and the seal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.worksheet.worksheet import Worksheet

from gateway.domain.model import RegistrationRow
from gateway.forms.layout import HEADER_FIELDS, TITLE, TITLE_EN, columns, display
from gateway.forms.writing import ExportedRow, codes_state, safe, workbook_bytes, write_form
from gateway.privacy import mask_id_number, mask_mobile
from gateway.registrations import model as reg
from gateway.registrations.plan import from_payload

__all__ = ["export_workbook", "exported", "print_page"]

_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def exported(registration: reg.Registration, *, reveal: bool) -> ExportedRow | None:
    """A registration as a row of the form; None for one that is no worker's (an opening)."""
    if registration.person_key is None:
        return None
    row = from_payload(registration.payload, RegistrationRow)
    if not reveal:
        row = dataclasses.replace(
            row,
            id_number=mask_id_number(row.id_number),
            mobile=mask_mobile(row.mobile) if row.mobile else None,
        )
    return ExportedRow(row, str(registration.state), registration.id)


def export_workbook(
    header: dict[str, str | None],
    rows: Iterable[ExportedRow],
    *,
    systems: Collection[str] = (),
    instructions: Sequence[tuple[str, str]] = (),
) -> bytes:
    book = write_form(
        header,
        rows,
        systems=systems,
        instructions=instructions,
        with_states=True,
        template_rows=0,
    )
    return workbook_bytes(book)


def _line(sheet: Worksheet, row: int, label: str, value: object) -> None:
    sheet.cell(row, 1, label).font = Font(bold=True)
    cell = sheet.cell(row, 2)
    cell.value = safe(value)  # type: ignore[assignment]
    if isinstance(cell.value, str):
        cell.data_type = "s"
    for c in (1, 2):
        sheet.cell(row, c).border = _BOX
        sheet.cell(row, c).alignment = Alignment(vertical="center", wrap_text=True)


def print_page(
    header: dict[str, str | None], item: ExportedRow, *, systems: Collection[str] = ()
) -> bytes:
    """One registration laid out for A4, ready for signature and seal."""
    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)
    sheet.title = "登记表"
    sheet.column_dimensions["A"].width = 34
    sheet.column_dimensions["B"].width = 56
    sheet.cell(1, 1, f"{TITLE}\n{TITLE_EN}").font = Font(bold=True, size=14)
    sheet.merge_cells("A1:B1")
    sheet.cell(1, 1).alignment = Alignment(horizontal="center", wrap_text=True)
    sheet.row_dimensions[1].height = 48
    r = 2
    for name, zh, en in HEADER_FIELDS:
        _line(sheet, r, f"{zh} {en}", header.get(name))
        r += 1
    for column in columns(systems):
        value = display(column, getattr(item.row, column.field, None))
        _line(sheet, r, f"{column.number + ' ' if column.number else ''}{column.header}", value)
        if hasattr(value, "year"):
            sheet.cell(r, 2).number_format = "yyyy-mm-dd"
        r += 1
    _line(sheet, r, "登记状态 State", codes_state(item.state))
    _line(sheet, r + 1, "登记编号 Registration", item.registration_id)
    r += 3
    for label in (
        "单位（盖章） Unit seal",
        "经办人签字 Signature of the person handling",
        "窗口经办人签字 Signature of the clerk",
        "日期 Date",
    ):
        sheet.cell(r, 1, label).font = Font(bold=True)
        sheet.cell(r, 2).border = Border(bottom=_THIN)
        sheet.row_dimensions[r].height = 36
        r += 1
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = sheet.ORIENTATION_PORTRAIT
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 1
    sheet.sheet_properties.pageSetUpPr.fitToPage = True  # type: ignore[union-attr]
    sheet.print_options.horizontalCentered = True
    sheet.print_area = f"A1:B{r}"
    return workbook_bytes(book)
