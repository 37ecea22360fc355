"""Follow-ups in the graph: retrying one with corrected data, or cancelling it alone.

A registration whose core is complete and whose follow-up (the worker's
unemployment registration) was refused or got stuck needs attention: the
employer (its own) or a clerk (of its division), or an administrator, either
retries that follow-up, correcting the fields that it alone sends, or cancels
it; the core stays as filed either way. Corrections are checked as the form's
row is, and every problem comes back at once in the payload, by field, with
nothing stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway.errors import GatewayError, forbidden
from gateway.registrations import model as reg
from gateway.registrations.followups import FollowUpActionRefused, waiting_follow_up
from gateway.registrations.plan import to_payload
from gateway.registrations.ports import AuditAs
from gateway.schema.arguments import REGISTRATION_ID
from gateway.schema.context import Info
from gateway.schema.enums import Education, Gender
from gateway.schema.registrations import Operation, Registration, visible_registration
from gateway.schema.rowfields import given as declared_given
from gateway.schema.rowfields import with_row_fields

RETRY_ACTION = "retry_follow_up"
CANCEL_ACTION = "cancel_follow_up"


class _FollowUpCorrectionsInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description="姓名.")
    gender: Gender | None = strawberry.field(default=strawberry.UNSET, description="性别.")
    ethnicity: str | None = strawberry.field(
        default=strawberry.UNSET, description="民族: GB/T 3304 two-digit code."
    )
    education: Education | None = strawberry.field(
        default=strawberry.UNSET, description="文化程度."
    )
    mobile: str | None = strawberry.field(default=strawberry.UNSET, description="移动电话号码.")
    household_address: str | None = strawberry.field(
        default=strawberry.UNSET, description="户籍地址."
    )
    current_address: str | None = strawberry.field(
        default=strawberry.UNSET, description="现居住址."
    )

    def given(self) -> dict[str, Any]:
        """The corrections given, by the row's unified field names."""
        names = (
            "name",
            "gender",
            "ethnicity",
            "education",
            "mobile",
            "household_address",
            "current_address",
        )
        found = {n: v for n in names if (v := getattr(self, n)) is not strawberry.UNSET}
        return {**found, **declared_given(self)}


#: With the fields registered systems add to the row, which their writes may correct.
if TYPE_CHECKING:
    FollowUpCorrectionsInput = _FollowUpCorrectionsInput
else:
    FollowUpCorrectionsInput = strawberry.input(
        with_row_fields(_FollowUpCorrectionsInput, unset=True),
        name="FollowUpCorrectionsInput",
        description="更正: the fields a follow-up alone sends, as the form names them; only those "
        "given change. The unemployment registration takes the worker's name, gender, "
        "ethnicity, education, mobile and addresses; a registered system's follow-up the fields "
        "its spec says it alone sends (the social insurance addition: the monthly wage and the "
        "date of birth); what the completed core sent (the end date and reason) and the "
        "worker's ID are not corrected here.",
    )


@strawberry.type(description="A problem of one corrected field (nothing was stored).")
class FieldIssue:
    field: str = strawberry.field(description="The field, by its unified name (e.g. mobile).")
    code: str = strawberry.field(description="Stable code, e.g. MOBILE_FORMAT, NOT_CORRECTABLE.")
    message_zh: str = strawberry.field(description="中文说明.")
    message_en: str = strawberry.field(description="English explanation.")


@strawberry.type(description="What became of a follow-up's retry or cancel.")
class FollowUpResult:
    accepted: bool = strawberry.field(description="Whether anything changed.")
    registration: Registration = strawberry.field(description="The registration, as it now is.")
    problems: list[FieldIssue] = strawberry.field(
        description="Every problem of the corrections; nothing changed when there is one."
    )


def _refused(exc: FollowUpActionRefused) -> GatewayError:
    return GatewayError(exc.code, exc.message_en, exc.message_zh)


async def _waiting(info: Info, registration_id: str, operation: reg.Operation) -> reg.Registration:
    """The registration, if the caller may act on its follow-ups and one waits."""
    ctx = info.context
    if not ctx.access.may_retry_or_cancel_follow_up():
        raise forbidden()
    registration = await visible_registration(ctx, registration_id)
    try:
        waiting_follow_up(registration, operation)
    except FollowUpActionRefused as exc:
        raise _refused(exc) from None
    return registration


def _audit_as(info: Info, action: str) -> AuditAs:
    ctx = info.context
    return AuditAs(ctx.require_account(), action, ctx.access.channel)


@strawberry.type
class FollowUpMutation:
    @strawberry.mutation(
        description="重试后续事项: send a refused or stuck follow-up of a registration whose "
        "core is complete again, with corrected data if given (checked as the form's row "
        "is; all problems come back at once and nothing changes). The employer (its own), "
        "a clerk (of its division) or an administrator. The core is never undone here."
    )
    async def retry_follow_up(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description=REGISTRATION_ID)],
        operation: Annotated[Operation, strawberry.argument(description="Which follow-up.")],
        corrections: Annotated[
            FollowUpCorrectionsInput | None,
            strawberry.argument(description="Corrected fields; none: send as it was."),
        ] = None,
    ) -> FollowUpResult:
        ctx = info.context
        # The graph's enum member, as the domain names it (one object per name).
        operation = reg.Operation(str(operation.value))
        registration = await _waiting(info, str(id), operation)
        step = waiting_follow_up(registration, operation)
        given = corrections.given() if corrections is not None else {}
        payload = row = None
        if given:
            try:
                correction = ctx.gateway.registrar.correction(registration, step, given)
            except FollowUpActionRefused as exc:
                raise _refused(exc) from None
            if correction.problems:
                return FollowUpResult(
                    accepted=False,
                    registration=Registration(data=registration),
                    problems=[
                        FieldIssue(
                            field=p.field,
                            code=p.code,
                            message_zh=p.message_zh,
                            message_en=p.message_en,
                        )
                        for p in correction.problems
                    ],
                )
            payload, row = correction.payload, to_payload(correction.row)
        try:
            await ctx.gateway.engine_control().retry_follow_up(
                registration.id,
                operation,
                payload=payload,
                row=row,
                audit_as=_audit_as(info, RETRY_ACTION),
            )
        except FollowUpActionRefused as exc:
            raise _refused(exc) from None
        return FollowUpResult(
            accepted=True,
            registration=Registration(data=await visible_registration(ctx, registration.id)),
            problems=[],
        )

    @strawberry.mutation(
        description="取消后续事项: cancel a refused or stuck follow-up alone; the core stays "
        "as filed and the registration ends COMPLETED, the follow-up SKIPPED with the note "
        "FOLLOW_UP_CANCELLED. The employer (its own), a clerk (of its division) or an "
        "administrator."
    )
    async def cancel_follow_up(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description=REGISTRATION_ID)],
        operation: Annotated[Operation, strawberry.argument(description="Which follow-up.")],
    ) -> FollowUpResult:
        ctx = info.context
        operation = reg.Operation(str(operation.value))
        registration = await _waiting(info, str(id), operation)
        try:
            await ctx.gateway.engine_control().cancel_follow_up(
                registration.id, operation, audit_as=_audit_as(info, CANCEL_ACTION)
            )
        except FollowUpActionRefused as exc:
            raise _refused(exc) from None
        return FollowUpResult(
            accepted=True,
            registration=Registration(data=await visible_registration(ctx, registration.id)),
            problems=[],
        )
