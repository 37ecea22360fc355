"""Checking a filled registration form of 5,000 rows, against merely reading it.

Side by side in one run, on the same workbook (the template filled with 5,000
valid hires):

- read, openpyxl streaming: every cell of the form sheet, values only (the
  reader the import uses, in openpyxl's read-only mode);
- read, python-calamine: the same cells through the Rust reader;
- check: what ``importRegistrationForm`` does before storing anything: the
  file's checks (ZIP directory, every XML prolog through defusedxml), the
  streaming read, each cell read as its column's kind, ``check_form`` and every
  row against the strictest limit of each system it reaches;
- mark: the workbook back with one problem marked per row.

Each is timed as the median of BENCH_RUNS runs (3 by default) and its peak
memory traced (tracemalloc, Python allocations) in a separate run.

Run: ``make bench`` (or ``.venv/bin/python -m benchmarks.forms``); BENCH_ROWS
changes the number of rows.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any, cast

import openpyxl
from python_calamine import CalamineWorkbook

from gateway.config import GatewayConfig
from gateway.domain.identifiers import eleven_two_check
from gateway.forms.checking import CellProblem, check, read_form
from gateway.forms.layout import FIRST_DATA_ROW, FORM_SHEET, columns
from gateway.forms.marking import marked
from gateway.forms.reading import open_form
from gateway.forms.settings import FormSettings
from gateway.forms.writing import template
from gateway.registrations.service import Registrar
from gateway.services import system_limits

ROWS = int(os.environ.get("BENCH_ROWS", "5000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SETTINGS = FormSettings()


def _id(k: int) -> str:
    """A distinct valid resident ID number for each ``k`` (men, born 1970 to 1994)."""
    born = dt.date(1970, 1, 1) + dt.timedelta(days=k % 9000)
    body = f"370102{born:%Y%m%d}{(2 * (k // 9000) + 1) % 1000:03d}"
    return body + eleven_two_check(body)


def workbook(rows: int) -> bytes:
    start = dt.datetime.combine(dt.date.today(), dt.time())
    values: dict[str, Any] = {
        "business": "招用劳动者（就业登记、劳动合同新订备案）",
        "name": "测试工人",
        "gender": "男",
        "ethnicity": "汉族",
        "id_type": "居民身份证",
        "household_address": "山东省济南市历下区泉城路1号",
        "current_address": "山东省济南市历下区泉城路1号",
        "education": "大学本科",
        "contract_type": "固定期限劳动合同",
        "start_date": start,
        "contract_end_date": start + dt.timedelta(days=3 * 365),
        "employment_person_category": "城镇新成长劳动力",
        "filing_person_category": "城镇职工",
        "employment_form": "全日制",
        "post": "装配工",
        "employment_locality": "370102",
        "labour_filing_locality": "370102",
    }
    header = {"unit_name": "济南泉城机械制造有限公司", "credit_code": "91370102MA3C4TLQ2N"}
    book = openpyxl.load_workbook(io.BytesIO(template(header)))
    sheet = book[FORM_SHEET]
    cols = columns()
    for r in range(rows):
        row = {**values, "id_number": _id(r), "mobile": f"139{r:08d}"}
        for i, column in enumerate(cols, start=1):
            if column.field in row:
                sheet.cell(FIRST_DATA_ROW + r, i).value = row[column.field]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read_openpyxl(data: bytes) -> int:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    n = sum(1 for _ in book[FORM_SHEET].iter_rows(values_only=True))
    book.close()
    return n


def read_calamine(data: bytes) -> int:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return sum(1 for _ in book.get_sheet_by_name(FORM_SHEET).iter_rows())


def checked(data: bytes) -> list[CellProblem]:
    # The registrar's checks need no store: none is given.
    now = lambda: dt.datetime.now(dt.UTC)  # noqa: E731
    registrar = Registrar(cast(Any, None), GatewayConfig(), clock=now, limits=system_limits())
    file = open_form(data, SETTINGS)
    read = read_form(file)
    return check(read, today=dt.date.today(), limits=registrar.check_row_limits)


def timed(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top / 1024 / 1024


def main() -> None:
    data = workbook(ROWS)
    found = checked(data)
    refused = [p for p in found if not p.warning]
    assert not refused, refused[:3]  # every row valid: the check did all its work
    file = open_form(data, SETTINGS)
    one_per_row = [
        CellProblem(FORM_SHEET, FIRST_DATA_ROW + r, "x", "F", "id_number", "X", "x", "x")
        for r in range(ROWS)
    ]
    runs: list[tuple[str, Callable[[], object]]] = [
        ("read, openpyxl streaming", lambda: read_openpyxl(data)),
        ("read, python-calamine", lambda: read_calamine(data)),
        ("check (import, dry run)", lambda: checked(data)),
        ("mark one cell a row", lambda: marked(file, one_per_row)),
    ]
    base = None
    print(f"Checking a form of {ROWS} rows ({len(data) / 1024:.0f} KiB .xlsx), {RUNS} runs")
    print(f"   {'':28} {'median s':>9} {'ratio':>6} {'peak MiB':>9}")
    for name, fn in runs:
        seconds = timed(fn)
        base = base or seconds
        print(f"   {name:28} {seconds:9.2f} {seconds / base:6.2f} {peak(fn):9.1f}")


if __name__ == "__main__":
    main()
