"""What the template's instructions sheet (填表说明) says each business needs, taken
from the checks rather than written beside them, so that the two cannot drift apart.

- The notice's columns: those ``checks.required_fields`` names for each business,
  by their numbers, and the contract's end date as ``checks`` decides it (fixed term
  only).
- The columns the systems switched on add (``gateway.registry.RowField``): each
  field's own rule, bound to its system's settings, is asked of a row of each
  business it belongs to, with each kind of document (and each form of one: the old
  and new foreign permanent resident ID), blank in that column: where the rule
  answers ``REQUIRED``, the column is needed. Pure: no clock, no system.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from gateway.domain import codes
from gateway.domain.checks import RowRule, required_fields
from gateway.domain.model import (
    Business,
    ContractType,
    Education,
    EmploymentForm,
    EmploymentPersonCategory,
    EndReason,
    FilingPersonCategory,
    Gender,
    IdType,
    RegistrationRow,
)
from gateway.forms.layout import NOTICE_COLUMNS, UNEMPLOYMENT_COLUMN, field_column

if TYPE_CHECKING:
    from gateway.registry import RowField

__all__ = ["Line", "business_lines", "field_lines"]

#: One line of the sheet: Chinese, English.
Line = tuple[str, str]

#: How the sheet names each business.
_BUSINESS: dict[Business, Line] = {
    Business.HIRE: ("招用", "Hire"),
    Business.RENEW: ("续签", "Renewal"),
    Business.END: ("解除或终止", "End"),
}

#: One number of each document (and of each form of one), for asking a field's rule
#: whether a row with that document needs it; with the words naming that form.
_DOCUMENTS: tuple[tuple[IdType, str, Line], ...] = (
    (IdType.RESIDENT_ID, "11010519491231002X", ("", "")),
    (IdType.HMT_RESIDENCE_PERMIT, "810000199001010019", ("", "")),
    (
        IdType.FOREIGN_PERMANENT_RESIDENT_ID,
        "937000199001010015",
        ("（18位新版）", " (the 18-character card)"),
    ),
    (
        IdType.FOREIGN_PERMANENT_RESIDENT_ID,
        "ABC370101234567",
        ("（15位旧版）", " (the old 15-character card)"),
    ),
    (IdType.HK_MACAO_PERMIT, "H12345678", ("", "")),
    (IdType.TAIWAN_PERMIT, "12345678", ("", "")),
    (IdType.FOREIGN_PASSPORT, "E12345678", ("", "")),
)

_START = dt.date(2024, 6, 1)


def _runs(numbers: Iterable[int]) -> list[str]:
    """Column numbers as runs: ``1-12``, ``14-17``, ``20``."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    # Two in a row are named each (``20、21``), three or more as a range.
    return [
        said
        for run in runs
        for said in ([f"{run[0]}-{run[-1]}"] if len(run) > 2 else [str(n) for n in run])
    ]


def _columns(fields: Iterable[str]) -> Line:
    wanted = {"business", *fields}
    runs = _runs(int(c.number) for c in NOTICE_COLUMNS if c.field in wanted and c.number)
    en = ", ".join(runs[:-1]) + f" and {runs[-1]}" if len(runs) > 1 else runs[0]
    return f"第{'、'.join(runs)}列", f"columns {en}"


_END_DATE = next(c for c in NOTICE_COLUMNS if c.field == "contract_end_date")


def _contract_end() -> Line:
    n = _END_DATE.number
    return (
        f"第{n}列（{_END_DATE.zh}）固定期限合同必填，无固定期限合同不填，以完成一定工作任务为期限的"
        "合同可填",
        f"column {n} ({_END_DATE.en.lower()}) for a fixed-term contract, none for an "
        "open-ended one, optional for a task contract",
    )


def business_lines() -> list[Line]:
    """What each business needs of the notice's columns, as the checks require it."""
    lines: list[Line] = []
    for business in (Business.HIRE, Business.RENEW):
        (name_zh, name_en), (cols_zh, cols_en) = (
            _BUSINESS[business],
            _columns(required_fields(business)),
        )
        end_zh, end_en = _contract_end()
        lines.append((f"{name_zh}：填写{cols_zh}；{end_zh}。", f"{name_en}: {cols_en}; {end_en}."))
    (name_zh, name_en), (cols_zh, cols_en) = (
        _BUSINESS[Business.END],
        _columns(required_fields(Business.END)),
    )
    lines.append(
        (
            f"{name_zh}：填写{cols_zh}；劳动者申请失业登记的，“{UNEMPLOYMENT_COLUMN.zh}”列填“是”。",
            f"{name_en}: {cols_en}; yes (是) in the column {UNEMPLOYMENT_COLUMN.en} when the "
            "worker asks to be registered unemployed.",
        )
    )
    return lines


