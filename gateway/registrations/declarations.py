"""Steps the system decides later: the social insurance declarations (增员 / 减员).

A declaration is answered "under review" at once, with its acceptance number
(受理号); the agency decides later. Such a step is not done when it is
answered: it is saved ``AWAITING`` with the number as its reference and polled
(``declaration``) at ``next_attempt_at``, with backoff, by whichever worker
claims it then. No worker waits: the wait is a time in the store, and the
step's deadline bounds it (past it, the step is stuck for a person).

- Approved: the step is done.
- Returned (退回): a business refusal of the step, with the reason mapped to a
  message in Chinese and English (the agency's own text is never copied: it may
  name the worker).
- Withdrawn by someone else: refused too, saying so.
- An answer lost (the step found ``SENDING`` or ``UNKNOWN``): the worker's
  declarations with the unit are searched (``find_declarations``) before
  anything is sent again. Ours is the newest of its kind declared since the
  step was created (the worker lock keeps one registration of a worker under
  way at a time), whatever the agency made of it.

Undoing (compensation): one under review is withdrawn; one approved is undone by
declaring its reverse, whose acceptance number becomes the step's reference
and which is polled in its turn until approved; one returned or withdrawn left
nothing to undo. Reversing a removal would need the addition to declare again
(its wage is not in the removal's step): a person does it.

Pure decisions over what the adapter answers; the step worker saves them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.social_insurance.model import (
    Declaration,
    DeclarationKind,
    DeclarationState,
    RemovalRequest,
    ReturnReason,
)
from adapters.social_insurance.protocol import SocialInsuranceSystem
from adapters.social_insurance.system import DECLARE_ADDITION, DECLARE_REMOVAL
from gateway.domain.model import IdType
from gateway.registrations.backoff import Backoff
from gateway.registrations.model import Operation, Step, StepError
from gateway.registrations.plan import step_request
from gateway.registrations.policy import CHINA
from gateway.registry import registry
from gateway.systems import Duplicate, NotFound, Rejected, SystemAdapter, Unavailable

__all__ = [
    "AWAITING_DECISION",
    "DECLARATION_RETURNED",
    "DECLARATION_WITHDRAWN",
    "KINDS",
    "Approved",
    "Awaiting",
    "Refusal",
    "Unavailable",
    "UndoPending",
    "UndoStuck",
    "Undone",
    "as_insurance",
    "awaiting",
    "declare",
    "declared_at",
    "find",
    "is_declaration",
    "next_poll",
    "ours",
    "outcome",
    "returned",
    "undo",
    "withdrawn",
]

DECLARATION_RETURNED = "DECLARATION_RETURNED"
DECLARATION_WITHDRAWN = "DECLARATION_WITHDRAWN"
AWAITING_DECISION = "AWAITING_DECISION"
REVERSE_RETURNED = "REVERSE_RETURNED"
REVERSE_NEEDS_A_PERSON = "REVERSE_NEEDS_A_PERSON"

#: The declaration each operation makes.
KINDS: dict[Operation, DeclarationKind] = {
    DECLARE_ADDITION: DeclarationKind.ADDITION,
    DECLARE_REMOVAL: DeclarationKind.REMOVAL,
}

#: A system's clock and ours may differ a little: a declaration this much older
#: than its step is still taken as the step's.
CLOCK_SKEW = dt.timedelta(minutes=2)

#: Why the agency returned a declaration, as people read it (the code is the
#: contract's ``thyy``; the agency's ``thsm`` is not repeated).
_RETURNS: dict[ReturnReason, tuple[str, str]] = {
    ReturnReason.RECORDS_DIFFER: (
        "申报信息与社会保险经办机构的记录不一致，请核对劳动者信息后重新申报",
        "the declared details differ from the agency's records: check the worker's "
        "details and declare again",
    ),
    ReturnReason.WAGE_OUT_OF_RANGE: (
        "缴费工资超出本省缴费工资上下限，请更正后重新申报",
        "the contribution wage is outside the province's floor and ceiling: correct it "
        "and declare again",
    ),
    ReturnReason.INSURED_ELSEWHERE: (
        "该劳动者仍在其他单位参保，须原单位先办理减员",
        "the worker is still insured with another unit, which must declare the removal first",
    ),
    ReturnReason.OTHER: (
        "社会保险经办机构退回了申报，请向经办机构了解原因",
        "the agency returned the declaration: ask the agency why",
    ),
}
_KIND_ZH = {DeclarationKind.ADDITION: "增员申报", DeclarationKind.REMOVAL: "减员申报"}
_KIND_EN = {DeclarationKind.ADDITION: "addition", DeclarationKind.REMOVAL: "removal"}


def is_declaration(step: Step) -> bool:
    """A write its system decides later (its registration says so)."""
    try:
        return registry().operation(step.operation).decided_later
    except KeyError:
        return False


def as_insurance(adapter: SystemAdapter) -> SocialInsuranceSystem:
    if not isinstance(adapter, SocialInsuranceSystem):
        raise TypeError(f"{type(adapter).__name__} is not a social insurance system adapter")
    return adapter


# ------------------------------------------------------------------ forward


@dataclass(frozen=True, slots=True)
class Awaiting:
    """Under review: poll it again later."""

    declaration: Declaration


@dataclass(frozen=True, slots=True)
class Approved:
    reference: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """The agency said no (returned), or someone withdrew it: a business refusal."""

    error: StepError


Outcome = Awaiting | Approved | Refusal


async def declare(adapter: SystemAdapter, step: Step) -> str:
    """Send the step's declaration; its acceptance number (the decision comes later)."""
    si = as_insurance(adapter)
    request = step_request(step)
    if step.operation is DECLARE_ADDITION:
        return await si.declare_addition(request)
    assert isinstance(request, RemovalRequest)
    return await si.declare_removal(request)


