"""The signed-in account and signing in."""

from __future__ import annotations

import datetime as dt

import strawberry

from gateway.errors import GatewayError
from gateway.store.model import Account as StoredAccount
from gateway.store.model import WeakPassword


@strawberry.type(description="当前账号: the account making the request.")
class Me:
    username: str = strawberry.field(description="用户名.")
    role: str = strawberry.field(
        description="角色: `employer` (用人单位), `clerk` (窗口经办人员) or `admin` (管理员)."
    )
    display_name: str | None = strawberry.field(description="显示名称.")
    credit_code: str | None = strawberry.field(
        description="统一社会信用代码 of the employer an employer account belongs to."
    )
    divisions: list[str] = strawberry.field(
        description="属地: the divisions a clerk acts for (a city or province code covers "
        "the divisions under it)."
    )

    must_change_password: bool = strawberry.field(
        description="须修改密码: the password is one an administrator gave; until it is "
        "changed (`changePassword`) everything else is refused with PASSWORD_CHANGE_REQUIRED."
    )

    @classmethod
    def from_domain(cls, a: StoredAccount) -> Me:
        return cls(
            username=a.username,
            role=str(a.role),
            display_name=a.display_name,
            credit_code=a.credit_code,
            divisions=list(a.divisions),
            must_change_password=a.password_must_change,
        )


@strawberry.type(description="A signed, expiring token: send it as `Authorization: Bearer …`.")
class Session:
    token: str = strawberry.field(description="The bearer token.")
    expires_at: dt.datetime = strawberry.field(description="When the token stops working.")
    account: Me = strawberry.field(description="Who signed in.")


def weak_password(e: WeakPassword, field: str) -> GatewayError:
    """A new password the policy refuses, as the graph reports it: the policy's code
    (``PASSWORD_TOO_SHORT``...) naming the argument it was given in."""
    return GatewayError(e.code, e.message_en, e.message_zh, field=field)