def _row(business: Business, id_type: IdType, id_number: str) -> RegistrationRow:
    """A complete row of ``business``, as the checks take it, with this document."""
    row = RegistrationRow(
        business=business,
        name="张三",
        gender=Gender.MALE,
        ethnicity="01",
        id_type=id_type,
        id_number=id_number,
        mobile="13912345678",
        household_address="山东省济南市历下区泉城路1号",
        current_address="山东省济南市历下区泉城路1号",
        education=Education.BACHELOR,
    )
    if business is Business.END:
        return dataclasses.replace(row, end_reason=EndReason.AGREEMENT, end_date=_START)
    row = dataclasses.replace(
        row,
        contract_type=ContractType.OPEN_ENDED,
        start_date=_START,
        filing_person_category=FilingPersonCategory.URBAN_EMPLOYEE,
        employment_form=EmploymentForm.FULL_TIME,
        post="会计",
        labour_filing_locality="370102",
    )
    if business is Business.HIRE:
        row = dataclasses.replace(
            row,
            employment_person_category=EmploymentPersonCategory.NEW_URBAN_ENTRANT,
            employment_locality="370102",
        )
    return row


def _document(id_type: IdType, form: Line) -> Line:
    label = codes.ID_TYPE.get(id_type)
    assert label is not None  # every IdType is labelled
    return label.label_zh + form[0], label.label_en[:1].lower() + label.label_en[1:] + form[1]


def _needing(field: str, rule: RowRule, business: Business) -> list[tuple[IdType, Line]]:
    """The documents (and forms of one) with which a row of ``business`` needs ``field``."""
    needing = []
    blank: dict[str, Any] = {field: None}
    for id_type, number, form in _DOCUMENTS:
        row = dataclasses.replace(_row(business, id_type, number), **blank)
        if any(p.field == field and p.code == "REQUIRED" for p in rule(row)):
            needing.append((id_type, form))
    return needing


def _every_form(id_type: IdType, needing: Sequence[tuple[IdType, Line]]) -> bool:
    forms = [form for t, _, form in _DOCUMENTS if t is id_type]
    return all((id_type, form) in needing for form in forms)


def field_lines(fields: Iterable[tuple[RowField, str, RowRule]]) -> list[Line]:
    """What the columns the systems switched on add need, by asking their rules.

    ``fields``: each field, its system's Chinese name, and its rule bound to that
    system's settings (``GatewayConfig.row_fields_on``)."""
    lines: list[Line] = []
    for row_field, system_zh, rule in fields:
        column = field_column(row_field)
        for business in sorted(row_field.businesses) or list(_BUSINESS):
            name_zh, name_en = _BUSINESS[business]
            needing = _needing(row_field.name, rule, business)
            if not needing:
                continue
            if len(needing) == len(_DOCUMENTS):
                lines.append(
                    (
                        f"{name_zh}：须填写“{column.zh}”列（{system_zh}已开通）。",
                        f"{name_en}: the column {column.en} is required.",
                    )
                )
                continue
            named = [
                # A document whose every form needs it is named alone, else the form.
                _document(t, ("", "") if _every_form(t, needing) else form)
                for t, form in needing
            ]
            docs_zh = "、".join(dict.fromkeys(zh for zh, _ in named))
            docs = list(dict.fromkeys(en for _, en in named))
            docs_en = ", ".join(docs[:-1]) + f" or {docs[-1]}" if len(docs) > 1 else docs[0]
            lines.append(
                (
                    f"{name_zh}：证件类型为{docs_zh}的，须填写“{column.zh}”列（{system_zh}已开通）；"
                    "其他证件可不填。",
                    f"{name_en}: the column {column.en} is required with a {docs_en}; with "
                    "other documents it may be left blank.",
                )
            )
    return lines
