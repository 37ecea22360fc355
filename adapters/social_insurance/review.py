"""The stand-in's records and the agency's review of declarations.

A declaration is answered "under review" at once and decided when its review
is due (``review_delay_s`` after it was declared, as set then). Decisions are
taken lazily, in one transaction, before each contract operation: nothing
runs in the background, and a stand-in restarted on its data file decides
what fell due while it was down as soon as it is asked anything.

Also here: the deterministic seed, built from
``adapters/standin/seed.py`` through this system's mapping.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
import time
from decimal import Decimal
from typing import Any, Protocol

from adapters.social_insurance import mapping
from adapters.social_insurance.model import AdditionRequest, RemovalRequest, StopReason
from adapters.standin import seed as seed_data
from adapters.standin.store import Store
from gateway.domain.model import IdType

SCHEMA = """
CREATE TABLE IF NOT EXISTS si_unit (
    dwbh TEXT PRIMARY KEY,
    tyshxydm TEXT NOT NULL UNIQUE,
    dwmc TEXT NOT NULL,
    xzqh TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS si_declaration (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    slh TEXT NOT NULL UNIQUE,
    ywlx TEXT NOT NULL,
    dwbh TEXT NOT NULL REFERENCES si_unit (dwbh),
    aac058 TEXT NOT NULL,
    aac002 TEXT NOT NULL,
    aac003 TEXT, aac004 TEXT, csrq TEXT, cbrq TEXT, jfgz TEXT, xzlx TEXT,
    tbrq TEXT, tbyy TEXT,
    zt TEXT NOT NULL,
    sbsj TEXT NOT NULL,
    due_at REAL NOT NULL,
    drawn_return TEXT,
    thyy TEXT, thsm TEXT, grbh TEXT, sxrq TEXT
);
CREATE INDEX IF NOT EXISTS si_declaration_person ON si_declaration (aac058, aac002);
CREATE INDEX IF NOT EXISTS si_declaration_due ON si_declaration (zt, due_at);
CREATE TABLE IF NOT EXISTS si_insured (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dwbh TEXT NOT NULL,
    aac058 TEXT NOT NULL,
    aac002 TEXT NOT NULL,
    grbh TEXT NOT NULL,
    cbrq TEXT NOT NULL,
    tbrq TEXT,
    zt TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS si_insured_person ON si_insured (aac058, aac002);
CREATE TABLE IF NOT EXISTS si_person (
    aac058 TEXT NOT NULL,
    aac002 TEXT NOT NULL,
    grbh TEXT NOT NULL UNIQUE,
    PRIMARY KEY (aac058, aac002)
);
CREATE TABLE IF NOT EXISTS si_nonce (nonce TEXT PRIMARY KEY, seen REAL NOT NULL);
"""

DECLARATION_FIELDS = (
    "slh", "ywlx", "dwbh", "aac058", "aac002", "zt", "sbsj", "thyy", "thsm", "grbh", "sxrq",
)  # fmt: skip
_COLUMNS = ", ".join(DECLARATION_FIELDS)

#: The agency's clock: ``sbsj`` is a date-time without a zone, read as China Standard
#: Time (the contract names none; the agency is in the province).
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")

#: The province's floor and ceiling of the monthly contribution wage (the stand-in's).
WAGE_FLOOR, WAGE_CEILING = Decimal("3800.00"), Decimal("20000.00")
RETURNS = {
    "R01": "申报信息与经办机构记录不一致",
    "R02": f"缴费工资超出上下限（{WAGE_FLOOR}至{WAGE_CEILING}）",
    "R03": "该人员已在其他单位参保",
    "R09": "该人员未在本单位参保",
}


class ReviewSettings(Protocol):
    review_delay_s: float
    return_rate: float


class HasSettings(Protocol):
    @property
    def settings(self) -> ReviewSettings: ...


# ---------------------------------------------------------------- queries


def unit_exists(tx: sqlite3.Connection, dwbh: str) -> bool:
    return tx.execute("SELECT 1 FROM si_unit WHERE dwbh = ?", (dwbh,)).fetchone() is not None


def insured_here(tx: sqlite3.Connection, dwbh: str, aac058: str, aac002: str) -> sqlite3.Row | None:
    """The worker's open spell of insurance with this unit, if any."""
    row: sqlite3.Row | None = tx.execute(
        "SELECT seq, cbrq FROM si_insured WHERE dwbh = ? AND aac058 = ? AND aac002 = ? "
        "AND zt = '1'",
        (dwbh, aac058, aac002),
    ).fetchone()
    return row


def under_review(tx: sqlite3.Connection, dwbh: str, aac058: str, aac002: str, ywlx: str) -> bool:
    return (
        tx.execute(
            "SELECT 1 FROM si_declaration WHERE dwbh = ? AND aac058 = ? AND aac002 = ? "
            "AND ywlx = ? AND zt = '01'",
            (dwbh, aac058, aac002, ywlx),
        ).fetchone()
        is not None
    )


class Reviewer:
    def __init__(self, store: Store, sim: HasSettings) -> None:
        self.store = store
        self.sim = sim
        self._rng = random.Random()

    def declare(
        self,
        tx: sqlite3.Connection,
        ywlx: str,
        dwbh: str,
        aac058: str,
        aac002: str,
        values: dict[str, str],
        *,
        now: float | None = None,
    ) -> str:
        """Record a declaration under review; the return (``return_rate``) is drawn now."""
        settings = self.sim.settings
        now = time.time() if now is None else now
        declared = dt.datetime.fromtimestamp(now, CHINA).replace(tzinfo=None)
        slh = f"SL{declared:%Y%m%d}{self.store.next_value(tx, 'declaration'):06d}"
        rate = settings.return_rate
        drawn = "R01" if rate and self._rng.random() < rate else None
        row = {
            **values,
            "slh": slh,
            "ywlx": ywlx,
            "dwbh": dwbh,
            "aac058": aac058,
            "aac002": aac002,
            "zt": "01",
            "sbsj": declared.isoformat(timespec="seconds"),
            "due_at": now + settings.review_delay_s,
            "drawn_return": drawn,
        }
        names = ", ".join(row)
        tx.execute(
            f"INSERT INTO si_declaration ({names}) VALUES ({', '.join('?' for _ in row)})",  # noqa: S608
            list(row.values()),
        )
        return slh

    def decide_due(self, now: float | None = None) -> None:
        """Decide every declaration whose review is due, oldest first."""
        now = time.time() if now is None else now
        with self.store.transaction() as tx:
            due = tx.execute(
                "SELECT * FROM si_declaration WHERE zt = '01' AND due_at <= ? ORDER BY seq",
                (now,),
            ).fetchall()
            for row in due:
                decide(tx, self.store, row)

    def declaration(self, slh: str) -> dict[str, Any] | None:
        row = self.store.one(
            f"SELECT {_COLUMNS} FROM si_declaration WHERE slh = ?",  # noqa: S608
            (slh,),
        )
        return None if row is None else dict(row)

    def declarations_of(self, dwbh: str, aac058: str, aac002: str) -> list[dict[str, Any]]:
        rows = self.store.query(
            f"SELECT {_COLUMNS} FROM si_declaration "  # noqa: S608
            "WHERE dwbh = ? AND aac058 = ? AND aac002 = ? ORDER BY seq DESC",
            (dwbh, aac058, aac002),
        )
        return [dict(r) for r in rows]


def decide(tx: sqlite3.Connection, store: Store, row: sqlite3.Row) -> None:
    """The agency's decision on one declaration under review."""
    who = (row["aac058"], row["aac002"])
    here = insured_here(tx, row["dwbh"], *who)
    returned: str | None = row["drawn_return"]
    if returned is None and row["ywlx"] == "ZY":
        elsewhere = tx.execute(
            "SELECT 1 FROM si_insured WHERE aac058 = ? AND aac002 = ? AND zt = '1' AND dwbh != ?",
            (*who, row["dwbh"]),
        ).fetchone()
        if not WAGE_FLOOR <= Decimal(row["jfgz"]) <= WAGE_CEILING:
            returned = "R02"
        elif elsewhere is not None:
            returned = "R03"
        elif here is not None:
            returned = "R09"
    elif returned is None and here is None:
        returned = "R09"
    if returned is not None:
        tx.execute(
            "UPDATE si_declaration SET zt = '03', thyy = ?, thsm = ? WHERE seq = ?",
            (returned, RETURNS[returned], row["seq"]),
        )
        return
    if row["ywlx"] == "ZY":
        grbh = _insurance_number(tx, store, *who)
        tx.execute(
            "INSERT INTO si_insured (dwbh, aac058, aac002, grbh, cbrq, tbrq, zt) "
            "VALUES (?, ?, ?, ?, ?, NULL, '1')",
            (row["dwbh"], *who, grbh, row["cbrq"]),
        )
        effective = row["cbrq"]
    else:
        assert here is not None  # a removal without an open spell was returned above
        grbh = None
        tx.execute(
            "UPDATE si_insured SET tbrq = ?, zt = '2' WHERE seq = ?", (row["tbrq"], here["seq"])
        )
        effective = row["tbrq"]
    tx.execute(
        "UPDATE si_declaration SET zt = '02', grbh = ?, sxrq = ? WHERE seq = ?",
        (grbh, effective, row["seq"]),
    )


def _insurance_number(tx: sqlite3.Connection, store: Store, aac058: str, aac002: str) -> str:
    """A worker keeps one insurance number for life, whichever unit insures them."""
    row = tx.execute(
        "SELECT grbh FROM si_person WHERE aac058 = ? AND aac002 = ?", (aac058, aac002)
    ).fetchone()
    if row is not None:
        return str(row["grbh"])
    grbh = f"37{store.next_value(tx, 'person'):010d}"
    tx.execute(
        "INSERT INTO si_person (aac058, aac002, grbh) VALUES (?, ?, ?)", (aac058, aac002, grbh)
    )
    return grbh


# -------------------------------------------------------------------- seed

#: Each seed employer's unit insurance number, in the order of ``seed.EMPLOYERS``.
SEED_UNITS = ("SB37010200000001", "SB37020200000002", "SB37010200000003")
SEED_WAGE = Decimal("6000.00")
#: The documents that carry no date of birth get this one in the seed.
SEED_BIRTH_DATE = dt.date(1990, 6, 15)


class _SeedSettings:
    review_delay_s = 0.0
    return_rate = 0.0


class _Seeder:
    settings = _SeedSettings()


def load_seed(store: Store) -> None:
    """The shared seed, once: units, and every hire insured from its start date
    (stopped the day after a dismissal), each by an approved declaration."""
    if not store.is_empty("si_unit"):
        return
    reviewer = Reviewer(store, _Seeder())
    with store.transaction() as tx:
        for employer, dwbh in zip(seed_data.EMPLOYERS, SEED_UNITS, strict=True):
            unit = mapping.employer_to_legacy(employer.profile)
            tx.execute(
                "INSERT INTO si_unit (dwbh, tyshxydm, dwmc, xzqh) VALUES (?, ?, ?, ?)",
                (dwbh, unit["tyshxydm"], unit["dwmc"], unit["xzqh"]),
            )
        store.advance(tx, "unit", len(SEED_UNITS))
        for worker in seed_data.WORKERS:
            if worker.employment is None:
                continue
            person, hired = worker.person, worker.employment
            dwbh = SEED_UNITS[worker.employer]
            carries = person.id_type in (IdType.RESIDENT_ID, IdType.HMT_RESIDENCE_PERMIT)
            addition = mapping.addition_to_legacy(
                AdditionRequest(
                    dwbh,
                    person,
                    hired.start_date,
                    SEED_WAGE,
                    birth_date=None if carries else SEED_BIRTH_DATE,
                )
            )
            _seed_declaration(tx, store, reviewer, "ZY", addition, hired.start_date)
            if hired.dismissed_on is not None:
                removal = mapping.removal_to_legacy(
                    RemovalRequest.after_relation_ended(
                        dwbh, person.id_type, person.id_number, hired.dismissed_on,
                        StopReason.CONTRACT_ENDED,
                    )
                )  # fmt: skip
                _seed_declaration(tx, store, reviewer, "JY", removal, hired.dismissed_on)


def _seed_declaration(
    tx: sqlite3.Connection,
    store: Store,
    reviewer: Reviewer,
    ywlx: str,
    legacy: dict[str, Any],
    day: dt.date,
) -> None:
    """Declared at nine on ``day`` and approved at once."""
    legacy = {**legacy}
    dwbh, aac058, aac002 = legacy.pop("dwbh"), legacy.pop("aac058"), legacy.pop("aac002")
    if "xzlx" in legacy:
        legacy["xzlx"] = json.dumps(legacy["xzlx"])
    at = dt.datetime.combine(day, dt.time(9), tzinfo=CHINA).timestamp()
    slh = reviewer.declare(tx, ywlx, dwbh, aac058, aac002, legacy, now=at)
    row = tx.execute("SELECT * FROM si_declaration WHERE slh = ?", (slh,)).fetchone()
    decide(tx, store, row)
