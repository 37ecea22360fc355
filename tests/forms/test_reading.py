"""Reading filled forms: every kind of hostile file refused with its code, every kind
of bad cell reported at its cell, CSV in UTF-8 and GBK."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
from decimal import Decimal

import pytest

from gateway.config import GatewayConfig
from gateway.forms.checking import CellProblem, check, read_form
from gateway.forms.marking import marked
from gateway.forms.reading import FileRefused, FormFile, check_ranges, open_form
from gateway.forms.settings import FormSettings
from gateway.forms.writing import TEMPLATE_ROWS, safe, template
from tests.factories import credit_code
from tests.forms.support import filled, hire_row

SETTINGS = FormSettings()
TODAY = dt.date.today()
SI = ("social_insurance",)
HEADER = {"unit_name": "测试单位", "credit_code": credit_code()}


def problems(data: bytes, settings: FormSettings = SETTINGS) -> list[CellProblem]:
    read = read_form(open_form(data, settings), systems=settings.systems)
    return [p for p in check(read, today=TODAY, limits=lambda row: []) if not p.warning]


def refused(data: bytes, settings: FormSettings = SETTINGS) -> str:
    with pytest.raises(FileRefused) as caught:
        read_form(open_form(data, settings))
    assert caught.value.en
    assert caught.value.zh
    return caught.value.code


def test_a_filled_template_reads_without_problems() -> None:
    # The real template, every prepared row of it (the other tests fill a shorter one).
    data = filled([hire_row(), hire_row()], HEADER, template_rows=TEMPLATE_ROWS)
    assert problems(data) == []


@pytest.mark.parametrize(
    ("overrides", "cell", "code"),
    [
        ({"start_date": "2024-02-30"}, "L", "CELL_NOT_A_DATE"),
        ({"mobile": '=HYPERLINK("http://x")'}, "G", "FORMULA_NOT_ALLOWED"),
        ({"id_number": 370102199001011234.0}, "F", "CELL_NUMBER_NOT_TEXT"),
        ({"gender": "未知"}, "C", "CODE_UNKNOWN"),
        ({"mobile": "12345"}, "G", "MOBILE_FORMAT"),
        ({"post": None}, "Q", "REQUIRED"),
        ({"employment_locality": "999999"}, "T", "DIVISION_UNKNOWN"),
    ],
)
def test_every_kind_of_bad_cell_is_reported_at_its_cell(
    overrides: dict[str, object], cell: str, code: str
) -> None:
    found = problems(filled([hire_row(), hire_row(**overrides)], HEADER))
    assert [(p.row, p.letter, p.code) for p in found] == [(7, cell, code)]
    assert found[0].column
    assert found[0].message_zh
    assert found[0].message_en
    assert found[0].sheet == "登记表"


def test_a_bad_yes_no_cell_and_a_bad_header() -> None:
    row = hire_row(register_unemployment="也许")
    found = problems(filled([row], {"unit_name": None, "credit_code": "123"}))
    assert {(p.row, p.field, p.code) for p in found} >= {
        (6, "register_unemployment", "CELL_NOT_YES_NO"),
        (2, "unit_name", "REQUIRED"),
        (2, "credit_code", "CREDIT_CODE_FORMAT"),
    }


def test_the_wage_column_appears_and_is_checked_only_when_social_insurance_is_on() -> None:
    on = FormSettings(systems=SI)
    rules = GatewayConfig.load(environ={"HRSS_SOCIAL_INSURANCE_ENABLED": "true"}).row_rules()

    def checked(rows: list[dict[str, object]]) -> list[tuple[int | None, str | None, str]]:
        data = filled(rows, HEADER, social_insurance=True)
        read = read_form(open_form(data, on), systems=SI)
        found = check(read, today=TODAY, limits=lambda row: [], rules=rules)
        return [(p.row, p.letter, p.code) for p in found if not p.warning]

    # Column W, after the 21 columns and the unemployment request (V).
    assert checked([hire_row(monthly_wage="很多")]) == [(6, "W", "CELL_NOT_A_NUMBER")]
    assert checked([hire_row(monthly_wage=-5200)]) == [(6, "W", "CELL_NOT_A_NUMBER")]
    assert checked([hire_row(monthly_wage=5200), hire_row(monthly_wage="6000.50")]) == []
    assert checked([hire_row()]) == [(6, "W", "REQUIRED")]
    assert checked([hire_row(monthly_wage=3799.99)]) == [(6, "W", "WAGE_OUT_OF_RANGE")]
    assert checked([hire_row(monthly_wage=5200.125)]) == [(6, "W", "WAGE_FORMAT")]
    read = read_form(
        open_form(filled([hire_row(monthly_wage=5200)], HEADER, social_insurance=True), on),
        systems=SI,
    )
    assert read.rows[0].monthly_wage == Decimal("5200")
    # Off, the column is not there, nothing asks for it and nothing reads it.
    assert problems(filled([hire_row()], HEADER)) == []
    assert "社会保险缴费工资" not in _headers(template({}))
    headers = _headers(template({}, systems=SI))
    # The columns the system declares, after the notice's and the unemployment request.
    assert headers[22:24] == ["社会保险缴费工资", "出生日期"]


def _headers(data: bytes) -> list[object]:
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(data))["登记表"]
    return [c.value for c in sheet[4]]


def _csv(rows: list[list[str]]) -> str:
    return "\n".join(",".join(r) for r in rows) + "\n"


def _form_csv() -> str:
    from gateway.forms.layout import columns

    cols = columns()
    row = hire_row()
    cells = []
    for c in cols:
        v = row.get(c.field, "")
        cells.append(v.date().isoformat() if isinstance(v, dt.datetime) else str(v))
    return _csv(
        [
            ["单位名称", "测试单位", "", "统一社会信用代码", HEADER["credit_code"]],
            [c.zh for c in cols],
            [c.en for c in cols],
            cells,
        ]
    )


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "utf-8"])
def test_a_csv_saved_by_a_spreadsheet_reads_in_each_encoding(encoding: str) -> None:
    found = problems(_form_csv().encode(encoding))
    assert found == []


def test_a_csv_with_a_problem_comes_back_as_a_marked_workbook() -> None:
    text = _form_csv().replace("370102,370102", "999999,370102")
    file = open_form(text.encode("gbk"), SETTINGS)
    found = check(read_form(file), today=TODAY, limits=lambda r: [])
    bad = [p for p in found if not p.warning]
    assert [(p.sheet, p.row, p.letter) for p in bad] == [("CSV", 4, "T")]
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(marked(file, found)))
    cell = book.active["T4"]  # type: ignore[index]
    assert cell.comment is not None
    assert "DIVISION_UNKNOWN" in cell.comment.text
    assert cell.fill.fgColor.rgb.endswith("FFC7CE")


def _zip(parts: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, content in parts.items():
            z.writestr(name, content)
    return out.getvalue()


def _parts() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(filled([hire_row()], HEADER))) as z:
        return {n: z.read(n) for n in z.namelist()}


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row>'
    b"</sheetData></worksheet>"
)


def _with(**changes: bytes) -> bytes:
    parts = _parts()
    for name, content in changes.items():
        parts[name.replace("__", "/").replace("_DOT_", ".")] = content
    return _zip(parts)


#: The code sheet (代码表): the audit put its range there, after the sheet's data. A
#: full load (marking) makes every sheet's ranges, not only the form's.
CODES = "xl/worksheets/sheet3.xml"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
#: Merged over A1:XFD40, 655,360 cells: a MergedCell each when the file was marked,
#: 10 s of CPU and 220 MB (the audit's A1:XFD300: 89 s, 1.2 GB).
MERGED_BOMB = "A1:XFD40"
#: Linked over A1:XFD20, 327,680 cells: the cell and a copy of the link in each, 14 s.
LINKED_BOMB = "A1:XFD20"


def _after_data(parts: dict[str, bytes], xml: str, part: str = CODES) -> dict[str, bytes]:
    sheet = parts[part]
    at = sheet.index(b"</sheetData>") + len(b"</sheetData>")
    return {**parts, part: sheet[:at] + xml.encode() + sheet[at:]}


def _merged(parts: dict[str, bytes], ref: str) -> bytes:
    return _zip(_after_data(parts, f'<mergeCells count="1"><mergeCell ref="{ref}"/></mergeCells>'))


def _linked(parts: dict[str, bytes], ref: str) -> bytes:
    """A link to a web page over ``ref``, by a relationship of the code sheet."""
    link = f'<hyperlinks><hyperlink xmlns:r="{R_NS}" ref="{ref}" r:id="rIdLink"/></hyperlinks>'
    rels = (
        f'<Relationships xmlns="{PKG_NS}"><Relationship Id="rIdLink" Type="{R_NS}/hyperlink" '
        'Target="https://example.com/" TargetMode="External"/></Relationships>'
    )
    return _zip({**_after_data(parts, link), "xl/worksheets/_rels/sheet3.xml.rels": rels.encode()})


def _tabled(parts: dict[str, bytes], ref: str) -> bytes:
    """A table over ``ref`` without its columns: openpyxl makes its cells when it saves."""
    table = (
        '<table xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" id="1" '
        f'name="T1" displayName="T1" ref="{ref}" headerRowCount="1"/>'
    )
    rels = (
        f'<Relationships xmlns="{PKG_NS}"><Relationship Id="rIdTable" Type="{R_NS}/table" '
        'Target="/xl/tables/table1.xml"/></Relationships>'
    )
    part = f'<tableParts count="1"><tablePart xmlns:r="{R_NS}" r:id="rIdTable"/></tableParts>'
    return _zip(
        {
            **_after_data(parts, part),
            "xl/worksheets/_rels/sheet3.xml.rels": rels.encode(),
            "xl/tables/table1.xml": table.encode(),
        }
    )


def _sheet_again(parts: dict[str, bytes], times: int = 1) -> bytes:
    """The code sheet listed again in the workbook, by its relationship."""
    again = "".join(
        f'<sheet xmlns:r="{R_NS}" name="again{i}" sheetId="{10 + i}" r:id="rId3"/>'
        for i in range(times)
    )
    book = parts["xl/workbook.xml"].replace(b"</sheets>", again.encode() + b"</sheets>")
    return _zip({**parts, "xl/workbook.xml": book})


def _comments_named(parts: dict[str, bytes], times: int) -> bytes:
    """The form sheet's comments part named by ``times`` relationships of the sheet."""
    rels = "".join(
        f'<Relationship Id="more{i}" Type="{R_NS}/comments" Target="/xl/comments/comment1.xml"/>'
        for i in range(times - 1)
    )
    path = "xl/worksheets/_rels/sheet1.xml.rels"
    more = parts[path].replace(b"</Relationships>", rels.encode() + b"</Relationships>")
    return _zip({**parts, path: more})


