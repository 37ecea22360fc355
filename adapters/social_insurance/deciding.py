"""Declarations (增员 / 减员) as writes decided later: the hooks the engine awaits them by.

A declaration is answered "under review" at once, with its acceptance number
(受理号); the agency decides later. The engine (``gateway.registrations.awaiting``)
polls it through :data:`HOOKS` (``gateway.decided.DecidedLater``), which say
what each state means:

- Under review: pending, with a note naming the number (never the worker).
- Approved: done.
- Returned (退回): a business refusal, the reason mapped to a message in Chinese
  and English (the agency's own text is never copied: it may name the worker).
- Withdrawn by someone else: refused too, saying so.
- An answer lost: the worker's declarations with the unit are searched
  (``declarations/search``). Ours is the newest of its kind declared since the
  step was created (the worker lock keeps one registration of a worker under
  way at a time), one under review or approved before one returned or
  withdrawn, whatever the agency made of it. The agency's clock may be up to
  the signature window behind ours: one declared that much before the step is
  taken only where what the listing carries of it agrees with the request.

Undoing (compensation): one under review is withdrawn; one approved is undone by
declaring its reverse, whose acceptance number becomes the step's reference and
which is polled in its turn until approved; one returned or withdrawn left
nothing to undo. The reverse of a removal is an addition again, which needs the
worker's details and wage: those of the newest addition the gateway declared for
the worker with the unit (``earlier``); without one, a person declares it. A
person sees to a reverse returned or withdrawn, too. Before declaring the reverse
of an approved removal, and where a reverse was returned or withdrawn, the
worker's insurance is asked (``insured/search``) whether the change's effect is
gone already (insured with the unit again; no longer insured with it): then it is
undone, so that a clerk who saw to it at the agency by hand retries and the
registration moves on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from adapters.social_insurance.model import (
    SYSTEM,
    AdditionRequest,
    Declaration,
    DeclarationKind,
    DeclarationState,
    InsuranceState,
    RemovalRequest,
    ReturnReason,
)
from gateway.decided import (
    DecidedLater,
    Decision,
    Earlier,
    UndoMove,
    Undone,
    UndoPending,
    UndoStuck,
    Verdict,
)
from gateway.registrations.model import Operation, StepError
from gateway.registrations.policy import CHINA
from gateway.systems import Duplicate, NotFound, Rejected, SystemAdapter

if TYPE_CHECKING:
    from adapters.social_insurance.protocol import SocialInsuranceSystem

__all__ = [
    "AWAITING_DECISION",
    "DECLARATION_RETURNED",
    "DECLARATION_WITHDRAWN",
    "HOOKS",
    "REVERSE_NEEDS_A_PERSON",
    "REVERSE_RETURNED",
    "SIGNATURE_WINDOW",
    "decision",
    "declared_at",
    "find",
    "ours",
    "undo",
]

DECLARATION_RETURNED = "DECLARATION_RETURNED"
DECLARATION_WITHDRAWN = "DECLARATION_WITHDRAWN"
AWAITING_DECISION = "AWAITING_DECISION"
REVERSE_RETURNED = "REVERSE_RETURNED"
REVERSE_NEEDS_A_PERSON = "REVERSE_NEEDS_A_PERSON"

#: The agency's answer to withdrawing a declaration no longer under review.
NOT_UNDER_REVIEW = "1409"
#: Its answer for a unit it does not know.
NO_SUCH_UNIT = "1004"

R = TypeVar("R", bound=AdditionRequest | RemovalRequest)

#: How far the agency's clock may be from ours: it refuses a request signed more
#: than 300 s from its own time (the contract's ``X-Timestamp``, ``4011``). A
#: declaration this much older than its step may still be the step's.
SIGNATURE_WINDOW = dt.timedelta(seconds=300)

#: Why the agency returned a declaration, as people read it, and what to do, by the
#: declaration's kind (the code is the contract's ``thyy``; the agency's ``thsm`` is
#: not repeated). A returned addition may be retried with corrections only of what
#: it alone declares (the date of birth, the wage: ``followups``); the worker's
#: name, gender and ID went with the employment registration and the contract filing.
_RETURNS: dict[ReturnReason, dict[DeclarationKind, tuple[str, str]]] = {
    ReturnReason.RECORDS_DIFFER: {
        DeclarationKind.ADDITION: (
            "申报信息与社会保险经办机构的记录不一致：证件不含出生日期的，出生日期有误，或缴费工资有误的，"
            "可更正后重试本项增员申报；姓名、性别、证件类型或号码与经办机构记录不一致的，不能在此更正"
            "（已随就业登记和劳动合同备案报送），请与经办机构核实，待其更正记录后不带更正重试，"
            "或单独取消本项增员申报",
            "the declared details differ from the agency's records: a wrong date of birth "
            "(for a document that carries none) or contribution wage may be corrected when "
            "retrying the addition; the worker's name, gender and ID cannot be corrected "
            "here (the employment registration and the contract filing sent them): check "
            "them with the agency and, once its records are put right, retry without "
            "corrections, or cancel the addition alone",
        ),
        DeclarationKind.REMOVAL: (
            "申报信息与社会保险经办机构的记录不一致，请与经办机构核实，待其更正记录后不带更正重试"
            "本项减员申报，或单独取消",
            "the declared details differ from the agency's records: check them with the "
            "agency and, once its records are put right, retry the removal without "
            "corrections, or cancel it alone",
        ),
    },
    ReturnReason.WAGE_OUT_OF_RANGE: dict.fromkeys(
        DeclarationKind,
        (
            "缴费工资超出本省缴费工资上下限，请更正后重新申报",
            "the contribution wage is outside the province's floor and ceiling: correct it "
            "and declare again",
        ),
    ),
    ReturnReason.INSURED_ELSEWHERE: dict.fromkeys(
        DeclarationKind,
        (
            "该劳动者仍在其他单位参保，须原单位先办理减员",
            "the worker is still insured with another unit, which must declare the removal first",
        ),
    ),
    ReturnReason.OTHER: dict.fromkeys(
        DeclarationKind,
        (
            "社会保险经办机构退回了申报，请向经办机构了解原因",
            "the agency returned the declaration: ask the agency why",
        ),
    ),
}
#: Why, alone (what a message about a reverse declaration quotes: what to do is its own).
_WHY: dict[ReturnReason, tuple[str, str]] = {
    ReturnReason.RECORDS_DIFFER: (
        "申报信息与社会保险经办机构的记录不一致",
        "the declared details differ from the agency's records",
    ),
    ReturnReason.WAGE_OUT_OF_RANGE: (
        "缴费工资超出本省缴费工资上下限",
        "the contribution wage is outside the province's floor and ceiling",
    ),
    ReturnReason.INSURED_ELSEWHERE: (
        "该劳动者仍在其他单位参保",
        "the worker is still insured with another unit",
    ),
    ReturnReason.OTHER: ("原因请向经办机构了解", "ask the agency why"),
}
_KIND_ZH = {DeclarationKind.ADDITION: "增员申报", DeclarationKind.REMOVAL: "减员申报"}
_KIND_EN = {DeclarationKind.ADDITION: "addition", DeclarationKind.REMOVAL: "removal"}


def _si(adapter: SystemAdapter) -> SocialInsuranceSystem:
    from adapters.social_insurance.protocol import SocialInsuranceSystem

    if not isinstance(adapter, SocialInsuranceSystem):
        raise TypeError(f"{type(adapter).__name__} is not a social insurance system adapter")
    return adapter


def kind_of(request: AdditionRequest | RemovalRequest) -> DeclarationKind:
    return (
        DeclarationKind.REMOVAL if isinstance(request, RemovalRequest) else DeclarationKind.ADDITION
    )


async def resolved(adapter: SystemAdapter, request: R) -> R:
    """``request`` with its unit's insurance number: as planned, or, for a unit that
    was not registered for insurance when the step was planned (the same
    registration registers it first), found by the unit's credit code. A unit
    still not registered is a refusal (``1004``), for a person to see to."""
    if request.employer_id or not request.unit_credit_code:
        return request
    binding = await _si(adapter).find_employer(request.unit_credit_code)
    if binding is None:
        raise Rejected(
            SYSTEM,
            "the unit is not registered for social insurance",
            system_code=NO_SUCH_UNIT,
            field="employer_id",
        )
    return dataclasses.replace(request, employer_id=binding.employer_id)


def _who(request: AdditionRequest | RemovalRequest) -> tuple[str, Any, str]:
    """(unit, ID type, ID number) of a declaration."""
    if isinstance(request, RemovalRequest):
        return request.employer_id, request.id_type, request.id_number
    return request.employer_id, request.person.id_type, request.person.id_number


def declared_at(declaration: Declaration) -> dt.datetime:
    """When it was declared, in UTC (the system writes China Standard Time, no zone)."""
    at = declaration.declared_at
    return (at if at.tzinfo else at.replace(tzinfo=CHINA)).astimezone(dt.UTC)


# ------------------------------------------------------------------ forward


def decision(declaration: Declaration) -> Decision:
    """What a declaration's state means for the step that made it."""
    state = declaration.state
    since = declared_at(declaration)
    if state is DeclarationState.UNDER_REVIEW:
        return Decision(declaration.reference, Verdict.PENDING, since, awaiting(declaration))
    if state is DeclarationState.APPROVED:
        return Decision(declaration.reference, Verdict.APPROVED, since)
    error = returned(declaration) if state is DeclarationState.RETURNED else withdrawn(declaration)
    return Decision(declaration.reference, Verdict.REFUSED, since, error)


