"""The errors the graph reports: a stable code, a message in English and Chinese.

Every error a client sees has one shape, ``{message, locations?, path?,
extensions: {code, message_en, message_zh, ...}}``: the gateway's own
(:class:`GatewayError`), graphql-core's (parse, validation, variable coercion),
and the HTTP refusals outside GraphQL (:func:`error_entry`). :func:`client_error`
is the one place where an error on its way to a client gets that shape: it keeps
the gateway's own errors, recodes graphql-core's without the values the caller
sent, and masks everything else as ``INTERNAL``, so that no exception text,
backend host, SOAP fault or SQL reaches a response. The codes are listed in
``docs/graph.md``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import re
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from graphql.language import ArgumentNode, ValueNode, VariableDefinitionNode, print_ast

from gateway.domain.model import System
from gateway.privacy import redact
from gateway.registry import registry
from gateway.store.paging import MAX_PAGE
from gateway.systems import AdapterError, Duplicate, NotFound, Rejected, Unavailable, quoted

#: The message of a masked error: both languages, for clients that read ``message`` only.
MASKED_MESSAGE = "Internal error. 内部错误。"


def error_extensions(code: str, en: str, zh: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message_en": en, "message_zh": zh, **extra}


def error_entry(code: str, en: str, zh: str, **extra: Any) -> dict[str, Any]:
    """One entry of a response's ``errors``, for refusals made outside GraphQL."""
    return {"message": en, "extensions": error_extensions(code, en, zh, **extra)}


@dataclass(frozen=True)
class Refusal:
    """A refusal outside GraphQL execution (HTTP, the body, a limit): a stable code,
    English and Chinese, in the same shape as a :class:`GatewayError`."""

    code: str
    message_en: str
    message_zh: str
    #: Where in the request the refused value is, when it is one value.
    field: str | None = None
    #: Seconds after which the same request may succeed, when it is only a matter of time.
    retry_after: int | None = None

    def error(self) -> dict[str, Any]:
        extra: dict[str, Any] = {} if self.field is None else {"field": self.field}
        if self.retry_after is not None:
            extra["retry_after"] = self.retry_after
        return error_entry(self.code, self.message_en, self.message_zh, **extra)


def invalid_character(where: str) -> Refusal:
    return Refusal(
        "INVALID_CHARACTER",
        f"{where} holds a character no text may hold: NUL (\\u0000), or half a character "
        "(a \\u escape of an unpaired surrogate, D800 to DFFF).",
        f"{where} 含有文本中不允许的字符：NUL（\\u0000），或半个字符（不成对的代理项 \\u 转义，"
        "D800 至 DFFF）。",
        field=where,
    )


MISSING_QUERY = Refusal(
    "MISSING_QUERY", "The request has no GraphQL query.", "请求中没有 GraphQL 查询。"
)


#: How long a client is told to wait when the store cannot be reached, seconds.
STORE_RETRY_AFTER_S = 5

#: The gateway's own store (its database) cannot be reached just now: refused
#: connections, a connection lost, a statement or a pooled connection not had in
#: time (the ``store_*_timeout_s`` settings). Nothing was done; the same request
#: may be sent again.
STORE_UNAVAILABLE = Refusal(
    "STORE_UNAVAILABLE",
    "The gateway's store cannot be reached just now; try again shortly.",
    "网关的数据存储暂时无法访问，请稍后再试。",
    retry_after=STORE_RETRY_AFTER_S,
)


def store_unreachable(error: BaseException | None) -> str | None:
    """Why the gateway's store could not be reached, when that is what ``error`` (or
    what caused it) says; None otherwise (``gateway.store.database.store_unreachable``)."""
    if error is None:
        return None
    # Imported when an error is met: a process that never opened a store (a stand-in,
    # a command) need not load SQLAlchemy for it.
    from gateway.store.database import store_unreachable as unreachable

    return unreachable(error)


def log_store_unreachable(logger: logging.Logger, reason: str) -> None:
    """Say that requests meet the store unreachable (``reason``: the driver's exception's
    type): a WARNING once a minute in the process, DEBUG in between, never a stack."""
    from gateway.store.database import outage_log_level

    logger.log(
        outage_log_level("requests"),
        "the store cannot be reached (%s): requests are answered STORE_UNAVAILABLE "
        "(said once a minute while it lasts)",
        reason,
    )


class GatewayError(GraphQLError):
    def __init__(self, code: str, en: str, zh: str, **extra: Any) -> None:
        super().__init__(en, extensions=error_extensions(code, en, zh, **extra))
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


#: A session of a password an administrator gave: it may only change it.
PASSWORD_CHANGE_REQUIRED = Refusal(
    "PASSWORD_CHANGE_REQUIRED",
    "Change the password an administrator gave you first (changePassword).",
    "请先修改管理员为您设置的密码（changePassword）。",
)


