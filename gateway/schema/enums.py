"""The unified enums as GraphQL enums, each type and value described in Chinese
and English.

The domain's enums are registered with Strawberry as they are (the same
classes), so resolvers return domain values unchanged; each value's
description comes from its code table, so the docs and ``codeTables`` agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum, StrEnum
from typing import TYPE_CHECKING

import strawberry

from gateway.domain import codes, model
from gateway.domain.model import OpenName
from gateway.domain.worker import Inconsistency, WorkerStatus
from gateway.registry import registry


def register(
    enum: type[Enum],
    description: str,
    labels: Mapping[str, tuple[str, str]] | codes.CodeTable | None = None,
    *,
    name: str | None = None,
) -> None:
    """``enum`` registered with Strawberry (as ``name``, its class name by
    default), each value described ``中文 · English`` from ``labels``: a code
    table (by value), or pairs by member name."""
    strawberry.enum(enum, name=name or enum.__name__, description=description)
    definition = enum.__strawberry_definition__  # type: ignore[attr-defined]
    for value in definition.values:
        if isinstance(labels, codes.CodeTable):
            code = labels.get(value.value)
            pair = (code.label_zh, code.label_en) if code else None
        else:
            pair = (labels or {}).get(value.name)
        if pair:
            value.description = f"{pair[0]} · {pair[1]}"


register(model.Gender, "性别 (GB/T 2261.1).", codes.GENDER)
register(model.IdType, "证件类型.", codes.ID_TYPE)
register(model.Education, "文化程度 (the coarse set).", codes.EDUCATION)
register(model.ContractType, "合同类型 (Labour Contract Law art. 12).", codes.CONTRACT_TYPE)
register(model.EmploymentForm, "用工形式.", codes.EMPLOYMENT_FORM)
register(
    model.EmploymentPersonCategory,
    "就业人员类别 (the province's table).",
    codes.EMPLOYMENT_PERSON_CATEGORY,
)
register(
    model.FilingPersonCategory, "备案人员类别 (the province's table).", codes.FILING_PERSON_CATEGORY
)
register(
    model.EndReason, "合同解除或终止原因, by article of the Labour Contract Law.", codes.END_REASON
)
register(model.EmploymentState, "就业登记状态.", codes.EMPLOYMENT_STATE)
register(model.ContractState, "劳动合同备案状态.", codes.CONTRACT_STATE)
register(model.UnemploymentState, "失业登记状态.", codes.UNEMPLOYMENT_STATE)


def open_enum(
    kind: type[OpenName],
    members: Iterable[OpenName],
    description: str,
    labels: Mapping[str, tuple[str, str]],
) -> type[Enum]:
    """A GraphQL enum of an open set (``System``, ``Operation``): its members
    when the schema is built, from the registry. Resolvers return the domain's
    values (plain strings), which serialize as the member of the same value."""
    enum = StrEnum(kind.__name__, {m.name: m.value for m in members})  # type: ignore[misc]
    register(enum, description, labels)
    return enum


_SYSTEMS = registry()
register(
    WorkerStatus,
    "当前状态: the worker's status derived from the three systems.",
    {
        "EMPLOYED_WITH_CONTRACT": ("在职，劳动合同已备案", "Employed, contract filed"),
        "EMPLOYED_WITHOUT_CONTRACT": ("在职，未备案劳动合同", "Employed, no contract filed"),
        "CONTRACT_WITHOUT_EMPLOYMENT": (
            "有劳动合同，无就业登记",
            "Contract in force, no employment registration",
        ),
        "DISMISSED": ("已解聘", "Dismissed"),
        "REGISTERED_UNEMPLOYED": ("已办理失业登记", "Registered unemployed"),
        "NO_RECORD": ("无记录", "No record"),
        "UNKNOWN": ("无法确定（系统未响应）", "Unknown: a system did not answer"),
    },
)
#: Each inconsistency's labels: the core systems', then those the registered
#: systems that add to the worker view declare (``WorkerSection.labels``).
_INCONSISTENCIES: dict[str, tuple[str, str]] = {
    "EMPLOYED_WITHOUT_FILED_CONTRACT": (
        "已就业登记但无在用劳动合同备案",
        "Employment registered but no contract in force is filed",
    ),
    "CONTRACT_IN_FORCE_AFTER_DISMISSAL": (
        "已解聘但劳动合同仍在履行",
        "Dismissed, but the contract is still in force",
    ),
    "CONTRACT_IN_FORCE_WITHOUT_EMPLOYMENT": (
        "劳动合同在履行但无就业登记",
        "Contract in force without an employment registration",
    ),
    "UNEMPLOYED_WHILE_EMPLOYED": (
        "失业登记期间仍有就业登记",
        "Registered unemployed while employed",
    ),
    "END_DATES_DIFFER": (
        "解聘日期与合同解除日期不一致",
        "Dismissal and contract end dates differ",
    ),
    "PERSON_FIELDS_DIFFER": (
        "各系统人员信息不一致",
        "The systems hold different person details",
    ),
}
for _spec in _SYSTEMS:
    if _spec.worker is not None:
        _INCONSISTENCIES.update(_spec.worker.labels)
#: The GraphQL enum of every code a worker's inconsistencies may hold (open: the
#: registered systems add theirs; resolvers return the codes as strings).
_InconsistencyKind = StrEnum(  # type: ignore[misc]
    Inconsistency.__name__, {code: code for code in _INCONSISTENCIES}
)
register(
    _InconsistencyKind,
    "系统间不一致: a disagreement between systems that a clerk should look at.",
    _INCONSISTENCIES,
)


def register_enum(enum: type[Enum], description: str, labels: dict[str, tuple[str, str]]) -> None:
    """A registered system's own enum, described in Chinese and English."""
    register(enum, description, labels)


# The names the schema modules annotate with: the domain classes themselves.
Gender = model.Gender
IdType = model.IdType
Education = model.Education
ContractType = model.ContractType
EmploymentForm = model.EmploymentForm
EmploymentPersonCategory = model.EmploymentPersonCategory
FilingPersonCategory = model.FilingPersonCategory
EndReason = model.EndReason
EmploymentState = model.EmploymentState
ContractState = model.ContractState
UnemploymentState = model.UnemploymentState
if TYPE_CHECKING:
    System = model.System
else:
    System = open_enum(
        model.System,
        _SYSTEMS.systems,
        "The existing systems behind the gateway (those registered).",
        {s.system.name: (s.name_zh, s.name_en[:1].upper() + s.name_en[1:]) for s in _SYSTEMS},
    )
Status = WorkerStatus
if TYPE_CHECKING:
    InconsistencyKind = str
else:
    InconsistencyKind = _InconsistencyKind