def _another_workbook(parts: dict[str, bytes], kind: str) -> bytes:
    """A second workbook part, declared first as ``kind``: openpyxl reads the first
    workbook override it finds, a template's before a workbook's."""
    types = parts["[Content_Types].xml"]
    at = types.index(b">") + 1
    override = f'<Override PartName="/xl/book.xml" ContentType="{kind}"/>'.encode()
    return _zip(
        {
            **parts,
            "[Content_Types].xml": types[:at] + override + types[at:],
            "xl/book.xml": parts["xl/workbook.xml"],
            "xl/_rels/book.xml.rels": parts["xl/_rels/workbook.xml.rels"],
        }
    )


def test_every_kind_of_hostile_file_is_refused_with_its_code() -> None:
    parts = _parts()
    assert refused(b"") == "FORM_FILE_EMPTY"
    assert refused(b"x" * 101, FormSettings(max_upload_bytes=100)) == "FORM_FILE_TOO_LARGE"
    assert refused(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600) == (
        "FORM_FILE_TYPE_UNSUPPORTED"
    )
    assert refused(bytes(range(256)) * 4) == "FORM_FILE_TYPE_UNSUPPORTED"  # binary, not text
    assert refused(b"PK\x03\x04 not really a zip") == "FORM_FILE_CORRUPT"
    docx = {k: v for k, v in parts.items() if not k.startswith("xl/")}
    assert refused(_zip(docx)) == "FORM_FILE_TYPE_UNSUPPORTED"  # a ZIP, but no workbook
    macro = parts["[Content_Types].xml"].replace(
        b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml"
    )
    assert refused(_zip({**parts, "[Content_Types].xml": macro})) == "FORM_FILE_TYPE_UNSUPPORTED"
    assert refused(_zip({**parts, "xl/worksheets/sheet1.xml": LAUGHS})) == "FORM_XML_REFUSED"
    external = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<sst><si><t>&e;</t></si></sst>"
    )
    assert refused(_zip({**parts, "xl/sharedStrings.xml": external})) == "FORM_XML_REFUSED"
    bomb = _zip({**parts, "xl/media/zeros.bin": b"\0" * (2 * 1024 * 1024)})
    assert len(bomb) < 100_000
    small = FormSettings(max_uncompressed_bytes=1024 * 1024)
    assert refused(bomb, small) == "FORM_FILE_UNFOLDS_TOO_LARGE"
    many = _zip({**parts, **{f"xl/x{i}.bin": b"" for i in range(50)}})
    assert refused(many, FormSettings(max_zip_entries=40)) == "FORM_FILE_TOO_COMPLEX"
    rows = filled([hire_row() for _ in range(6)], HEADER)
    assert refused(rows, FormSettings(max_rows=5)) == "FORM_TOO_MANY_ROWS"
    for part in ("xl/workbook.xml", "xl/styles.xml", "xl/worksheets/sheet1.xml"):
        truncated = _zip({**parts, part: parts[part][:-30]})  # what openpyxl fails on its own way
        assert refused(truncated) == "FORM_FILE_CORRUPT", part
    assert refused("姓名,性别\n张三,男\n".encode()) == "FORM_NOT_RECOGNISED"
    assert refused("业务类别,姓名,性别,民族\n".encode()) == "FORM_COLUMNS_MISSING"
    # What a full load (marking) makes a cell of, for every cell: refused as the file is
    # read, in a few milliseconds, where marking it cost seconds and hundreds of MB.
    start = time.process_time()
    assert refused(_merged(parts, MERGED_BOMB)) == "FORM_FILE_TOO_COMPLEX"
    assert refused(_linked(parts, LINKED_BOMB)) == "FORM_FILE_TOO_COMPLEX"
    comments = parts["xl/comments/comment1.xml"].replace(b'ref="A2"', b'ref="A10:XFD60"')
    assert refused(_zip({**parts, "xl/comments/comment1.xml": comments})) == (
        "FORM_FILE_TOO_COMPLEX"
    )
    assert refused(_tabled(parts, "A1:XFD40")) == "FORM_FILE_TOO_COMPLEX"
    # A part read as two sheets makes its cells and ranges twice.
    assert refused(_sheet_again(parts)) == "FORM_FILE_TOO_COMPLEX"
    assert time.process_time() - start < 2
    # A template's workbook part declared before the workbook's is the one openpyxl reads.
    template_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml"
    assert refused(_another_workbook(parts, template_type)) == "FORM_FILE_TYPE_UNSUPPORTED"


