"""What a submission or an opening comes to: its problems per row and field, its
warnings, or a refusal of the whole, each with a stable code and a message in
both languages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.domain.checks import Problem
from gateway.domain.model import System
from gateway.registrations.model import Registration
from gateway.registry import registry

__all__ = [
    "Outcome",
    "Refused",
    "RowProblem",
    "busy_row",
    "key_conflict",
    "not_open",
    "unit_name_differs",
]


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A problem (or a warning) of one row (``row`` None: the form's header)."""

    row: int | None
    field: str
    code: str
    message_zh: str
    message_en: str

    @classmethod
    def of(cls, row: int | None, p: Problem) -> RowProblem:
        return cls(row, p.field, p.code, p.message_zh, p.message_en)


@dataclass(slots=True)
class Outcome:
    """What became of a submission. ``registrations`` is empty when it was refused."""

    registrations: list[Registration] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    replayed: bool = False


class Refused(Exception):
    """The whole submission is refused (no row is at fault): a stable code, two messages."""

    def __init__(self, code: str, en: str, zh: str) -> None:
        super().__init__(en)
        self.code, self.en, self.zh = code, en, zh


def key_conflict() -> Refused:
    return Refused(
        "IDEMPOTENCY_KEY_REUSED",
        "This idempotency key was used for a different request.",
        "该幂等键已用于另一项不同的申请。",
    )


def busy_row(
    row: int,
    registration_id: str | None = None,
    under_review: Sequence[tuple[str, str]] = (),
) -> RowProblem:
    """The worker's registration under way, named when it is known (its id, for a front
    end to link to: nothing personal), and, when it waits only for an agency's review of
    its declarations (``followups.under_review``: each in Chinese and English), so."""
    if registration_id is None:
        return RowProblem(
            row,
            "id_number",
            "REGISTRATION_IN_PROGRESS",
            "该劳动者已有一项登记正在办理，请待其办结后再提交。",
            "A registration of this worker is still under way; submit again once it has finished.",
        )
    if under_review:
        return RowProblem(
            row,
            "id_number",
            "REGISTRATION_IN_PROGRESS",
            f"该劳动者已有一项登记（登记编号 {registration_id}）尚未办结：其核心事项已办结，"
            f"正在等待经办机构审核{'、'.join(zh for zh, _ in under_review)}。"
            "审核结束、该登记办结前无需也不能再提交，以免重复登记；审核被退回的，可在该登记中"
            "更正后重试。",
            f"A registration of this worker is not finished yet (registration "
            f"{registration_id}): its core is complete, and it awaits the agency's review of "
            f"{'; '.join(en for _, en in under_review)}. Submit nothing again until the agency "
            "has decided and the registration has finished, not as a second one; a "
            "declaration returned may be corrected and retried in that registration.",
        )
    return RowProblem(
        row,
        "id_number",
        "REGISTRATION_IN_PROGRESS",
        f"该劳动者已有一项登记（登记编号 {registration_id}）正在办理，"
        "请待其办结后再提交，以免重复登记。",
        f"A registration of this worker is still under way (registration {registration_id}); "
        "submit again once it has finished, not as a second one.",
    )


def not_open(row: int | None, system: System) -> RowProblem:
    return RowProblem(
        row,
        "credit_code",
        "EMPLOYER_NOT_OPEN",
        f"用人单位尚未在{registry().get(system).name_zh}开户，请先开通或合并网上账号。",
        f"The employer is not open in the {registry().get(system).name_en}; open or merge its "
        "account first.",
    )


def _as_compared(name: str) -> str:
    """A unit's name as two of them are compared: without spaces (full-width ones too),
    its brackets half-width, as the form's header labels are compared."""
    return re.sub(r"\s+", "", name).replace("（", "(").replace("）", ")")


def unit_name_differs(typed: str | None, on_record: str) -> Problem | None:
    """A warning when the unit name typed (a form's header, 单位名称) is not the name on
    record of the unit its credit code names: the credit code identifies the unit, and
    the submission goes on for it, but a clerk who mixed up two units' papers should
    see it. None when no name was typed, or the same one (spaces and full-width
    brackets aside). The name on record is named: a unit's name is not personal data."""
    if typed is None or not typed.strip() or _as_compared(typed) == _as_compared(on_record):
        return None
    return Problem(
        "unit_name",
        "UNIT_NAME_DIFFERS",
        f"所填单位名称与该统一社会信用代码登记的单位名称“{on_record}”不一致，"
        "已按统一社会信用代码为该单位办理，请核对是否填错单位。",
        f"The unit name given differs from the name on record for this credit code "
        f"({on_record}): the registration is made for the unit the credit code names; "
        "check that the papers are this unit's.",
    )
