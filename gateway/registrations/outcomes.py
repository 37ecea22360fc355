"""What a submission or an opening comes to: its problems per row and field, its
warnings, or a refusal of the whole, each with a stable code and a message in
both languages."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.domain.checks import Problem
from gateway.domain.model import System
from gateway.registrations.model import Registration
from gateway.registry import registry

__all__ = ["Outcome", "Refused", "RowProblem", "busy_row", "key_conflict", "not_open"]


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


def busy_row(row: int) -> RowProblem:
    return RowProblem(
        row,
        "id_number",
        "REGISTRATION_IN_PROGRESS",
        "该劳动者已有一项登记正在办理，请待其办结后再提交。",
        "A registration of this worker is still under way; submit again once it has finished.",
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