def outcome(declaration: Declaration) -> Outcome:
    """What a declaration's state means for the step that made it."""
    state = declaration.state
    if state is DeclarationState.UNDER_REVIEW:
        return Awaiting(declaration)
    if state is DeclarationState.APPROVED:
        return Approved(declaration.reference)
    if state is DeclarationState.RETURNED:
        return Refusal(returned(declaration))
    return Refusal(withdrawn(declaration))


def _who(step: Step) -> tuple[str, IdType, str]:
    """(unit, ID type, ID number) of the step's declaration."""
    request = step_request(step)
    if isinstance(request, RemovalRequest):
        return request.employer_id, request.id_type, request.id_number
    return request.employer_id, request.person.id_type, request.person.id_number


def declared_at(declaration: Declaration) -> dt.datetime:
    """When it was declared, in UTC (the system writes China Standard Time, no zone)."""
    at = declaration.declared_at
    return (at if at.tzinfo else at.replace(tzinfo=CHINA)).astimezone(dt.UTC)


def ours(step: Step, found: Sequence[Declaration]) -> Declaration | None:
    """The step's declaration among the worker's with the unit (newest first): the
    newest of its kind declared since the step was created, one under review or
    approved before one returned or withdrawn (a follow-up retried after a return
    declares anew: its earlier, returned declaration is not the new one)."""
    kind = KINDS[step.operation]
    since = (step.created_at or dt.datetime.min.replace(tzinfo=dt.UTC)) - CLOCK_SKEW
    mine = [d for d in found if d.kind is kind and declared_at(d) >= since]
    in_effect = (DeclarationState.UNDER_REVIEW, DeclarationState.APPROVED)
    return next((d for d in mine if d.state in in_effect), mine[0] if mine else None)


async def find(adapter: SystemAdapter, step: Step) -> Declaration | None:
    """The step's declaration if the system holds it (an answer was lost); None if
    not. Raises the adapter's errors when the system cannot be asked."""
    employer_id, id_type, id_number = _who(step)
    found = await as_insurance(adapter).find_declarations(employer_id, id_type, id_number)
    return ours(step, found)


def next_poll(declaration: Declaration, now: dt.datetime, backoff: Backoff) -> dt.datetime:
    """When to ask again: the longer it has been under review, the longer the wait
    (doubling, from the backoff's base up to its cap, with its jitter)."""
    waited = max(0.0, (now - declared_at(declaration)).total_seconds())
    base = max(backoff.base, 1e-3)
    attempt = 1 + int(math.log2(1 + waited / base))
    return now + dt.timedelta(seconds=backoff.delay(attempt))


