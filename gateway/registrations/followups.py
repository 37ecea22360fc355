"""Follow-ups at rest: what a registration has left, and correcting one.

A registration's core steps stand or fall together; a follow-up (the worker's
unemployment registration after an ending) comes once the core is done, and a
refusal of it never undoes the core: the registration needs attention, says
that its core is complete and what is left, and the employer or a clerk either
retries the follow-up (with corrected data) or cancels it alone.

Pure: what is decided here, the clerk's commands of the engine apply to the
store. A correction is checked exactly as the form's row is
(``gateway.domain.checks``), on the row as it would then be, and the step's
payload is planned again from that row (``replanned``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.domain.checks import FIELD_LABELS, Problem, RowRule, check_row
from gateway.domain.model import RegistrationRow, System
from gateway.registrations.declarations import AWAITING_DECISION
from gateway.registrations.labels import REGISTRATION_STATE, STEP_STATE
from gateway.registrations.messages import (
    FOUND_EXISTING,
    operation_en,
    operation_zh,
    system_en,
    system_zh,
)
from gateway.registrations.model import (
    Operation,
    Registration,
    RegistrationState,
    Step,
    StepError,
    StepKind,
    StepState,
    core_complete,
    follow_ups_left,
)
from gateway.registrations.plan import from_payload, row_steps, step_request, to_payload
from gateway.registry import registry

FOLLOW_UP_NEEDS_ATTENTION = "FOLLOW_UP_NEEDS_ATTENTION"
FOLLOW_UP_CANCELLED = "FOLLOW_UP_CANCELLED"
NOT_CORRECTABLE = "NOT_CORRECTABLE"

#: A follow-up a person may retry or cancel: refused, or stuck past its deadline.
WAITING = frozenset({StepState.REFUSED, StepState.STUCK})


class FollowUpActionRefused(Exception):
    """A follow-up's retry or cancel that cannot be done: a stable code, two messages."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en


def _what(step: Step) -> tuple[str, str]:
    return (
        f"{system_zh(step.system)}{operation_zh(step.operation)}",
        f"{operation_en(step.operation)} in the {system_en(step.system)}",
    )


def waiting_follow_up(registration: Registration, operation: Operation) -> Step:
    """The follow-up ``operation`` of a registration whose core is done and which
    waits for a person; ``FollowUpActionRefused`` says why not otherwise."""
    found = [
        s for s in registration.steps if s.operation == operation and s.kind is StepKind.FOLLOW_UP
    ]
    if not found:
        zh, en = operation_zh(operation), operation_en(operation)
        raise FollowUpActionRefused(
            "NO_SUCH_FOLLOW_UP",
            f"该登记没有“{zh}”这一后续事项",
            f"This registration has no follow-up {en}",
        )
    (step,) = found
    if not core_complete(registration):
        state_zh = REGISTRATION_STATE[registration.state.name][0]
        raise FollowUpActionRefused(
            "CORE_NOT_COMPLETE",
            "只有核心事项已办结、仅剩后续事项待处理的登记，才能单独重试或取消后续事项；"
            f"该登记的核心事项尚未办结，当前状态为“{state_zh}”",
            "A follow-up can be retried or cancelled alone only once the registration's "
            "core is complete and only follow-ups wait; this registration's core is not "
            f"complete, and it is {registration.state.value}",
        )
    if awaiting_decision(step):
        raise _awaiting_decision(step)
    if registration.state is not RegistrationState.NEEDS_ATTENTION or step.state not in WAITING:
        raise _not_waiting(registration, step)
    return step


def awaiting_decision(step: Step) -> bool:
    """A write its system decides later, accepted and under review (a declaration)."""
    return (
        step.state is StepState.UNKNOWN
        and step.last_error is not None
        and step.last_error.code == AWAITING_DECISION
    )


def under_review(registration: Registration) -> list[tuple[str, str]]:
    """What a registration waits for when that is only its systems' decisions (its core
    done, every follow-up left accepted and under review): each, in Chinese and English,
    with its acceptance number. Empty when it waits for anything else."""
    left = follow_ups_left(registration)
    if not left or not core_complete(registration) or not all(map(awaiting_decision, left)):
        return []
    said = []
    for step in left:
        zh, en = _what(step)
        number_zh = f"（受理号 {step.reference}）" if step.reference else ""
        number_en = f" (number {step.reference})" if step.reference else ""
        said.append((f"{zh}{number_zh}", f"{en}{number_en}"))
    return said


def _awaiting_decision(step: Step) -> FollowUpActionRefused:
    zh, en = _what(step)
    number_zh = f"（受理号 {step.reference}）" if step.reference else ""
    number_en = f" (number {step.reference})" if step.reference else ""
    return FollowUpActionRefused(
        "FOLLOW_UP_NOT_WAITING",
        f"{zh}已受理{number_zh}，正在等待经办机构审核；审核结束前无需也不能重试或取消。"
        "审核通过即办结；被退回的，可更正后重试或单独取消",
        f"{en.capitalize()} was accepted{number_en} and awaits the agency's review: there "
        "is nothing to retry or cancel until it decides. Approved, it is done; returned, "
        "it may then be retried, corrected, or cancelled alone",
    )


