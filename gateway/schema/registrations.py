"""Integrated registrations in the graph: submitting them, following them.

Mutations check every row first and answer with all problems at once (in the
payload, per row and field, not as GraphQL errors); what is accepted comes
back as registrations whose steps a front end can follow, by query or by the
``registrationUpdates`` subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

import strawberry

from gateway.access import Access, EmployerScope
from gateway.domain import codes, model
from gateway.domain.identifiers import normalize_credit_code, normalize_id_number
from gateway.errors import (
    GatewayError,
    aware,
    bad_input,
    check_first,
    check_id_number_length,
    forbidden,
    invalid_cursor,
    not_found,
    session_refused,
)
from gateway.following import TooManySubscriptions
from gateway.privacy import mask_id_number
from gateway.registrations import followups, labels
from gateway.registrations import model as reg
from gateway.registrations.payloads import person_key
from gateway.registrations.ports import RegistrationFilter
from gateway.registrations.service import Outcome, Refused, RowProblem
from gateway.registry import registry
from gateway.schema.account import Me
from gateway.schema.context import Context, Info
from gateway.schema.enums import (
    ContractType,
    Education,
    EmploymentForm,
    EmploymentPersonCategory,
    EndReason,
    FilingPersonCategory,
    Gender,
    IdType,
    System,
    open_enum,
    register,
)
from gateway.schema.rowfields import given, with_row_fields
from gateway.store import InvalidCursor
from gateway.store.accounts import normalize_username
from gateway.store.audit import SEARCH_REGISTRATIONS_ACTION
from gateway.store.model import AuditResult

register(reg.Business, "业务类别.", labels.BUSINESS, name="RegistrationBusiness")
register(reg.Channel, "办理渠道: where a registration came from.", labels.CHANNEL)
register(reg.RegistrationState, "登记状态.", labels.REGISTRATION_STATE)
register(reg.StepState, "步骤状态.", labels.STEP_STATE)
register(
    reg.StepKind,
    "步骤类别: CORE steps stand or fall together (a refusal undoes them all); "
    "a FOLLOW_UP comes after the core and never undoes it.",
    labels.STEP_KIND,
)
# The form's own 业务类别 (hire, renew, end): the domain's enum, under its graph name.
register(model.Business, "登记表业务类别.", codes.BUSINESS, name="RowBusiness")
RowBusiness = model.Business

# Names for annotations: the registered classes themselves.
Business = reg.Business
Channel = reg.Channel
if TYPE_CHECKING:
    Operation = reg.Operation
else:
    Operation = open_enum(
        reg.Operation,
        registry().operations(),
        "One write to one system (and how it is undone).",
        {
            op: (registry().operation(op).label_zh, registry().operation(op).label_en)
            for op in registry().operations()
        },
    )
RegistrationState = reg.RegistrationState
StepState = reg.StepState
StepKind = reg.StepKind


# ------------------------------------------------------------------ output


@strawberry.type(description="An error of a step, in Chinese and English (no personal data).")
class StepError:
    code: str = strawberry.field(
        description="Stable code, e.g. SYSTEM_UNAVAILABLE, SYSTEM_REJECTED."
    )
    message_zh: str = strawberry.field(description="中文说明.")
    message_en: str = strawberry.field(description="English explanation.")
    system_code: str | None = strawberry.field(description="The system's own code, for its owners.")
    field: str | None = strawberry.field(
        description="The registration row's field the system's refusal names (as a row "
        "problem names it, e.g. end_date), if any; for a unit's opening, the profile's."
    )

    @classmethod
    def from_domain(cls, e: reg.StepError | None) -> StepError | None:
        if e is None:
            return None
        return cls(
            code=e.code,
            message_zh=e.message_zh,
            message_en=e.message_en,
            system_code=e.system_code,
            field=e.field,
        )


@strawberry.type(description="办理步骤: one write to one system.")
class Step:
    system: System = strawberry.field(description="The system written to.")
    operation: Operation = strawberry.field(description="What is written.")
    kind: StepKind = strawberry.field(description="Core, or a follow-up of the core.")
    stage: int = strawberry.field(description="Steps of a stage wait for the earlier stages.")
    state: StepState = strawberry.field(description="Where the step is.")
    reference: str | None = strawberry.field(description="The system's id of what was written.")
    attempts: int = strawberry.field(description="How many times it was sent.")
    last_error: StepError | None = strawberry.field(description="The last error, if any.")
    next_attempt_at: dt.datetime | None = strawberry.field(
        description="When a worker tries it next; null once it is finished, or while the "
        "registration waits for a person."
    )
    deadline_at: dt.datetime | None = strawberry.field(description="After this it needs attention.")
    created_at: dt.datetime | None = strawberry.field(description="Created.")
    updated_at: dt.datetime | None = strawberry.field(description="Last changed.")
    finished_at: dt.datetime | None = strawberry.field(description="Done, refused or undone.")

    @classmethod
    def from_domain(cls, s: reg.Step, registration: reg.Registration) -> Step:
        return cls(
            system=s.system,
            operation=s.operation,
            kind=s.kind,
            stage=s.stage,
            state=s.state,
            reference=s.reference,
            attempts=s.attempts,
            last_error=StepError.from_domain(s.last_error),
            next_attempt_at=reg.next_try(s, registration),
            deadline_at=s.deadline_at,
            created_at=s.created_at,
            updated_at=s.updated_at,
            finished_at=s.finished_at,
        )


@strawberry.type(
    description="What a person should know of a registration (no personal data): e.g. its "
    "core is complete and follow-ups wait (FOLLOW_UP_NEEDS_ATTENTION), or were cancelled "
    "(FOLLOW_UP_CANCELLED)."
)
class RegistrationNotice:
    code: str = strawberry.field(description="Stable code.")
    message_zh: str = strawberry.field(description="中文说明.")
    message_en: str = strawberry.field(description="English explanation.")


@strawberry.type(description="A problem or warning of one row (row null: the form's header).")
class RowIssue:
    row: int | None = strawberry.field(
        description="0-based index of the row in the request. A message that names another "
        "row (DUPLICATE_IN_FORM: 本表第N行 / row N of this form) counts rows 1-based, as a "
        "person does: row 0 here is row 1 there."
    )
    field: str = strawberry.field(description="The field, by its unified name (e.g. id_number).")
    code: str = strawberry.field(description="Stable code, e.g. ID_NUMBER_CHECKSUM.")
    message_zh: str = strawberry.field(description="中文说明.")
    message_en: str = strawberry.field(description="English explanation.")

    @classmethod
    def from_domain(cls, p: RowProblem) -> RowIssue:
        return cls(
            row=p.row, field=p.field, code=p.code, message_zh=p.message_zh, message_en=p.message_en
        )


@strawberry.type(description="Accepted, but someone should know (e.g. late registration).")
class RegistrationWarning:
    code: str = strawberry.field(description="Stable code, e.g. LATE_EMPLOYMENT_REGISTRATION.")
    field: str = strawberry.field(description="The field concerned.")
    message_zh: str = strawberry.field(description="中文说明.")
    message_en: str = strawberry.field(description="English explanation.")


@strawberry.type(description="一体化登记: one integrated registration and its steps.")
class Registration:
    data: strawberry.Private[reg.Registration]

    @strawberry.field(description="The registration's id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.data.id)

    @strawberry.field(description="业务类别.")
    def business(self) -> Business:
        return self.data.business

    @strawberry.field(description="登记状态.")
    def state(self) -> RegistrationState:
        return self.data.state

    @strawberry.field(description="统一社会信用代码 of the employer.")
    def credit_code(self) -> str:
        return self.data.credit_code

    @strawberry.field(description="The worker's ID type (null for an account opening).")
    def worker_id_type(self) -> IdType | None:
        key = self.data.person_key
        if not key:
            return None
        if self.data.erased_at is not None:  # the key is a hash: the payload keeps the type
            return model.IdType(self.data.payload["id_type"])
        return model.IdType(key.split(":", 1)[0])

    @strawberry.field(description="The worker's ID number, masked (null for an account opening).")
    def worker_id_number(self) -> str | None:
        key = self.data.person_key
        if not key:
            return None
        if self.data.erased_at is not None:  # masked in the payload when it was erased
            return mask_id_number(str(self.data.payload["id_number"]))
        return mask_id_number(key.split(":", 1)[1])

    @strawberry.field(description="The worker's name (null for an account opening).")
    def worker_name(self) -> str | None:
        name = self.data.payload.get("name")
        return str(name) if name and self.data.person_key else None

    @strawberry.field(
        description="个人信息已删除: when the worker's personal data were erased from it, its "
        "retention past its end (numbers masked, addresses blank; a search by the full ID "
        "number still finds it); null while they are kept."
    )
    def personal_data_erased_at(self) -> dt.datetime | None:
        return self.data.erased_at

    @strawberry.field(description="办理步骤, one per system written to.")
    def steps(self) -> list[Step]:
        return [Step.from_domain(s, self.data) for s in self.data.steps]

    @strawberry.field(description="Warnings found when it was accepted.")
    def warnings(self) -> list[RegistrationWarning]:
        return [
            RegistrationWarning(
                code=w.code, field=w.field, message_zh=w.message_zh, message_en=w.message_en
            )
            for w in self.data.warnings
        ]

    @strawberry.field(description="Why it was refused (the refusing system's answer), if it was.")
    def failure(self) -> StepError | None:
        return StepError.from_domain(self.data.failure)

    @strawberry.field(
        description="核心事项已办结: every core step is done (what the employer must file is "
        "filed), whatever became of the follow-ups."
    )
    def core_complete(self) -> bool:
        return reg.core_complete(self.data)

    @strawberry.field(
        description="尚待处理的后续事项: the follow-up steps not done (waiting, refused or stuck, "
        "each with its last error); empty when none is left."
    )
    def follow_ups_left(self) -> list[Step]:
        return [Step.from_domain(s, self.data) for s in reg.follow_ups_left(self.data)]

    @strawberry.field(
        description="In both languages, what is complete and what is left, when the core is "
        "done but follow-ups wait or were cancelled; null otherwise."
    )
    def notice(self) -> RegistrationNotice | None:
        found = followups.notice(self.data)
        if found is None:
            return None
        return RegistrationNotice(
            code=found.code, message_zh=found.message_zh, message_en=found.message_en
        )

    @strawberry.field(description="办理渠道.")
    def channel(self) -> Channel:
        return self.data.channel

    @strawberry.field(description="Who submitted it (a clerk's user name at a service window).")
    def actor(self) -> str | None:
        return self.data.actor_username

    @strawberry.field(description="Grows with every change (what subscriptions follow).")
    def version(self) -> int:
        return self.data.version

    @strawberry.field(description="Accepted at.")
    def created_at(self) -> dt.datetime | None:
        return self.data.created_at

    @strawberry.field(description="Last changed at.")
    def updated_at(self) -> dt.datetime | None:
        return self.data.updated_at


@strawberry.type(description="What became of a submission: its registrations, or its problems.")
class SubmissionResult:
    accepted: bool = strawberry.field(description="Whether anything was stored.")
    replayed: bool = strawberry.field(
        description="True when this idempotency key was seen before with the same content: "
        "these are the registrations of the first time."
    )
    registrations: list[Registration] = strawberry.field(description="One per accepted row.")
    problems: list[RowIssue] = strawberry.field(
        description="Every problem of every row; nothing was stored for a row with problems "
        "(nor for any row, unless validOnly was asked)."
    )
    warnings: list[RowIssue] = strawberry.field(description="Warnings of the accepted rows.")

    @classmethod
    def from_outcome(cls, o: Outcome) -> SubmissionResult:
        return cls(
            accepted=bool(o.registrations),
            replayed=o.replayed,
            registrations=[Registration(data=r) for r in o.registrations],
            problems=[RowIssue.from_domain(p) for p in o.problems],
            warnings=[RowIssue.from_domain(w) for w in o.warnings if o.registrations],
        )


@strawberry.type(
    description="开通网上账号: the account and the registration that opens the unit everywhere."
)
class OpenAccountResult:
    account: Me | None = strawberry.field(description="The employer's account.")
    result: SubmissionResult = strawberry.field(description="The opening's registration.")


@strawberry.type(description="A page of registrations.")
class RegistrationConnection:
    nodes: list[Registration] = strawberry.field(description="The registrations, newest first.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")
    has_next_page: bool = strawberry.field(description="Whether more follow.")
    #: What the page was read with (None: nothing the caller may see).
    matching: strawberry.Private[RegistrationFilter | None] = None

    @strawberry.field(
        description="How many registrations match in all, every page together (a count "
        "asked of the store only when selected): what a clerk's list shows beside "
        "待人工处理."
    )
    async def total_count(self, info: Info) -> int:
        if self.matching is None:
            return 0
        return await info.context.gateway.store.registrations.count(self.matching)


# ------------------------------------------------------------------- input


@strawberry.input(description="Which registrations to list.")
class RegistrationFilterInput:
    states: list[RegistrationState] | None = strawberry.field(default=None, description="登记状态.")
    business: Business | None = strawberry.field(default=None, description="业务类别.")
    credit_code: str | None = strawberry.field(default=None, description="One employer's.")
    worker_id_type: IdType | None = strawberry.field(
        default=None, description="证件类型 of one worker (with workerIdNumber)."
    )
    worker_id_number: str | None = strawberry.field(
        default=None,
        description="证件号码: one worker's registrations, as a window finds them for the "
        "person in front of it (the full number; the search is recorded in the audit log).",
    )
    channel: Channel | None = strawberry.field(default=None, description="办理渠道.")
    actor: str | None = strawberry.field(
        default=None, description="经办账号: submitted by this user name (a clerk's, say)."
    )
    since: dt.datetime | None = strawberry.field(
        default=None, description="Submitted from this time on (included), with its time zone."
    )
    until: dt.datetime | None = strawberry.field(
        default=None, description="Submitted before this time (excluded), with its time zone."
    )


@strawberry.input(description="劳动者: the person's fields (form columns 2-10).")
class PersonInput:
    name: str = strawberry.field(description="姓名.")
    gender: Gender = strawberry.field(description="性别.")
    ethnicity: str = strawberry.field(description="民族: GB/T 3304 two-digit code.")
    id_type: IdType = strawberry.field(description="证件类型.")
    id_number: str = strawberry.field(description="证件号码.")
    mobile: str = strawberry.field(description="移动电话号码.")
    household_address: str = strawberry.field(description="户籍地址.")
    current_address: str = strawberry.field(description="现居住址.")
    education: Education = strawberry.field(description="文化程度.")


@strawberry.input(description="劳动合同: the contract's terms (columns 11-13, 15-17, 21).")
class ContractInput:
    contract_type: ContractType = strawberry.field(description="合同类型.")
    start_date: dt.date = strawberry.field(description="开始(就业)时间.")
    end_date: dt.date | None = strawberry.field(default=None, description="终止时间 (fixed term).")
    filing_person_category: FilingPersonCategory = strawberry.field(description="备案人员类别.")
    employment_form: EmploymentForm = strawberry.field(description="用工形式.")
    post: str = strawberry.field(description="岗位(工种).")
    labour_filing_locality: str = strawberry.field(description="劳动备案属地 (6 digits).")


class _HireInput:
    person: PersonInput = strawberry.field(description="The worker.")
    contract: ContractInput = strawberry.field(description="The new contract.")
    employment_person_category: EmploymentPersonCategory = strawberry.field(
        description="就业人员类别."
    )
    employment_locality: str = strawberry.field(description="就业属地 (6 digits).")


#: With the fields registered systems add to a hire's row (``RowField``).
if TYPE_CHECKING:
    HireInput = _HireInput
else:
    HireInput = strawberry.input(
        with_row_fields(_HireInput, model.Business.HIRE),
        name="HireInput",
        description="招用劳动者: one worker hired (employment registration + contract).",
    )


@strawberry.input(description="劳动合同续签: one worker's renewed contract.")
class RenewInput:
    person: PersonInput = strawberry.field(description="The worker.")
    contract: ContractInput = strawberry.field(description="The new term.")


@strawberry.input(description="终止或解除劳动合同: one worker's contract ending (and dismissal).")
class EndInput:
    person: PersonInput = strawberry.field(description="The worker.")
    reason: EndReason = strawberry.field(description="合同解除或终止原因.")
    date: dt.date = strawberry.field(description="合同解除或终止日期.")
    register_unemployment: bool = strawberry.field(
        default=False, description="失业登记: the worker asks to be registered unemployed."
    )


class _FormRowInput:
    business: RowBusiness = strawberry.field(description="1 业务类别.")
    person: PersonInput = strawberry.field(description="2-10 the worker.")
    contract_type: ContractType | None = strawberry.field(default=None, description="11 合同类型.")
    start_date: dt.date | None = strawberry.field(default=None, description="12 开始(就业)时间.")
    contract_end_date: dt.date | None = strawberry.field(default=None, description="13 终止时间.")
    employment_person_category: EmploymentPersonCategory | None = strawberry.field(
        default=None, description="14 就业人员类别."
    )
    filing_person_category: FilingPersonCategory | None = strawberry.field(
        default=None, description="15 备案人员类别."
    )
    employment_form: EmploymentForm | None = strawberry.field(
        default=None, description="16 用工形式."
    )
    post: str | None = strawberry.field(default=None, description="17 岗位(工种).")
    end_reason: EndReason | None = strawberry.field(default=None, description="18 合同解除原因.")
    end_date: dt.date | None = strawberry.field(default=None, description="19 合同解除日期.")
    employment_locality: str | None = strawberry.field(default=None, description="20 就业属地.")
    labour_filing_locality: str | None = strawberry.field(
        default=None, description="21 劳动备案属地."
    )
    register_unemployment: bool = strawberry.field(
        default=False, description="失业登记 (with an END row): the worker asks for it."
    )


#: With every field registered systems add to the row (``RowField``).
if TYPE_CHECKING:
    FormRowInput = _FormRowInput
else:
    FormRowInput = strawberry.input(
        with_row_fields(_FormRowInput),
        name="FormRowInput",
        description="登记表的一行: all 21 columns of the unified form.",
    )


@strawberry.input(description="山东省人力资源社会保障领域一体化登记表: header and rows.")
class RegistrationFormInput:
    unit_name: str = strawberry.field(
        description="单位名称. The credit code names the unit: a name that differs from the "
        "one on record (spaces and bracket widths aside) is accepted with a warning, "
        "UNIT_NAME_DIFFERS."
    )
    credit_code: str = strawberry.field(description="统一社会信用代码.")
    contact: str | None = strawberry.field(default=None, description="单位联系人.")
    rows: list[FormRowInput] = strawberry.field(description="One row per worker and business.")


@strawberry.input(description="开通网上账号: the employer and its one online account.")
class OpenAccountInput:
    credit_code: str = strawberry.field(description="统一社会信用代码.")
    name: str = strawberry.field(description="单位名称.")
    division: str = strawberry.field(description="属地 (6 digits).")
    contact: str | None = strawberry.field(default=None, description="单位联系人.")
    phone: str | None = strawberry.field(default=None, description="联系电话.")
    password: str | None = strawberry.field(
        default=None,
        description="A password for the employer's account, only where employer passwords "
        "are on (the demo); elsewhere employers sign in through the identity platform. "
        "The account's user name is the unit's credit code. An existing account's password "
        "is never changed here.",
    )


def _person(p: PersonInput) -> dict[str, Any]:
    return {
        "name": p.name,
        "gender": p.gender,
        "ethnicity": p.ethnicity,
        "id_type": p.id_type,
        "id_number": p.id_number,
        "mobile": p.mobile,
        "household_address": p.household_address,
        "current_address": p.current_address,
        "education": p.education,
    }


def _contract(c: ContractInput) -> dict[str, Any]:
    return {
        "contract_type": c.contract_type,
        "start_date": c.start_date,
        "contract_end_date": c.end_date,
        "filing_person_category": c.filing_person_category,
        "employment_form": c.employment_form,
        "post": c.post,
        "labour_filing_locality": c.labour_filing_locality,
    }


def hire_row(w: HireInput) -> model.RegistrationRow:
    return model.RegistrationRow(
        business=model.Business.HIRE,
        **_person(w.person),
        **_contract(w.contract),
        employment_person_category=w.employment_person_category,
        employment_locality=w.employment_locality,
        **given(w, model.Business.HIRE),
    )


def renew_row(w: RenewInput) -> model.RegistrationRow:
    return model.RegistrationRow(
        business=model.Business.RENEW, **_person(w.person), **_contract(w.contract)
    )


def end_row(w: EndInput) -> model.RegistrationRow:
    return model.RegistrationRow(
        business=model.Business.END,
        **_person(w.person),
        end_reason=w.reason,
        end_date=w.date,
        register_unemployment=w.register_unemployment,
    )


def form_row(r: FormRowInput) -> model.RegistrationRow:
    return model.RegistrationRow(
        business=r.business,
        **_person(r.person),
        contract_type=r.contract_type,
        start_date=r.start_date,
        contract_end_date=r.contract_end_date,
        employment_person_category=r.employment_person_category,
        filing_person_category=r.filing_person_category,
        employment_form=r.employment_form,
        post=r.post,
        end_reason=r.end_reason,
        end_date=r.end_date,
        employment_locality=r.employment_locality,
        labour_filing_locality=r.labour_filing_locality,
        register_unemployment=r.register_unemployment,
        **given(r),
    )


# ------------------------------------------------------------ the actions


def _channel(ctx: Context, asked: reg.Channel | None) -> reg.Channel:
    return channel_of(ctx.access, asked)


def channel_of(access: Access, asked: reg.Channel | None) -> reg.Channel:
    """Clerks act at a window; employers say which online service they use."""
    if access.at_window:
        return reg.Channel.SERVICE_WINDOW
    if asked is reg.Channel.SERVICE_WINDOW:
        raise bad_input(
            "channel",
            "Only a clerk acts at a service window.",
            "仅窗口经办人员可选择服务窗口渠道。",
        )
    return asked or reg.Channel.GOVERNMENT_PORTAL


def _refused(exc: Refused) -> GatewayError:
    return GatewayError(exc.code, exc.en, exc.zh)


async def submit_rows(
    info: Info,
    credit_code: str | None,
    rows: list[model.RegistrationRow],
    idempotency_key: str,
    *,
    valid_only: bool = False,
    channel: reg.Channel | None = None,
    only: reg.Operation | None = None,
    contact: str | None = None,
    unit_name: str | None = None,
) -> SubmissionResult:
    """``unit_name``: the form's header's 单位名称 (``submitRegistrationForm``), compared
    with the unit's name on record: a different one is a warning, not a refusal."""
    ctx = info.context
    account = ctx.require_account()
    if not ctx.access.may_submit_registrations():
        raise forbidden()
    code = credit_code or account.credit_code
    if code is None:
        raise bad_input(
            "creditCode",
            "Give the employer's unified social credit code.",
            "请提供用人单位的统一社会信用代码。",
        )
    employer = await ctx.employer(normalize_credit_code(code))
    try:
        outcome = await ctx.gateway.registrar.submit(
            actor=account,
            channel=_channel(ctx, channel),
            employer=employer,
            rows=rows,
            idempotency_key=idempotency_key,
            valid_only=valid_only,
            only=only,
            contact=contact,
            unit_name=unit_name,
        )
    except Refused as exc:
        raise _refused(exc) from None
    return SubmissionResult.from_outcome(outcome)


