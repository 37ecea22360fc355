"""The errors the graph reports: a stable code, a message in English and Chinese.

Every error a client sees is one of these; anything else is masked as
``INTERNAL`` by the schema, so that no exception text, backend host, SOAP
fault or SQL reaches a response.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from gateway.domain.model import System
from gateway.systems import AdapterError, Duplicate, NotFound, Rejected, Unavailable

_SYSTEM_ZH = {
    System.EMPLOYMENT: "就业系统",
    System.LABOUR: "劳动关系系统",
    System.UNEMPLOYMENT: "失业登记系统",
}


class GatewayError(GraphQLError):
    def __init__(self, code: str, en: str, zh: str, **extra: Any) -> None:
        super().__init__(en, extensions={"code": code, "message_en": en, "message_zh": zh, **extra})
        self.code = code


def unauthenticated() -> GatewayError:
    return GatewayError("UNAUTHENTICATED", "Sign in first.", "请先登录。")


def session_refused() -> GatewayError:
    # One message for an expired, forged, malformed or revoked token.
    return GatewayError(
        "UNAUTHENTICATED",
        "Your session is not valid; sign in again.",
        "登录状态无效，请重新登录。",
    )


def account_not_open() -> GatewayError:
    # Proven by the identity platform, but the employer has no account here yet.
    return GatewayError(
        "ACCOUNT_NOT_OPEN",
        "Your employer has no account here yet; open it first (openAccount).",
        "贵单位尚未开通网上账号，请先开通（openAccount）。",
    )


def identity_platform_unavailable() -> GatewayError:
    return GatewayError(
        "IDENTITY_PLATFORM_UNAVAILABLE",
        "The identity platform cannot be reached to check your sign-in; try again later.",
        "统一身份认证平台暂时无法访问，无法核验登录状态，请稍后再试。",
    )


def invalid_credentials() -> GatewayError:
    # One message for a wrong user name, a wrong password and a disabled account.
    return GatewayError("INVALID_CREDENTIALS", "Wrong user name or password.", "用户名或密码错误。")


def forbidden() -> GatewayError:
    return GatewayError("FORBIDDEN", "Your role may not do this.", "您的角色无权进行此操作。")


def not_found(what_en: str, what_zh: str) -> GatewayError:
    # Also what a caller gets for something that exists but is not theirs to see.
    return GatewayError("NOT_FOUND", f"No such {what_en}.", f"未找到该{what_zh}。")


def bad_input(field: str, en: str, zh: str) -> GatewayError:
    return GatewayError("BAD_INPUT", en, zh, field=field)


def from_adapter(error: AdapterError) -> GatewayError:
    """A system's answer as the graph reports it, naming the system."""
    system = error.system
    name_zh = _SYSTEM_ZH[system]
    if isinstance(error, Unavailable):
        extra: dict[str, Any] = {"system": system.value}
        if error.retry_after is not None:
            extra["retry_after"] = error.retry_after
        return GatewayError(
            "SYSTEM_UNAVAILABLE",
            f"The {system.value} system is not answering; try again later.",
            f"{name_zh}暂时无法访问，请稍后再试。",
            **extra,
        )
    if isinstance(error, NotFound):
        code = "SYSTEM_NOT_FOUND"
    elif isinstance(error, Duplicate):
        code = "SYSTEM_DUPLICATE"
    elif isinstance(error, Rejected):
        code = "SYSTEM_REJECTED"
    else:
        code = "SYSTEM_ERROR"
    extra = {"system": system.value}
    if isinstance(error, Rejected) and error.field:
        extra["field"] = error.field
    return GatewayError(
        code,
        f"The {system.value} system refused: {error.message}",
        f"{name_zh}拒绝：{error.message}",
        **extra,
    )
