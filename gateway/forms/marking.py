"""The workbook back, with every problem cell marked: a fill and a comment.

An .xlsx comes back as it was sent, with the marks added; a CSV comes back as
a workbook of its cells. A problem of a whole row (no column) marks the row's
first cell, one of the whole form marks the title. Warnings get a lighter fill.
Nothing a person typed goes into a comment: the messages never repeat values.

An .xlsx is loaded whole here (openpyxl's full load, which makes a cell of every
cell of a merged, linked or commented range): only after the file's checks
(``reading.check_workbook``, its ranges counted), made again here whoever made
the ``FormFile``, have bounded what it unfolds into.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill
from openpyxl.utils import column_index_from_string

from gateway.forms.checking import CellProblem
from gateway.forms.layout import FORM_SHEET, TITLE_ROW
from gateway.forms.reading import FormFile, check_workbook
from gateway.forms.writing import safe, workbook_bytes

__all__ = ["marked"]

PROBLEM_FILL = PatternFill("solid", fgColor="FFC7CE")
WARNING_FILL = PatternFill("solid", fgColor="FFEB9C")


def _book(file: FormFile) -> openpyxl.Workbook:
    if file.kind == "xlsx":
        check_workbook(file.data, file.settings)  # FileRefused: not loaded
        return openpyxl.load_workbook(io.BytesIO(file.data), keep_links=False)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = FORM_SHEET
    for number, values in file.rows():
        for i, value in enumerate(values, start=1):
            cell = sheet.cell(number, i)
            cell.value = safe(value)  # type: ignore[assignment]
            if isinstance(cell.value, str):
                cell.data_type = "s"
    return book


def marked(file: FormFile, problems: Sequence[CellProblem]) -> bytes:
    """The file as a workbook with every problem at its cell. FileRefused for an
    .xlsx the checks refuse (``open_form`` refused it before: it is never loaded)."""
    book = _book(file)
    sheet = book[FORM_SHEET] if FORM_SHEET in book.sheetnames else book.worksheets[0]
    at: dict[tuple[int, int], list[CellProblem]] = defaultdict(list)
    for p in problems:
        row = p.row or TITLE_ROW
        column = column_index_from_string(p.letter) if p.letter else 1
        at[(row, column)].append(p)
    for (row, column), found in at.items():
        cell = sheet.cell(row, column)
        warning_only = all(p.warning for p in found)
        cell.fill = WARNING_FILL if warning_only else PROBLEM_FILL
        text = "\n".join(
            f"{'[提示 warning] ' if p.warning else ''}{p.code}: {p.message_zh} / {p.message_en}"
            for p in found
        )
        comment = Comment(text, "hrss-gateway")
        comment.width, comment.height = 320, 40 + 60 * len(found)
        cell.comment = comment
    return workbook_bytes(book)
