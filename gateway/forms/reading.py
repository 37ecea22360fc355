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

Marking loads the workbook whole (openpyxl's full load), and that load makes a
cell object for every cell of some ranges, in any sheet: a 78 KB file with one
``<mergeCell ref="A1:XFD300"/>`` made 4.9 million (89 s of CPU, 1.2 GB). Every
part is therefore read as a stream (expat, with defusedxml's refusals; no tree)
and the cells its ranges cover are added up, as many times as openpyxl would
make them; past :func:`most_cells` the file is refused, and a part read as two
sheets is refused outright (:func:`check_ranges`: before its rows are read, on the
form threads; and again by marking, before it loads the workbook whole).
"""

from __future__ import annotations

import contextlib
import csv
import io
import posixpath
import re
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Generator
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError
from xml.parsers import expat

import openpyxl
from defusedxml import DefusedXmlException
from defusedxml.common import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import iterparse
from openpyxl.utils import column_index_from_string
from openpyxl.xml.constants import COMMENTS_NS, XLSM, XLSX, XLTM, XLTX

from gateway.forms.layout import CSV_SHEET, FIRST_DATA_ROW, FORM_SHEET
from gateway.forms.settings import FormSettings

__all__ = [
    "FileRefused",
    "FormFile",
    "check_ranges",
    "check_workbook",
    "most_cells",
    "open_form",
]

WORKBOOK_TYPE = XLSX
#: What openpyxl takes for the workbook part: the first override of one of these types.
_WORKBOOK_TYPES = (XLSX, XLSM, XLTX, XLTM)
WORKBOOK_PART = "xl/workbook.xml"
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
        # Not needed to stream the rows (openpyxl's read-only mode makes no cell of a
        # range), but the file is refused as a whole before anything of it is read or
        # checked, as the other hostile files are, rather than when it is marked.
        check_ranges(self.data, self.settings)
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


def _content_types(book: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(part, type) of every override declaring a workbook part. openpyxl reads the
    first of them (a template or macro-enabled one before a plain one), whatever its
    name: only the one plain workbook at ``/xl/workbook.xml`` is taken, so what is
    checked below is what openpyxl reads."""
    with book.open("[Content_Types].xml") as part:
        try:
            return [
                (str(e.get("PartName", "")), str(e.get("ContentType", "")))
                for _, e in iterparse(part, forbid_dtd=True, forbid_entities=True)
                if e.tag.endswith("Override") and e.get("ContentType") in _WORKBOOK_TYPES
            ]
        except DefusedXmlException:
            raise _xml_refused() from None
        except ParseError:
            raise _corrupt() from None


def _zip(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _corrupt() from None


def check_workbook(data: bytes, settings: FormSettings, *, ranges: bool = True) -> None:
    """FileRefused unless the workbook may be read and, with ``ranges``, loaded whole
    (to be marked): see :func:`check_ranges`."""
    with _zip(data) as book:
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
        if "[Content_Types].xml" not in names or WORKBOOK_PART not in names:
            raise _unsupported()
        if any(i.flag_bits & 0x1 for i in infos):
            raise _unsupported()  # encrypted parts
        if _content_types(book) != [(f"/{WORKBOOK_PART}", WORKBOOK_TYPE)]:
            raise _unsupported()  # a macro-enabled workbook, a template, another document
        for info in infos:
            if info.filename.lower().endswith(_XML_SUFFIXES):
                _check_prolog(book, info)
        if ranges:
            _check_ranges(book, infos, settings)


def check_ranges(data: bytes, settings: FormSettings) -> None:
    """FileRefused when a full load of the workbook would make more than
    :func:`most_cells` cells of its ranges, or read one part as several sheets. Every
    part is read to its end (about 0.5 s of CPU for a form of 10,000 rows): done as the
    rows are read, on the form threads, not by :func:`open_form`, which the event loop
    runs; and by marking before it loads the workbook whole."""
    with _zip(data) as book:
        _check_ranges(book, book.infolist(), settings)


# -- What a full load makes of ranges -------------------------------------------------
#
# openpyxl's full load (``load_workbook`` without ``read_only``) and its save (marking
# does both) make an object for every cell of these ranges, in any sheet (openpyxl 3.1:
# ``worksheet/_reader.py``, ``reader/excel.py``, ``worksheet/_writer.py``; measured:
# A1:XFD30, 491,520 cells, loaded and saved again):
#   - ``mergeCell@ref``: a MergedCell each (7.8 s, 165 MB; 15 µs and 340 bytes a cell);
#   - ``hyperlink@ref``: the cell, and a copy of the link in it (21 s, 590 MB: about
#     three times a merged cell, so it counts three);
#   - ``comment@ref`` of a sheet's comments part: a cell each (2.7 s, 142 MB), every
#     time a relationship of a sheet read names the part;
#   - ``table@ref`` of a table part: a cell each when saved, for a table without
#     ``tableColumns`` (1.9 s, 116 MB); counted with them too (a table is added to a
#     workbook once: its name may not be taken twice).
# The other ranges stay ranges: ``dataValidation``, ``conditionalFormatting``,
# ``protectedRange``, ``ignoredError`` (``sqref``), ``autoFilter``, a ``selection``:
# the same A1:XFD30 of each costs nothing more than the file without it. And a part
# read as two sheets (two ``<sheet>`` of the workbook through one relationship, or
# through two to one part) makes its cells and ranges twice: refused outright (no
# spreadsheet writes one).
_RANGE_WEIGHTS = {"mergeCell": 1, "hyperlink": 3, "table": 1}
_COMMENT = "comment"
# A range as openpyxl reads one (``openpyxl.utils.cell.ABSOLUTE_RE``): A1, A1:B2, A:B,
# 1:2, A, 1, each with or without ``$``. A whole column is as high as a sheet may be; a
# whole row as wide as openpyxl reads columns (ZZZ). Rows are not bounded by the
# pattern: a number of more digits than a sheet has rows counts as a billion.
_REF = re.compile(r"\$?([A-Za-z]{1,3})?\$?(\d+)?(?::\$?([A-Za-z]{1,3})?\$?(\d+)?)?")
_MAX_COLUMN = 18_278
_MAX_ROW = 1_048_576
#: A sheet's name (31 characters, quoted) and a range are far shorter: a longer ref
#: counts as a whole sheet, and costs the count no more than this to look at.
_LONGEST_REF = 255


def most_cells(settings: FormSettings) -> int:
    """The cells a full load may make from a workbook's ranges, all together.

    As many as the largest form read has cells (``max_rows`` × ``max_columns``,
    640,000 by default: about 10 s of CPU and 220 MB, merged or linked), so that ranges
    may at most about double what marking the largest form costs (10,000 rows: 7.8 s).
    A genuine form counts a few dozen: the template 37 (its title and header merged, 34
    cells, and three comments; 39 with the social-insurance columns), filled with
    10,000 rows the same; a marked form sent again one more for each problem marked,
    fewer than the form's cells (22 to 24 columns of the 64 read). A multiple, 2.7,
    of ``max_rows`` × the template's 24 columns. The audit's file was 4.9 million."""
    return settings.max_rows * settings.max_columns


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _row(digits: str) -> int:
    return int(digits) if len(digits) <= 9 else 10**9


def _ref_cells(ref: str) -> int:
    """At least the cells openpyxl makes for one element's ``ref``. It reads one range:
    the whole ref (``ws[ref]``, a newline after it allowed), or for a merged range the
    one after a sheet's name and ``!``, whatever follows it. So a range is looked for
    at the start of every piece of the ref between spaces and ``!``, and the largest
    found counts (a list of ranges, which openpyxl refuses, counts its largest)."""
    if len(ref) > _LONGEST_REF:
        return _MAX_COLUMN * _MAX_ROW
    cells = 0
    for piece in re.split(r"[\s!]+", ref):
        found = _REF.match(piece)
        assert found is not None  # every part of the pattern may be empty
        first_column, first_row, last_column, last_row = found.groups()
        columns = [column_index_from_string(c) for c in (first_column, last_column) if c]
        rows = [_row(r) for r in (first_row, last_row) if r]
        if columns or rows:
            width = max(columns) - min(columns) + 1 if columns else _MAX_COLUMN
            height = max(rows) - min(rows) + 1 if rows else _MAX_ROW
            cells = max(cells, width * height)
    return cells


def _no_dtd(name: str, sysid: str | None, pubid: str | None, _internal: bool) -> None:
    raise DTDForbidden(name, sysid, pubid)


def _no_entity(
    name: str,
    _parameter: bool,
    value: str | None,
    base: str | None,
    sysid: str | None,
    pubid: str | None,
    notation: str | None,
) -> None:
    raise EntitiesForbidden(name, value, base, sysid, pubid, notation)


def _no_unparsed_entity(
    name: str, base: str | None, sysid: str | None, pubid: str | None, notation: str | None
) -> None:
    raise EntitiesForbidden(name, None, base, sysid, pubid, notation)


def _no_external(context: str, base: str | None, sysid: str | None, pubid: str | None) -> int:
    raise ExternalReferenceForbidden(context, base, sysid, pubid)


def _stream(
    book: zipfile.ZipFile,
    part: str | zipfile.ZipInfo,
    start: Callable[[str, dict[str, str]], None],
) -> bool:
    """Feed the part to expat, ``start`` called with each element's name and attributes
    as written (a prefix is kept); no tree is built. A DTD, an entity or an external
    reference raises defusedxml's refusal, as the other parsers here do. False when the
    part is no XML or breaks off: what came before it was seen (expat, which openpyxl's
    worksheet reader runs on too, would have stopped there as well)."""
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_entity
    parser.UnparsedEntityDeclHandler = _no_unparsed_entity
    parser.ExternalEntityRefHandler = _no_external
    parser.StartElementHandler = start
    try:
        with book.open(part) as source:
            parser.ParseFile(source)
    except expat.ExpatError:
        return False
    except DefusedXmlException:
        raise _xml_refused() from None
    # A damaged part (a bad CRC, a stream that breaks off) or one packed by a method
    # zipfile lacks (it raises NotImplementedError): openpyxl could not read it either.
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError):
        raise _corrupt() from None
    return True


def _relationships(
    book: zipfile.ZipFile, names: set[str], source: str
) -> list[tuple[str, str, str]]:
    """(id, type, target) of the relationships of ``source``, each target the part's
    name as openpyxl finds it (``openpyxl.packaging.relationship.get_dependents``)."""
    folder, file = posixpath.split(source)
    path = posixpath.join(folder, "_rels", f"{file}.rels")
    if path not in names:
        return []
    parent = posixpath.dirname(folder)
    found: list[tuple[str, str, str]] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        if _local(name) != "Relationship":
            return
        target = attributes.get("Target", "")
        # An external target is taken as it is: a part of that name is read all the same.
        if attributes.get("TargetMode") != "External":
            if target.startswith("/"):
                target = target[1:]
            else:
                target = posixpath.normpath(posixpath.join(parent, target))
        found.append((attributes.get("Id", ""), attributes.get("Type", ""), target))

    if not _stream(book, path, start):
        raise _corrupt()  # openpyxl cannot read the workbook either
    return found


def _sheet_parts(book: zipfile.ZipFile, names: set[str]) -> set[str]:
    """The parts openpyxl reads as sheets; FileRefused when one would be read twice.
    A ``<sheet>`` may name its relationship by ``r:id`` or ``id`` and an id may be given
    twice: every part it may reach is counted."""
    reach: defaultdict[str, set[str]] = defaultdict(set)
    for rid, _type, target in _relationships(book, names, WORKBOOK_PART):
        if target in names:
            reach[rid].add(target)
    read: Counter[str] = Counter()

    def start(name: str, attributes: dict[str, str]) -> None:
        if _local(name) == "sheet":
            ids = {value for key, value in attributes.items() if _local(key) == "id"}
            read.update({part for rid in ids for part in reach.get(rid, ())})

    if not _stream(book, WORKBOOK_PART, start):
        raise _corrupt()
    if any(times > 1 for times in read.values()):
        raise FileRefused(
            "FORM_FILE_TOO_COMPLEX",
            "The workbook reads one part as several sheets.",
            "工作簿将同一组成部分用作多个工作表。",
        )
    return set(read)


class _Cells:
    """The cells a full load would make of the ranges seen so far, against the bound."""

    def __init__(self, bound: int) -> None:
        self.bound, self.left = bound, bound
        self.weights = dict(_RANGE_WEIGHTS)

    def start(self, name: str, attributes: dict[str, str]) -> None:
        # Called for every element of every part (590,000 in a form of 10,000 rows):
        # kept to a lookup for all but the few ranges.
        if ":" in name:
            name = _local(name)
        weight = self.weights.get(name)
        if weight is not None:
            self.left -= weight * _ref_cells(attributes.get("ref", ""))
            if self.left < 0:
                raise FileRefused(
                    "FORM_FILE_TOO_COMPLEX",
                    "The workbook's merged, linked, commented and table ranges cover more than "
                    f"{self.bound} cells.",
                    f"工作簿中合并、超链接、批注和表格的区域超过 {self.bound} 个单元格。",
                )


def _check_ranges(
    book: zipfile.ZipFile, infos: list[zipfile.ZipInfo], settings: FormSettings
) -> None:
    """FileRefused when a full load would make more than ``most_cells`` cells of the
    workbook's ranges. Every part is read, whatever its name or role (openpyxl reads a
    sheet by its relationship, not its name): its merged and linked ranges count once
    (a part is read as one sheet at most), its comments as many times as the
    relationships of the sheets read name it (at least once)."""
    names = {i.filename for i in infos}
    applied: Counter[str] = Counter()
    for sheet in _sheet_parts(book, names):
        for _rid, kind, target in _relationships(book, names, sheet):
            if kind == COMMENTS_NS and target in names:
                applied[target] += 1
    cells = _Cells(most_cells(settings))
    for info in infos:
        cells.weights[_COMMENT] = max(1, applied[info.filename])
        if not _stream(book, info, cells.start) and applied[info.filename]:
            # openpyxl reads comments with lxml, not expat: a part expat cannot read to
            # its end is not counted on to stop openpyxl there too.
            raise _corrupt()


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
        check_workbook(data, settings, ranges=False)  # the ranges: as the rows are read
        return FormFile(data, "xlsx", settings)
    if data.startswith(_OLE_MAGIC):
        raise _unsupported()
    text = _decode(data)
    if text is None:
        raise _unsupported()
    return FormFile(data, "csv", settings, text)
