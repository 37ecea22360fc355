"""The stand-in's records and rules: employers, contract records and filings.

Everything here is in the labour system's own terms (legacy names and codes),
since this is the system, not the gateway. A record is one labour contract as
filed; a *filing* is one act with its own number: a new contract (新订), a
renewal (续签, a new record superseding the one in force) or an ending
(解除 / 终止, which ends the record in force in place). Revoking a filing undoes
exactly that act.

Refusals are ``FilingFault``; the SOAP layer turns them into faults. Their
messages name fields, never the values sent, so that nothing personal is
echoed or logged.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from adapters.labor import mapping, soap
from adapters.standin.store import Store

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")

SCHEMA = """
CREATE TABLE IF NOT EXISTS employer (
    employer_code TEXT PRIMARY KEY,
    credit_code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    region TEXT NOT NULL,
    contact TEXT,
    phone TEXT
);
CREATE TABLE IF NOT EXISTS contract_record (
    filing_no TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    employer_code TEXT NOT NULL,
    id_number TEXT NOT NULL,
    worker TEXT NOT NULL,
    contract TEXT NOT NULL,
    status TEXT NOT NULL,
    end_kind TEXT,
    end_reason TEXT,
    end_date TEXT,
    previous_no TEXT,
    filed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contract_record_person ON contract_record (id_number, employer_code);
CREATE TABLE IF NOT EXISTS filing (
    filing_no TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    record_no TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""

NEW, RENEWAL, ENDING = "XD", "XQ", "JZ"

ZX, XQ, CX = "ZX", "XQ", "CX"

# Fault codes carried in the detail's <code>.
E_REQUIRED = "LD1001"
E_FORMAT = "LD1002"
E_CODE = "LD1003"
E_DATES = "LD1004"
E_LIST = "LD1005"
E_EMPLOYER_EXISTS = "LD2001"
E_CONTRACT_IN_FORCE = "LD2002"
E_NO_EMPLOYER = "LD3001"
E_NO_CONTRACT = "LD3002"
E_NO_FILING = "LD3003"
E_NOT_IN_FORCE = "LD4001"
E_REVOKED = "LD4002"
E_SUPERSEDED = "LD4003"
E_AUTH = "LD9001"
E_SERVER = "LD9999"

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RIC = re.compile(r"\d{17}[\dX]")
_OTHER_ID = re.compile(r"[0-9A-Za-z]{5,20}")
_OLD_PERMANENT_ID = re.compile(r"[A-Z]{3}\d{12}")
_REGION = re.compile(r"\d{6}")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_NATIONS = frozenset({f"{n:02d}" for n in range(1, 57)} | {"97", "98"})
_CONTRACT_TYPES = frozenset(mapping.CONTRACT_TYPES.values())
_FILING_CATEGORIES = frozenset(mapping.FILING_CATEGORIES.values())
_FORMS = frozenset(mapping.EMPLOYMENT_FORMS.values())
_ID_TYPES = frozenset(mapping.ID_TYPES.values())
#: The contract's "Limits" table (the WSDL's ``xs:maxLength``), in characters, by
#: element path. Other elements are codes, dates and this system's own numbers,
#: which their formats bound, or the employer's contact and phone, unpublished.
LIMITS: Mapping[str, int] = {
    "name": 200,  # RegisterEmployer: the employer's name
    "Worker/name": 40,
    "Worker/hukouAddress": 200,
    "Worker/address": 200,
    "Contract/post": 60,
    "Worker/mobile": 20,
    "Worker/idNumber": 32,
    "idNumber": 32,  # RenewContract, TerminateContract: the worker's, as above
}
# Control characters, tab, line feed and carriage return included (the
# contract refuses those three too), and the mark soap.mark_unparsable leaves
# where one XML 1.0 cannot carry at all was sent.
_REFUSED = re.compile(f"[\\x00-\\x1f\\x7f{soap.UNPARSABLE}]")
_FIELD_LABELS = {
    "creditCode": "统一社会信用代码",
    "name": "名称",
    "region": "属地",
    "contact": "联系人",
    "phone": "联系电话",
    "employerCode": "单位编号",
    "idType": "证件类型",
    "idNumber": "证件号码",
    "idNumbers": "证件号码列表",
    "gender": "性别",
    "nation": "民族",
    "education": "文化程度",
    "mobile": "移动电话",
    "hukouAddress": "户籍地址",
    "address": "现居住址",
    "contractType": "合同类型",
    "startDate": "开始日期",
    "endDate": "终止日期",
    "filingCategory": "备案人员类别",
    "employmentForm": "用工形式",
    "post": "岗位",
    "endKind": "解除终止类型",
    "reasonCode": "解除终止原因",
    "filingNo": "备案编号",
    "Worker": "劳动者信息",
    "Contract": "合同信息",
}


class FilingFault(Exception):
    """A refusal: ``kind`` is the faultcode (``Client.Validation`` …)."""

    def __init__(
        self,
        kind: str,
        code: str,
        message: str,
        *,
        field: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.field = field
        self.extra = dict(extra or {})

    def detail(self) -> dict[str, str]:
        result = {"code": self.code, "message": self.message}
        if self.field:
            result["field"] = self.field
        result.update(self.extra)
        return result


def invalid(
    field: str, code: str = E_FORMAT, problem: str = "格式不正确", gloss: str = "invalid value"
) -> FilingFault:
    label = _FIELD_LABELS.get(field.rsplit("/", 1)[-1], field)
    # The message is for people; the field's name is in the detail's <field>.
    return FilingFault(soap.VALIDATION, code, f"{label}{problem} ({gloss})", field=field)


def required(field: str) -> FilingFault:
    return invalid(field, E_REQUIRED, "不能为空", "required")


def valid_credit_code(value: str) -> bool:
    if len(value) != 18 or any(c not in _USCC_ALPHABET for c in value):
        return False
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(value[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total) % 31] == value[17]


def valid_ric(value: str) -> bool:
    """GB 11643 form and check character (also used by residence/permanent IDs)."""
    if not _RIC.fullmatch(value):
        return False
    total = sum(int(c) * w for c, w in zip(value[:17], _RIC_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == value[17]


def _text(
    values: Mapping[str, Any], name: str, path: str, *, need: bool, most: int | None = None
) -> str | None:
    """A text element; ``most`` defaults to the contract's limit for it, if any."""
    value = values.get(name)
    if isinstance(value, str) and _REFUSED.search(value):
        raise invalid(path + name, E_FORMAT, "含有控制字符", "control character")
    if value is None or (isinstance(value, str) and not value.strip()):
        if need:
            raise required(path + name)
        return None
    most = most if most is not None else LIMITS.get(path + name)
    if not isinstance(value, str):
        raise invalid(path + name)
    if most is not None and len(value) > most:
        raise invalid(path + name, E_FORMAT, f"超过{most}个字符", f"longer than {most} characters")
    return value.strip()


def _code(values: Mapping[str, Any], name: str, path: str, allowed: Iterable[str]) -> str:
    value = _text(values, name, path, need=True, most=8)
    assert value is not None
    if value not in allowed:
        raise invalid(path + name, E_CODE, "代码不在代码表中")
    return value


def _date(values: Mapping[str, Any], name: str, path: str, *, need: bool) -> dt.date | None:
    value = values.get(name)
    if value is None:
        if need:
            raise required(path + name)
        return None
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise invalid(path + name)
    return value


def check_employer(values: Mapping[str, Any]) -> dict[str, Any]:
    credit_code = _text(values, "creditCode", "", need=True, most=18)
    if credit_code is None or not valid_credit_code(credit_code):
        raise invalid("creditCode")
    region = _text(values, "region", "", need=True, most=6)
    if region is None or not _REGION.fullmatch(region):
        raise invalid("region")
    return {
        "creditCode": credit_code,
        "name": _text(values, "name", "", need=True),
        "region": region,
        "contact": _text(values, "contact", "", need=False),
        "phone": _text(values, "phone", "", need=False),
    }


def check_id_number(id_type: str, value: Any, field: str) -> str:
    path, _, name = field.rpartition("/")
    value = _text({name: value}, name, f"{path}/" if path else "", need=True)
    assert value is not None  # _text refused a missing one
    value = value.strip().upper() if id_type in ("A", "E", "F") else value.strip()
    if id_type in ("A", "E"):
        ok = valid_ric(value)
    elif id_type == "F":
        ok = valid_ric(value) or bool(_OLD_PERMANENT_ID.fullmatch(value))
    else:
        ok = bool(_OTHER_ID.fullmatch(value))
    if not ok:
        raise invalid(field)
    return value


def check_worker(worker: Mapping[str, Any] | None) -> dict[str, Any]:
    if worker is None:
        raise required("Worker")
    p = "Worker/"
    id_type = _code(worker, "idType", p, _ID_TYPES)
    mobile = _text(worker, "mobile", p, need=False)
    if mobile is not None and not _MOBILE.fullmatch(mobile):
        raise invalid(p + "mobile")
    return {
        "idType": id_type,
        "idNumber": check_id_number(id_type, worker.get("idNumber"), p + "idNumber"),
        "name": _text(worker, "name", p, need=True),
        "gender": _code(worker, "gender", p, ("1", "2")),
        "nation": _code(worker, "nation", p, _NATIONS),
        "education": _code(worker, "education", p, mapping.LEGACY_EDUCATION_CODES),
        "mobile": mobile,
        "hukouAddress": _text(worker, "hukouAddress", p, need=False),
        "address": _text(worker, "address", p, need=False),
    }


def check_contract(contract: Mapping[str, Any] | None) -> dict[str, Any]:
    if contract is None:
        raise required("Contract")
    p = "Contract/"
    contract_type = _code(contract, "contractType", p, _CONTRACT_TYPES)
    start = _date(contract, "startDate", p, need=True)
    end = _date(contract, "endDate", p, need=contract_type == "10")
    if contract_type == "20" and end is not None:
        raise invalid(p + "endDate", E_DATES, "无固定期限合同不应有终止日期")
    if start is not None and end is not None and end <= start:
        raise invalid(p + "endDate", E_DATES, "应晚于开始日期")
    region = _text(contract, "region", p, need=True, most=6)
    if region is None or not _REGION.fullmatch(region):
        raise invalid(p + "region")
    return {
        "contractType": contract_type,
        "startDate": start,
        "endDate": end,
        "filingCategory": _code(contract, "filingCategory", p, _FILING_CATEGORIES),
        "employmentForm": _code(contract, "employmentForm", p, _FORMS),
        "post": _text(contract, "post", p, need=True),
        "region": region,
    }


def _dump(values: Mapping[str, Any]) -> str:
    return json.dumps(
        {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in values.items()},
        ensure_ascii=False,
    )


def _load_contract(text: str) -> dict[str, Any]:
    values: dict[str, Any] = json.loads(text)
    for name in ("startDate", "endDate"):
        if values.get(name):
            values[name] = dt.date.fromisoformat(values[name])
    return values


class FilingRegistry:
    """The labour system's records, in a ``Store``."""

    def __init__(self, store: Store, *, clock: Any = None) -> None:
        self.store = store
        self._now = clock or (lambda: dt.datetime.now(CHINA).replace(microsecond=0))

    # ------------------------------------------------------------ employers

    def register_employer(self, values: Mapping[str, Any]) -> str:
        employer = check_employer(values)
        with self.store.transaction() as tx:
            existing = tx.execute(
                "SELECT employer_code FROM employer WHERE credit_code = ?",
                (employer["creditCode"],),
            ).fetchone()
            if existing:
                raise FilingFault(
                    soap.DUPLICATE,
                    E_EMPLOYER_EXISTS,
                    "该统一社会信用代码的单位已登记 (employer already registered)",
                    extra={"employerCode": existing[0]},
                )
            code = f"LD{employer['region']}{Store.next_value(tx, 'employer'):06d}"
            self._insert_employer(tx, code, employer)
        return code

    @staticmethod
    def _insert_employer(tx: sqlite3.Connection, code: str, employer: Mapping[str, Any]) -> None:
        tx.execute(
            "INSERT INTO employer (employer_code, credit_code, name, region, contact, phone) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                code,
                employer["creditCode"],
                employer["name"],
                employer["region"],
                employer.get("contact"),
                employer.get("phone"),
            ),
        )

    def get_employer(self, credit_code: str | None) -> dict[str, Any]:
        row = self.store.one(
            "SELECT * FROM employer WHERE credit_code = ?", ((credit_code or "").strip(),)
        )
        if row is None:
            raise FilingFault(soap.NOT_FOUND, E_NO_EMPLOYER, "单位未登记 (employer not found)")
        return {
            "employerCode": row["employer_code"],
            "creditCode": row["credit_code"],
            "name": row["name"],
            "region": row["region"],
            "contact": row["contact"],
            "phone": row["phone"],
        }

    @staticmethod
    def _require_employer(tx: sqlite3.Connection, employer_code: Any) -> str:
        if not isinstance(employer_code, str) or not employer_code.strip():
            raise required("employerCode")
        code = employer_code.strip()
        if tx.execute("SELECT 1 FROM employer WHERE employer_code = ?", (code,)).fetchone() is None:
            raise FilingFault(soap.NOT_FOUND, E_NO_EMPLOYER, "单位未登记 (employer not found)")
        return code

    # ------------------------------------------------------------ contracts

    def _next_filing_no(
        self, tx: sqlite3.Connection, region: str, on: dt.date | None = None
    ) -> str:
        # BA + filing locality + date + a serial unique over the whole system.
        day = on or self._now().date()
        return f"BA{region}{day:%Y%m%d}{Store.next_value(tx, 'filing'):07d}"

    @staticmethod
    def _in_force(tx: sqlite3.Connection, employer_code: str, id_number: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = tx.execute(
            "SELECT * FROM contract_record WHERE employer_code = ? AND id_number = ? "
            "AND status = ?",
            (employer_code, id_number, ZX),
        ).fetchone()
        return row

    def _insert_record(
        self,
        tx: sqlite3.Connection,
        filing_no: str,
        employer_code: str,
        worker: Mapping[str, Any],
        contract: Mapping[str, Any],
        *,
        status: str = ZX,
        previous_no: str | None = None,
        filed_at: dt.datetime | None = None,
        ending: tuple[str, str, dt.date] | None = None,
    ) -> None:
        tx.execute(
            "INSERT INTO contract_record (filing_no, seq, employer_code, id_number, worker, "
            "contract, status, end_kind, end_reason, end_date, previous_no, filed_at) "
            "VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM contract_record), "
            "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                filing_no,
                employer_code,
                worker["idNumber"],
                _dump(worker),
                _dump(contract),
                status,
                ending[0] if ending else None,
                ending[1] if ending else None,
                ending[2].isoformat() if ending else None,
                previous_no,
                (filed_at or self._now()).isoformat(),
            ),
        )

    def file_contract(
        self, employer_code: Any, worker: Mapping[str, Any] | None, contract: Any
    ) -> str:
        checked_worker = check_worker(worker)
        checked_contract = check_contract(contract)
        with self.store.transaction() as tx:
            code = self._require_employer(tx, employer_code)
            if self._in_force(tx, code, checked_worker["idNumber"]):
                raise FilingFault(
                    soap.DUPLICATE,
                    E_CONTRACT_IN_FORCE,
                    "该劳动者与本单位已有在执行的劳动合同 (a contract in force exists)",
                )
            filing_no = self._next_filing_no(tx, checked_contract["region"])
            self._insert_record(tx, filing_no, code, checked_worker, checked_contract)
            tx.execute(
                "INSERT INTO filing (filing_no, kind, record_no) VALUES (?, ?, ?)",
                (filing_no, NEW, filing_no),
            )
        return filing_no

    def renew_contract(
        self, employer_code: Any, id_number: Any, contract: Mapping[str, Any] | None
    ) -> str:
        checked_contract = check_contract(contract)
        id_number = _text({"idNumber": id_number}, "idNumber", "", need=True)
        assert id_number is not None  # _text refused a missing one
        with self.store.transaction() as tx:
            code = self._require_employer(tx, employer_code)
            current = self._in_force(tx, code, id_number)
            if current is None:
                raise FilingFault(
                    soap.NOT_FOUND, E_NO_CONTRACT, "没有在执行的劳动合同 (no contract in force)"
                )
            if checked_contract["startDate"] <= dt.date.fromisoformat(
                json.loads(current["contract"])["startDate"]
            ):
                raise invalid("Contract/startDate", E_DATES, "应晚于原合同开始日期")
            filing_no = self._next_filing_no(tx, checked_contract["region"])
            tx.execute(
                "UPDATE contract_record SET status = ? WHERE filing_no = ?",
                (XQ, current["filing_no"]),
            )
            self._insert_record(
                tx,
                filing_no,
                code,
                json.loads(current["worker"]),
                checked_contract,
                previous_no=current["filing_no"],
            )
            tx.execute(
                "INSERT INTO filing (filing_no, kind, record_no) VALUES (?, ?, ?)",
                (filing_no, RENEWAL, filing_no),
            )
        return filing_no

    def terminate_contract(
        self,
        employer_code: Any,
        id_number: Any,
        end_kind: Any,
        reason_code: Any,
        end_date: Any,
    ) -> str:
        values = {"endKind": end_kind, "reasonCode": reason_code, "endDate": end_date}
        kind = _code(values, "endKind", "", (mapping.RESCISSION, mapping.TERMINATION))
        reason = _code(values, "reasonCode", "", mapping.END_ARTICLES)
        if mapping.END_ARTICLES[reason] != kind:
            raise invalid("reasonCode", E_CODE, "与解除终止类型不符")
        date = _date(values, "endDate", "", need=True)
        assert date is not None
        id_number = _text({"idNumber": id_number}, "idNumber", "", need=True)
        assert id_number is not None  # _text refused a missing one
        with self.store.transaction() as tx:
            code = self._require_employer(tx, employer_code)
            current = self._in_force(tx, code, id_number)
            if current is None:
                any_record = tx.execute(
                    "SELECT 1 FROM contract_record WHERE employer_code = ? AND id_number = ?",
                    (code, id_number),
                ).fetchone()
                if any_record is None:
                    raise FilingFault(
                        soap.NOT_FOUND, E_NO_CONTRACT, "没有该劳动者的劳动合同 (no contract)"
                    )
                raise FilingFault(
                    soap.STATE, E_NOT_IN_FORCE, "劳动合同不在执行状态 (no contract in force)"
                )
            contract = _load_contract(current["contract"])
            if date < contract["startDate"]:
                raise invalid("endDate", E_DATES, "不应早于合同开始日期")
            filing_no = self._next_filing_no(tx, contract["region"])
            tx.execute(
                "UPDATE contract_record SET status = ?, end_kind = ?, end_reason = ?, "
                "end_date = ? WHERE filing_no = ?",
                (kind, kind, reason, date.isoformat(), current["filing_no"]),
            )
            tx.execute(
                "INSERT INTO filing (filing_no, kind, record_no) VALUES (?, ?, ?)",
                (filing_no, ENDING, current["filing_no"]),
            )
        return filing_no

    def revoke_filing(self, filing_no: Any) -> None:
        if not isinstance(filing_no, str) or not filing_no.strip():
            raise required("filingNo")
        with self.store.transaction() as tx:
            filing = tx.execute(
                "SELECT * FROM filing WHERE filing_no = ?", (filing_no.strip(),)
            ).fetchone()
            if filing is None:
                raise FilingFault(soap.NOT_FOUND, E_NO_FILING, "备案不存在 (filing not found)")
            if filing["revoked"]:
                raise FilingFault(soap.STATE, E_REVOKED, "备案已撤销 (filing already revoked)")
            record = tx.execute(
                "SELECT * FROM contract_record WHERE filing_no = ?", (filing["record_no"],)
            ).fetchone()
            if filing["kind"] == ENDING:
                self._revoke_ending(tx, record)
            else:
                self._revoke_record(tx, record)
            tx.execute("UPDATE filing SET revoked = 1 WHERE filing_no = ?", (filing["filing_no"],))

    def _revoke_record(self, tx: sqlite3.Connection, record: sqlite3.Row) -> None:
        # Only the latest act on a contract can be undone: a record since renewed
        # or ended must first have that renewal or ending revoked.
        if record["status"] != ZX:
            raise FilingFault(
                soap.STATE,
                E_SUPERSEDED,
                "该备案之后已有续签或解除终止备案，须先撤销后者 (a later filing exists)",
            )
        tx.execute(
            "UPDATE contract_record SET status = ? WHERE filing_no = ?", (CX, record["filing_no"])
        )
        if record["previous_no"]:
            tx.execute(
                "UPDATE contract_record SET status = ? WHERE filing_no = ? AND status = ?",
                (ZX, record["previous_no"], XQ),
            )

    def _revoke_ending(self, tx: sqlite3.Connection, record: sqlite3.Row) -> None:
        if record["status"] not in (mapping.RESCISSION, mapping.TERMINATION):
            raise FilingFault(
                soap.STATE, E_NOT_IN_FORCE, "劳动合同不在解除终止状态 (contract not ended)"
            )
        if self._in_force(tx, record["employer_code"], record["id_number"]):
            raise FilingFault(
                soap.STATE,
                E_CONTRACT_IN_FORCE,
                "该劳动者与本单位已有在执行的劳动合同 (another contract is in force)",
            )
        tx.execute(
            "UPDATE contract_record SET status = ?, end_kind = NULL, end_reason = NULL, "
            "end_date = NULL WHERE filing_no = ?",
            (ZX, record["filing_no"]),
        )

    def query_contracts(
        self, id_numbers: Sequence[Any] | None, employer_code: Any
    ) -> list[dict[str, Any]]:
        numbers = [n.strip() for n in (id_numbers or []) if isinstance(n, str) and n.strip()]
        if not numbers:
            raise required("idNumbers")
        if len(numbers) > soap.QUERY_LIMIT:
            raise invalid("idNumbers", E_LIST, f"最多{soap.QUERY_LIMIT}个")
        marks = ",".join("?" * len(numbers))
        sql = f"SELECT * FROM contract_record WHERE id_number IN ({marks})"  # noqa: S608 - placeholders only
        params: list[Any] = list(numbers)
        if isinstance(employer_code, str) and employer_code.strip():
            sql += " AND employer_code = ?"
            params.append(employer_code.strip())
        rows = self.store.query(sql + " ORDER BY seq", params)
        return [self._record(row) for row in rows]

    @staticmethod
    def _record(row: sqlite3.Row) -> dict[str, Any]:
        return {
            "filingNo": row["filing_no"],
            "employerCode": row["employer_code"],
            "Worker": json.loads(row["worker"]),
            "Contract": _load_contract(row["contract"]),
            "status": row["status"],
            "endKind": row["end_kind"],
            "endReason": row["end_reason"],
            "endDate": dt.date.fromisoformat(row["end_date"]) if row["end_date"] else None,
            "filedAt": dt.datetime.fromisoformat(row["filed_at"]),
        }

    # ----------------------------------------------------------------- seed

    def load_seed(
        self,
        employers: Iterable[tuple[str, Mapping[str, Any]]],
        records: Iterable[Mapping[str, Any]],
    ) -> None:
        """Put seed employers (with their codes) and contract records into an empty store.

        Records come oldest first per person; a record following a superseded
        one is taken as its renewal, so that revoking it behaves as it would
        had it been filed through the service.
        """
        with self.store.transaction() as tx:
            highest = 0
            for code, employer in employers:
                self._insert_employer(tx, code, check_employer(employer))
                highest = max(highest, int(code[-6:]))
            for _ in range(highest):
                Store.next_value(tx, "employer")
            previous: dict[tuple[str, str], str] = {}
            for record in records:
                worker = check_worker(record["Worker"])
                contract = check_contract(record["Contract"])
                key = (record["employerCode"], worker["idNumber"])
                before = previous.get(key)
                prior_status = (
                    tx.execute(
                        "SELECT status FROM contract_record WHERE filing_no = ?", (before,)
                    ).fetchone()
                    if before
                    else None
                )
                renewal_of = before if prior_status and prior_status[0] == XQ else None
                filed_at: dt.datetime | None = record.get("filedAt")
                filing_no = record.get("filingNo") or self._next_filing_no(
                    tx, contract["region"], filed_at.date() if filed_at else None
                )
                ending = None
                if record.get("endKind"):
                    ending = (record["endKind"], record["endReason"], record["endDate"])
                self._insert_record(
                    tx,
                    filing_no,
                    record["employerCode"],
                    worker,
                    contract,
                    status=record["status"],
                    previous_no=renewal_of,
                    filed_at=filed_at,
                    ending=ending,
                )
                tx.execute(
                    "INSERT INTO filing (filing_no, kind, record_no) VALUES (?, ?, ?)",
                    (filing_no, RENEWAL if renewal_of else NEW, filing_no),
                )
                if ending:
                    # The ending was a filing of its own, so that it can be revoked.
                    tx.execute(
                        "INSERT INTO filing (filing_no, kind, record_no) VALUES (?, ?, ?)",
                        (
                            self._next_filing_no(tx, contract["region"], ending[2]),
                            ENDING,
                            filing_no,
                        ),
                    )
                previous[key] = filing_no
