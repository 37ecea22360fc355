"""Reading a filled form: an .xlsx workbook or a CSV saved by a spreadsheet.

A file is judged by its content, never by its name: a ZIP that declares an
Office Open XML workbook is a workbook, text that decodes is a CSV, anything
else is refused. Before openpyxl sees a workbook, the ZIP's directory is
checked (how many parts, what they unfold into: ``zipfile`` never reads more
of a part than its directory declares, so the declared sizes bound the work)
and every XML part's prolog is parsed with defusedxml, which refuses a DTD
and its entities; openpyxl itself parses through defusedxml too. Macro-enabled
and encrypted workbooks are refused. Cells are read as stored, in openpyxl's
streaming (read-only) mode: a formula is its text, never evaluated, and the
checks refuse it. Every refusal is a :class:`FileRefused` with a stable code.
"""

from __future__ import annotations

import contextlib
import csv
import io
import zipfile
from collections.abc import Callable, Generator
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

import openpyxl
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from gateway.forms.layout import CSV_SHEET, FIRST_DATA_ROW, FORM_SHEET
from gateway.forms.settings import FormSettings

__all__ = ["FileRefused", "FormFile", "open_form"]

WORKBOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and encrypted .xlsx
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_Row = tuple[int, tuple[object, ...]]  # (1-based row number, cell values)
# _UNREADABLE: openpyxl fails on a damaged part in many ways (lxml's XMLSyntaxError,
# KeyError, ValueError, TypeError, AttributeError... found by mutating workbooks):
# whatever it raises while reading a file that passed the checks above means
# the file cannot be read, and is FORM_FILE_CORRUPT, never an internal error.


class FileRefused(Exception):
    """The file as a whole is refused: nothing of it is read further or kept."""

    def __init__(self, code: str, en: str, zh: str) -> None:
        super().__init__(en)
        self.code, self.en, self.zh = code, en, zh


def _unsupported() -> FileRefused:
    return FileRefused(
        "FORM_FILE_TYPE_UNSUPPORTED",
        "The file is neither an .xlsx workbook nor a CSV file (an .xls, macro-enabled or "
        "encrypted workbook is not taken: save it as .xlsx).",
        "文件不是 .xlsx 工作簿或 CSV 文件（不接收 .xls、含宏或加密的工作簿，请另存为 .xlsx）。",
    )


def _corrupt() -> FileRefused:
    return FileRefused(
        "FORM_FILE_CORRUPT",
        "The workbook cannot be read: it is damaged or not a workbook.",
        "无法读取该工作簿：文件已损坏或不是工作簿。",
    )


def too_large(limit: int) -> FileRefused:
    return FileRefused(
        "FORM_FILE_TOO_LARGE",
        f"The file is larger than {limit} bytes.",
        f"文件超过 {limit} 字节。",
    )


@dataclass(frozen=True, slots=True)
class FormFile:
    """A file that passed the checks on its type and size, ready to be read row by row."""

    data: bytes
    kind: str  # "xlsx" or "csv"
    settings: FormSettings
    text: str | None = None  # the decoded CSV

    @property
    def sheet(self) -> str:
        return FORM_SHEET if self.kind == "xlsx" else CSV_SHEET

    def rows(self, declared: Callable[[int], None] = lambda n: None) -> Generator[_Row, None, None]:
        """(1-based row number, cell values) of every row, streamed; blank rows skipped.
        ``declared`` is told how many rows the file says it has, when it says so (for a
        progress bar: the file may lie, the limit below holds all the same).

        Raises FileRefused past the configured number of rows."""
        limit = self.settings.max_rows + FIRST_DATA_ROW - 1
        source = self._xlsx_rows(declared) if self.kind == "xlsx" else self._csv_rows(declared)
        with contextlib.closing(source):
            for number, values in source:
                if number > limit:
                    raise FileRefused(
                        "FORM_TOO_MANY_ROWS",
                        f"The form has more than {self.settings.max_rows} rows: split it.",
                        f"登记表超过 {self.settings.max_rows} 行，请分成多个文件提交。",
                    )
                if any(v is not None and str(v).strip() for v in values):
                    yield number, values

    def _xlsx_rows(self, declared: Callable[[int], None]) -> Generator[_Row, None, None]:
        try:
            book = openpyxl.load_workbook(
                io.BytesIO(self.data), read_only=True, data_only=False, keep_links=False
            )
        except DefusedXmlException:
            raise _xml_refused() from None
        except MemoryError:
            raise
        except Exception:  # see _UNREADABLE
            raise _corrupt() from None
        try:
            sheet = book[FORM_SHEET] if FORM_SHEET in book.sheetnames else book.worksheets[0]
            if isinstance(sheet.max_row, int):
                declared(sheet.max_row)
            cells = sheet.iter_rows(max_col=self.settings.max_columns, values_only=True)
            yield from enumerate(cells, start=1)
        except DefusedXmlException:
            raise _xml_refused() from None
        except MemoryError:
            raise
        except Exception:  # see _UNREADABLE
            raise _corrupt() from None
        finally:
            book.close()

    def _csv_rows(self, declared: Callable[[int], None]) -> Generator[_Row, None, None]:
        assert self.text is not None
        declared(self.text.count("\n"))
        try:
            reader = csv.reader(io.StringIO(self.text, newline=""))
            for number, values in enumerate(reader, start=1):
                yield number, tuple(v or None for v in values[: self.settings.max_columns])
        except csv.Error:
            raise FileRefused(
                "FORM_FILE_CORRUPT", "The CSV file cannot be read.", "无法读取该 CSV 文件。"
            ) from None