def password_change_required() -> GatewayError:
    r = PASSWORD_CHANGE_REQUIRED
    return GatewayError(r.code, r.message_en, r.message_zh)


def forbidden() -> GatewayError:
    return GatewayError("FORBIDDEN", "Your role may not do this.", "您的角色无权进行此操作。")


def not_found(what_en: str, what_zh: str) -> GatewayError:
    # Also what a caller gets for something that exists but is not theirs to see.
    return GatewayError("NOT_FOUND", f"No such {what_en}.", f"未找到该{what_zh}。")


def bad_input(field: str, en: str, zh: str) -> GatewayError:
    return GatewayError("BAD_INPUT", en, zh, field=field)


def check_first(first: int) -> int:
    """A list's ``first``, refused (BAD_INPUT) outside 1 to ``MAX_PAGE``."""
    if not 1 <= first <= MAX_PAGE:
        en = f"first must be between 1 and {MAX_PAGE}."
        raise bad_input("first", en, f"first 须在 1 到 {MAX_PAGE} 之间。")
    return first


#: Longer than any ID number of any kind (every system takes at most 32 characters):
#: refused before it reaches a system, the store or the audit log.
MAX_ID_NUMBER = 32


def check_id_number_length(field: str, number: str) -> str:
    """``number``, refused (BAD_INPUT naming ``field``) when no ID number is that long."""
    if len(number) > MAX_ID_NUMBER:
        raise bad_input(field, "That is not an ID number.", "证件号码无效。")
    return number


def invalid_cursor() -> GatewayError:
    """An ``after`` that no list of this gateway gave out (or another list's)."""
    return bad_input("after", "That cursor is not valid.", "游标无效。")


def aware(field: str, value: dt.datetime | None) -> dt.datetime | None:
    """``value``, refused (BAD_INPUT naming ``field``) without its time zone: a
    time without one is read differently by every client."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise bad_input(
            field,
            "Give the time with its time zone (e.g. 2024-06-01T08:00:00+08:00).",
            "请提供带时区的时间（如 2024-06-01T08:00:00+08:00）。",
        )
    try:
        # Stored and compared in UTC: 0001-01-01T00:00+14:00 lies before year 1 there.
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise bad_input(
            field,
            "Give a time between the years 1 and 9999 in UTC.",
            "请提供协调世界时 1 年至 9999 年之间的时间。",
        ) from None


def system_names(system: System) -> tuple[str, str]:
    """A system's names as its package declares them (Chinese, English), its stored name
    where it is no longer registered."""
    if system in registry():
        spec = registry().get(system)
        return spec.name_zh, spec.name_en
    return f"{system}系统", f"{system} system"


def _when(retry_after: float | None) -> tuple[str, str]:
    """When to try again, as the answer's English and Chinese say it."""
    if retry_after is None:
        return "later", "稍后"
    seconds = max(1, math.ceil(retry_after))
    return f"in {seconds} s", f"{seconds}秒后"


def from_adapter(error: AdapterError) -> GatewayError:
    """A system's answer as the graph reports it, naming the system."""
    system = error.system
    name_zh, name_en = system_names(system)
    if isinstance(error, Unavailable):
        extra: dict[str, Any] = {"system": system.value}
        if error.retry_after is not None:
            extra["retry_after"] = error.retry_after
        when_en, when_zh = _when(error.retry_after)
        answer = error.turned_away
        if answer is not None:
            # It answered, and turned the call away for now (its request quota, its
            # maintenance window): not silence. Its words, and the adapter's account;
            # when the gateway holds calls back since (its breaker open), that too.
            words = quoted(answer)
            said_zh = f"（{redact(words)}）" if words else ""
            held_en, held_zh = "", ""
            if answer is not error:
                held_en = " and the gateway holds calls to it back meanwhile"
                held_zh = "，网关暂停向其发送请求"
            return GatewayError(
                "SYSTEM_UNAVAILABLE",
                f"The {name_en} turned requests away for now ({answer.message}){held_en}; "
                f"try again {when_en}.",
                f"{name_zh}暂不受理请求{said_zh}{held_zh}，请{when_zh}再试。",
                **extra,
            )
        return GatewayError(
            "SYSTEM_UNAVAILABLE",
            f"The {name_en} is not answering; try again {when_en}.",
            f"{name_zh}暂时无法访问，请{when_zh}再试。",
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
        f"The {name_en} refused: {error.message}",
        f"{name_zh}拒绝办理" + (f"：{redact(words)}" if (words := quoted(error)) else "。"),
        **extra,
    )


# ----------------------------------------------------- errors on their way out


def is_coded(error: GraphQLError) -> bool:
    """Whether the error already has the gateway's shape."""
    ext = error.extensions or {}
    return all(isinstance(ext.get(k), str) for k in ("code", "message_en", "message_zh"))


