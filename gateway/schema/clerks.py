"""Clerks' accounts in the graph, for administrators (DESIGN.md: an administrator
manages clerks): who works at which window, a new clerk, a clerk moved to another
window, a password forgotten, a clerk who left.

Only clerks: administrators are made and managed on the server
(``hrss-gateway accounts``), so that a stolen administrator's token cannot make
more administrators or lock the others out. Every change is logged under
``gateway.accounts`` with the administrator who made it, and recorded in the
audit log in its own transaction (``create_clerk``, ``set_clerk_divisions``...);
one that takes
rights away (a password set, the account disabled, divisions changed) ends in
this process at once what the clerk's open sessions could do, in the others
within the account cache's time (``HRSS_ACCOUNT_CACHE_TTL_S``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry

from gateway.auth import Role
from gateway.domain.checks import check_division
from gateway.errors import GatewayError, bad_input, forbidden
from gateway.schema.account import weak_password
from gateway.schema.arguments import NEW_PASSWORD
from gateway.schema.context import Context, Info
from gateway.store.accounts import (
    DISPLAY_NAME_MAX,
    Also,
    display_name_refusal,
    normalize_username,
    username_refusal,
)
from gateway.store.audit import account_change
from gateway.store.model import Account, DuplicateUsername, WeakPassword, covers_division

USERNAME = "The clerk's user name (as at sign-in, without case)."
DIVISIONS = (
    "属地: the six-digit GB/T 2260 divisions the clerk's window acts for (a city or the "
    "province covers the divisions under it); at least one."
)


@strawberry.type(description="窗口经办人员账号: a service-window clerk's account.")
class ClerkAccount:
    account: strawberry.Private[Account]

    @strawberry.field(description="用户名.")
    def username(self) -> str:
        return self.account.username

    @strawberry.field(description="显示名称.")
    def display_name(self) -> str | None:
        return self.account.display_name

    @strawberry.field(description=DIVISIONS)
    def divisions(self) -> list[str]:
        return list(self.account.divisions)

    @strawberry.field(description="已停用: a disabled clerk cannot sign in.")
    def disabled(self) -> bool:
        return self.account.disabled

    @strawberry.field(
        description="须修改密码: the password is the one an administrator gave; until the "
        "clerk changes it (`changePassword`), its sessions may do nothing else."
    )
    def must_change_password(self) -> bool:
        return self.account.password_must_change

    @strawberry.field(
        description="最近登录: the clerk's last sign-in (null: never), to find the accounts "
        "of those who left."
    )
    def last_signed_in_at(self) -> dt.datetime | None:
        return self.account.last_signed_in_at

    @strawberry.field(description="When the account was made.")
    def created_at(self) -> dt.datetime:
        return self.account.created_at

    @strawberry.field(
        description="When its sessions were last ended: its password set (by an "
        "administrator or the clerk) or the account disabled; null: never. Tokens issued "
        "before it are refused."
    )
    def sessions_ended_at(self) -> dt.datetime | None:
        return self.account.credentials_changed_at


@strawberry.input(description="新建窗口经办人员账号.")
class NewClerkInput:
    username: str = strawberry.field(
        description="1 to 64 characters: letters, digits and . _ @ -, starting with a letter "
        "or digit; compared without case. Not a unified social credit code (that names the "
        "unit's own account)."
    )
    divisions: list[str] = strawberry.field(description=DIVISIONS)
    password: str = strawberry.field(
        description="The first password, given to the clerk, who must replace it with "
        "`changePassword` before doing anything else; checked as every new password is."
    )
    display_name: str | None = strawberry.field(default=None, description="显示名称.")


def _administrator(ctx: Context) -> Account:
    account = ctx.require_account()
    if not ctx.access.may_manage_clerks():
        raise forbidden()
    return account


def _divisions(given: list[str], field: str = "divisions") -> tuple[str, ...]:
    codes = tuple(sorted({d.strip() for d in given}))
    if not codes:
        raise bad_input(
            field, "Give at least one division.", "请至少提供一个属地（行政区划代码）。"
        )
    for code in codes:
        # Abolished codes are taken: units may still be on record under them.
        for problem in check_division(code, field=field, abolished=True):
            raise GatewayError(problem.code, problem.message_en, problem.message_zh, field=field)
    return codes


async def _clerk(ctx: Context, username: str) -> Account:
    """The clerk ``username``: NOT_FOUND for no account, and for any account but a
    clerk's (administrators are managed on the server; employers are their units')."""
    found = await ctx.gateway.store.accounts.get(username)
    if found is None or not ctx.access.may_manage_account(found):
        raise GatewayError(
            "NOT_FOUND", "No such clerk.", "未找到该窗口经办人员账号。", field="username"
        )
    return found


def _recorded(ctx: Context, admin: Account, action: str, **detail: Any) -> Also:
    """The audit log's record of a change to a clerk's account, written in the
    change's own transaction: who gave whom which rights stays, chained, when the
    logs are long gone (``detail``: the account and what it became; no password)."""
    return account_change(
        ctx.gateway.store.audit,
        actor=admin,
        action=action,
        channel=ctx.access.channel,
        detail=detail,
    )


async def _in_force(ctx: Context, account: Account) -> ClerkAccount:
    """The change to ``account`` holds in this process from now on (its cached copy goes)."""
    await ctx.gateway.cache.forget_account(account.id)
    return ClerkAccount(account=account)


@strawberry.type
class ClerkQuery:
    @strawberry.field(
        description="窗口经办人员: the clerks' accounts by user name (administrators only). "
        "`division`: those acting for units in it (bound to it, to a division under it, or "
        "to one above it); `disabled`: only those disabled (true) or enabled (false)."
    )
    async def clerks(
        self,
        info: Info,
        division: Annotated[
            str | None,
            strawberry.argument(
                description="属地: a six-digit GB/T 2260 code (an abolished one is taken; "
                "DIVISION_FORMAT or DIVISION_UNKNOWN otherwise, field `division`): the "
                "clerks bound to it, to a division under it, or to one above it. Null: every "
                "clerk."
            ),
        ] = None,
        disabled: Annotated[
            bool | None,
            strawberry.argument(
                description="已停用: true, only the disabled clerks; false, only the enabled "
                "ones; null, both."
            ),
        ] = None,
    ) -> list[ClerkAccount]:
        ctx = info.context
        _administrator(ctx)
        within = None if division is None else _divisions([division], "division")[0]
        found = []
        for account in await ctx.gateway.store.accounts.list(Role.CLERK):
            if disabled is not None and account.disabled != disabled:
                continue
            if within is not None and not (
                covers_division(account.divisions, within)
                or any(covers_division([within], d) for d in account.divisions)
            ):
                continue
            found.append(ClerkAccount(account=account))
        return found


@strawberry.type
class ClerkMutation:
    @strawberry.mutation(
        description="新建窗口经办人员账号 (administrators only). A taken user name: "
        "USERNAME_TAKEN; a weak password: the policy's code (e.g. PASSWORD_TOO_SHORT); each "
        "with the field. Administrators are made on the server (`hrss-gateway accounts`)."
    )
    async def create_clerk(
        self,
        info: Info,
        input: Annotated[
            NewClerkInput,
            strawberry.argument(
                description="The new clerk: user name, divisions, first password and display "
                "name. The first refusal is the answer, naming its field; nothing is made."
            ),
        ],
    ) -> ClerkAccount:
        ctx = info.context
        admin = _administrator(ctx)
        username = normalize_username(input.username)
        refusal = username_refusal(username, Role.CLERK)
        if refusal is not None:
            raise bad_input(
                "username",
                f"That user name cannot be used: {refusal}.",
                "该用户名不可用：用户名为 1 至 64 位字母、数字或 . _ @ -，以字母或数字开头，"
                "且不得为统一社会信用代码。",
            )
        divisions = _divisions(input.divisions)
        display = (input.display_name or "").strip() or None
        if display_name_refusal(display) is not None:
            raise bad_input(
                "displayName",
                f"A display name is at most {DISPLAY_NAME_MAX} characters, without line breaks.",
                f"显示名称最多 {DISPLAY_NAME_MAX} 个字符，且不得含换行等控制字符。",
            )
        try:
            made = await ctx.gateway.store.accounts.create(
                username,
                input.password,
                Role.CLERK,
                display_name=display,
                divisions=divisions,
                by=admin.username,
                must_change=True,
                also=_recorded(
                    ctx, admin, "create_clerk", account=username, divisions=list(divisions)
                ),
            )
        except WeakPassword as e:
            raise weak_password(e, "password") from None
        except DuplicateUsername:
            raise GatewayError(
                "USERNAME_TAKEN",
                "That user name is taken.",
                "该用户名已被使用。",
                field="username",
            ) from None
        return ClerkAccount(account=made)

    @strawberry.mutation(
        description="调整窗口经办人员属地: the divisions a clerk acts for from now on (a clerk "
        "moved to another window); administrators only."
    )
    async def set_clerk_divisions(
        self,
        info: Info,
        username: Annotated[str, strawberry.argument(description=USERNAME)],
        divisions: Annotated[list[str], strawberry.argument(description=DIVISIONS)],
    ) -> ClerkAccount:
        ctx = info.context
        admin = _administrator(ctx)
        clerk = await _clerk(ctx, username)
        codes = _divisions(divisions)
        changed = await ctx.gateway.store.accounts.set_divisions(
            clerk.username,
            codes,
            by=admin.username,
            also=_recorded(
                ctx, admin, "set_clerk_divisions", account=clerk.username, divisions=list(codes)
            ),
        )
        return await _in_force(ctx, changed)

    @strawberry.mutation(
        description="重置窗口经办人员密码: a new password for a clerk who forgot theirs, or whose "
        "password may have leaked; every session of the old one ends, and the clerk must "
        "change this one before doing anything else. Checked as every new password is "
        "(field newPassword). Administrators only."
    )
    async def set_clerk_password(
        self,
        info: Info,
        username: Annotated[str, strawberry.argument(description=USERNAME)],
        new_password: Annotated[
            str,
            strawberry.argument(
                description=NEW_PASSWORD + " Given to the clerk, who must replace it with "
                "`changePassword` before doing anything else."
            ),
        ],
    ) -> ClerkAccount:
        ctx = info.context
        admin = _administrator(ctx)
        clerk = await _clerk(ctx, username)
        try:
            changed = await ctx.gateway.store.accounts.set_password(
                clerk.username,
                new_password,
                by=admin.username,
                must_change=True,
                also=_recorded(ctx, admin, "set_clerk_password", account=clerk.username),
            )
        except WeakPassword as e:
            raise weak_password(e, "newPassword") from None
        return await _in_force(ctx, changed)

    @strawberry.mutation(
        description="停用窗口经办人员账号: the clerk can no longer sign in, and its open "
        "sessions end. Administrators only."
    )
    async def disable_clerk(
        self, info: Info, username: Annotated[str, strawberry.argument(description=USERNAME)]
    ) -> ClerkAccount:
        return await _set_disabled(info.context, username, True)

    @strawberry.mutation(
        description="启用窗口经办人员账号: a disabled clerk signs in again (with the password "
        "it had). Administrators only."
    )
    async def enable_clerk(
        self, info: Info, username: Annotated[str, strawberry.argument(description=USERNAME)]
    ) -> ClerkAccount:
        return await _set_disabled(info.context, username, False)


async def _set_disabled(ctx: Context, username: str, disabled: bool) -> ClerkAccount:
    admin = _administrator(ctx)
    clerk = await _clerk(ctx, username)
    action = "disable_clerk" if disabled else "enable_clerk"
    changed = await ctx.gateway.store.accounts.set_disabled(
        clerk.username,
        disabled,
        by=admin.username,
        also=_recorded(ctx, admin, action, account=clerk.username),
    )
    return await _in_force(ctx, changed)
