"""Stand-in for the unemployment registration system (失业登记), per its contract.

Serves ``shared/legacy/unemployment.md`` under ``/sy``: HTTP Basic, GBK JSON
both ways, ``{"errcode", "errmsg"}`` errors, ``YYYYMMDD`` dates, pages of at
most 20 and no batch look-up; plus the ``/__sim/`` surface of every stand-in.

What the contract leaves open, and how this stand-in reads it:

- A body that is not GBK, not JSON or not an object: HTTP 400, errcode 40000.
  A wrong or missing account: HTTP 401, errcode 40100, with a Basic challenge.
  A path or method the system does not serve: 404 / 405, errcode 40400 / 40500.
- Absent optional values (``sjhm``, ``hjdz``, ``jzdz``) are ``null`` in rows; a
  request may leave them out, send ``null`` or send ``""``.
- ``dwbh`` is ``SY`` + division + a four-digit serial; ``djbh`` is ``SYDJ`` +
  registration day + a six-digit serial; ``djrq`` is the day of registration.
- "One person" is one ``zjhm``. Lists are newest first (registration day, then
  order of registration). Listing an unknown unit gives an empty page.
- Text is held to the contract's "Limits" table in GBK bytes (``LIMITS``); a
  control character, or a character GBK cannot hold (sent as a JSON escape),
  is an invalid field (400, errcode 40001, naming it and the byte count).
- Infrastructure answers: ``error_rate`` gives HTTP 500 with errcode 50000 in
  the contract's error shape; ``down`` gives a bare HTTP 503 page from the
  front proxy (no ``Retry-After``); maintenance gives 503, ``Retry-After`` and
  errcode 50300.

Nothing here logs: query strings and bodies carry ID numbers.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import secrets
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.standin import seed as seed_data
from adapters.standin.sim import Simulator, mark_committed
from adapters.standin.store import Store
from adapters.standin.today import province_today
from adapters.unemployment import mapping
from gateway.domain.model import UnemploymentRegistration, UnemploymentState
from gateway.settings import SystemSettings

CONTENT_TYPE = "application/json; charset=GBK"
PAGE_LIMIT = 20

SCHEMA = """
CREATE TABLE IF NOT EXISTS sy_dw (
    dwbh TEXT PRIMARY KEY,
    tyshxydm TEXT NOT NULL UNIQUE,
    dwmc TEXT NOT NULL,
    xzqh TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sy_djxx (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    djbh TEXT NOT NULL UNIQUE,
    dwbh TEXT NOT NULL REFERENCES sy_dw (dwbh),
    zjlx TEXT NOT NULL,
    zjhm TEXT NOT NULL,
    xm TEXT NOT NULL,
    xb TEXT NOT NULL,
    mz TEXT NOT NULL,
    whcd TEXT NOT NULL,
    sjhm TEXT,
    hjdz TEXT,
    jzdz TEXT,
    jcldgxrq TEXT NOT NULL,
    syyy TEXT NOT NULL,
    djrq TEXT NOT NULL,
    zt TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sy_djxx_zjhm ON sy_djxx (zjhm);
CREATE INDEX IF NOT EXISTS sy_djxx_dwbh ON sy_djxx (dwbh);
"""


_ROW_COLUMNS = ", ".join(mapping.ROW_FIELDS)
_NEWEST_FIRST = "ORDER BY djrq DESC, seq DESC"


# ---------------------------------------------------------------- answers


def gbk_json(
    payload: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False).encode("gbk"),
        status_code=status_code,
        headers=headers,
        media_type=CONTENT_TYPE,
    )


def error(status_code: int, errcode: int, errmsg: str, **extra: Any) -> Response:
    return gbk_json({"errcode": errcode, "errmsg": errmsg, **extra}, status_code)


class Answers:
    """How the system answers when it is in trouble (for the Simulator)."""

    def infra_error(self) -> Response:
        return error(500, 50000, "系统内部错误，请稍后重试")

    def down(self) -> Response:
        return Response(
            b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
            status_code=503,
            media_type="text/html",
        )

    def maintenance(self, retry_after_s: int) -> Response:
        return gbk_json(
            {"errcode": 50300, "errmsg": "系统维护中，请稍后再试"},
            503,
            headers={"Retry-After": str(retry_after_s)},
        )


class Invalid(Exception):
    """A request field the system refuses (40001). Holds the field, never the value."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(field)
        self.field = field
        self.problem = problem

    def answer(self) -> Response:
        return error(400, 40001, f"字段 {self.field} 无效：{self.problem}")


class BadBody(Exception):
    """A body the system cannot read at all."""


# ------------------------------------------------------------- validation

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_DIVISION = re.compile(r"[1-9]\d{5}")
_RIC = re.compile(r"\d{17}[\dX]")
_OLD_PERMANENT_RESIDENT = re.compile(r"[A-Z]{3}\d{12}")
_DOCUMENT = re.compile(r"[A-Z0-9]{5,20}")
_MOBILE = re.compile(r"1[3-9]\d{9}")

#: The contract's "Limits" table, in bytes of GBK. Fields outside it are codes,
#: dates and this system's own numbers, which their formats bound.
LIMITS: Mapping[str, int] = {
    "dwmc": 200,
    "xm": 40,
    "hjdz": 200,
    "jzdz": 200,
    "sjhm": 20,
    "zjhm": 32,
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def valid_credit_code(code: str) -> bool:
    """GB 32100: 18 characters of its alphabet, the last a mod-31 check."""
    if len(code) != 18 or any(c not in _USCC_ALPHABET for c in code):
        return False
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(code, _USCC_WEIGHTS, strict=False))
    return _USCC_ALPHABET[(31 - total % 31) % 31] == code[17]


def valid_ric(number: str) -> bool:
    """GB 11643 shape and MOD 11-2 check (also residence and permanent-resident IDs)."""
    if not _RIC.fullmatch(number):
        return False
    total = sum(int(c) * w for c, w in zip(number, _RIC_WEIGHTS, strict=False))
    return "10X98765432"[total % 11] == number[17]


def _id_number_ok(zjlx: str, zjhm: str) -> bool:
    if zjlx == "SFZ":
        return valid_ric(zjhm) and not zjhm.startswith(("8", "9"))
    if zjlx == "JZZ":
        return valid_ric(zjhm) and zjhm.startswith(("81", "82", "83"))
    if zjlx == "YJZ":
        return (valid_ric(zjhm) and zjhm.startswith("9")) or bool(
            _OLD_PERMANENT_RESIDENT.fullmatch(zjhm)
        )
    if zjlx == "GATXZ":
        return bool(re.fullmatch(r"[HM]\d{8}(\d{2})?", zjhm))
    if zjlx == "TWTXZ":
        return bool(re.fullmatch(r"\d{8}(\d{2})?", zjhm))
    return bool(_DOCUMENT.fullmatch(zjhm))


class Fields:
    """Reads a request object field by field, raising ``Invalid`` on the first bad one."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def text(self, name: str, *, required: bool = True) -> str | None:
        value = self.body.get(name)
        if value is None or value == "":
            if required:
                raise Invalid(name, "必填")
            return None
        if not isinstance(value, str):
            raise Invalid(name, "应为字符串")
        if _CONTROL.search(value):
            raise Invalid(name, "含有控制字符")
        most = LIMITS.get(name)
        # body() has refused what GBK cannot encode.
        size = len(value.encode("gbk"))
        if most is not None and size > most:
            raise Invalid(name, f"长度{size}字节，超过{most}字节（GBK）")
        return value

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:  # text() refuses a missing required value; this narrows the type
            raise Invalid(name, "必填")
        return value

    def optional(self, name: str, ok: Callable[[str], bool]) -> str | None:
        value = self.text(name, required=False)
        if value is not None and not ok(value):
            raise Invalid(name, "格式或代码不正确")
        return value

    def valid(self, name: str, ok: Callable[[str], bool]) -> str:
        value = self.required(name)
        if not ok(value):
            raise Invalid(name, "格式不正确")
        return value

    def code(self, name: str, codes: Any) -> str:
        value = self.required(name)
        if value not in codes:
            raise Invalid(name, "不是有效代码")
        return value

    def date(self, name: str, *, not_after: dt.date) -> str:
        value = self.required(name)
        try:
            day = mapping.date_from_legacy(value)
        except ValueError:
            raise Invalid(name, "应为YYYYMMDD日期") from None
        if day > not_after:
            raise Invalid(name, "不能晚于登记日期")
        return value


# ------------------------------------------------------------------ the app


class UnemploymentStandin:
    def __init__(self, store: Store, settings: SystemSettings) -> None:
        self.store = store
        self.sim = Simulator(Answers())
        self._username = settings.username.encode()
        self._secret = settings.secret.encode()

    # --------------------------------------------------------- plumbing

    def authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return False
        # Compare both parts, always, so that timing does not tell which was wrong.
        user_ok = secrets.compare_digest(user, self._username)
        secret_ok = secrets.compare_digest(password, self._secret)
        return bool(sep) and user_ok and secret_ok

    @staticmethod
    def unauthorised() -> Response:
        response = error(401, 40100, "认证失败")
        response.headers["WWW-Authenticate"] = 'Basic realm="sy"'
        return response

    @staticmethod
    async def body(request: Request, *, optional: bool = False) -> dict[str, Any]:
        raw = await request.body()
        if optional and not raw.strip():
            return {}
        try:
            text = raw.decode("gbk")
        except UnicodeDecodeError:
            raise BadBody("请求体不是有效的GBK编码") from None
        try:
            # Not strict: a raw control character in a string is then an
            # invalid field (40001, named), as the contract says, not a bad body.
            body = json.loads(text, strict=False)
        except ValueError:
            raise BadBody("请求体不是有效的JSON") from None
        if not isinstance(body, dict):
            raise BadBody("请求体应为JSON对象")
        # JSON escapes can smuggle in what GBK cannot hold (\ud842\udfb7):
        # the system's columns are GBK, so such a value is an invalid field.
        for name, value in body.items():
            if isinstance(value, str):
                try:
                    value.encode("gbk")
                except UnicodeEncodeError:
                    raise Invalid(name, "含有GBK以外的字符") from None
        return body

    def contract(
        self, name: str, *, write: bool = False
    ) -> Callable[[Callable[[Request], Any]], Callable[[Request], Any]]:
        """A contract operation: counted and faulted by the Simulator, then
        authenticated, then its body's errors turned into the system's answers."""

        def decorate(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
            async def handle(request: Request) -> Response:
                if not self.authorised(request):
                    return self.unauthorised()
                try:
                    response: Response = await endpoint(request)
                except BadBody as exc:
                    return error(400, 40000, str(exc))
                except Invalid as exc:
                    return exc.answer()
                return response

            handle.__name__ = endpoint.__name__
            return self.sim.operation(name, write=write)(handle)

        return decorate

    def app(self) -> Starlette:
        by_person = self.contract("djxx.by_person")(self.registrations_of_person)
        by_unit = self.contract("djxx.by_unit")(self.registrations_of_unit)

        async def list_registrations(request: Request) -> Response:
            # One path, two operations: the query string says which.
            if "zjhm" in request.query_params:
                return await by_person(request)
            return await by_unit(request)

        routes = [
            Route(
                "/sy/dw", self.contract("dw.create", write=True)(self.create_unit), methods=["POST"]
            ),
            Route("/sy/dw/{tyshxydm}", self.contract("dw.get")(self.get_unit), methods=["GET"]),
            Route(
                "/sy/djxx",
                self.contract("djxx.create", write=True)(self.register),
                methods=["POST"],
            ),
            Route("/sy/djxx", list_registrations, methods=["GET"]),
            Route(
                "/sy/djxx/{djbh}/zx",
                self.contract("djxx.cancel", write=True)(self.cancel),
                methods=["POST"],
            ),
            *self.sim.routes(),
        ]

        async def http_error(request: Request, exc: Exception) -> Response:
            status = exc.status_code if isinstance(exc, HTTPException) else 500
            return error(
                status, status * 100, "请求的资源不存在" if status == 404 else "不支持的请求"
            )

        return Starlette(routes=routes, exception_handlers={HTTPException: http_error})

    # ------------------------------------------------------- operations

    async def create_unit(self, request: Request) -> Response:
        f = Fields(await self.body(request))
        tyshxydm = f.valid("tyshxydm", valid_credit_code)
        dwmc = f.required("dwmc")
        xzqh = f.valid("xzqh", lambda v: bool(_DIVISION.fullmatch(v)))
        with self.store.transaction() as tx:
            existing = tx.execute(
                "SELECT dwbh FROM sy_dw WHERE tyshxydm = ?", (tyshxydm,)
            ).fetchone()
            if existing is not None:
                return error(409, 40901, "单位已存在", dwbh=existing["dwbh"])
            dwbh = f"SY{xzqh}{self.store.next_value(tx, 'dw'):04d}"
            tx.execute(
                "INSERT INTO sy_dw (dwbh, tyshxydm, dwmc, xzqh) VALUES (?, ?, ?, ?)",
                (dwbh, tyshxydm, dwmc, xzqh),
            )
        mark_committed(request)
        return gbk_json({"dwbh": dwbh})

    async def get_unit(self, request: Request) -> Response:
        row = self.store.one(
            "SELECT dwbh, tyshxydm, dwmc, xzqh FROM sy_dw WHERE tyshxydm = ?",
            (request.path_params["tyshxydm"],),
        )
        if row is None:
            return error(404, 40401, "单位不存在")
        return gbk_json(dict(row))

    async def register(self, request: Request) -> Response:
        today = province_today()
        f = Fields(await self.body(request))
        values = {
            "dwbh": f.required("dwbh"),
            "zjlx": f.code("zjlx", mapping.ID_TYPE_FROM_LEGACY),
        }
        zjhm = f.required("zjhm")
        if not _id_number_ok(values["zjlx"], zjhm):
            raise Invalid("zjhm", "证件号码格式不正确")
        values |= {
            "zjhm": zjhm,
            "xm": f.required("xm"),
            "xb": f.code("xb", mapping.GENDER_FROM_LEGACY),
            "mz": f.code("mz", mapping.ETHNICITY_CODES),
            "whcd": f.code("whcd", mapping.EDUCATION_FROM_LEGACY),
        }
        optional = {
            "sjhm": f.optional("sjhm", lambda v: bool(_MOBILE.fullmatch(v))),
            "hjdz": f.text("hjdz", required=False),
            "jzdz": f.text("jzdz", required=False),
        }
        values |= {
            "jcldgxrq": f.date("jcldgxrq", not_after=today),
            "syyy": f.code("syyy", mapping.REASON_FROM_LEGACY),
        }
        with self.store.transaction() as tx:
            if (
                tx.execute("SELECT 1 FROM sy_dw WHERE dwbh = ?", (values["dwbh"],)).fetchone()
                is None
            ):
                return error(404, 40401, "单位不存在")
            active = tx.execute(
                "SELECT 1 FROM sy_djxx WHERE zjhm = ? AND zt = '1'", (zjhm,)
            ).fetchone()
            if active is not None:
                return error(409, 40902, "该人员已有有效的失业登记")
            djrq = mapping.date_to_legacy(today)
            djbh = self._insert(tx, {**values, **optional, "djrq": djrq, "zt": "1"})
        mark_committed(request)
        return gbk_json({"djbh": djbh, "djrq": djrq})

    async def cancel(self, request: Request) -> Response:
        await self.body(request, optional=True)
        djbh = request.path_params["djbh"]
        with self.store.transaction() as tx:
            row = tx.execute("SELECT zt FROM sy_djxx WHERE djbh = ?", (djbh,)).fetchone()
            if row is None:
                return error(404, 40402, "登记信息不存在")
            if row["zt"] == "2":
                return error(409, 40903, "该登记已注销")
            tx.execute("UPDATE sy_djxx SET zt = '2' WHERE djbh = ?", (djbh,))
        mark_committed(request)
        return gbk_json({})

    async def registrations_of_person(self, request: Request) -> Response:
        zjhm = request.query_params["zjhm"]
        if not zjhm:
            raise Invalid("zjhm", "必填")
        rows = self.store.query(
            f"SELECT {_ROW_COLUMNS} FROM sy_djxx WHERE zjhm = ? {_NEWEST_FIRST}",  # noqa: S608
            (zjhm,),
        )
        return gbk_json({"rows": [dict(r) for r in rows]})

    async def registrations_of_unit(self, request: Request) -> Response:
        params = request.query_params
        dwbh = params.get("dwbh", "")
        if not dwbh:
            raise Invalid("dwbh", "必填")
        page_no = _positive(params.get("pageNo", "1"), "pageNo")
        page_size = _positive(params.get("pageSize", str(PAGE_LIMIT)), "pageSize")
        if page_size > PAGE_LIMIT:
            return error(400, 40003, f"每页条数不能超过{PAGE_LIMIT}")
        total_row = self.store.one("SELECT COUNT(*) AS n FROM sy_djxx WHERE dwbh = ?", (dwbh,))
        rows = self.store.query(
            f"SELECT {_ROW_COLUMNS} FROM sy_djxx WHERE dwbh = ? {_NEWEST_FIRST} "  # noqa: S608
            "LIMIT ? OFFSET ?",
            (dwbh, page_size, (page_no - 1) * page_size),
        )
        return gbk_json(
            {"total": total_row["n"] if total_row else 0, "rows": [dict(r) for r in rows]}
        )

    # ------------------------------------------------------------- store

    def _insert(self, tx: sqlite3.Connection, row: dict[str, Any]) -> str:
        djbh = row.get("djbh") or f"SYDJ{row['djrq']}{self.store.next_value(tx, 'djxx'):06d}"
        row = {**row, "djbh": djbh}
        tx.execute(
            f"INSERT INTO sy_djxx ({_ROW_COLUMNS}) "  # noqa: S608 - our own column names
            f"VALUES ({', '.join('?' for _ in mapping.ROW_FIELDS)})",
            [row.get(name) for name in mapping.ROW_FIELDS],
        )
        return str(djbh)

    def load_seed(self) -> None:
        """Put the shared seed in, through the unified → legacy mapping, once."""
        if not self.store.is_empty("sy_dw"):
            return
        with self.store.transaction() as tx:
            for employer in seed_data.EMPLOYERS:
                unit = mapping.employer_to_legacy(employer.profile)
                tx.execute(
                    "INSERT INTO sy_dw (dwbh, tyshxydm, dwmc, xzqh) VALUES (?, ?, ?, ?)",
                    (employer.unemployment_id, unit["tyshxydm"], unit["dwmc"], unit["xzqh"]),
                )
            # Continue the unit serial after the seeded ones (SY<division><serial>).
            last = max(int(e.unemployment_id[-4:]) for e in seed_data.EMPLOYERS)
            self.store.advance(tx, "dw", last)
            for worker in seed_data.WORKERS:
                if worker.unemployment is None:
                    continue
                u = worker.unemployment
                record = UnemploymentRegistration(
                    reference="",
                    employer_id=seed_data.EMPLOYERS[worker.employer].unemployment_id,
                    person=worker.person,
                    relation_ended_on=u.relation_ended_on,
                    reason=u.reason,
                    registered_on=u.registered_on,
                    state=UnemploymentState.REGISTERED,
                )
                self._insert(tx, mapping.record_to_legacy(record))


def _positive(value: str, name: str) -> int:
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise Invalid(name, "应为正整数")
    return int(value)


def create_app(*, data: str | None, seed: bool, settings: SystemSettings) -> Starlette:
    """The stand-in's ASGI app; ``data`` is its SQLite file (None: in memory)."""
    standin = UnemploymentStandin(Store(data, SCHEMA), settings)
    if seed:
        standin.load_seed()
    app = standin.app()
    app.state.standin = standin
    return app
