"""Code tables: every unified code with its Chinese and English labels."""

from __future__ import annotations

from enum import StrEnum

import strawberry

from gateway.domain import codes as domain_codes
from gateway.domain import model


@strawberry.type(description="One value of a code table (代码).")
class Code:
    code: str = strawberry.field(description="The unified code (代码值).")
    label_zh: str = strawberry.field(description="Chinese label (中文名称).")
    label_en: str = strawberry.field(description="English label.")
    enum_value: str | None = strawberry.field(
        description="The GraphQL enum value that stands for this code, where the graph "
        "has an enum for the table (e.g. `MALE` for gender `1`)."
    )


@strawberry.type(description="A code table (代码表) of the unified model.")
class CodeTable:
    name: str = strawberry.field(description="Stable name of the table, e.g. `ethnicity`.")
    title_zh: str = strawberry.field(description="Chinese title (中文名称).")
    title_en: str = strawberry.field(description="English title.")
    codes: list[Code] = strawberry.field(description="The codes, in the table's order.")

    @classmethod
    def from_domain(cls, table: domain_codes.CodeTable) -> CodeTable:
        return cls(
            name=table.name,
            title_zh=table.title_zh,
            title_en=table.title_en,
            codes=[
                Code(
                    code=c.code,
                    label_zh=c.label_zh,
                    label_en=c.label_en,
                    enum_value=_enum_name(table.name, c.code),
                )
                for c in table
            ],
        )


def _enum_name(table: str, code: str) -> str | None:
    enum = _ENUMS.get(table)
    return enum(code).name if enum else None


# Tables whose codes the graph carries as enums (by member name, not by code).
_ENUMS: dict[str, type[StrEnum]] = {
    domain_codes.GENDER.name: model.Gender,
    domain_codes.ID_TYPE.name: model.IdType,
    domain_codes.EDUCATION.name: model.Education,
    domain_codes.CONTRACT_TYPE.name: model.ContractType,
    domain_codes.EMPLOYMENT_FORM.name: model.EmploymentForm,
    domain_codes.EMPLOYMENT_PERSON_CATEGORY.name: model.EmploymentPersonCategory,
    domain_codes.FILING_PERSON_CATEGORY.name: model.FilingPersonCategory,
    domain_codes.END_REASON.name: model.EndReason,
    domain_codes.BUSINESS.name: model.Business,
    domain_codes.EMPLOYMENT_STATE.name: model.EmploymentState,
    domain_codes.CONTRACT_STATE.name: model.ContractState,
    domain_codes.UNEMPLOYMENT_STATE.name: model.UnemploymentState,
}


#: Built once: the tables do not change while the gateway runs.
ALL_TABLES: list[CodeTable] = [CodeTable.from_domain(t) for t in domain_codes.CODE_TABLES.values()]
BY_NAME: dict[str, CodeTable] = {t.name: t for t in ALL_TABLES}