async def read(adapter: SystemAdapter, reference: str) -> Decision:
    return decision(await _si(adapter).declaration(reference))


def ours(
    request: AdditionRequest | RemovalRequest, since: dt.datetime, found: Sequence[Declaration]
) -> Declaration | None:
    """The step's declaration among the worker's with the unit (newest first): the
    newest of its kind declared since the step was created, one under review or
    approved before one returned or withdrawn (a follow-up retried after a return
    declares anew: its earlier, returned declaration is not the new one).

    The agency writes ``sbsj`` by its clock, which may be behind ours: one declared
    up to the signature window before the step may be its own, and is taken when
    it agrees with the request (``_agrees``), so that an earlier registration's is
    not."""
    # ``sbsj`` may be in whole seconds: one declared within the step's second is not older.
    since = since.replace(microsecond=0)
    kind, earliest = kind_of(request), since - SIGNATURE_WINDOW
    mine = [
        d
        for d in found
        if d.kind is kind
        and (declared_at(d) >= since or (declared_at(d) >= earliest and _agrees(d, request)))
    ]
    in_effect = (DeclarationState.UNDER_REVIEW, DeclarationState.APPROVED)
    return next((d for d in mine if d.state in in_effect), mine[0] if mine else None)


def _agrees(declaration: Declaration, request: AdditionRequest | RemovalRequest) -> bool:
    """Whether a declaration older than the step may be the step's, by what the
    agency's listing carries of it: its kind, unit and worker (as searched), its
    state, and for an approved one the day it took effect (the contract's
    ``sxrq``: an addition's ``cbrq``, a removal's ``tbrq``). Not the wage, the
    insurance types nor the reason.

    One under review is taken: the agency holds one of a kind under review for a
    worker with a unit (``1002``, ``1003``), so it is the step's or refuses the
    step's. One returned or withdrawn says nothing of the request and is not
    taken: an earlier registration's would refuse the step; the step's own left
    nothing in effect, and is declared again."""
    state = declaration.state
    if state is DeclarationState.UNDER_REVIEW:
        return True
    if state is not DeclarationState.APPROVED:
        return False
    day = request.stop_date if isinstance(request, RemovalRequest) else request.start_date
    return declaration.effective_on == day


