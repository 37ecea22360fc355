"""What a registration's states, steps, businesses and channels are called, in
Chinese and English: one place for the graph's enum descriptions (what a front
end shows, through introspection or its generated types) and the exported form.

Light: the registration model only.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from gateway.registrations.model import Business, Channel, RegistrationState, StepKind, StepState

Labels = Mapping[str, tuple[str, str]]

#: By member name: (Chinese, English).
REGISTRATION_STATE: Labels = MappingProxyType(
    {
        RegistrationState.ACCEPTED.name: ("已受理", "Accepted: stored, no system written yet"),
        RegistrationState.IN_PROGRESS.name: ("办理中", "In progress"),
        RegistrationState.COMPLETED.name: ("已办结", "Completed: every step done"),
        RegistrationState.COMPENSATING.name: (
            "未通过，撤回中",
            "Refused: what was done is being undone",
        ),
        RegistrationState.COMPENSATED.name: (
            "未通过，已撤回",
            "Refused, and everything done was undone",
        ),
        RegistrationState.NEEDS_ATTENTION.name: (
            "待人工处理",
            "Needs attention: a clerk should retry or cancel it (or the follow-up)",
        ),
        RegistrationState.CANCELLED.name: (
            "已撤销",
            "Cancelled by a clerk or administrator, what was done undone",
        ),
    }
)

STEP_STATE: Labels = MappingProxyType(
    {
        StepState.PENDING.name: ("待报送", "To be sent (again), at nextAttemptAt"),
        StepState.SENDING.name: ("报送中", "Being sent"),
        StepState.UNKNOWN.name: (
            "结果待确认",
            "Sent, outcome not known yet: the system is asked before anything is sent "
            "again, or its decision is awaited (lastError AWAITING_DECISION)",
        ),
        StepState.DONE.name: ("已办结", "Done: the system holds it (reference)"),
        StepState.REFUSED.name: ("被拒绝", "Refused by the system (lastError says why)"),
        StepState.UNDOING.name: ("撤回中", "Being undone"),
        StepState.UNDONE.name: ("已撤回", "Undone"),
        StepState.SKIPPED.name: ("未办理", "Not done, on purpose (lastError says why)"),
        StepState.STUCK.name: ("待人工处理", "Stuck: cannot finish by itself, needs a person"),
    }
)

STEP_KIND: Labels = MappingProxyType(
    {
        StepKind.CORE.name: ("核心事项", "Core: stands or falls with the other core steps"),
        StepKind.FOLLOW_UP.name: ("后续事项", "Follow-up: comes after the core, never undoes it"),
    }
)

BUSINESS: Labels = MappingProxyType(
    {
        Business.OPEN_ACCOUNT.name: ("开通或合并网上账号", "Opening or merging the account"),
        Business.HIRE.name: ("招用劳动者", "Hire"),
        Business.RENEW.name: ("劳动合同续签", "Contract renewal"),
        Business.END.name: ("终止或解除劳动合同", "Ending employment"),
        Business.SEPARATE.name: ("分口办理", "One system alone (transition period)"),
    }
)

CHANNEL: Labels = MappingProxyType(
    {
        Channel.GOVERNMENT_PORTAL.name: ("山东政务服务网", "Government service portal"),
        Channel.EMPLOYMENT_SERVICE_HALL.name: (
            "公共就业人才服务网上服务大厅",
            "Public employment service online hall",
        ),
        Channel.SERVICE_WINDOW.name: ("综合服务窗口", "Service window (a clerk for the employer)"),
    }
)
