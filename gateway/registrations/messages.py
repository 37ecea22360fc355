"""The errors a step or a registration records, in Chinese and English.

Codes are stable (front ends and clerks act on them); messages never hold an
ID number, a mobile number or an address: what a system said is passed through
``redact`` even though the adapters already keep personal data out of it.
Systems and operations are named as their packages declare them (``gateway.registry``).

A refusal's ``field`` is, as the adapter raises it, the attribute of the request
type it refused (``ContractEnding.date``); a step's error names the registration
row's field that attribute was built from (``end_date``), the name a problem of
the row uses: ``in_row_terms``, applied where an error becomes the step's
(``gateway.registrations.saving``).
"""

from __future__ import annotations

import dataclasses

from gateway.domain.model import System, field_in_row
from gateway.privacy import redact
from gateway.registrations.model import Operation, StepError
from gateway.registry import registry
from gateway.systems import AdapterError, Duplicate, NotFound, Rejected, Unavailable, quoted

SYSTEM_UNAVAILABLE = "SYSTEM_UNAVAILABLE"
OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
RECONCILE_UNAVAILABLE = "RECONCILE_UNAVAILABLE"
SYSTEM_REJECTED = "SYSTEM_REJECTED"
SYSTEM_DUPLICATE = "SYSTEM_DUPLICATE"
SYSTEM_NOT_FOUND = "SYSTEM_NOT_FOUND"
DEADLINE_PASSED = "DEADLINE_PASSED"
UNDO_IMPOSSIBLE = "UNDO_IMPOSSIBLE"
UNDO_FAILED = "UNDO_FAILED"
DONE_WITHOUT_REFERENCE = "DONE_WITHOUT_REFERENCE"
INTERNAL_ERROR = "INTERNAL_ERROR"
FOUND_EXISTING = "FOUND_EXISTING"
CANCELLED = "CANCELLED"


# A step may name a system or an operation no longer registered (a stored one,
# after its package was removed): it is then named by its stored name.


def system_zh(system: System) -> str:
    return registry().get(system).name_zh if system in registry() else f"{system}系统"


def system_en(system: System) -> str:
    return registry().get(system).name_en if system in registry() else f"{system} system"


def operation_zh(operation: Operation) -> str:
    try:
        return registry().operation(operation).label_zh
    except KeyError:
        return str(operation)


def operation_en(operation: Operation) -> str:
    try:
        return registry().operation(operation).label_en
    except KeyError:
        return str(operation)


def row_field(operation: Operation, field: str) -> str | None:
    """The registration row's field behind ``field``, a field a refusal of
    ``operation`` names: by the operation's request type (its ``FROM_ROW``,
    ``gateway.domain.model.field_in_row``); None when the row holds no such field
    (the unit's id in the system, a reference). An operation no longer
    registered has no request type to ask: its name is left as it is."""
    try:
        request_type = registry().operation(operation).payload
    except KeyError:
        return field
    return field_in_row(request_type, field)


def in_row_terms(error: StepError | None, operation: Operation) -> StepError | None:
    """``error`` of a step of ``operation`` with its field named as the row names
    it (``row_field``). Translating twice changes nothing."""
    if error is None or error.field is None:
        return error
    field = row_field(operation, error.field)
    return error if field == error.field else dataclasses.replace(error, field=field)


def _said(exc: AdapterError) -> str:
    return redact(exc.message)


def _quoted_zh(exc: AdapterError) -> str:
    """What a Chinese message quotes of ``exc`` ("：…", ``systems.quoted``): the
    system's own words, not the adapter's English account around them."""
    words = quoted(exc)
    return f"：{redact(words)}" if words else ""


def unavailable(exc: Unavailable) -> StepError:
    """A write that did not go through, or whose answer was lost: retried later."""
    zh, en = system_zh(exc.system), system_en(exc.system)
    if exc.outcome_unknown:
        return StepError(
            OUTCOME_UNKNOWN,
            f"已发送至{zh}但未收到答复，将先核实是否已办理再决定是否重发{_quoted_zh(exc)}",
            f"Sent to the {en} but the answer was lost; it will be checked before any "
            f"resend: {_said(exc)}",
        )
    return StepError(
        SYSTEM_UNAVAILABLE,
        f"{zh}暂时无法访问，稍后自动重试{_quoted_zh(exc)}",
        f"The {en} is unavailable; it will be tried again later: {_said(exc)}",
    )


def cannot_check(exc: AdapterError) -> StepError:
    """The system could not be asked whether an earlier write happened."""
    zh, en = system_zh(exc.system), system_en(exc.system)
    return StepError(
        RECONCILE_UNAVAILABLE,
        f"无法向{zh}核实上次发送是否已办理，稍后再核实{_quoted_zh(exc)}",
        f"Could not ask the {en} whether the earlier write happened; asking again "
        f"later: {_said(exc)}",
        system_code=exc.system_code if isinstance(exc, Rejected) else None,
    )