def _not_waiting(registration: Registration, step: Step) -> FollowUpActionRefused:
    """A follow-up of a complete core that waits for no person: done, cancelled, or
    still being carried out."""
    zh, en = _what(step)
    step_zh = STEP_STATE[step.state.name][0]
    if step.state is StepState.DONE or cancelled_follow_up(step):
        return FollowUpActionRefused(
            "FOLLOW_UP_NOT_WAITING",
            f"{zh}当前为“{step_zh}”，没有需要重试或取消的内容",
            f"{en.capitalize()} is {step.state.value}: there is nothing to retry or cancel",
        )
    if registration.state is RegistrationState.NEEDS_ATTENTION:
        # A later stage's follow-up, waiting for one that was refused or is stuck.
        return FollowUpActionRefused(
            "FOLLOW_UP_NOT_WAITING",
            f"{zh}当前为“{step_zh}”，它在等待前面的后续事项；请先重试或取消被拒绝或"
            "未能按时办结的那一项",
            f"{en.capitalize()} is {step.state.value}, waiting for an earlier follow-up: "
            "retry or cancel the one refused or stuck first",
        )
    state_zh = REGISTRATION_STATE[registration.state.name][0]
    return FollowUpActionRefused(
        "FOLLOW_UP_NOT_WAITING",
        f"{zh}当前为“{step_zh}”，该登记当前为“{state_zh}”，仍在自动办理；请等待结果，"
        "如登记转为待人工处理，再重试或取消",
        f"{en.capitalize()} is {step.state.value} and the registration "
        f"{registration.state.value}, still being carried out: wait for its outcome, and "
        "retry or cancel it if the registration then needs attention",
    )


#: What retrying a refused follow-up may correct: the row's fields that it alone
#: sends. What the core sent (the end date and reason) stands as filed, and the
#: worker's ID is whom the registration is for: neither is corrected here.
CORRECTABLE: dict[Operation, frozenset[str]] = {
    Operation.REGISTER_UNEMPLOYMENT: frozenset(
        {
            "name",
            "gender",
            "ethnicity",
            "education",
            "mobile",
            "household_address",
            "current_address",
        }
    ),
}


def _declared_correctable(operation: Operation) -> frozenset[str]:
    """What a registered system says a retry of its write may correct."""
    try:
        return registry().operation(operation).correctable
    except KeyError:
        return frozenset()


def stored_row(registration: Registration) -> RegistrationRow:
    """The row a registration was planned from (as corrected since, if it was)."""
    return from_payload(registration.payload, RegistrationRow)


def replanned(registration: Registration, step: Step, row: RegistrationRow) -> dict[str, Any]:
    """``step``'s payload planned again from ``row``, with the unit ids the
    registration's steps already use (the core's stay what they were filed with)."""
    ids: dict[System, str | None] = {}
    for s in registration.steps:
        if s.operation is Operation.OPEN_EMPLOYER:
            # The unit this registration registered there (it was not bound before).
            found = s.reference if s.state is StepState.DONE else None
        else:
            found = getattr(step_request(s), "employer_id", None)
        ids[s.system] = ids.get(s.system) or found
    for planned in row_steps(row, ids):
        if planned.operation is step.operation and planned.system is step.system:
            return to_payload(planned.request)
    raise ValueError(f"{step.operation.value} is not part of a {row.business.value} row")


def not_correctable_now(step: Step) -> FollowUpActionRefused:
    """A stuck follow-up may have reached its system: asked about, never changed."""
    zh, en = _what(step)
    return FollowUpActionRefused(
        "FOLLOW_UP_OUTCOME_UNKNOWN",
        f"{zh}未被拒绝而是未能按时办结，可能已送达该系统，不能更正后重试；请不带更正重试，"
        "系统将先核实是否已办理",
        f"{en.capitalize()} was not refused but did not finish in time and may have "
        "reached its system: it cannot be corrected; retry it without corrections, and "
        "the system is asked first whether it was done",
    )


@dataclass(frozen=True, slots=True)
class Correction:
    """A follow-up's retry with corrected data: the row as it would be, the step's
    new payload, and every problem found (nothing is stored if there is one)."""

    row: RegistrationRow
    payload: dict[str, Any]
    problems: list[Problem]


def _not_correctable(field: str, step: Step) -> Problem:
    declared = registry().row_field(field)
    label_zh, label_en = (
        (declared.label_zh, declared.label_en)
        if declared is not None
        else FIELD_LABELS.get(field, (field, field))
    )
    zh, en = _what(step)
    return Problem(
        field,
        NOT_CORRECTABLE,
        f"重试{zh}时不能更正{label_zh}（只能更正仅由该事项报送的字段；已办结的核心事项所报送的"
        "字段和劳动者证件不在此更正）",
        f"{label_en} cannot be corrected when retrying {en} (only the fields that "
        "this follow-up alone sends can; what the completed core sent and the worker's "
        "ID stay as filed)",
    )