async def find(
    adapter: SystemAdapter, request: AdditionRequest | RemovalRequest, since: dt.datetime
) -> Decision | None:
    """The step's declaration if the system holds it (an answer was lost); None if
    not. Raises the adapter's errors when the system cannot be asked."""
    employer_id, id_type, id_number = _who(await resolved(adapter, request))
    found = await _si(adapter).find_declarations(employer_id, id_type, id_number)
    mine = ours(request, since, found)
    return None if mine is None else decision(mine)


def returned(declaration: Declaration) -> StepError:
    from adapters.social_insurance.mapping import RETURN_REASON_TO_LEGACY

    reason = declaration.return_reason or ReturnReason.OTHER
    kind = declaration.kind
    zh, en = _RETURNS[reason][kind]
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


async def _nothing_earlier(operation: Operation) -> Any | None:
    return None


async def undo(
    adapter: SystemAdapter,
    request: AdditionRequest | RemovalRequest,
    reference: str,
    earlier: Earlier = _nothing_earlier,
) -> UndoMove:
    """One move of the compensation of a declaration known as ``reference`` (the
    step's own, or the reverse it declared). Raises the adapter's ``Unavailable``
    when the system cannot be asked: the caller tries again later.

    Where the gateway cannot declare the reverse itself (a removal with no addition
    to declare again, a reverse returned or withdrawn), a clerk sees to it at the
    agency by hand and retries: the worker's insurance then tells that the change's
    effect is gone (``_effect_gone``), and it is undone."""
    si = _si(adapter)
    try:
        current = await si.declaration(reference)
    except NotFound:
        return Undone()  # nothing declared under that number: nothing in effect
    state = current.state
    if current.kind is not kind_of(request):  # the reverse we declared
        if state is DeclarationState.APPROVED:
            return Undone()
        if state is DeclarationState.UNDER_REVIEW:
            return UndoPending(reference, decision(current))
        if await _effect_gone(si, kind_of(request), current):
            return Undone()
        return UndoStuck(_reverse_failed(current, request))
    if state in (DeclarationState.RETURNED, DeclarationState.WITHDRAWN):
        return Undone()
    if state is DeclarationState.UNDER_REVIEW:
        try:
            await si.withdraw(reference)
        except Rejected as exc:
            if exc.system_code != NOT_UNDER_REVIEW:  # decided meanwhile: look again
                raise
            return UndoPending(reference)
        return Undone()
    # Approved: its reverse, which the agency reviews in its turn.
    restore = None
    if current.kind is DeclarationKind.REMOVAL:
        # Insured again already (by a clerk at the agency, or by our reverse whose
        # answer was lost): nothing to declare, and the agency would refuse it (1002).
        if await _effect_gone(si, DeclarationKind.REMOVAL, current):
            return Undone()
        restore = await _restoring(adapter, request, earlier)
        if restore is None:
            return UndoStuck(_removal_irreversible(request))
    try:
        return UndoPending(await si.reverse(reference, restore=restore))
    except Duplicate as exc:
        # Our reverse whose answer was lost is under review already.
        if exc.existing_reference:
            return UndoPending(exc.existing_reference)
        raise
    except NotFound:
        return Undone()  # no longer insured with the unit: the change's effect is gone