def refused(exc: Rejected) -> StepError:
    """A business refusal: the registration fails and what was done is undone.

    ``field`` is the request's attribute the system named; the step's error names
    the row's (``in_row_terms``, when it is saved)."""
    zh, en = system_zh(exc.system), system_en(exc.system)
    if isinstance(exc, Duplicate):
        code = SYSTEM_DUPLICATE
        what_zh, what_en = "系统中已有该记录", "the system already holds such a record"
    elif isinstance(exc, NotFound):
        code = SYSTEM_NOT_FOUND
        what_zh, what_en = "系统中找不到所需的单位或记录", "the system has no such unit or record"
    else:
        code = SYSTEM_REJECTED
        what_zh, what_en = "业务校验未通过", "the request did not pass its checks"
    return StepError(
        code,
        f"{zh}拒绝办理（{what_zh}）{_quoted_zh(exc)}",
        f"The {en} refused ({what_en}): {_said(exc)}",
        system_code=exc.system_code,
        field=exc.field,
    )


def deadline_passed(system: System, operation: Operation) -> StepError:
    return StepError(
        DEADLINE_PASSED,
        f"{system_zh(system)}{operation_zh(operation)}未能在期限内完成，需经办人员重试或取消",
        f"{operation_en(operation).capitalize()} in the {system_en(system)} did not finish "
        "before its deadline; a clerk must retry or cancel it",
    )


def found_in_force(system: System, operation: Operation) -> StepError:
    """Not an error: a write that settles a state (an ending) refused because the
    system already shows it exactly as asked (same worker, unit, kind, date): filed
    before, by another registration or at the system's own counter. Done, not this
    registration's own write: undoing the registration leaves it."""
    return StepError(
        FOUND_EXISTING,
        f"{system_zh(system)}未再办理，经查询核实该系统已有与本次申请一致的记录（同一劳动者、单位、"
        f"日期），视为{operation_zh(operation)}已办结；该记录并非本次登记所建，撤销本次登记时不会撤销它",
        f"The {system_en(system)} did not file it again, and a query showed it already holds "
        f"exactly what was asked (same worker, unit and date): {operation_en(operation)} counts "
        "as done. The record was not made by this registration, so undoing the registration "
        "leaves it",
    )


def undo_impossible(system: System, operation: Operation) -> StepError:
    return StepError(
        UNDO_IMPOSSIBLE,
        f"{system_zh(system)}的{operation_zh(operation)}已办理，但系统查询结果中没有它的业务流水号，"
        f"无法自动撤销，请经办人员在{system_zh(system)}中手工撤销后重试",
        f"{operation_en(operation).capitalize()} is in the {system_en(system)}, but its "
        "reference is not in the system's answers, so it cannot be undone automatically; "
        "a clerk must revoke it in that system by hand, then retry",
    )


def undo_failed(exc: Rejected) -> StepError:
    zh, en = system_zh(exc.system), system_en(exc.system)
    return StepError(
        UNDO_FAILED,
        f"{zh}拒绝撤销{_quoted_zh(exc)}，请经办人员处理",
        f"The {en} refused the undo: {_said(exc)}; a clerk must see to it",
        system_code=exc.system_code,
        field=exc.field,
    )


def done_without_reference(system: System, operation: Operation) -> StepError:
    """Not an error: the write was found done, but its own reference was not."""
    return StepError(
        DONE_WITHOUT_REFERENCE,
        f"已核实{system_zh(system)}已办理{operation_zh(operation)}，但查询结果不含其业务流水号，"
        "日后如需撤销须在该系统中手工办理",
        f"{operation_en(operation).capitalize()} was found done in the {system_en(system)}, "
        "but its reference is not in the system's answer; undoing it later must be done "
        "by hand in that system",
    )


def found_existing(system: System, operation: Operation) -> StepError:
    """Not an error: "already exists" on a first attempt, and the record found is
    exactly what was asked (same worker, unit, dates). Done, but not this
    registration's own write: undoing the registration leaves it."""
    return StepError(
        FOUND_EXISTING,
        f"{system_zh(system)}答复已有该记录，经查询核实与本次申请一致（同一劳动者、单位、日期），"
        f"视为{operation_zh(operation)}已办结；该记录并非本次登记所建，撤销本次登记时不会撤销它",
        f"The {system_en(system)} answered that it already holds the record, and a query "
        f"showed it is exactly what was asked (same worker, unit and dates): "
        f"{operation_en(operation)} counts as done. The record was not made by this "
        "registration, so undoing the registration leaves it",
    )


def internal(system: System, kind: str) -> StepError:
    return StepError(
        INTERNAL_ERROR,
        f"处理{system_zh(system)}的答复时出错（{kind}），将先核实再重试",
        f"Unexpected error handling the {system_en(system)}'s answer ({kind}); it will be "
        "checked and tried again",
    )


def cancelled() -> StepError:
    return StepError(
        CANCELLED,
        "经办人员或管理员已取消本次登记，已办理的部分已撤销",
        "Cancelled by a clerk or an administrator; what had been done is undone",
    )