def correct(
    registration: Registration,
    step: Step,
    corrections: Mapping[str, Any],
    *,
    today: dt.date,
    limits: Callable[[RegistrationRow, Operation], list[Problem]],
    rules: Sequence[RowRule] = (),
) -> Correction:
    """The follow-up ``step`` planned again with ``corrections`` (unified field
    names of the form's row), checked as the form checks its row: every problem
    at once, by field. ``limits`` checks the row's texts against where it goes;
    ``rules`` check the fields the systems add to the row (``check_row``).

    Only a refused follow-up is corrected: one stuck may have reached its system
    (its outcome is unknown), and is asked about, not changed, before it is sent
    again (``FollowUpActionRefused``)."""
    if corrections and step.state is not StepState.REFUSED:
        raise not_correctable_now(step)
    row = stored_row(registration)
    allowed = CORRECTABLE.get(step.operation) or _declared_correctable(step.operation)
    problems = [_not_correctable(f, step) for f in corrections if f not in allowed]
    if problems:
        return Correction(row, step.payload, problems)
    changed: dict[str, Any] = {
        f: v.strip() if isinstance(v, str) else v for f, v in corrections.items()
    }
    corrected = dataclasses.replace(row, **changed)
    problems = list(check_row(corrected, today=today, rules=rules).problems)
    problems += limits(corrected, step.operation)
    if problems:
        return Correction(corrected, step.payload, problems)
    return Correction(corrected, replanned(registration, step, corrected), [])


# ------------------------------------------------------------- what is read


def refused_follow_up(step: Step) -> bool:
    return step.state is StepState.REFUSED and step.kind is StepKind.FOLLOW_UP


def cancelled_follow_up(step: Step) -> bool:
    """A follow-up a person cancelled alone (the core stays)."""
    return (
        step.kind is StepKind.FOLLOW_UP
        and step.state is StepState.SKIPPED
        and step.last_error is not None
        and step.last_error.code == FOLLOW_UP_CANCELLED
    )


def finished(step: Step) -> bool:
    """Nothing more to do for this step going forward: done, or cancelled alone."""
    return step.state is StepState.DONE or cancelled_follow_up(step)


def adopted(step: Step) -> bool:
    """Done by finding a matching record already there: not this registration's write."""
    return step.last_error is not None and step.last_error.code == FOUND_EXISTING


def ours_to_undo(step: Step, undoable: Collection[Operation]) -> bool:
    """A done step a compensation undoes: its system can, and the write was ours."""
    return step.operation in undoable and not adopted(step)


# ------------------------------------------------------------------ the notice


def cancel_note(step: Step) -> StepError:
    """The note a follow-up cancelled alone keeps: the core stays as filed."""
    zh, en = _what(step)
    return StepError(
        FOLLOW_UP_CANCELLED,
        f"{zh}这一后续事项已取消，未办理；已办结的核心事项不受影响",
        f"{en.capitalize()}, a follow-up, was cancelled and not done; the completed core "
        "stays as filed",
    )


def notice(registration: Registration) -> StepError | None:
    """What a person should know of a registration whose core is done but which is
    not all done: the follow-ups waiting (with why), or cancelled. None otherwise."""
    if registration.failure is not None or not core_complete(registration):
        return None
    cores = [s for s in registration.steps if s.kind is StepKind.CORE]
    core_zh = "、".join(operation_zh(s.operation) for s in cores)
    core_en = " and ".join(operation_en(s.operation) for s in cores)
    left = follow_ups_left(registration)
    if registration.state is RegistrationState.NEEDS_ATTENTION and left:
        parts_zh, parts_en = [], []
        for step in left:
            zh, en = _what(step)
            why = step.last_error
            parts_zh.append(f"{zh}（{why.message_zh}）" if why else zh)
            parts_en.append(f"{en} ({why.message_en})" if why else en)
        return StepError(
            FOLLOW_UP_NEEDS_ATTENTION,
            f"核心事项已办结（{core_zh}）。尚待处理的后续事项：{'；'.join(parts_zh)}。"
            "用人单位或经办人员可更正后重试，或单独取消该事项，已办结的核心事项不会被撤销。",
            f"The core is complete ({core_en}). Follow-ups left: {'; '.join(parts_en)}. "
            "The employer or a clerk may retry them, with corrected data, or cancel them "
            "alone; the completed core is not undone.",
        )
    skipped = [
        s
        for s in registration.steps
        if s.kind is StepKind.FOLLOW_UP
        and s.state is StepState.SKIPPED
        and s.last_error is not None
        and s.last_error.code == FOLLOW_UP_CANCELLED
    ]
    if registration.state is RegistrationState.COMPLETED and skipped:
        what = [_what(s) for s in skipped]
        return StepError(
            FOLLOW_UP_CANCELLED,
            f"核心事项已办结（{core_zh}）；后续事项已取消：{'、'.join(zh for zh, _ in what)}。",
            f"The core is complete ({core_en}); follow-ups cancelled: "
            f"{'; '.join(en for _, en in what)}.",
        )
    return None