async def _effect_gone(
    si: SocialInsuranceSystem, undoing: DeclarationKind, declaration: Declaration
) -> bool:
    """Whether an approved declaration of kind ``undoing`` has no effect left, by the
    worker's insurance with the unit (``insured/search``); ``declaration`` is it or
    its reverse (the same worker, the same unit).

    - A removal: the worker is insured with the unit again, by a spell still open
      (insured, no stop date). Whatever day the spell began: the day is the one the
      clerk declared and the agency approved (a gap is theirs to settle), and with
      a spell open the agency refuses any addition again (``1002``). An open spell
      is never the one the removal stopped: that one carries the removal's stop
      date from its approval, even where an agency shows it insured until that day.
    - An addition: the worker is no longer insured with the unit (the spell
      stopped, or none at all)."""
    spells = await si.insurance(declaration.id_type, declaration.id_number)
    insured = [
        s
        for s in spells
        if s.employer_id == declaration.employer_id and s.state is InsuranceState.INSURED
    ]
    if undoing is DeclarationKind.REMOVAL:
        return any(s.stop_date is None for s in insured)
    return not insured


async def _restoring(
    adapter: SystemAdapter, request: AdditionRequest | RemovalRequest, earlier: Earlier
) -> AdditionRequest | None:
    """The addition a removal ended, to declare again: the newest the gateway
    declared for the same worker with the same unit (its details and wage)."""
    from adapters.social_insurance.system import DECLARE_ADDITION

    assert isinstance(request, RemovalRequest)
    request = await resolved(adapter, request)
    addition = await earlier(DECLARE_ADDITION)
    if not isinstance(addition, AdditionRequest):
        return None
    addition = await resolved(adapter, addition)
    if (addition.employer_id, addition.person.id_type, addition.person.id_number) != (
        request.employer_id,
        request.id_type,
        request.id_number,
    ):
        return None
    return addition