def test_the_type_is_judged_by_content_not_by_name() -> None:
    # No name is ever given to open_form: a workbook is one by its bytes alone.
    data = filled([hire_row()], HEADER)
    assert open_form(data, SETTINGS).kind == "xlsx"
    assert open_form(_form_csv().encode(), SETTINGS).kind == "csv"


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_cell_that_would_be_a_formula_is_neutralised(text: str) -> None:
    assert safe(text) == "'" + text
    assert safe("张三") == "张三"
    assert safe(3) == 3


def test_an_empty_template_is_a_form_without_rows() -> None:
    found = problems(template(HEADER))
    assert [(p.row, p.column, p.code) for p in found] == [(None, None, "NO_ROWS")]


def test_a_credit_code_saved_as_a_number_is_refused_not_a_crash() -> None:
    found = problems(filled([hire_row()], {"unit_name": "测试单位", "credit_code": 9.1e17}))
    assert [(p.row, p.field) for p in found] == [(2, "credit_code")]


def test_a_duplicate_row_names_the_sheet_row_of_the_first() -> None:
    # 甲, 乙, 丙, 乙 on sheet rows 6 to 9: the first 乙 is on row 7 (row 2 is the header).
    jia, yi, bing = hire_row(name="甲"), hire_row(name="乙"), hire_row(name="丙")
    found = problems(filled([jia, yi, bing, dict(yi)], HEADER))
    assert [(p.row, p.letter, p.code) for p in found] == [(9, "F", "DUPLICATE_IN_FORM")]
    assert "本表第7行" in found[0].message_zh
    assert "Row 7 of this form" in found[0].message_en