def returned(declaration: Declaration) -> StepError:
    from adapters.social_insurance.mapping import RETURN_REASON_TO_LEGACY

    reason = declaration.return_reason or ReturnReason.OTHER
    zh, en = _RETURNS[reason]
    kind = declaration.kind
    return StepError(
        DECLARATION_RETURNED,
        f"社会保险经办机构退回了{_KIND_ZH[kind]}：{zh}",
        f"The social insurance agency returned the {_KIND_EN[kind]}: {en}",
        system_code=RETURN_REASON_TO_LEGACY[reason],
    )


def withdrawn(declaration: Declaration) -> StepError:
    kind = declaration.kind
    return StepError(
        DECLARATION_WITHDRAWN,
        f"该{_KIND_ZH[kind]}已在社会保险经办机构撤回，请核实后重新办理",
        f"The {_KIND_EN[kind]} was withdrawn at the social insurance agency; check, then "
        "declare again",
    )


def awaiting(declaration: Declaration) -> StepError:
    """Not an error: what a step awaiting the decision shows."""
    kind = declaration.kind
    return StepError(
        AWAITING_DECISION,
        f"{_KIND_ZH[kind]}已受理（受理号 {declaration.reference}），等待社会保险经办机构审核",
        f"The {_KIND_EN[kind]} was accepted (number {declaration.reference}) and awaits "
        "the social insurance agency's review",
    )


# --------------------------------------------------------------------- undo


@dataclass(frozen=True, slots=True)
class Undone:
    """Nothing of the step's declaration is in effect any more."""


@dataclass(frozen=True, slots=True)
class UndoPending:
    """The undo is under way: ``reference`` (the reverse declaration, or the
    declaration itself) is to be looked at again later."""

    reference: str
    declaration: Declaration | None = None


@dataclass(frozen=True, slots=True)
class UndoStuck:
    error: StepError


UndoOutcome = Undone | UndoPending | UndoStuck


async def undo(adapter: SystemAdapter, step: Step, reference: str) -> UndoOutcome:
    """One move of the compensation of a declaration known as ``reference`` (the
    step's own, or the reverse it declared). Raises the adapter's ``Unavailable``
    when the system cannot be asked: the caller tries again later."""
    si = as_insurance(adapter)
    try:
        current = await si.declaration(reference)
    except NotFound:
        return Undone()  # nothing declared under that number: nothing in effect
    own = current.kind is KINDS[step.operation]
    state = current.state
    if not own:  # the reverse we declared
        if state is DeclarationState.APPROVED:
            return Undone()
        if state is DeclarationState.UNDER_REVIEW:
            return UndoPending(reference, current)
        return UndoStuck(_reverse_failed(current))
    if state in (DeclarationState.RETURNED, DeclarationState.WITHDRAWN):
        return Undone()
    if state is DeclarationState.UNDER_REVIEW:
        try:
            await si.withdraw(reference)
        except Rejected as exc:
            if exc.system_code != "1409":  # no longer under review: decided meanwhile
                raise
            return UndoPending(reference)
        return Undone()
    # Approved: its reverse, which the agency reviews in its turn.
    if current.kind is DeclarationKind.REMOVAL:
        return UndoStuck(_removal_irreversible())
    try:
        return UndoPending(await si.reverse(reference))
    except Duplicate as exc:
        # Our reverse whose answer was lost is under review already.
        if exc.existing_reference:
            return UndoPending(exc.existing_reference)
        raise
    except NotFound:
        return Undone()  # no longer insured with the unit: the addition's effect is gone


def _reverse_failed(reverse: Declaration) -> StepError:
    if reverse.state is DeclarationState.RETURNED:
        said = returned(reverse)
        why_zh, why_en, code = said.message_zh, said.message_en, said.system_code
    else:
        why_zh, why_en, code = "反向申报已撤回", "the reverse declaration was withdrawn", None
    return StepError(
        REVERSE_RETURNED,
        f"为撤销已通过的申报所作的反向申报未成功（{why_zh}），请经办人员在社会保险经办机构处理",
        f"The reverse declaration that undoes an approved one did not go through ({why_en}); "
        "a clerk must see to it at the social insurance agency",
        system_code=code,
    )


def _removal_irreversible() -> StepError:
    return StepError(
        REVERSE_NEEDS_A_PERSON,
        "减员申报已审核通过；恢复参保须重新办理增员（含缴费工资），请经办人员办理",
        "The removal was approved; insuring the worker again needs a new addition (with "
        "the contribution wage), which a clerk must declare",
    )
