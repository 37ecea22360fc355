"""What each system holds for a worker, as the graph shows it."""

from __future__ import annotations

import datetime as dt

import strawberry

from gateway.domain import model
from gateway.schema.enums import (
    ContractState,
    ContractType,
    EmploymentForm,
    EmploymentPersonCategory,
    EmploymentState,
    EndReason,
    FilingPersonCategory,
    UnemploymentState,
)


@strawberry.type(description="就业登记: an employment registration, from the employment system.")
class EmploymentRecord:
    reference: str = strawberry.field(description="业务流水号: the system's serial number.")
    start_date: dt.date = strawberry.field(description="就业时间: start of employment.")
    state: EmploymentState = strawberry.field(description="状态: employed, dismissed or revoked.")
    person_category: EmploymentPersonCategory | None = strawberry.field(description="就业人员类别.")
    employment_form: EmploymentForm | None = strawberry.field(description="用工形式.")
    post: str | None = strawberry.field(description="岗位(工种): post or job type.")
    locality: str | None = strawberry.field(description="就业属地: division code (GB/T 2260).")
    dismissal_date: dt.date | None = strawberry.field(description="解聘日期.")
    dismissal_reason: EndReason | None = strawberry.field(
        description="解聘原因, as near as the system's coarse code allows."
    )

    @classmethod
    def from_domain(cls, r: model.EmploymentRecord) -> EmploymentRecord:
        return cls(
            reference=r.reference,
            start_date=r.start_date,
            state=r.state,
            person_category=r.person_category,
            employment_form=r.employment_form,
            post=r.post,
            locality=r.locality,
            dismissal_date=r.dismissal_date,
            dismissal_reason=r.dismissal_reason,
        )


@strawberry.type(description="劳动合同备案: a labour-contract filing, from the labour system.")
class LabourContract:
    reference: str = strawberry.field(description="备案编号: the filing number.")
    contract_type: ContractType = strawberry.field(description="合同类型.")
    start_date: dt.date = strawberry.field(description="合同开始时间.")
    end_date: dt.date | None = strawberry.field(
        description="合同终止时间 (none for open-ended contracts)."
    )
    filing_category: FilingPersonCategory = strawberry.field(description="备案人员类别.")
    employment_form: EmploymentForm = strawberry.field(description="用工形式.")
    post: str = strawberry.field(description="岗位(工种).")
    locality: str = strawberry.field(description="劳动备案属地: division code (GB/T 2260).")
    state: ContractState = strawberry.field(
        description="状态: in force, superseded by a renewal, rescinded, terminated, revoked."
    )
    filed_at: dt.datetime | None = strawberry.field(description="备案时间.")
    end_reason: EndReason | None = strawberry.field(description="解除或终止原因.")
    ended_on: dt.date | None = strawberry.field(description="解除或终止日期.")

    @classmethod
    def from_domain(cls, c: model.LabourContract) -> LabourContract:
        t = c.term
        return cls(
            reference=c.reference,
            contract_type=t.contract_type,
            start_date=t.start_date,
            end_date=t.end_date,
            filing_category=t.filing_category,
            employment_form=t.employment_form,
            post=t.post,
            locality=t.locality,
            state=c.state,
            filed_at=c.filed_at,
            end_reason=c.end_reason,
            ended_on=c.ended_on,
        )


@strawberry.type(
    description="失业登记: an unemployment registration, from the unemployment system."
)
class UnemploymentRegistration:
    reference: str = strawberry.field(description="登记编号: the registration number.")
    relation_ended_on: dt.date = strawberry.field(description="解除劳动关系日期.")
    reason: EndReason = strawberry.field(
        description="失业原因, as near as the system's coarse code allows."
    )
    registered_on: dt.date = strawberry.field(description="登记日期.")
    state: UnemploymentState = strawberry.field(description="状态: registered or cancelled.")

    @classmethod
    def from_domain(cls, u: model.UnemploymentRegistration) -> UnemploymentRegistration:
        return cls(
            reference=u.reference,
            relation_ended_on=u.relation_ended_on,
            reason=u.reason,
            registered_on=u.registered_on,
            state=u.state,
        )