async def visible_registration(ctx: Context, registration_id: str) -> reg.Registration:
    """A registration the caller may see; NOT_FOUND otherwise, either way."""
    found = await ctx.gateway.store.registrations.get(registration_id)
    access = ctx.access
    if found is None or not access.may_reach_employer(found.credit_code, found.division):
        raise not_found("registration", "登记")
    return found


async def list_registrations(
    ctx: Context, f: RegistrationFilterInput | None, first: int, after: str | None
) -> RegistrationConnection:
    access = ctx.access  # signed in, or refused before anything else
    check_first(first)
    worker = _worker_searched(f)
    since = aware("since", f.since) if f else None
    until = aware("until", f.until) if f else None
    scope: EmployerScope | None = access.employer_scope()
    if f and f.credit_code and scope is not None:
        scope = scope.narrowed_to(normalize_credit_code(f.credit_code))
    if worker is not None:
        # Asked of a person, found or not: a read of that worker's data.
        await ctx.gateway.store.audit.record(
            actor=ctx.require_account(),
            action=SEARCH_REGISTRATIONS_ACTION,
            id_type=worker[0].value,
            id_number=worker[1],
            credit_code=normalize_credit_code(f.credit_code) if f and f.credit_code else None,
            channel=access.channel,
            result=AuditResult.ALLOWED,
        )
    if scope is None:
        return RegistrationConnection(nodes=[], end_cursor=None, has_next_page=False)
    matching = RegistrationFilter(
        credit_codes=scope.credit_codes,
        divisions=scope.divisions,
        states=f.states if f else None,
        business=f.business if f else None,
        person_key=None if worker is None else person_key(worker[0].value, worker[1]),
        channel=f.channel if f else None,
        # User names compare without case (``normalize_username``), as at sign-in.
        actor_username=normalize_username(f.actor) if f and f.actor else None,
        since=since,
        until=until,
    )
    try:
        page = await ctx.gateway.store.registrations.list(matching, first=first, after=after)
    except InvalidCursor:
        raise invalid_cursor() from None
    return RegistrationConnection(
        nodes=[Registration(data=r) for r in page.items],
        end_cursor=page.end_cursor,
        has_next_page=page.has_next_page,
        matching=matching,
    )