def _xml_refused() -> FileRefused:
    return FileRefused(
        "FORM_XML_REFUSED",
        "The workbook's XML declares a DTD or entities, which are refused.",
        "工作簿的 XML 含有 DTD 或实体声明，不予接收。",
    )


def _check_prolog(book: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    """The part's root element tag; FileRefused for a DTD or entity before it."""
    with book.open(info) as part:
        try:
            for _event, element in iterparse(
                part, events=("start",), forbid_dtd=True, forbid_entities=True
            ):
                return str(element.tag)
        except DefusedXmlException:
            raise _xml_refused() from None
        except ParseError:
            raise _corrupt() from None
    return None


def _content_types(book: zipfile.ZipFile) -> list[str]:
    with book.open("[Content_Types].xml") as part:
        try:
            return [
                str(e.get("ContentType", ""))
                for _, e in iterparse(part, forbid_dtd=True, forbid_entities=True)
                if e.tag.endswith("Override") and e.get("PartName") == "/xl/workbook.xml"
            ]
        except DefusedXmlException:
            raise _xml_refused() from None
        except ParseError:
            raise _corrupt() from None


def _check_workbook(data: bytes, settings: FormSettings) -> None:
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _corrupt() from None
    with book:
        infos = book.infolist()
        if len(infos) > settings.max_zip_entries:
            raise FileRefused(
                "FORM_FILE_TOO_COMPLEX",
                f"The workbook has more than {settings.max_zip_entries} parts.",
                f"工作簿的组成部分超过 {settings.max_zip_entries} 个。",
            )
        if sum(i.file_size for i in infos) > settings.max_uncompressed_bytes:
            raise FileRefused(
                "FORM_FILE_UNFOLDS_TOO_LARGE",
                f"The workbook unfolds into more than {settings.max_uncompressed_bytes} bytes.",
                f"工作簿解压后超过 {settings.max_uncompressed_bytes} 字节。",
            )
        names = {i.filename for i in infos}
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise _unsupported()
        if any(i.flag_bits & 0x1 for i in infos):
            raise _unsupported()  # encrypted parts
        if _content_types(book) != [WORKBOOK_TYPE]:
            raise _unsupported()  # a macro-enabled workbook, a template, another document
        for info in infos:
            if info.filename.lower().endswith(_XML_SUFFIXES):
                _check_prolog(book, info)


def _decode(data: bytes) -> str | None:
    """A CSV as spreadsheets save it: UTF-8 (with or without BOM), else GBK (Excel
    on Chinese systems; read as GB 18030, which contains it). None: not text."""
    if data.startswith(b"\xef\xbb\xbf"):
        encodings: tuple[str, ...] = ("utf-8-sig",)
    else:
        encodings = ("utf-8", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # Text has no NUL and few control characters: a binary file that happens
        # to decode in GB 18030 is not a CSV.
        if "\x00" not in text:
            return text
    return None


def open_form(data: bytes, settings: FormSettings) -> FormFile:
    """The file, judged by its content; FileRefused when it is not one to read."""
    if len(data) > settings.max_upload_bytes:
        raise too_large(settings.max_upload_bytes)
    if not data.strip():
        raise FileRefused("FORM_FILE_EMPTY", "The file is empty.", "文件为空。")
    if data.startswith(_ZIP_MAGIC):
        _check_workbook(data, settings)
        return FormFile(data, "xlsx", settings)
    if data.startswith(_OLE_MAGIC):
        raise _unsupported()
    text = _decode(data)
    if text is None:
        raise _unsupported()
    return FormFile(data, "csv", settings, text)
