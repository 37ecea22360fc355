"""What a step's error and a refused read say, in Chinese and English (pure: no
system, no store)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.domain.model import RegistrationRow, System
from gateway.errors import from_adapter
from gateway.registrations import messages
from gateway.registrations.model import Operation
from gateway.registrations.plan import row_steps
from gateway.registry import registry
from gateway.systems import Duplicate, Rejected, Unavailable
from tests.registrations.support import START, end_row, hire_row, renew_row, unit_ids

WORDS = "该劳动者与本单位已有在执行的劳动合同"


def test_the_chinese_message_quotes_the_systems_own_words_not_the_adapters_english() -> None:
    refusal = Duplicate(
        System.LABOUR, f"contract filing refused, already exists: {WORDS}", system_code="LD2002"
    ).saying(f"  {WORDS} ")
    error = messages.refused(refusal)
    assert error.message_zh == f"劳动关系系统拒绝办理（系统中已有该记录）：{WORDS}"
    assert error.message_en == (
        "The labour relations system refused (the system already holds such a record): "
        f"contract filing refused, already exists: {WORDS}"
    )
    assert (
        messages.undo_failed(refusal).message_zh == f"劳动关系系统拒绝撤销：{WORDS}，请经办人员处理"
    )
    read = from_adapter(refusal).extensions
    assert read is not None
    assert read["message_zh"] == f"劳动关系系统拒绝办理：{WORDS}"
    assert "contract filing refused" in read["message_en"]


def test_a_refusal_the_adapter_explained_alone_keeps_its_explanation() -> None:
    # Nothing from the system: the adapter's account is all there is to quote.
    refusal = Rejected(
        System.UNEMPLOYMENT,
        "name holds a character the unemployment system cannot store (GBK)",
        field="name",
    ).saying("   ")
    assert refusal.said is None
    assert messages.refused(refusal).message_zh.endswith(
        "：name holds a character the unemployment system cannot store (GBK)"
    )


@pytest.mark.parametrize(
    ("said", "zh"),
    [
        ("终止日期不应早于合同开始日期 (invalid value)", "终止日期不应早于合同开始日期"),
        ("姓名超过40个字符 (longer than 40 characters)", "姓名超过40个字符"),
        ("姓名（required）不能为空", "姓名不能为空"),
        ("单位编号不存在 (E4004)", "单位编号不存在 (E4004)"),  # a code alone is kept
        ("Contract not found (no record)", "Contract not found (no record)"),  # no Chinese
    ],
)
def test_a_chinese_message_leaves_out_a_systems_latin_gloss(said: str, zh: str) -> None:
    """The audit's finding: a labour refusal's Chinese message carried the system's
    English gloss, "(invalid value)"; the English message keeps it."""
    refusal = Rejected(System.LABOUR, f"contract ending refused: {said}").saying(said)
    error = messages.refused(refusal)
    assert error.message_zh == f"劳动关系系统拒绝办理（业务校验未通过）：{zh}"
    assert error.message_en.endswith(said)
    read = from_adapter(refusal).extensions
    assert read is not None
    assert read["message_zh"] == f"劳动关系系统拒绝办理：{zh}"


def test_a_system_that_said_nothing_is_not_quoted_in_chinese() -> None:
    lost = Unavailable(System.LABOUR, "file: no answer within the deadline", outcome_unknown=True)
    error = messages.unavailable(lost)
    assert error.message_zh == "已发送至劳动关系系统但未收到答复，将先核实是否已办理再决定是否重发"
    assert error.message_en.endswith("resend: file: no answer within the deadline")
    down = messages.unavailable(Unavailable(System.LABOUR, "the system is unavailable"))
    assert down.message_zh == "劳动关系系统暂时无法访问，稍后自动重试"
    maintenance = Unavailable(System.LABOUR, "in maintenance: 系统维护中").saying("系统维护中")
    assert messages.unavailable(maintenance).message_zh.endswith("稍后自动重试：系统维护中")
    assert (
        messages.cannot_check(lost).message_zh
        == "无法向劳动关系系统核实上次发送是否已办理，稍后再核实"
    )


def test_an_id_number_in_the_systems_words_is_masked_in_both_languages() -> None:
    number = "370102199001011231"
    refusal = Rejected(System.LABOUR, f"refused: 证件号码{number}已存在").saying(
        f"证件号码{number}已存在"
    )
    error = messages.refused(refusal)
    assert number not in error.message_zh + error.message_en
    assert "证件号码" in error.message_zh


# ------------------------------------------------- the field a refusal names


@pytest.mark.parametrize(
    ("operation", "named", "field"),
    [
        # The labour system refuses an ending dated before the contract's start.
        (Operation.END_CONTRACT, "date", "end_date"),
        (Operation.END_CONTRACT, "reason", "end_reason"),
        (Operation.END_CONTRACT, "id_number", "id_number"),
        # The unemployment system refuses a relation that ends after today.
        (Operation.REGISTER_UNEMPLOYMENT, "relation_ended_on", "end_date"),
        (Operation.REGISTER_UNEMPLOYMENT, "reason", "end_reason"),
        (Operation.REGISTER_UNEMPLOYMENT, "mobile", "mobile"),
        (Operation.DISMISS, "date", "end_date"),
        (Operation.DISMISS, "reason", "end_reason"),
        # A contract's terms: the row's contract fields.
        (Operation.FILE_CONTRACT, "end_date", "contract_end_date"),
        (Operation.FILE_CONTRACT, "filing_category", "filing_person_category"),
        (Operation.FILE_CONTRACT, "locality", "labour_filing_locality"),
        (Operation.FILE_CONTRACT, "household_address", "household_address"),
        (Operation.RENEW_CONTRACT, "start_date", "start_date"),
        (Operation.RENEW_CONTRACT, "end_date", "contract_end_date"),
        (Operation.REGISTER_EMPLOYMENT, "locality", "employment_locality"),
        (Operation.REGISTER_EMPLOYMENT, "person_category", "employment_person_category"),
        # A name that already is the row's field it was built from stays (the
        # employment adapter names the row's fields).
        (Operation.DISMISS, "end_date", "end_date"),
        (Operation.REGISTER_EMPLOYMENT, "employment_locality", "employment_locality"),
        (Operation.FILE_CONTRACT, "contract_end_date", "contract_end_date"),
        # A system's own request types declare theirs in its package.
        (Operation("DECLARE_REMOVAL"), "stop_date", "end_date"),
        (Operation("DECLARE_REMOVAL"), "stop_reason", "end_reason"),
        (Operation("DECLARE_ADDITION"), "monthly_wage", "monthly_wage"),
        (Operation("DECLARE_ADDITION"), "birth_date", "birth_date"),
        # No field of the row it was built from: none (the unit's id there, a
        # reference, the whole worker or term, what the request does not carry).
        (Operation.END_CONTRACT, "employer_id", None),
        (Operation.DISMISS, "post", None),
        (Operation.REGISTER_UNEMPLOYMENT, "reference", None),
        (Operation.REGISTER_UNEMPLOYMENT, "credit_code", None),
        (Operation.FILE_CONTRACT, "term", None),
        (Operation.FILE_CONTRACT, "person", None),
        (Operation("DECLARE_ADDITION"), "insurance_types", None),
        # Opening a unit is built from its profile, not a row: as the system named it.
        (Operation.OPEN_EMPLOYER, "credit_code", "credit_code"),
    ],
)
def test_a_refusal_names_the_rows_field_the_request_was_built_from(
    operation: Operation, named: str, field: str | None
) -> None:
    refusal = Rejected(System.LABOUR, "refused", system_code="X", field=named)
    assert messages.row_field(operation, named) == field
    error = messages.in_row_terms(messages.refused(refusal), operation)
    assert error is not None
    assert error.field == field
    assert error.system_code == "X"
    undo = messages.in_row_terms(messages.undo_failed(refusal), operation)
    assert undo is not None
    assert undo.field == field
    # Translated once or twice, the same.
    assert messages.in_row_terms(error, operation) == error


def test_an_error_naming_no_field_or_an_unregistered_operation_is_left_as_it_is() -> None:
    refusal = Rejected(System.LABOUR, "refused", field="date")
    assert messages.in_row_terms(None, Operation.END_CONTRACT) is None
    plain = messages.refused(Rejected(System.LABOUR, "refused"))
    assert messages.in_row_terms(plain, Operation.END_CONTRACT) == plain
    gone = Operation("REMOVED_PACKAGES_WRITE")
    assert messages.in_row_terms(messages.refused(refusal), gone) == messages.refused(refusal)


def _attributes(request: Any) -> Iterator[tuple[str, Any]]:
    """Every attribute a request sends, a nested one (the worker, the term) by its name."""
    for f in dataclasses.fields(request):
        value = getattr(request, f.name)
        if dataclasses.is_dataclass(value):
            yield from _attributes(value)
        else:
            yield f.name, value


def test_each_attribute_of_a_planned_request_names_the_row_field_it_holds() -> None:
    """The mapping is how the plan builds each request from the row: every attribute
    a core system's request sends names the row's field holding its value; only
    the unit's id there names none."""
    row_fields = {f.name for f in dataclasses.fields(RegistrationRow)}
    hired = hire_row()
    rows = [
        hired,
        renew_row(hired, start=START + dt.timedelta(days=365), end=START + dt.timedelta(days=730)),
        end_row(hired),
    ]
    seen: set[Operation] = set()
    for row in rows:
        for step in row_steps(row, unit_ids()):
            seen.add(step.operation)
            for name, value in _attributes(step.request):
                field = messages.row_field(step.operation, name)
                if name == "employer_id":
                    assert field is None
                    continue
                assert field in row_fields, (step.operation, name)
                assert getattr(row, field) == value, (step.operation, name, field)
    assert seen == set(Operation) - {Operation.OPEN_EMPLOYER}


def test_every_declared_mapping_names_fields_of_the_row() -> None:
    row_fields = {f.name for f in dataclasses.fields(RegistrationRow)}
    for operation in registry().operations():
        declared = getattr(registry().operation(operation).payload, "FROM_ROW", None)
        if declared is None:
            continue
        assert set(declared.values()) <= row_fields, operation