@pytest.mark.parametrize("typed", ["138 1234 5678", "138-1234-5678", "１３８１２３４５６７８"])
def test_a_mobile_typed_with_spaces_hyphens_or_full_width_digits_is_read_normalised(
    typed: str,
) -> None:
    data = filled([hire_row(mobile=typed), hire_row(mobile="138 1234 567")], HEADER)
    read = read_form(open_form(data, SETTINGS))
    assert [r.mobile for r in read.rows] == ["13812345678", "1381234567"]
    found = [p for p in check(read, today=TODAY, limits=lambda row: []) if not p.warning]
    assert [(p.row, p.letter, p.code) for p in found] == [(7, "G", "MOBILE_FORMAT")]


@pytest.mark.parametrize(
    "typed", ["９１３７０１０２ＭＡ３Ｃ４ＴＬＱ２Ｎ", " 91370102ma3c4tlq2n ", "91370102ma3c4tlq2n"]
)
def test_the_headers_credit_code_is_read_as_the_graph_reads_it(typed: str) -> None:
    found = problems(filled([hire_row()], {"unit_name": "测试单位", "credit_code": typed}))
    assert found == []
    # Still judged: a code that is none stays refused, at H2.
    wrong = problems(filled([hire_row()], {"unit_name": "测试单位", "credit_code": "９１３７"}))
    assert [(p.row, p.letter, p.code) for p in wrong] == [(2, "H", "CREDIT_CODE_FORMAT")]


