"""The root mutation: signing in, opening accounts, and the integrated registrations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from gateway.access import Access
from gateway.auth import issue_token
from gateway.domain.identifiers import normalize_credit_code
from gateway.domain.model import EmployerProfile
from gateway.errors import GatewayError, forbidden, from_adapter, invalid_credentials
from gateway.http.ratelimit import client_address, login_throttled
from gateway.registrations import model as reg
from gateway.registrations.engine import ClerkActionRefused
from gateway.registrations.service import Refused
from gateway.schema.account import Me, Session, weak_password
from gateway.schema.arguments import CREDIT_CODE, KEY, NEW_PASSWORD, REGISTRATION_ID
from gateway.schema.clerks import ClerkMutation
from gateway.schema.context import Info
from gateway.schema.followups import FollowUpMutation
from gateway.schema.forms import FormMutation
from gateway.schema.registrations import (
    Channel,
    EndInput,
    HireInput,
    OpenAccountInput,
    OpenAccountResult,
    Registration,
    RegistrationFormInput,
    RenewInput,
    SubmissionResult,
    _refused,
    channel_of,
    end_row,
    form_row,
    hire_row,
    renew_row,
    submit_rows,
    visible_registration,
)
from gateway.store.model import Account, WeakPassword

#: Before any account's sessions ended.
MIN_TIME = dt.datetime.min.replace(tzinfo=dt.UTC)

VALID_ONLY = "Store the valid rows and report the others (default: all or nothing)."
CHANNEL = "办理渠道 of an employer: government portal (default) or employment service hall."
ONE_ROW = " Checked first: its problems come back in `problems` (row 0) and nothing is stored."
ROWS = (
    "Every row is checked before anything is stored, and every problem of every row comes "
    "back at once in `problems`, by the row's 0-based index in the list (none: NO_ROWS)."
)


def _separate(zh: str, en: str) -> str:
    return (
        f"分口办理 · {zh}: {en}, accepted only during the transition period; from the "
        "mandatory date it is refused (SEPARATE_HANDLING_CLOSED)."
    )


def _session(info: Info, account: Account) -> Session:
    """A new token for ``account``, from now for the configured time: from when its
    earlier sessions end at the earliest (the next whole second after a password
    set or a sign-out, ``gateway.store.accounts``), so that a session opened in the
    same second as that is not taken for one of them."""
    gateway = info.context.gateway
    ttl = dt.timedelta(seconds=gateway.config.token_ttl_s)
    now = max(dt.datetime.now(dt.UTC), account.credentials_changed_at or MIN_TIME)
    token = issue_token(account, secret=gateway.token_secret, ttl=ttl, now=now)
    return Session(token=token, expires_at=now + ttl, account=Me.from_domain(account))


@strawberry.type(description="Everything one can do through the gateway.")
class Mutation(FormMutation, FollowUpMutation, ClerkMutation):
    @strawberry.mutation(
        description="登录: exchange a user name and password for a signed, expiring token. "
        "A wrong user name, a wrong password and a disabled account get the same answer."
    )
    async def login(
        self,
        info: Info,
        username: Annotated[
            str,
            strawberry.argument(
                description="用户名: a clerk's or an administrator's user name, or an "
                "employer's unified social credit code where employer passwords are on (the "
                "demo); compared without case."
            ),
        ],
        password: Annotated[
            str,
            strawberry.argument(
                description="密码. A wrong one, a wrong user name and a disabled account all "
                "get INVALID_CREDENTIALS, one answer; too many failed attempts, "
                "LOGIN_THROTTLED with retry_after."
            ),
        ],
    ) -> Session:
        gateway = info.context.gateway
        throttle = gateway.login_throttle
        request = info.context.request
        address = client_address(request.scope) if request is not None else None
        wait = await throttle.check(username, address)
        if wait is not None:
            raise login_throttled(wait)
        account = await gateway.store.accounts.authenticate(username, password)
        if account is not None and not Access.of(
            account, gateway.config.reveal_roles
        ).may_sign_in_with_password(gateway.config.employer_passwords_enabled):
            account = None  # employers prove who they are through the identity platform
        if account is None or account.disabled:
            await throttle.failed(username, address)
            raise invalid_credentials()
        await throttle.succeeded(username, address)
        await gateway.store.accounts.signed_in(account.id)
        return _session(info, account)

    @strawberry.mutation(
        description="修改密码: a clerk or an administrator replaces its own password, giving "
        "the current one (wrong: INVALID_CREDENTIALS, and counted as a failed sign-in). The "
        "new one is checked as a new account's (the policy's code, e.g. PASSWORD_TOO_SHORT, "
        "with field newPassword; the current one again: PASSWORD_SAME). Every earlier "
        "session ends; the answer is a new one. The one thing a session may do while its "
        "password is one an administrator gave (`me.mustChangePassword`). Employers sign in "
        "through the identity platform (FORBIDDEN)."
    )
    async def change_password(
        self,
        info: Info,
        current_password: Annotated[
            str,
            strawberry.argument(
                description="当前密码: wrong, INVALID_CREDENTIALS, counted as a failed "
                "sign-in (LOGIN_THROTTLED after too many)."
            ),
        ],
        new_password: Annotated[
            str,
            strawberry.argument(
                description=NEW_PASSWORD + " The current one again: PASSWORD_SAME."
            ),
        ],
    ) -> Session:
        ctx = info.context
        account = ctx.require_account(password_change_pending=True)
        if not Access.of(account, ctx.gateway.config.reveal_roles).may_sign_in_with_password(False):
            raise forbidden()
        gateway = ctx.gateway
        throttle = gateway.login_throttle
        request = ctx.request
        address = client_address(request.scope) if request is not None else None
        wait = await throttle.check(account.username, address)
        if wait is not None:
            raise login_throttled(wait)
        if await gateway.store.accounts.authenticate(account.username, current_password) is None:
            await throttle.failed(account.username, address)
            raise invalid_credentials()
        if new_password == current_password:
            # Above all for a password an administrator gave: they would still know it.
            raise GatewayError(
                "PASSWORD_SAME",
                "The new password must differ from the current one.",
                "新密码不能与当前密码相同。",
                field="newPassword",
            )
        try:
            changed = await gateway.store.accounts.set_password(account.username, new_password)
        except WeakPassword as e:
            raise weak_password(e, "newPassword") from None
        await throttle.succeeded(account.username, address)
        await gateway.cache.forget_account(changed.id)
        return _session(info, changed)

    @strawberry.mutation(
        description="退出登录: end every session of one's account, on every device (a "
        "shared computer at a window, a session left open elsewhere); its tokens are "
        "refused from now on, within the account cache's time in the other gateway "
        "processes. For those who sign in with a gateway password; employers signed in "
        "through the identity platform sign out there (FORBIDDEN)."
    )
    async def sign_out(self, info: Info) -> bool:
        ctx = info.context
        account = ctx.require_account(password_change_pending=True)
        gateway = ctx.gateway
        if ctx.proven is not None or not Access.of(
            account, gateway.config.reveal_roles
        ).may_sign_in_with_password(gateway.config.employer_passwords_enabled):
            raise forbidden()
        ended = await gateway.store.accounts.end_sessions(account.username)
        await gateway.cache.forget_account(ended.id)
        return True

    @strawberry.mutation(
        description="开通或合并网上账号: open or merge an employer's one online account, and "
        "open or find the unit in each system. Only with proof: the employer itself, signed "
        "in through the identity platform (its own unit only), or a clerk at a window "
        "(an employer of the clerk's divisions). A unit the gateway or a system already "
        "knows keeps its name and division; a differing one given here is a warning. An "
        "existing account is returned unchanged."
    )
    async def open_account(
        self,
        info: Info,
        input: Annotated[
            OpenAccountInput,
            strawberry.argument(
                description="The unit and, where employer passwords are on, the account's "
                "password. Checked first: problems come back in `result.problems` (by "
                "field, row null) and nothing is opened."
            ),
        ],
        idempotency_key: Annotated[str, strawberry.argument(description=KEY)],
        channel: Annotated[Channel | None, strawberry.argument(description=CHANNEL)] = None,
    ) -> OpenAccountResult:
        ctx = info.context
        access = ctx.acting_access()
        registrar = ctx.gateway.registrar
        profile = EmployerProfile(
            normalize_credit_code(input.credit_code),
            input.name.strip(),
            input.division.strip(),
            input.contact,
            input.phone,
        )
        checked = registrar.check_opening(profile, input.password)
        if checked.problems:
            return OpenAccountResult(account=None, result=SubmissionResult.from_outcome(checked))
        code = profile.credit_code
        record = await ctx.gateway.store.employers.get(code)
        in_systems, unasked = await ctx.directory.profiles(code)
        known = record.profile() if record else next(iter(in_systems.values()), None)
        if known is None and unasked:
            # Where the unit is cannot be known while a system that may hold it cannot
            # be asked: the division typed would then decide who may open the account
            # (a clerk bringing another city's unit into its reach while a system was
            # down, or made to seem so). Refused until every system answers.
            raise from_adapter(next(iter(unasked.values())))
        # The division on record decides, not the one typed: nobody moves a unit
        # into their own reach by naming another division.
        if not access.may_open_account_for(code, known.division if known else profile.division):
            raise forbidden()
        chosen = channel_of(access, channel)
        try:
            outcome, account = await registrar.open_account(
                actor=ctx.account,
                channel=chosen,
                profile=profile,
                password=input.password,
                idempotency_key=idempotency_key,
                stored=record.profile() if record else None,
                in_systems=in_systems,
            )
        except Refused as exc:
            raise _refused(exc) from None
        await ctx.directory.forget(code)
        return OpenAccountResult(
            account=Me.from_domain(account) if account else None,
            result=SubmissionResult.from_outcome(outcome),
        )

    @strawberry.mutation(
        description="招用劳动者: employment registration and labour-contract filing, done as one, "
        "for one or many workers. Every row is checked before anything is stored."
    )
    async def hire(
        self,
        info: Info,
        workers: Annotated[
            list[HireInput],
            strawberry.argument(description="招用劳动者: one row per worker hired. " + ROWS),
        ],
        idempotency_key: Annotated[str, strawberry.argument(description=KEY)],
        credit_code: Annotated[str | None, strawberry.argument(description=CREDIT_CODE)] = None,
        valid_only: Annotated[bool, strawberry.argument(description=VALID_ONLY)] = False,
        channel: Annotated[Channel | None, strawberry.argument(description=CHANNEL)] = None,
    ) -> SubmissionResult:
        rows = [hire_row(w) for w in workers]
        return await submit_rows(
            info, credit_code, rows, idempotency_key, valid_only=valid_only, channel=channel
        )

    @strawberry.mutation(description="劳动合同续签: file renewed contracts.")
    async def renew_contract(
        self,
        info: Info,
        workers: Annotated[
            list[RenewInput],
            strawberry.argument(
                description="劳动合同续签: one row per worker whose contract is renewed. " + ROWS
            ),
        ],
        idempotency_key: Annotated[str, strawberry.argument(description=KEY)],
        credit_code: Annotated[str | None, strawberry.argument(description=CREDIT_CODE)] = None,
        valid_only: Annotated[bool, strawberry.argument(description=VALID_ONLY)] = False,
        channel: Annotated[Channel | None, strawberry.argument(description=CHANNEL)] = None,
    ) -> SubmissionResult:
        rows = [renew_row(w) for w in workers]
        return await submit_rows(
            info, credit_code, rows, idempotency_key, valid_only=valid_only, channel=channel
        )

    @strawberry.mutation(
        description="终止或解除劳动合同: dismissal filing and contract rescission/termination "
        "filing, done as one, then the worker's unemployment registration when asked for."
    )
    async def end_employment(
        self,
        info: Info,
        workers: Annotated[
            list[EndInput],
            strawberry.argument(
                description="终止或解除劳动合同: one row per worker whose contract ends "
                "(`registerUnemployment` asks for the unemployment registration after it). " + ROWS
            ),
        ],
        idempotency_key: Annotated[str, strawberry.argument(description=KEY)],
        credit_code: Annotated[str | None, strawberry.argument(description=CREDIT_CODE)] = None,
        valid_only: Annotated[bool, strawberry.argument(description=VALID_ONLY)] = False,
        channel: Annotated[Channel | None, strawberry.argument(description=CHANNEL)] = None,
    ) -> SubmissionResult:
        rows = [end_row(w) for w in workers]
        return await submit_rows(
            info, credit_code, rows, idempotency_key, valid_only=valid_only, channel=channel
        )

    @strawberry.mutation(
        description="山东省人力资源社会保障领域一体化登记表: the whole form, header and rows, "
        "each row with its business, the way an employer fills the paper form."
    )
    async def submit_registration_form(
        self,
        info: Info,
        form: Annotated[
            RegistrationFormInput,
            strawberry.argument(
                description="登记表: the header (its credit code names the unit, NOT_FOUND "
                "when the caller may not reach it) and the rows (`rows`), each with its "
                "business. " + ROWS
            ),
        ],
        idempotency_key: Annotated[str, strawberry.argument(description=KEY)],
        valid_only: Annotated[bool, strawberry.argument(description=VALID_ONLY)] = False,
        channel: Annotated[Channel | None, strawberry.argument(description=CHANNEL)] = None,
    ) -> SubmissionResult:
        rows = [form_row(r) for r in form.rows]
        return await submit_rows(
            info,
            form.credit_code,
            rows,
            idempotency_key,
            valid_only=valid_only,
            channel=channel,
            contact=form.contact,
            unit_name=form.unit_name,
        )

    # ---- separate (per-system) handling: the transition period only

    @strawberry.mutation(description=_separate("就业登记", "employment registration alone"))
    async def file_employment_registration(
        self,
        info: Info,
        worker: Annotated[
            HireInput,
            strawberry.argument(
                description="The worker hired (a `hire` row's fields); only the employment "
                "registration is filed." + ONE_ROW
            ),
        ],
        idempotency_key: Annotated[str, strawberry.argument(description=KEY)],
        credit_code: Annotated[str | None, strawberry.argument(description=CREDIT_CODE)] = None,
    ) -> SubmissionResult:
        return await submit_rows(
            info,
            credit_code,
            [hire_row(worker)],
            idempotency_key,
            only=reg.Operation.REGISTER_EMPLOYMENT,
        )

    @strawberry.mutation(description=_separate("劳动合同新订备案", "a new contract's filing alone"))
    async def file_labour_contract(
        self,
        info: Info,
        worker: Annotated[
            HireInput,
            strawberry.argument(
                description="The worker hired (a `hire` row's fields); only the new contract is "
                "filed." + ONE_ROW
            ),
        ],
        idempotency_key: Annotated[str, strawberry.argument(description=KEY)],
        credit_code: Annotated[str | None, strawberry.argument(description=CREDIT_CODE)] = None,
    ) -> SubmissionResult:
        return await submit_rows(
            info, credit_code, [hire_row(worker)], idempotency_key, only=reg.Operation.FILE_CONTRACT
        )

    @strawberry.mutation(description=_separate("劳动合同续签备案", "a renewal's filing alone"))
    async def file_contract_renewal(
        self,
        info: Info,
        worker: Annotated[
            RenewInput,
            strawberry.argument(
                description="The worker and the renewed contract (a `renewContract` row's "
                "fields)." + ONE_ROW
            ),
        ],
        idempotency_key: Annotated[str, strawberry.argument(description=KEY)],
        credit_code: Annotated[str | None, strawberry.argument(description=CREDIT_CODE)] = None,
    ) -> SubmissionResult:
        return await submit_rows(
            info,
            credit_code,
            [renew_row(worker)],
            idempotency_key,
            only=reg.Operation.RENEW_CONTRACT,
        )

    @strawberry.mutation(description=_separate("解聘备案", "a dismissal's filing alone"))
    async def file_dismissal(
        self,
        info: Info,
        worker: Annotated[
            EndInput,
            strawberry.argument(
                description="The worker and the ending (an `endEmployment` row's fields); only "
                "the dismissal is filed." + ONE_ROW
            ),
        ],
        idempotency_key: Annotated[str, strawberry.argument(description=KEY)],
        credit_code: Annotated[str | None, strawberry.argument(description=CREDIT_CODE)] = None,
    ) -> SubmissionResult:
        return await submit_rows(
            info, credit_code, [end_row(worker)], idempotency_key, only=reg.Operation.DISMISS
        )

    @strawberry.mutation(
        description=_separate("劳动合同解除或终止备案", "a contract ending's filing alone")
    )
    async def file_contract_ending(
        self,
        info: Info,
        worker: Annotated[
            EndInput,
            strawberry.argument(
                description="The worker and the ending (an `endEmployment` row's fields); only "
                "the contract's ending is filed." + ONE_ROW
            ),
        ],
        idempotency_key: Annotated[str, strawberry.argument(description=KEY)],
        credit_code: Annotated[str | None, strawberry.argument(description=CREDIT_CODE)] = None,
    ) -> SubmissionResult:
        return await submit_rows(
            info, credit_code, [end_row(worker)], idempotency_key, only=reg.Operation.END_CONTRACT
        )

    @strawberry.mutation(description=_separate("失业登记", "an unemployment registration alone"))
    async def file_unemployment_registration(
        self,
        info: Info,
        worker: Annotated[
            EndInput,
            strawberry.argument(
                description="The worker and the ending the registration is for (an "
                "`endEmployment` row's fields; `registerUnemployment` is taken as true)." + ONE_ROW
            ),
        ],
        idempotency_key: Annotated[str, strawberry.argument(description=KEY)],
        credit_code: Annotated[str | None, strawberry.argument(description=CREDIT_CODE)] = None,
    ) -> SubmissionResult:
        worker.register_unemployment = True
        return await submit_rows(
            info,
            credit_code,
            [end_row(worker)],
            idempotency_key,
            only=reg.Operation.REGISTER_UNEMPLOYMENT,
        )

    # ---- what needs attention

    @strawberry.mutation(
        description="重新办理: a clerk or administrator sends the stuck steps of a registration "
        "that needs attention again, with a new deadline."
    )
    async def retry_registration(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description=REGISTRATION_ID + " It must need attention "
                "(REGISTRATION_NOT_NEEDING_ATTENTION otherwise)."
            ),
        ],
    ) -> Registration:
        ctx = info.context
        await _staff(info, str(id))
        try:
            await ctx.gateway.engine_control().retry(str(id))
        except ClerkActionRefused as exc:
            raise _clerk_refused(exc) from None
        ctx.gateway.events.work()  # its steps are due now, in whichever process works
        return Registration(data=await visible_registration(ctx, str(id)))

    @strawberry.mutation(
        description="撤销登记: a clerk or administrator cancels a registration that needs "
        "attention: what was done is undone in each system."
    )
    async def cancel_registration(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description=REGISTRATION_ID + " It must need attention "
                "(REGISTRATION_NOT_NEEDING_ATTENTION otherwise)."
            ),
        ],
    ) -> Registration:
        ctx = info.context
        await _staff(info, str(id))
        try:
            await ctx.gateway.engine_control().cancel(str(id))
        except ClerkActionRefused as exc:
            raise _clerk_refused(exc) from None
        ctx.gateway.events.work()  # its steps are due now, in whichever process works
        return Registration(data=await visible_registration(ctx, str(id)))


async def _staff(info: Info, registration_id: str) -> None:
    """Clerks and administrators act on what they may see; anyone else is refused."""
    ctx = info.context
    if not ctx.access.may_retry_or_cancel():
        raise forbidden()
    await visible_registration(ctx, registration_id)


def _clerk_refused(exc: ClerkActionRefused) -> GatewayError:
    return GatewayError(exc.code, exc.message_en, exc.message_zh)