#: What a retry does once a clerk has seen to an undo at the agency by hand.
_THEN_RETRY_ZH = "经审核通过后重试本登记，网关将查询该劳动者的参保情况，确认已办妥后继续办理"
_THEN_RETRY_EN = (
    "once the agency approves it, retry the registration: the gateway checks the "
    "worker's insurance and moves on"
)


def _by_hand(request: AdditionRequest | RemovalRequest) -> tuple[str, str]:
    """What a clerk declares at the agency by hand to undo the step's approved
    declaration (of ``request``)."""
    if isinstance(request, RemovalRequest):
        day = request.stop_date.isoformat()
        return (
            f"在社会保险经办机构为该劳动者办理本单位的增员申报（含缴费工资），自{day}起参保",
            f"declare the worker's addition with the unit (with the contribution wage) at "
            f"the social insurance agency by hand, insured from {day}",
        )
    day = request.start_date.isoformat()
    return (
        f"在社会保险经办机构为该劳动者办理本单位的减员申报，自其参保之日（{day}）起停保",
        f"declare the worker's removal from the unit at the social insurance agency by "
        f"hand, stopping the insurance from the day it began ({day})",
    )


def _reverse_failed(reverse: Declaration, request: AdditionRequest | RemovalRequest) -> StepError:
    undoing = kind_of(request)
    if reverse.state is DeclarationState.RETURNED:
        reason = reverse.return_reason or ReturnReason.OTHER
        why_zh, why_en = _WHY[reason]
        why_zh, why_en = f"被社会保险经办机构退回：{why_zh}", f"returned by the agency: {why_en}"
        code: str | None = _return_code(reason)
    else:
        why_zh, why_en, code = "已撤回", "withdrawn", None
    do_zh, do_en = _by_hand(request)
    return StepError(
        REVERSE_RETURNED,
        f"为撤销已审核通过的{_KIND_ZH[undoing]}所作的反向{_KIND_ZH[reverse.kind]}未成功"
        f"（{why_zh}）。请经办人员{do_zh}；{_THEN_RETRY_ZH}",
        f"The reverse {_KIND_EN[reverse.kind]} that undoes the approved {_KIND_EN[undoing]} "
        f"did not go through ({why_en}): {do_en}; {_THEN_RETRY_EN}",
        system_code=code,
    )


def _return_code(reason: ReturnReason) -> str:
    from adapters.social_insurance.mapping import RETURN_REASON_TO_LEGACY

    return RETURN_REASON_TO_LEGACY[reason]


def _removal_irreversible(request: AdditionRequest | RemovalRequest) -> StepError:
    assert isinstance(request, RemovalRequest)
    do_zh, do_en = _by_hand(request)
    return StepError(
        REVERSE_NEEDS_A_PERSON,
        "减员申报已审核通过，且网关没有该劳动者在本单位的增员记录可据以恢复参保。"
        f"请经办人员{do_zh}；{_THEN_RETRY_ZH}",
        "The removal was approved and the gateway holds no addition of the worker with "
        f"this unit to declare again: {do_en}; {_THEN_RETRY_EN}",
    )


#: What the engine awaits a declaration by.
HOOKS = DecidedLater(read=read, find=find, undo=undo)
