"""Filled forms for the tests: the template, filled with openpyxl as a user would."""

from __future__ import annotations

import datetime as dt
import functools
import io
from typing import Any

import openpyxl

from gateway.forms.layout import FIRST_DATA_ROW, FORM_SHEET, columns
from gateway.forms.writing import workbook_bytes, write_form
from tests.factories import mobile, resident_id


def hire_row(start: dt.date | None = None, **overrides: Any) -> dict[str, Any]:
    """A hire as a person types it: labels from the drop-down lists, a real date."""
    start = start or dt.date.today()
    row: dict[str, Any] = {
        "business": "招用劳动者（就业登记、劳动合同新订备案）",
        "name": "测试工人",
        "gender": "男",
        "ethnicity": "汉族",
        "id_type": "居民身份证",
        "id_number": resident_id(),
        "mobile": mobile(),
        "household_address": "山东省济南市历下区泉城路1号",
        "current_address": "山东省济南市历下区泉城路1号",
        "education": "大学本科",
        "contract_type": "固定期限劳动合同",
        "start_date": dt.datetime.combine(start, dt.time()),
        "contract_end_date": dt.datetime.combine(start + dt.timedelta(days=3 * 365), dt.time()),
        "employment_person_category": "城镇新成长劳动力",
        "filing_person_category": "城镇职工",
        "employment_form": "全日制",
        "post": "装配工",
        "employment_locality": "370102",
        "labour_filing_locality": "370102",
    }
    row.update(overrides)
    return row


def on(social_insurance: bool) -> tuple[str, ...]:
    """The systems switched on whose columns the form carries."""
    return ("social_insurance",) if social_insurance else ()


# The rows a filled form of the tests has prepared (their formats and drop-down lists):
# the template's TEMPLATE_ROWS (1,000) cost every test that fills, uploads or reads
# one about 1.5 s of CPU (openpyxl loading, saving and reading 22,000 formatted empty
# cells), more than all else those tests do. The rows a test fills are prepared as in
# the real template; the tests that show the real template filled and read pass
# ``template_rows=TEMPLATE_ROWS``.
SHORT_TEMPLATE_ROWS = 10


def filled(
    rows: list[dict[str, Any]],
    header: dict[str, str | None] | None = None,
    *,
    social_insurance: bool = False,
    template_rows: int = SHORT_TEMPLATE_ROWS,
) -> bytes:
    """The template with ``rows`` typed in from its first data row; it has
    ``template_rows`` prepared rows, or as many as ``rows`` if more."""
    prepared = max(template_rows, len(rows))
    data = _template(tuple((header or {}).items()), social_insurance, prepared)
    book = openpyxl.load_workbook(io.BytesIO(data))
    type_in(book, rows, social_insurance=social_insurance)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@functools.cache
def _template(
    header: tuple[tuple[str, str | None], ...], social_insurance: bool, template_rows: int
) -> bytes:
    """The template for a header, made once per process: writing one (its drop-down
    lists on every row) costs more than all else a reading test does, and the tests
    that prove the template itself call ``template`` directly. With TEMPLATE_ROWS it
    is what ``gateway.forms.writing.template`` makes."""
    book = write_form(dict(header), systems=on(social_insurance), template_rows=template_rows)
    return workbook_bytes(book)


def type_in(
    book: openpyxl.Workbook, rows: list[dict[str, Any]], *, social_insurance: bool = False
) -> None:
    """Type ``rows`` into the form sheet of ``book``, each value in its field's column."""
    sheet = book[FORM_SHEET]
    cols = columns(on(social_insurance))
    for r, row in enumerate(rows, start=FIRST_DATA_ROW):
        for i, column in enumerate(cols, start=1):
            if column.field in row:
                sheet.cell(r, i).value = row[column.field]