def _recoded(error: GraphQLError, code: str, en: str, zh: str, **extra: Any) -> GraphQLError:
    # Where in the document and the response stays; the original error, whose text
    # may quote what was sent, does not.
    return GraphQLError(
        MASKED_MESSAGE if code == "INTERNAL" else en,
        error.nodes,
        error.source,
        error.positions,
        error.path,
        extensions=error_extensions(code, en, zh, **extra),
    )


def internal(error: GraphQLError) -> GraphQLError:
    return _recoded(error, "INTERNAL", "Internal error.", "内部错误。")


_NAME = r"[_A-Za-z][_0-9A-Za-z]*"
# What graphql-core puts in quotes that is a name, a coordinate (Type.field) or a
# type reference ([Type!]!), never a value: a value has other characters.
_NAMELIKE = re.compile(rf"\$?\[*{_NAME}(?:\.{_NAME})?(?:!|\])*!?(?:\(\))?")
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
# Digit runs a name can still hold ("query q110101199003077777"): masked whole.
_DIGITS = re.compile(r"\d{5,}[\dXx]?")
# graphql-core: "Variable '$w' has invalid value at [1].startDate: ..." (names, indices).
# Past the first step of the path a name follows a dot: with the dot optional
# throughout, a run of letters split into names in every way, and a path not
# followed by its colon took twice as long for every letter more (68 ms for 20).
_VARIABLE_PATH = re.compile(
    rf"^Variable '\$({_NAME})' has invalid (?:default )?value"
    rf"(?: at ((?:\.?{_NAME}|\[\d+\])(?:\.{_NAME}|\[\d+\])*))?:"
)
# Where graphql-core and Strawberry's scalars name the type a value does not fit.
_EXPECTED_TYPE = re.compile(
    rf"^Expected value of type '([^']+)'|^({_NAME}) cannot represent|"
    rf"^Value cannot represent an? ({_NAME})|in '({_NAME})' enum"
)
# A scalar's own refusal of a literal, reported by validation without a node.
_VALUE_REFUSED = re.compile(r"cannot represent|does not exist in '")


def names_only(text: str) -> str:
    """graphql-core's message with every quoted value replaced by an ellipsis, and long
    digit runs masked: names and types stay, what the caller typed as a value goes."""

    def quoted(match: re.Match[str]) -> str:
        inner = match.group(1) if match.group(1) is not None else match.group(2)
        return match.group(0) if _NAMELIKE.fullmatch(inner) else "'…'"

    return _DIGITS.sub(lambda m: "*" * len(m.group(0)), _QUOTED.sub(quoted, text))


def _type_name(text: str) -> str | None:
    match = _EXPECTED_TYPE.search(text)
    found = next((g for g in match.groups() if g), None) if match else None
    return found if found and _NAMELIKE.fullmatch(found) else None


def _variable_error(error: GraphQLError, node: VariableDefinitionNode) -> GraphQLError:
    match = _VARIABLE_PATH.match(error.message)
    given = node.variable.name.value
    inside = (match.group(2) or "") if match and match.group(1) == given else ""
    # The variable's name is the caller's too: a long digit run in it is masked.
    name, type_ = names_only(given), names_only(print_ast(node.type))
    if inside and not inside.startswith(("[", ".")):
        inside = "." + inside
    where = names_only(f"${name}{inside}")
    if "was not provided" in error.message or "must not be null" in error.message:
        en = f"Variable ${name} of type {type_} needs a value."
        zh = f"变量 ${name}（类型 {type_}）必须提供值。"
    elif inside:
        en = f"The value of variable ${name} does not fit its type {type_} at {where}."
        zh = f"变量 ${name} 的值在 {where} 处不符合其类型 {type_}。"
    else:
        en = f"The value of variable ${name} is not a valid {type_}."
        zh = f"变量 ${name} 的值不符合类型 {type_}。"
    hint = _suggestion(error.message)
    return _recoded(error, "BAD_INPUT", en + hint, zh + hint, field=where.lstrip("$"))


def _suggestion(message: str) -> str:
    """graphql-core's "Did you mean ...?", names of the schema only (in the demo profile;
    production hides suggestions)."""
    at = message.find("Did you mean")
    return " " + names_only(message[at:]) if at >= 0 else ""


def _value_error(error: GraphQLError) -> GraphQLError:
    found = _type_name(error.message)
    type_ = names_only(found) if found else None
    if type_ is None:
        en = "A value in the document is not valid here."
        zh = "查询文档中的某个值在此处无效。"
    else:
        en = f"A value in the document is not a valid {type_}."
        zh = f"查询文档中的某个值不符合类型 {type_}。"
    hint = _suggestion(error.message)
    return _recoded(error, "BAD_INPUT", en + hint, zh + hint)


