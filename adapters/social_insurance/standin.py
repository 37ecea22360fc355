"""Stand-in for the social insurance registration system (社会保险登记), per its contract.

Serves ``shared/legacy/social-insurance.md`` under ``/si/v2``: every request
signed (HMAC-SM3), ``aac002``/``aac003`` encrypted (SM4), declarations decided
later (``review.py``), a quota per app id, the ``{"code", "message", "data"}``
envelope; plus the ``/__sim/`` surface of every stand-in with three settings
of its own: ``review_delay_s``, ``return_rate`` and ``quota_per_s``.

What the contract leaves open, and how this stand-in reads it (docs/standins.md):

- Order of checks: the simulator's faults, then the signature (401: ``4010``
  missing or wrong, ``4011`` timestamp outside 300 s, ``4012`` nonce seen in the
  last 10 minutes), then the quota (429, ``4290``), then the body.
- ``PATH`` is the path as sent (percent-encoded), ``QUERY`` the decoded
  parameters sorted by name then value; the signature's hex may be either case.
- A body that is not a UTF-8 JSON object: HTTP 400, code ``4000``. A path or
  method the system does not serve: 404 / 405, codes ``4040`` / ``4050``.
- Business errors (``1xxx``) are HTTP 200 with the envelope, as the contract's
  "Envelope" says.
- A wage outside 3,800.00 to 20,000.00 is accepted and then returned (``R02``);
  a worker insured with another unit is returned (``R03``); ``return_rate``
  returns a declaration with ``R01``, drawn when it is declared.
- ``quota_per_s`` 0 turns the quota off; ``Retry-After`` is whole seconds, at least 1.
- ``down`` answers a bare 503 page from the front proxy; maintenance 503 with
  ``Retry-After`` and code ``5030``; ``error_rate`` a 502 with an empty body.

Nothing here logs: bodies carry ID numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.social_insurance import crypto, mapping, review
from adapters.social_insurance.guard import Guard, SocialSimulator, envelope, success
from adapters.social_insurance.limits import LEGACY_LIMITS
from adapters.social_insurance.settings import SocialInsuranceSettings
from adapters.standin.sim import mark_committed
from adapters.standin.store import Store
from adapters.standin.today import province_today
from gateway.domain.checks import check_credit_code, check_id_number

_DIVISION = re.compile(r"[1-9]\d{5}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Invalid(Exception):
    """A field the system refuses (1400). Holds the field's name, never its value."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(field)
        self.field = field
        self.problem = problem


class BadBody(Exception):
    """The request's body is not a JSON object in UTF-8: answered 400, as the contract says."""


# ------------------------------------------------------------- validation