def _worker_searched(f: RegistrationFilterInput | None) -> tuple[model.IdType, str] | None:
    """The worker ``f`` asks for, its number as registrations store it; None when
    it asks for none. Half a worker (a number without its type) is BAD_INPUT."""
    if f is None or f.worker_id_number is None or not f.worker_id_number.strip():
        if f is not None and f.worker_id_type is not None:
            raise bad_input(
                "workerIdNumber",
                "Give the worker's ID number with the ID type.",
                "请同时提供证件类型和证件号码。",
            )
        return None
    number = normalize_id_number(f.worker_id_number)
    check_id_number_length("workerIdNumber", number)
    if f.worker_id_type is None:
        raise bad_input(
            "workerIdType",
            "Give the worker's ID type with the ID number.",
            "请同时提供证件类型和证件号码。",
        )
    return model.IdType(f.worker_id_type), number


def too_many_subscriptions(limit: int) -> GatewayError:
    return GatewayError(
        "TOO_MANY_SUBSCRIPTIONS",
        f"This account already follows {limit} registrations at once: end one first.",
        f"本账号同时关注的登记已达 {limit} 个，请先结束其中一个。",
        limit=limit,
    )


async def follow(ctx: Context, registration_id: str) -> AsyncGenerator[Registration, None]:
    """Every change of a registration, until it is final (or needs attention).

    The store says what the registration is; the gateway's events (``gateway/events.py``,
    from whichever process changed it) and the process's one poll of the versions of
    every registration followed (``gateway/following.py``) only say when to read it
    again. The token is asked again at each read, and every ``account_cache_ttl_s``
    (or ``subscription_poll_s`` when longer) while nothing changes: a disabled account's
    subscriptions end within about twice that."""
    gw = ctx.gateway
    seen = -1
    recheck_s = max(gw.subscription_poll_s, gw.config.account_cache_ttl_s)
    account = ctx.account.id if ctx.account is not None else None
    with contextlib.ExitStack() as following:
        changed = following.enter_context(gw.events.watch(registration_id))
        try:
            follower = following.enter_context(
                gw.following.follow(registration_id, changed, account=account)
            )
        except TooManySubscriptions as exc:
            raise too_many_subscriptions(exc.limit) from None
        while True:
            changed.clear()  # before reading: a change during the read is not missed
            if not await ctx.still_signed_in():
                # The token expired, or its account was disabled or its password set.
                raise session_refused()
            current = await visible_registration(ctx, registration_id)
            follower.seen = current.version
            if current.version != seen:
                seen = current.version
                yield Registration(data=current)
            if current.state.is_final or current.state is reg.RegistrationState.NEEDS_ATTENTION:
                return
            while True:
                try:
                    await asyncio.wait_for(changed.wait(), recheck_s)
                    break
                except TimeoutError:
                    if not await ctx.still_signed_in():
                        raise session_refused() from None


__all__ = [
    "ContractInput",
    "EndInput",
    "FormRowInput",
    "HireInput",
    "OpenAccountInput",
    "OpenAccountResult",
    "PersonInput",
    "Registration",
    "RegistrationConnection",
    "RegistrationFilterInput",
    "RegistrationFormInput",
    "RenewInput",
    "SubmissionResult",
    "end_row",
    "follow",
    "form_row",
    "hire_row",
    "list_registrations",
    "renew_row",
    "submit_rows",
    "visible_registration",
]
