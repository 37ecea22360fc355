"""A stand-in for the employment system (就业系统), faithful to ``legacy/employment.md``.

It serves the contract under ``/jy/api/v1`` (API key, the ``{code, msg, data}``
envelope, the business error codes, the state rules of registrations and
dismissals) and the shared ``/__sim/`` surface. Records live in SQLite, in a
file when one is given. Nothing it logs holds a request body or query string:
they carry ID numbers, mobiles and addresses.

Where the contract is silent, this module says how it reads it, next to the
rule concerned.
"""

from __future__ import annotations

import hmac
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from adapters.employment import mapping
from adapters.standin import seed as seed_data
from adapters.standin.sim import Simulator, mark_committed
from adapters.standin.store import Store
from gateway.domain.model import EmploymentRecord, EmploymentState
from gateway.settings import SystemSettings

log = logging.getLogger(__name__)

BASE = "/jy/api/v1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS unit (
    aab001 TEXT PRIMARY KEY,
    aab998 TEXT NOT NULL UNIQUE,
    aab004 TEXT NOT NULL,
    aab301 TEXT NOT NULL,
    aae004 TEXT,
    aae005 TEXT
);
CREATE TABLE IF NOT EXISTS person (
    aac147 TEXT PRIMARY KEY,
    aac001 TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS registration (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ywlsh TEXT NOT NULL UNIQUE,
    aab001 TEXT NOT NULL REFERENCES unit (aab001),
    aac001 TEXT NOT NULL,
    aac058 TEXT NOT NULL,
    aac147 TEXT NOT NULL,
    aac003 TEXT NOT NULL,
    aac004 TEXT NOT NULL,
    aac005 TEXT NOT NULL,
    aac011 TEXT NOT NULL,
    aac067 TEXT,
    aac010 TEXT,
    aae006 TEXT,
    aae030 TEXT NOT NULL,
    bcc03x TEXT,
    acc032 TEXT,
    aac048 TEXT,
    aca111 TEXT,
    aab301 TEXT,
    bcc03y TEXT,
    zt TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS registration_person ON registration (aac147, zt);
CREATE INDEX IF NOT EXISTS registration_unit ON registration (aab001, zt);
CREATE TABLE IF NOT EXISTS dismissal (
    ywlsh TEXT PRIMARY KEY,
    registration TEXT NOT NULL REFERENCES registration (ywlsh),
    bcc03x TEXT NOT NULL,
    bcc03y TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""

#: A record's elements, in the order the contract lists them.
RECORD_KEYS = (
    "ywlsh",
    "aab001",
    "aac001",
    "aac058",
    "aac147",
    "aac003",
    "aac004",
    "aac005",
    "aac011",
    "aac067",
    "aac010",
    "aae006",
    "aae030",
    "bcc03x",
    "acc032",
    "aac048",
    "aca111",
    "aab301",
    "bcc03y",
    "zt",
)
UNIT_KEYS = ("aab001", "aab998", "aab004", "aab301", "aae004", "aae005")

EMPLOYED, DISMISSED, REVOKED = "1", "2", "9"
QUERY_LIMIT = 50
PAGE_SIZE_LIMIT = 100
DEFAULT_PAGE_SIZE = 20
#: New unit numbers start above the seeded ones, which end in 101, 202, 303.
FIRST_UNIT_SEQ = 1001

# ------------------------------------------------------------ dictionary

LABELS = {
    "aab001": "单位编号",
    "aab998": "统一社会信用代码",
    "aab004": "单位名称",
    "aab301": "行政区划",
    "aae004": "联系人",
    "aae005": "联系电话",
    "aac058": "证件类型",
    "aac147": "证件号码",
    "aac003": "姓名",
    "aac004": "性别",
    "aac005": "民族",
    "aac011": "文化程度",
    "aac067": "移动电话",
    "aac010": "户籍地址",
    "aae006": "现居住址",
    "aae030": "就业日期",
    "bcc03x": "解聘日期",
    "bcc03y": "解聘原因",
    "acc032": "就业人员类别",
    "aac048": "用工形式",
    "aca111": "岗位工种",
    "ywlsh": "业务流水号",
    "aac147_list": "证件号码列表",
    "zt": "状态",
    "page": "页码",
    "size": "每页条数",
}
ID_TYPES = frozenset({"01", "04", "05", "06", "07", "08", "17"})
GENDERS = frozenset({"1", "2"})
# GB/T 3304: the 56 groups, 97 other, 98 foreign-born Chinese citizen.
ETHNICITIES = frozenset({f"{n:02d}" for n in range(1, 57)} | {"97", "98"})
EDUCATIONS = frozenset({"10", "20", "30", "40", "50", "60", "70", "80", "90", "97"})
PERSON_CATEGORIES = frozenset({"01", "02", "03", "04", "05", "06", "07", "08", "09", "99"})
FORMS = frozenset({"1", "2", "3", "9"})
REASONS = frozenset({"1", "2", "3", "4", "5", "9"})
STATES = frozenset({EMPLOYED, DISMISSED, REVOKED})

_CREDIT_CODE = re.compile(r"[0-9A-HJ-NP-RTUWXY]{18}")
_DIVISION = re.compile(r"\d{6}")
_MOBILE = re.compile(r"\d{11}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RESIDENT_ID = re.compile(r"\d{17}[\dX]")
#: The foreign permanent resident ID issued until 2017 (three letters, twelve digits),
#: still held: ``07`` names the document, not one of its forms.
_OLD_FOREIGN_PR = re.compile(r"[A-Z]{3}\d{12}")
_INTEGER = re.compile(r"\d{1,9}")

#: The contract's "Limits" table, in Unicode characters. Fields outside it are
#: codes, dates and this system's own numbers, which their formats bound.
LIMITS: Mapping[str, int] = {
    "aab004": 100,
    "aae004": 30,
    "aae005": 20,
    "aac067": 20,
    "aac003": 50,
    "aac010": 100,
    "aae006": 100,
    "aca111": 50,
    "aac147": 32,
}
#: U+0000 to U+001F and U+007F, refused in every text field (and lone
#: surrogates, which are no characters and which the store cannot encode).
_REFUSED = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


class BusinessError(Exception):
    """A business refusal: HTTP 200 with this code and Chinese message."""

    def __init__(self, code: str, msg: str, data: Any = None) -> None:
        super().__init__(code)
        self.code = code
        self.msg = msg
        self.data = data


def invalid(key: str, reason: str) -> BusinessError:
    """E1001 naming the element, as the contract asks."""
    return BusinessError("E1001", f"参数错误：{key}（{LABELS.get(key, key)}）{reason}")


# ---------------------------------------------------------- field checks


def _text(body: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise invalid(key, "不能为空")
        return None
    if not isinstance(value, str):
        raise invalid(key, "必须为字符串")
    most = LIMITS.get(key)
    if most is not None and len(value) > most:
        raise invalid(key, f"长度超过{most}个字符")
    if _REFUSED.search(value):
        raise invalid(key, "含有控制字符或无效字符")
    return value


def _required(body: Mapping[str, Any], key: str) -> str:
    value = _text(body, key)
    assert value is not None  # _text raised otherwise
    return value


def _matching(
    body: Mapping[str, Any], key: str, pattern: re.Pattern[str], *, required: bool = True
) -> str | None:
    value = _text(body, key, required=required)
    if value is not None and not pattern.fullmatch(value):
        raise invalid(key, "格式不正确")
    return value


def _code(body: Mapping[str, Any], key: str, allowed: frozenset[str]) -> str:
    value = _required(body, key)
    if value not in allowed:
        raise invalid(key, "不是字典中的代码")
    return value


def _date(body: Mapping[str, Any], key: str) -> str:
    value = _required(body, key)
    try:
        mapping.date_from_legacy(value, key)
    except mapping.MappingError:
        raise invalid(key, "不是有效的日期（YYYY-MM-DD）") from None
    return value


def _id_number(body: Mapping[str, Any], id_type: str) -> str:
    number = _required(body, "aac147")
    # The dictionary ties the two permit codes to the number's first letter, and
    # resident-style numbers to the 18-character form of GB 11643; a foreign permanent
    # resident ID (07) may be the old card's 15 characters too, which the contract
    # does not exclude.
    resident_style = _RESIDENT_ID.fullmatch(number) is not None
    if (
        (id_type == "04" and not number.startswith("H"))
        or (id_type == "05" and not number.startswith("M"))
        or (id_type in ("01", "17") and not resident_style)
        or (id_type == "07" and not (resident_style or _OLD_FOREIGN_PR.fullmatch(number)))
    ):
        raise invalid("aac147", "与证件类型不符")
    return number


def _int_param(params: Mapping[str, Any], key: str, default: int) -> int:
    value = params.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str) or not _INTEGER.fullmatch(value):
        raise invalid(key, "必须为正整数")
    return int(value)


# --------------------------------------------------------------- service


class EmploymentService:
    """The system's business rules over its store. Each method takes the
    request's fields and returns the answer's ``data`` or raises BusinessError."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- units

    def open_unit(self, body: Mapping[str, Any]) -> dict[str, Any]:
        unit = {
            "aab998": _matching(body, "aab998", _CREDIT_CODE),
            "aab004": _required(body, "aab004"),
            "aab301": _matching(body, "aab301", _DIVISION),
            "aae004": _text(body, "aae004", required=False),
            "aae005": _text(body, "aae005", required=False),
        }
        with self.store.transaction() as tx:
            existing = tx.execute(
                "SELECT aab001 FROM unit WHERE aab998 = ?", (unit["aab998"],)
            ).fetchone()
            if existing is not None:
                raise BusinessError("E2001", "单位已开户", {"aab001": existing["aab001"]})
            unit["aab001"] = self._new_unit_number(tx, str(unit["aab301"]))
            _insert(tx, "unit", unit)
        return {"aab001": unit["aab001"]}

    def get_unit(self, params: Mapping[str, Any]) -> dict[str, Any]:
        code = _matching(params, "aab998", _CREDIT_CODE)
        row = self.store.one("SELECT * FROM unit WHERE aab998 = ?", (code,))
        if row is None:
            raise BusinessError("E4004", "单位不存在")
        return {key: row[key] for key in UNIT_KEYS}

    @staticmethod
    def _new_unit_number(tx: sqlite3.Connection, division: str) -> str:
        # The documented style: the city's division code, then a serial.
        while True:
            seq = Store.next_value(tx, "aab001", start=FIRST_UNIT_SEQ)
            number = f"JY{division[:4]}00{seq:06d}"
            if tx.execute("SELECT 1 FROM unit WHERE aab001 = ?", (number,)).fetchone() is None:
                return number

    # ---- registrations and dismissals

    def register(self, body: Mapping[str, Any]) -> dict[str, Any]:
        id_type = _code(body, "aac058", ID_TYPES)
        record: dict[str, Any] = {
            "aab001": _required(body, "aab001"),
            "aac058": id_type,
            "aac147": _id_number(body, id_type),
            "aac003": _required(body, "aac003"),
            "aac004": _code(body, "aac004", GENDERS),
            "aac005": _code(body, "aac005", ETHNICITIES),
            "aac011": _code(body, "aac011", EDUCATIONS),
            # The unified form lets these three be blank, so the system must too.
            "aac067": _matching(body, "aac067", _MOBILE, required=False),
            "aac010": _text(body, "aac010", required=False),
            "aae006": _text(body, "aae006", required=False),
            "aae030": _date(body, "aae030"),
            "acc032": _code(body, "acc032", PERSON_CATEGORIES),
            "aac048": _code(body, "aac048", FORMS),
            "aca111": _required(body, "aca111"),
            "aab301": _matching(body, "aab301", _DIVISION),
            "bcc03x": None,
            "bcc03y": None,
            "zt": EMPLOYED,
        }
        with self.store.transaction() as tx:
            if (
                tx.execute("SELECT 1 FROM unit WHERE aab001 = ?", (record["aab001"],)).fetchone()
                is None
            ):
                raise BusinessError("E4004", "单位不存在")
            active = tx.execute(
                "SELECT aab001 FROM registration WHERE aac147 = ? AND zt = ?",
                (record["aac147"], EMPLOYED),
            ).fetchone()
            if active is not None:
                raise _already_registered(active["aab001"] == record["aab001"])
            record["aac001"] = self._person_number(tx, record["aac147"])
            record["ywlsh"] = self._serial(tx, "DJ")
            _insert(tx, "registration", record)
        return {"ywlsh": record["ywlsh"], "aac001": record["aac001"]}

    def dismiss(self, body: Mapping[str, Any]) -> dict[str, Any]:
        unit = _required(body, "aab001")
        id_type = _code(body, "aac058", ID_TYPES)
        number = _id_number(body, id_type)
        date = _date(body, "bcc03x")
        reason = _code(body, "bcc03y", REASONS)
        with self.store.transaction() as tx:
            row = tx.execute(
                "SELECT ywlsh FROM registration "
                "WHERE aab001 = ? AND aac058 = ? AND aac147 = ? AND zt = ?",
                (unit, id_type, number, EMPLOYED),
            ).fetchone()
            if row is None:
                raise BusinessError("E4001", "该人员在本单位无有效的就业登记")
            serial = self._serial(tx, "JP")
            tx.execute(
                "UPDATE registration SET zt = ?, bcc03x = ?, bcc03y = ? WHERE ywlsh = ?",
                (DISMISSED, date, reason, row["ywlsh"]),
            )
            tx.execute(
                "INSERT INTO dismissal (ywlsh, registration, bcc03x, bcc03y) VALUES (?, ?, ?, ?)",
                (serial, row["ywlsh"], date, reason),
            )
        return {"ywlsh": serial}

    def revoke(self, body: Mapping[str, Any]) -> dict[str, Any]:
        serial = _required(body, "ywlsh")
        with self.store.transaction() as tx:
            registration = tx.execute(
                "SELECT zt FROM registration WHERE ywlsh = ?", (serial,)
            ).fetchone()
            if registration is not None:
                if registration["zt"] == REVOKED:
                    raise BusinessError("E3003", "该业务已撤销")
                # A dismissed registration can be revoked too; its dismissal
                # date and reason stay on the record as history.
                tx.execute("UPDATE registration SET zt = ? WHERE ywlsh = ?", (REVOKED, serial))
                return {}
            dismissal = tx.execute(
                "SELECT d.registration, d.revoked, r.zt, r.aac147, r.aab001 FROM dismissal d "
                "JOIN registration r ON r.ywlsh = d.registration WHERE d.ywlsh = ?",
                (serial,),
            ).fetchone()
            if dismissal is None:
                raise BusinessError("E4002", "业务流水号不存在")
            if dismissal["revoked"] or dismissal["zt"] == REVOKED:
                # Revoking the dismissal of a revoked registration would bring
                # back a registration that was undone: it is spent already.
                raise BusinessError("E3003", "该业务已撤销")
            # Restoring the registration must not leave a person with two
            # undismissed registrations (hired elsewhere meanwhile).
            active = tx.execute(
                "SELECT aab001 FROM registration WHERE aac147 = ? AND zt = ?",
                (dismissal["aac147"], EMPLOYED),
            ).fetchone()
            if active is not None:
                raise _already_registered(active["aab001"] == dismissal["aab001"])
            tx.execute(
                "UPDATE registration SET zt = ?, bcc03x = NULL, bcc03y = NULL WHERE ywlsh = ?",
                (EMPLOYED, dismissal["registration"]),
            )
            tx.execute("UPDATE dismissal SET revoked = 1 WHERE ywlsh = ?", (serial,))
        return {}

    # ---- reads

    def query(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        numbers = body.get("aac147_list")
        if not isinstance(numbers, list):
            raise invalid("aac147_list", "必须为证件号码数组")
        if len(numbers) > QUERY_LIMIT:
            raise BusinessError("E1002", f"单次查询不能超过{QUERY_LIMIT}人")
        if not all(isinstance(n, str) and n for n in numbers):
            raise invalid("aac147_list", "含有无效的证件号码")
        unit = _text(body, "aab001", required=False)
        if not numbers:
            return []
        sql = "SELECT * FROM registration WHERE aac147 IN ({})".format(  # noqa: S608 - placeholders only
            ", ".join("?" * len(numbers))
        )
        params: list[Any] = list(numbers)
        if unit is not None:
            sql += " AND aab001 = ?"
            params.append(unit)
        return [_record(row) for row in self.store.query(sql + _NEWEST_FIRST, params)]

    def list_registrations(self, params: Mapping[str, Any]) -> dict[str, Any]:
        unit = _required(params, "aab001")
        state = _text(params, "zt", required=False)
        if state is not None and state not in STATES:
            raise invalid("zt", "不是字典中的代码")
        page = _int_param(params, "page", 1)
        size = _int_param(params, "size", DEFAULT_PAGE_SIZE)
        if page < 1:
            raise invalid("page", "从1开始")
        if size < 1:
            raise invalid("size", "至少为1")
        if size > PAGE_SIZE_LIMIT:
            raise BusinessError("E1002", f"每页条数不能超过{PAGE_SIZE_LIMIT}")
        where, args = "aab001 = ?", [unit]
        if state is not None:
            where += " AND zt = ?"
            args.append(state)
        count = self.store.one(f"SELECT COUNT(*) AS n FROM registration WHERE {where}", args)  # noqa: S608
        rows = self.store.query(
            f"SELECT * FROM registration WHERE {where}{_NEWEST_FIRST} LIMIT ? OFFSET ?",  # noqa: S608
            [*args, size, (page - 1) * size],
        )
        return {"total": count["n"] if count else 0, "rows": [_record(row) for row in rows]}

    # ---- numbers

    @staticmethod
    def _person_number(tx: sqlite3.Connection, id_number: str) -> str:
        """The person's ``aac001``: assigned once, the same for every registration."""
        row = tx.execute("SELECT aac001 FROM person WHERE aac147 = ?", (id_number,)).fetchone()
        if row is not None:
            return str(row["aac001"])
        number = f"37{Store.next_value(tx, 'aac001'):010d}"
        tx.execute("INSERT INTO person (aac147, aac001) VALUES (?, ?)", (id_number, number))
        return number

    @staticmethod
    def _serial(tx: sqlite3.Connection, kind: str) -> str:
        """A ``ywlsh``: one sequence for registrations (DJ) and dismissals (JP)."""
        return f"{kind}{Store.next_value(tx, 'ywlsh'):012d}"

    # ---- seed

    def load_seed(self) -> None:
        """The shared seed, put in through this system's mapping."""
        with self.store.transaction() as tx:
            for employer in seed_data.EMPLOYERS:
                unit = mapping.employer_to_legacy(employer.profile)
                unit["aab001"] = employer.employment_id
                _insert(tx, "unit", unit)
            for worker in seed_data.WORKERS:
                job = worker.employment
                if job is None:
                    continue
                employer = seed_data.EMPLOYERS[worker.employer]
                record = EmploymentRecord(
                    reference=self._serial(tx, "DJ"),
                    employer_id=employer.employment_id,
                    person=worker.person,
                    start_date=job.start_date,
                    state=EmploymentState.DISMISSED
                    if job.dismissed_on
                    else EmploymentState.EMPLOYED,
                    person_category=job.category,
                    employment_form=job.form,
                    post=job.post,
                    locality=employer.profile.division,
                    dismissal_date=job.dismissed_on,
                    dismissal_reason=job.dismissal_reason,
                    system_person_id=self._person_number(tx, worker.person.id_number),
                )
                row = mapping.record_to_legacy(record)
                _insert(tx, "registration", row)
                if job.dismissed_on:
                    tx.execute(
                        "INSERT INTO dismissal (ywlsh, registration, bcc03x, bcc03y) "
                        "VALUES (?, ?, ?, ?)",
                        (self._serial(tx, "JP"), row["ywlsh"], row["bcc03x"], row["bcc03y"]),
                    )


def _already_registered(same_unit: bool) -> BusinessError:
    """One undismissed registration per person, across all units."""
    if same_unit:
        return BusinessError("E3001", "该人员已在本单位办理就业登记")
    return BusinessError("E3002", "该人员在其他单位存在未解聘的就业登记")


# Newest first: the later start date, then the later registration.
_NEWEST_FIRST = " ORDER BY aae030 DESC, seq DESC"


def _insert(tx: sqlite3.Connection, table: str, row: Mapping[str, Any]) -> None:
    keys = list(row)
    tx.execute(
        f"INSERT INTO {table} ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})",  # noqa: S608 - our own names
        [row[k] for k in keys],
    )


def _record(row: sqlite3.Row) -> dict[str, Any]:
    return {key: row[key] for key in RECORD_KEYS}


# ------------------------------------------------------------- HTTP side


def _error_page(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    body = (
        '<html><head><meta charset="utf-8"><title>服务器内部错误</title></head>'
        f"<body><h1>服务器内部错误</h1><p>{detail}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=headers)


class EmploymentAnswers:
    """How this system looks when it is in trouble: HTML pages, never the envelope."""

    def infra_error(self) -> Response:
        return _error_page(500, "请稍后再试")

    def down(self) -> Response:
        return _error_page(503, "服务暂不可用")

    def maintenance(self, retry_after_s: int) -> Response:
        # The contract defines no maintenance answer; a 503 with Retry-After
        # and the system's usual error page is how its web server would say it.
        return _error_page(503, "系统维护中，请稍后再试", {"Retry-After": str(retry_after_s)})


def envelope(code: str, msg: str, data: Any = None, status: int = 200) -> JSONResponse:
    return JSONResponse({"code": code, "msg": msg, "data": data}, status_code=status)


Handler = Callable[[Mapping[str, Any]], Any]


def create_app(*, data: str | None, seed: bool, settings: SystemSettings) -> Starlette:
    """The stand-in as an ASGI app; ``settings.secret`` is the API key it expects."""
    store = Store(data, SCHEMA)
    service = EmploymentService(store)
    if seed and store.is_empty("unit"):
        service.load_seed()
    sim = Simulator(EmploymentAnswers())
    key = settings.secret.encode()

    def operation(name: str, handler: Handler, *, write: bool, from_body: bool) -> Any:
        @sim.operation(name, write=write)
        async def endpoint(request: Request) -> Response:
            given = request.headers.get("X-Api-Key", "").encode()
            if not given or not hmac.compare_digest(given, key):
                return envelope("E0401", "API密钥缺失或无效", status=401)
            try:
                if from_body:
                    try:
                        fields = await request.json()
                    except ValueError:
                        fields = None
                    if not isinstance(fields, dict):
                        raise BusinessError("E1001", "参数错误：请求报文必须为JSON对象")
                else:
                    fields = dict(request.query_params)
                result = handler(fields)
            except BusinessError as refusal:
                return envelope(refusal.code, refusal.msg, refusal.data)
            except Exception as exc:
                # The type only: a message or traceback could quote the request.
                log.error("%s failed: %s", name, type(exc).__name__)
                return sim.answers.infra_error()
            if write:
                mark_committed(request)
            return envelope("0", "成功", result)

        return endpoint

    def route(path: str, method: str, endpoint: Any) -> Route:
        return Route(BASE + path, endpoint, methods=[method])

    routes = [
        route(
            "/unit/open",
            "POST",
            operation("unit.open", service.open_unit, write=True, from_body=True),
        ),
        route(
            "/unit", "GET", operation("unit.get", service.get_unit, write=False, from_body=False)
        ),
        route(
            "/employment/register",
            "POST",
            operation("employment.register", service.register, write=True, from_body=True),
        ),
        route(
            "/employment/dismiss",
            "POST",
            operation("employment.dismiss", service.dismiss, write=True, from_body=True),
        ),
        route(
            "/employment/revoke",
            "POST",
            operation("employment.revoke", service.revoke, write=True, from_body=True),
        ),
        route(
            "/employment/query",
            "POST",
            operation("employment.query", service.query, write=False, from_body=True),
        ),
        route(
            "/employment/list",
            "GET",
            operation("employment.list", service.list_registrations, write=False, from_body=False),
        ),
        *sim.routes(),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    return Starlette(routes=routes, lifespan=lifespan)