class Fields:
    """Reads a decrypted request object field by field, raising ``Invalid``."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def text(self, name: str) -> str:
        value = self.body.get(name)
        if value is None or value == "":
            raise Invalid(name, "必填")
        if not isinstance(value, str):
            raise Invalid(name, "应为字符串")
        if _CONTROL.search(value):
            raise Invalid(name, "含有控制字符")
        most = LEGACY_LIMITS.get(name)
        if most is not None and len(value) > most:
            raise Invalid(name, f"长度{len(value)}个字符，超过{most}个字符")
        return value

    def valid(self, name: str, ok: Callable[[str], bool]) -> str:
        value = self.text(name)
        if not ok(value):
            raise Invalid(name, "格式不正确")
        return value

    def code(self, name: str, codes: Any) -> str:
        value = self.text(name)
        if value not in codes:
            raise Invalid(name, "不是有效代码")
        return value

    def date(self, name: str) -> str:
        value = self.text(name)
        try:
            mapping.date_from_legacy(value, name)
        except mapping.LegacyFormatError:
            raise Invalid(name, "应为YYYY-MM-DD日期") from None
        return value

    def person(self) -> tuple[str, str]:
        """``aac058`` and ``aac002``, the number valid for its document."""
        aac058 = self.code("aac058", mapping.ID_TYPE_FROM_LEGACY)
        aac002 = self.text("aac002")
        id_type = mapping.ID_TYPE_FROM_LEGACY[aac058]
        wrong_permit = aac058 in (
            mapping.HK_PERMIT,
            mapping.MACAO_PERMIT,
        ) and not aac002.startswith("H" if aac058 == mapping.HK_PERMIT else "M")
        if wrong_permit or check_id_number(id_type, aac002, today=province_today()):
            raise Invalid("aac002", "证件号码格式不正确")
        return aac058, aac002


# ------------------------------------------------------------------ the app


class SocialInsuranceStandin:
    def __init__(self, store: Store, settings: SocialInsuranceSettings) -> None:
        self.store = store
        self.sim = SocialSimulator()
        self.review = review.Reviewer(store, self.sim)
        self.guard = Guard(store, self.sim, settings)
        self._key = settings.key

    async def body(self, request: Request) -> Fields:
        raw = await request.body()
        try:
            body = json.loads(raw.decode("utf-8"), strict=False)
        except (UnicodeDecodeError, ValueError):
            raise BadBody("请求体不是有效的UTF-8 JSON") from None
        if not isinstance(body, dict):
            raise BadBody("请求体应为JSON对象")
        for name in crypto.ENCRYPTED_FIELDS:
            value = body.get(name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise Invalid(name, "应为加密字符串")
            try:
                body[name] = crypto.decrypt(self._key, value)
            except crypto.DecryptError:
                raise Invalid(name, "无法解密") from None
        return Fields(body)

    def encrypted(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            k: crypto.encrypt(self._key, v) if k in crypto.ENCRYPTED_FIELDS and v else v
            for k, v in row.items()
        }

    def contract(
        self, name: str, *, write: bool = False
    ) -> Callable[[Callable[[Request], Any]], Callable[[Request], Any]]:
        """A contract operation: counted and faulted by the simulator, then signed
        and within the quota, then due reviews decided, then carried out."""

        def decorate(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
            async def handle(request: Request) -> Response:
                refusal = await self.guard.refused(request)
                if refusal is not None:
                    return refusal
                self.review.decide_due()
                try:
                    response: Response = await endpoint(request)
                except BadBody as exc:
                    return envelope("4000", str(exc), status=400)
                except Invalid as exc:
                    return envelope("1400", f"字段 {exc.field} 无效：{exc.problem}")
                return response

            handle.__name__ = endpoint.__name__
            return self.sim.operation(name, write=write)(handle)

        return decorate

    def app(self) -> Starlette:
        c = self.contract
        routes = [
            Route(
                "/si/v2/units", c("units.create", write=True)(self.create_unit), methods=["POST"]
            ),
            Route("/si/v2/units/{tyshxydm}", c("units.get")(self.get_unit), methods=["GET"]),
            Route(
                "/si/v2/declarations/additions",
                c("declarations.addition", write=True)(self.declare_addition),
                methods=["POST"],
            ),
            Route(
                "/si/v2/declarations/removals",
                c("declarations.removal", write=True)(self.declare_removal),
                methods=["POST"],
            ),
            Route(
                "/si/v2/declarations/search",
                c("declarations.search")(self.search_declarations),
                methods=["POST"],
            ),
            Route(
                "/si/v2/declarations/{slh}",
                c("declarations.get")(self.get_declaration),
                methods=["GET"],
            ),
            Route(
                "/si/v2/declarations/{slh}/withdraw",
                c("declarations.withdraw", write=True)(self.withdraw),
                methods=["POST"],
            ),
            Route(
                "/si/v2/insured/search", c("insured.search")(self.search_insured), methods=["POST"]
            ),
            *self.sim.routes(),
        ]

        async def http_error(request: Request, exc: Exception) -> Response:
            status = exc.status_code if isinstance(exc, HTTPException) else 500
            message = "请求的资源不存在" if status == 404 else "不支持的请求"
            return envelope(str(status * 10), message, status=status)

        return Starlette(routes=routes, exception_handlers={HTTPException: http_error})

    # ------------------------------------------------------- operations

    async def create_unit(self, request: Request) -> Response:
        f = await self.body(request)
        tyshxydm = f.valid("tyshxydm", lambda v: not check_credit_code(v))
        dwmc = f.text("dwmc")
        xzqh = f.valid("xzqh", lambda v: bool(_DIVISION.fullmatch(v)))
        with self.store.transaction() as tx:
            row = tx.execute("SELECT dwbh FROM si_unit WHERE tyshxydm = ?", (tyshxydm,)).fetchone()
            if row is not None:
                return envelope("1001", "单位已参保登记", {"dwbh": row["dwbh"]})
            dwbh = f"SB{xzqh}{self.store.next_value(tx, 'unit'):08d}"
            tx.execute(
                "INSERT INTO si_unit (dwbh, tyshxydm, dwmc, xzqh) VALUES (?, ?, ?, ?)",
                (dwbh, tyshxydm, dwmc, xzqh),
            )
        mark_committed(request)
        return success({"dwbh": dwbh})

    async def get_unit(self, request: Request) -> Response:
        row = self.store.one(
            "SELECT dwbh, tyshxydm, dwmc, xzqh FROM si_unit WHERE tyshxydm = ?",
            (request.path_params["tyshxydm"],),
        )
        return envelope("1004", "单位不存在") if row is None else success(dict(row))

    async def declare_addition(self, request: Request) -> Response:
        f = await self.body(request)
        dwbh = f.text("dwbh")
        aac058, aac002 = f.person()
        values = {
            "aac003": f.text("aac003"),
            "aac004": f.code("aac004", mapping.GENDER_FROM_LEGACY),
            "csrq": f.date("csrq"),
            "cbrq": f.date("cbrq"),
            "jfgz": f.valid("jfgz", _amount),
            "xzlx": json.dumps(_insurance_types(f.body.get("xzlx"))),
        }
        with self.store.transaction() as tx:
            if not review.unit_exists(tx, dwbh):
                return envelope("1004", "单位不存在")
            if review.insured_here(tx, dwbh, aac058, aac002) or review.under_review(
                tx, dwbh, aac058, aac002, "ZY"
            ):
                return envelope("1002", "该人员已在本单位参保或有增员申报正在受理")
            slh = self.review.declare(tx, "ZY", dwbh, aac058, aac002, values)
        mark_committed(request)
        return success({"slh": slh, "zt": "01"})

    async def declare_removal(self, request: Request) -> Response:
        f = await self.body(request)
        dwbh = f.text("dwbh")
        aac058, aac002 = f.person()
        tbrq = f.date("tbrq")
        tbyy = f.code("tbyy", mapping.STOP_REASON_FROM_LEGACY)
        with self.store.transaction() as tx:
            if not review.unit_exists(tx, dwbh):
                return envelope("1004", "单位不存在")
            spell = review.insured_here(tx, dwbh, aac058, aac002)
            if spell is None or review.under_review(tx, dwbh, aac058, aac002, "JY"):
                return envelope("1003", "该人员未在本单位参保或有减员申报正在受理")
            if tbrq < spell["cbrq"]:
                raise Invalid("tbrq", "不能早于参保日期")
            slh = self.review.declare(tx, "JY", dwbh, aac058, aac002, {"tbrq": tbrq, "tbyy": tbyy})
        mark_committed(request)
        return success({"slh": slh, "zt": "01"})

    async def get_declaration(self, request: Request) -> Response:
        row = self.review.declaration(request.path_params["slh"])
        if row is None:
            return envelope("1005", "申报不存在")
        return success(self.encrypted(row))

    async def search_declarations(self, request: Request) -> Response:
        f = await self.body(request)
        dwbh = f.text("dwbh")
        aac058, aac002 = f.person()
        if self.store.one("SELECT 1 FROM si_unit WHERE dwbh = ?", (dwbh,)) is None:
            return envelope("1004", "单位不存在")
        rows = self.review.declarations_of(dwbh, aac058, aac002)
        return success({"rows": [self.encrypted(r) for r in rows]})

    async def withdraw(self, request: Request) -> Response:
        slh = request.path_params["slh"]
        with self.store.transaction() as tx:
            row = tx.execute("SELECT zt FROM si_declaration WHERE slh = ?", (slh,)).fetchone()
            if row is None:
                return envelope("1005", "申报不存在")
            if row["zt"] != "01":
                return envelope("1409", "申报已不在受理中，不能撤回")
            tx.execute("UPDATE si_declaration SET zt = '04' WHERE slh = ?", (slh,))
        mark_committed(request)
        return success({"zt": "04"})

    async def search_insured(self, request: Request) -> Response:
        f = await self.body(request)
        aac058, aac002 = f.person()
        rows = self.store.query(
            "SELECT dwbh, grbh, cbrq, tbrq, zt FROM si_insured "
            "WHERE aac058 = ? AND aac002 = ? ORDER BY cbrq DESC, seq DESC",
            (aac058, aac002),
        )
        return success({"rows": [dict(r) for r in rows]})


def _amount(value: str) -> bool:
    try:
        mapping.wage_from_legacy(value)
    except mapping.LegacyFormatError:
        return False
    return True


def _insurance_types(value: Any) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or any(not isinstance(v, str) or v not in mapping.INSURANCE_TYPES for v in value)
        or len(set(value)) != len(value)
    ):
        raise Invalid("xzlx", "应为不重复的险种代码列表")
    return sorted(value)


def create_app(*, data: str | None, seed: bool, settings: SocialInsuranceSettings) -> Starlette:
    """The stand-in's ASGI app; ``data`` is its SQLite file (None: in memory)."""
    standin = SocialInsuranceStandin(Store(data, review.SCHEMA), settings)
    if seed:
        review.load_seed(standin.store)
    app = standin.app()
    app.state.standin = standin
    return app