@functools.cache
def operation_errors() -> tuple[type[Exception], ...]:
    """Strawberry's errors for a request whose operation it cannot pick. Imported
    here, not with the module: a worker or a command imports this module for
    ``GatewayError`` and never meets them, and Strawberry costs a process about
    70 ms of CPU to import."""
    from strawberry.exceptions import MissingQueryError
    from strawberry.schema.exceptions import (
        CannotGetOperationTypeError,
        InvalidOperationTypeError,
    )

    return MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError


def _operation_error(error: GraphQLError, original: Exception) -> GraphQLError:
    missing, cannot_get, invalid = operation_errors()
    if isinstance(original, missing):
        q = MISSING_QUERY
        return _recoded(error, q.code, q.message_en, q.message_zh)
    if isinstance(original, invalid):
        return _recoded(
            error,
            "OPERATION_NOT_ALLOWED",
            "This kind of operation is not allowed here.",
            "此处不允许该类操作。",
        )
    assert isinstance(original, cannot_get)
    if getattr(original, "operation_name", None) is None:
        return operation_name_required(error)
    return operation_not_found(error)


def operation_not_found(error: GraphQLError) -> GraphQLError:
    # The name is the caller's: not repeated.
    return _recoded(
        error,
        "OPERATION_NOT_FOUND",
        "operationName names no operation of the document.",
        "operationName 与查询文档中的任何操作都不对应。",
    )


# graphql-core's own words when it cannot pick the operation.
_NO_OPERATION_NAME = "Must provide operation name"
_UNKNOWN_OPERATION = "Unknown operation named"


def operation_name_required(error: GraphQLError | None = None) -> GraphQLError:
    return _recoded(
        error or GraphQLError(""),
        "OPERATION_NAME_REQUIRED",
        "The document has several operations: say which in operationName.",
        "查询文档包含多个操作，请用 operationName 指明要执行的操作。",
    )


def client_error(error: GraphQLError) -> GraphQLError:
    """The error as a client may see it: coded, in both languages, without values.

    - the gateway's own errors are kept, with ID and mobile numbers masked;
    - a document that does not parse: ``GRAPHQL_PARSE_FAILED``;
    - a value that does not fit its type, in a variable or typed in the document
      (an impossible date, an unknown enum value, a number for a string):
      ``BAD_INPUT``, naming the variable and the type, never the value;
    - any other validation error: ``GRAPHQL_VALIDATION_FAILED``, with graphql-core's
      words minus anything quoted that is not a name;
    - the gateway's store not reached (a connection refused or lost, a timeout):
      ``STORE_UNAVAILABLE``, with ``retry_after``;
    - everything else (an exception in a resolver, a hook, graphql-core's own
      output checks): ``INTERNAL``.
    """
    if is_coded(error):
        return _masked_numbers(error)
    original = error.original_error
    if isinstance(error, GraphQLSyntaxError) or isinstance(original, GraphQLSyntaxError):
        return _recoded(
            error,
            "GRAPHQL_PARSE_FAILED",
            "The document is not valid GraphQL syntax.",
            "查询文档不符合 GraphQL 语法。",
        )
    if isinstance(original, operation_errors()):
        return _operation_error(error, original)
    node = error.nodes[0] if error.nodes else None
    if isinstance(node, VariableDefinitionNode) and error.path is None:
        return _variable_error(error, node)
    if isinstance(node, ValueNode | ArgumentNode) and (
        error.path is None or isinstance(original, GraphQLError)
    ):
        # In validation, or an argument coerced at execution: the caller's input.
        return _value_error(error)
    if original is None and error.path is None:
        if _VALUE_REFUSED.search(error.message):
            return _value_error(error)
        if error.message.startswith(_NO_OPERATION_NAME):
            return operation_name_required(error)
        if error.message.startswith(_UNKNOWN_OPERATION):
            return operation_not_found(error)
        message = names_only(error.message)
        return _recoded(
            error,
            "GRAPHQL_VALIDATION_FAILED",
            message,
            f"查询文档不符合接口定义：{message}",
        )
    if original is not None and store_unreachable(original) is not None:
        r = STORE_UNAVAILABLE
        return _recoded(error, r.code, r.message_en, r.message_zh, retry_after=r.retry_after)
    return internal(error)


def _masked_numbers(error: GraphQLError) -> GraphQLError:
    """The gateway's own error, with any ID or mobile number a system's message held
    masked: a refusal may quote what it refused."""
    ext = dict(error.extensions or {})
    message = redact(error.message)
    for key in ("message_en", "message_zh"):
        ext[key] = redact(ext[key])
    if message == error.message and ext == error.extensions:
        return error
    return GraphQLError(
        message,
        error.nodes,
        error.source,
        error.positions,
        error.path,
        original_error=error.original_error,
        extensions=ext,
    )