@pytest.mark.parametrize(
    ("range_kind", "ref"),
    [
        ("merged", "$A$1:$XFD$40"),
        ("merged", "a1:xfd40"),
        ("merged", "'代码表'!A1:XFD40"),
        ("merged", "'代码表'!A1:XFD40!其余"),  # what follows the range openpyxl leaves
        ("merged", "代码表!A1:XFD40 其余"),
        ("merged", "A1:XFD40&#10;"),  # a newline after it
        ("merged", "A1" + ":A1" * 100),  # longer than any sheet's name and range
        ("merged", "XFD40:A1"),
        ("merged", "A1 A1:XFD40"),
        ("merged", "A1:A99999999999999"),
        ("linked", "1:20"),  # whole rows: as wide as a sheet's cells go
        ("linked", "A:A"),  # a whole column: as high as its cells go
        ("linked", "A"),
    ],
)
def test_a_range_is_counted_however_it_is_written(range_kind: str, ref: str) -> None:
    parts = _parts()
    data = _merged(parts, ref) if range_kind == "merged" else _linked(parts, ref)
    assert refused(data) == "FORM_FILE_TOO_COMPLEX"


def test_ranges_within_the_bound_are_read_and_comments_count_each_time_they_are_named() -> None:
    parts = _parts()
    # 163,840 merged cells: a quarter of the bound, taken.
    check_ranges(_merged(parts, "A1:XFD10"), SETTINGS)
    # The template has 37 (its title and header merged, three comments): a bound of 100
    # takes them once; named by 40 relationships, its three comments are made 40 times.
    small = FormSettings(max_rows=10, max_columns=10)
    check_ranges(_zip(parts), small)
    assert refused(_comments_named(parts, 40), small) == "FORM_FILE_TOO_COMPLEX"
    assert refused(_sheet_again(parts, times=3)) == "FORM_FILE_TOO_COMPLEX"


def test_the_real_template_filled_is_marked_and_its_marked_copy_reads_again() -> None:
    # Every prepared row of the real template (its drop-down lists on all of them).
    data = filled([hire_row(), hire_row(id_number="1")], HEADER, template_rows=TEMPLATE_ROWS)
    file = open_form(data, SETTINGS)
    found = check(read_form(file), today=TODAY, limits=lambda row: [])
    bad = [(p.row, p.letter, p.code) for p in found if not p.warning]
    assert bad == [(7, "F", "ID_NUMBER_FORMAT")]
    import openpyxl

    copy = marked(file, found)
    comment = openpyxl.load_workbook(io.BytesIO(copy))["登记表"]["F7"].comment
    assert comment is not None
    assert "ID_NUMBER_FORMAT" in comment.text
    # Sent again as it came back, its comments counted: the same problem, nothing refused.
    assert [(p.row, p.letter, p.code) for p in problems(copy)] == bad


def test_marking_checks_the_file_itself_before_loading_it_whole() -> None:
    """Marking loads the workbook whole: whoever made the FormFile, a file whose ranges
    unfold past the bound is refused there too, before anything is made of it."""
    bomb = FormFile(_merged(_parts(), MERGED_BOMB), "xlsx", SETTINGS)
    start = time.process_time()
    with pytest.raises(FileRefused) as caught:
        marked(bomb, [])
    assert caught.value.code == "FORM_FILE_TOO_COMPLEX"
    assert time.process_time() - start < 2
