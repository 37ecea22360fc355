"""The root query: who am I, employers, their workers, code tables."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gateway.errors import bad_input
from gateway.schema import codes
from gateway.schema.account import Me
from gateway.schema.arguments import (
    AFTER,
    CREDIT_CODE,
    FIRST,
    ID_NUMBER,
    ID_TYPE,
    REGISTRATION_ID,
)
from gateway.schema.audit import (
    AuditChain,
    AuditLogConnection,
    AuditLogFilter,
    audit_chain,
    audit_log,
)
from gateway.schema.clerks import ClerkQuery
from gateway.schema.context import Info
from gateway.schema.employer import SEARCH_MAX, Employer, EmployerConnection, list_employers
from gateway.schema.enums import IdType
from gateway.schema.forms import FormQuery
from gateway.schema.policy import Policy, policy
from gateway.schema.registrations import (
    Registration,
    RegistrationConnection,
    RegistrationFilterInput,
    list_registrations,
    visible_registration,
)
from gateway.schema.worker import Worker, worker_by_id


@strawberry.type(description="Everything one can read through the gateway.")
class Query(FormQuery, ClerkQuery):
    @strawberry.field(
        description="当前账号: the account making this request (answered also while its "
        "password must be changed: `mustChangePassword`)."
    )
    def me(self, info: Info) -> Me:
        return Me.from_domain(info.context.require_account(password_change_pending=True))

    @strawberry.field(
        description="用人单位: one employer by its unified social credit code (统一社会信用代码). "
        "An employer account may leave it out to get its own. An employer the caller may "
        "not reach is reported as not found."
    )
    async def employer(
        self,
        info: Info,
        credit_code: Annotated[str | None, strawberry.argument(description=CREDIT_CODE)] = None,
    ) -> Employer:
        ctx = info.context
        account = ctx.require_account()
        if credit_code is None:
            if account.credit_code is None:
                raise bad_input(
                    "creditCode",
                    "Give the employer's unified social credit code.",
                    "请提供用人单位的统一社会信用代码。",
                )
            credit_code = account.credit_code
        return Employer(record=await ctx.employer(credit_code.strip().upper()))

    @strawberry.field(
        description="劳动者: one person by ID, as seen at the employer of their newest "
        "employment registration (what a window asks when a person, not a unit, comes in), "
        "with full numbers for the roles entitled to them. Null when there is none the caller "
        "may reach: another employer's worker is answered as a number nobody holds. Every "
        "call is recorded in the audit log."
    )
    async def worker(
        self,
        info: Info,
        id_type: Annotated[IdType, strawberry.argument(description=ID_TYPE)],
        id_number: Annotated[str, strawberry.argument(description=ID_NUMBER)],
    ) -> Worker | None:
        return await worker_by_id(info.context, id_type, id_number)

    @strawberry.field(
        description="用人单位列表: the employers on the gateway's record that the caller may "
        "reach (a clerk those of its divisions, an administrator all, an employer its own), by "
        "credit code, `first` at most 100. `search`: part of the unit's name (without case) or "
        "the start of its credit code, what a window has on the papers. A unit the gateway "
        "has not met yet is not listed: `employer(creditCode:)` looks it up in the systems."
    )
    async def employers(
        self,
        info: Info,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="检索词: part of the unit's name (without case) or the start of its "
                "credit code; `%` and `_` are only themselves. At most "
                f"{SEARCH_MAX} characters, without control characters (BAD_INPUT on "
                "`search` otherwise). Null or blank: every unit the caller reaches."
            ),
        ] = None,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> EmployerConnection:
        return await list_employers(info.context, search, first, after)

    @strawberry.field(
        description="一体化登记: one registration, its state and each step. Not found when "
        "the caller may not see it."
    )
    async def registration(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description=REGISTRATION_ID)],
    ) -> Registration:
        return Registration(data=await visible_registration(info.context, str(id)))

    @strawberry.field(
        description="一体化登记: the registrations the caller may see (an employer its own, a "
        "clerk those of its divisions, an administrator all), newest first, `first` at most "
        "100. Clerks and administrators find what needs attention with "
        "`filter: {states: [NEEDS_ATTENTION]}`, and one person's with "
        '`filter: {workerIdType: RESIDENT_ID, workerIdNumber: "..."}` (recorded in the '
        'audit log); a window its day\'s work with `filter: {actor: "...", since: ..., '
        "until: ...}`."
    )
    async def registrations(
        self,
        info: Info,
        filter: Annotated[
            RegistrationFilterInput | None,
            strawberry.argument(
                description="Which registrations: every condition given holds; null, all the "
                "caller may see. A worker's number is a search of that person, recorded in "
                "the audit log."
            ),
        ] = None,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> RegistrationConnection:
        return await list_registrations(info.context, filter, first, after)

    @strawberry.field(
        description="审计日志: reads and writes of workers' personal data, newest first, "
        "`first` at most 100. Administrators only; workers are masked; a search by "
        "workerIdNumber is matched on its keyed hash and is itself recorded."
    )
    async def audit_log(
        self,
        info: Info,
        filter: Annotated[
            AuditLogFilter | None,
            strawberry.argument(
                description="Which records: every condition given holds; null, all. A "
                "worker's number is a search of that person, itself recorded."
            ),
        ] = None,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> AuditLogConnection:
        return await audit_log(info.context, filter, first, after)

    @strawberry.field(
        description="审计链校验: whether the audit records still form one unbroken hash "
        "chain, and where it breaks if not (administrators only)."
    )
    async def audit_chain(self, info: Info) -> AuditChain:
        return await audit_chain(info.context)

    @strawberry.field(
        description="代码表: every code table of the unified model, with Chinese and English "
        "labels, so that front ends never hard-code them. Readable without signing in."
    )
    def code_tables(self) -> list[codes.CodeTable]:
        return codes.ALL_TABLES

    @strawberry.field(
        description="办理政策: whether separate handling is still accepted, the systems "
        "switched on and the fields they add to the form, how long keys and sessions last. "
        "Readable without signing in."
    )
    def policy(self, info: Info) -> Policy:
        return policy(info)

    @strawberry.field(description="代码表: one code table by name (e.g. `ethnicity`), or null.")
    def code_table(
        self,
        name: Annotated[
            str,
            strawberry.argument(
                description="The table's `name`, as `codeTables` gives it (e.g. `ethnicity`, "
                "`id_type`, `end_reason`); a name no table has: null."
            ),
        ],
    ) -> codes.CodeTable | None:
        return codes.BY_NAME.get(name)
