"""Employers: the gateway's record of which unit is which in each system."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.model import System
from gateway.store import tables as t
from gateway.store.database import Database
from gateway.store.model import (
    BindingConflict,
    CursorPage,
    EmployerNotFound,
    EmployerRecord,
    check_division,
    division_prefix,
)
from gateway.store.paging import check_first, decode_cursor, encode_cursor

_CURSOR = "employer"


class Employers:
    """The ``employers`` repository, with each unit's ids in ``employer_systems``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, record: EmployerRecord) -> EmployerRecord:
        """Add the unit unless it is known; a known unit keeps its name, division and ids.

        For what a caller types: only a proven record (the systems', or a clerk
        with papers at the window) may rename or move a unit, through ``upsert``."""
        try:
            async with self._db.write() as conn:
                await self.add_in(conn, record)
        except sa.exc.IntegrityError:
            raise BindingConflict(
                f"a system id given for {record.credit_code} belongs to another unit"
            ) from None
        stored = await self.get(record.credit_code)
        assert stored is not None
        return stored

    async def add_in(self, conn: AsyncConnection, record: EmployerRecord) -> bool:
        """``add`` in the caller's transaction (the account an opening makes for the
        unit, say): whether the unit was added. A system id that belongs to another
        unit raises ``IntegrityError`` there."""
        result = await conn.execute(
            self._insert(record).on_conflict_do_nothing(index_elements=[t.employers.c.credit_code])
        )
        if not result.rowcount:
            return False
        await self._bind_all(conn, record, replace=False)
        return True

    def _insert(self, record: EmployerRecord) -> Any:
        """The unit's row as an INSERT that can take ON CONFLICT: upsert has no
        portable spelling, but both dialects' take the same arguments."""
        check_division(record.division)
        values: dict[str, Any] = {
            "credit_code": record.credit_code,
            "name": record.name,
            "division": record.division,
            "updated_at": self._db.now(),
        }
        return self._dialect().insert(t.employers).values(**values)

    def _dialect(self) -> Any:
        return postgresql if self._db.dialect == "postgresql" else sqlite

    async def _bind_all(self, conn: Any, record: EmployerRecord, *, replace: bool) -> None:
        """Bind each id of ``record``; one already bound to another id is a conflict."""
        ts = t.employer_systems
        for system, employer_id in record.ids.items():
            await conn.execute(
                self._dialect()
                .insert(ts)
                .values(
                    credit_code=record.credit_code, system=system.value, employer_id=employer_id
                )
                .on_conflict_do_nothing(index_elements=[ts.c.credit_code, ts.c.system])
            )
            held = await conn.scalar(
                sa.select(ts.c.employer_id).where(
                    ts.c.credit_code == record.credit_code, ts.c.system == system.value
                )
            )
            if held != employer_id and replace:
                raise BindingConflict(
                    f"the unit {record.credit_code} is already bound to other ids"
                )

    async def upsert(self, record: EmployerRecord) -> EmployerRecord:
        """Add the unit, or update its name and division.

        System ids given are bound; systems left out keep what is stored, because
        a unit's id in a system does not go away. ``BindingConflict`` when an
        id belongs to another unit, or the unit is bound to another id there;
        then nothing is changed.
        """
        insert = self._insert(record)
        statement = insert.on_conflict_do_update(
            index_elements=[t.employers.c.credit_code],
            set_={
                "name": insert.excluded.name,
                "division": insert.excluded.division,
                "updated_at": insert.excluded.updated_at,
            },
        )
        try:
            async with self._db.write() as conn:
                await conn.execute(statement)
                await self._bind_all(conn, record, replace=True)
        except sa.exc.IntegrityError:
            raise BindingConflict(
                f"a system id given for {record.credit_code} belongs to another unit"
            ) from None
        stored = await self.get(record.credit_code)
        assert stored is not None
        return stored

    async def get(self, credit_code: str) -> EmployerRecord | None:
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(t.employers).where(t.employers.c.credit_code == credit_code)
                )
            ).one_or_none()
            if row is None:
                return None
            ids = await _ids(conn, [credit_code])
        return _record(row, ids.get(credit_code, {}))

    async def find_by_system_id(self, system: System, employer_id: str) -> EmployerRecord | None:
        """The unit that ``system`` knows as ``employer_id``."""
        ts = t.employer_systems
        async with self._db.read() as conn:
            credit_code = await conn.scalar(
                sa.select(ts.c.credit_code).where(
                    ts.c.system == system.value, ts.c.employer_id == employer_id
                )
            )
        return None if credit_code is None else await self.get(credit_code)

    async def bind(self, credit_code: str, system: System, employer_id: str) -> EmployerRecord:
        """Record that ``system`` knows the unit as ``employer_id``.

        Binding again to the same id is a no-op. ``BindingConflict`` when the
        unit is bound to another id there, or the id to another unit;
        ``EmployerNotFound`` for an unknown unit.
        """
        ts = t.employer_systems
        try:
            async with self._db.write() as conn:
                exists = await conn.scalar(
                    sa.select(t.employers.c.credit_code).where(
                        t.employers.c.credit_code == credit_code
                    )
                )
                if exists is None:
                    raise EmployerNotFound(credit_code)
                result = await conn.execute(
                    self._dialect()
                    .insert(ts)
                    .values(credit_code=credit_code, system=system.value, employer_id=employer_id)
                    .on_conflict_do_nothing(index_elements=[ts.c.credit_code, ts.c.system])
                )
                if result.rowcount == 0:
                    held = await conn.scalar(
                        sa.select(ts.c.employer_id).where(
                            ts.c.credit_code == credit_code, ts.c.system == system.value
                        )
                    )
                    if held != employer_id:
                        raise BindingConflict(
                            f"the unit {credit_code} is bound to another id in the {system} system"
                        )
                    return await self._get_in(conn, credit_code)
                await conn.execute(
                    sa.update(t.employers)
                    .where(t.employers.c.credit_code == credit_code)
                    .values(updated_at=self._db.now())
                )
        except sa.exc.IntegrityError:
            raise BindingConflict(
                f"that {system} system id is bound to a unit other than {credit_code}"
            ) from None
        stored = await self.get(credit_code)
        assert stored is not None
        return stored

    async def _get_in(self, conn: Any, credit_code: str) -> EmployerRecord:
        row = (
            await conn.execute(
                sa.select(t.employers).where(t.employers.c.credit_code == credit_code)
            )
        ).one()
        return _record(row, (await _ids(conn, [credit_code])).get(credit_code, {}))

    async def page(
        self,
        *,
        divisions: Iterable[str] | None = None,
        credit_codes: Iterable[str] | None = None,
        search: str | None = None,
        first: int,
        after: str | None = None,
    ) -> CursorPage[EmployerRecord]:
        """The units in ``divisions`` or under them (a city covers its districts) and
        among ``credit_codes`` (None: no bound), whose name holds ``search`` or whose
        credit code starts with it, by credit code."""
        check_first(first)
        where = _matching(divisions, credit_codes, search)
        if where is None or first == 0:
            return CursorPage(items=[], cursors=[], has_next_page=False)
        query = sa.select(t.employers).where(where).order_by(t.employers.c.credit_code)
        if after is not None:
            query = query.where(t.employers.c.credit_code > decode_cursor(_CURSOR, after))
        async with self._db.read() as conn:
            rows = (await conn.execute(query.limit(first + 1))).all()
            ids = await _ids(conn, [r.credit_code for r in rows[:first]])
        items = [_record(r, ids.get(r.credit_code, {})) for r in rows[:first]]
        return CursorPage(
            items=items,
            cursors=[encode_cursor(_CURSOR, e.credit_code) for e in items],
            has_next_page=len(rows) > first,
        )

    async def count(
        self,
        *,
        divisions: Iterable[str] | None = None,
        credit_codes: Iterable[str] | None = None,
        search: str | None = None,
    ) -> int:
        """How many units ``page`` would give with the same bounds, every page together."""
        where = _matching(divisions, credit_codes, search)
        if where is None:
            return 0
        query = sa.select(sa.func.count()).select_from(t.employers).where(where)
        async with self._db.read() as conn:
            return int((await conn.execute(query)).scalar_one())


def _matching(
    divisions: Iterable[str] | None, credit_codes: Iterable[str] | None, search: str | None
) -> sa.ColumnElement[bool] | None:
    """The condition of ``Employers.page``; None when nothing can match."""
    c = t.employers.c
    conditions: list[sa.ColumnElement[bool]] = []
    if divisions is not None:
        prefixes = sorted({division_prefix(d) for d in divisions})
        if not prefixes:
            return None
        conditions.append(sa.or_(*(c.division.startswith(p) for p in prefixes)))
    if credit_codes is not None:
        codes = sorted(set(credit_codes))
        if not codes:
            return None
        conditions.append(c.credit_code.in_(codes))
    if search:
        # Codes are stored upper case; names compare without case (a Latin brand in
        # a unit's name), on SQLite as on PostgreSQL. ``%`` and ``_`` are literal.
        conditions.append(
            sa.or_(
                c.credit_code.startswith(search.upper(), autoescape=True),
                c.name.icontains(search, autoescape=True),
            )
        )
    return sa.and_(sa.true(), *conditions)


async def _ids(conn: Any, credit_codes: list[str]) -> dict[str, dict[System, str]]:
    """Each unit's ids, by system."""
    if not credit_codes:
        return {}
    ts = t.employer_systems
    rows = await conn.execute(
        sa.select(ts.c.credit_code, ts.c.system, ts.c.employer_id).where(
            ts.c.credit_code.in_(credit_codes)
        )
    )
    found: dict[str, dict[System, str]] = {}
    for credit_code, system, employer_id in rows:
        found.setdefault(credit_code, {})[System(system)] = employer_id
    return found


def _record(row: Any, ids: dict[System, str]) -> EmployerRecord:
    return EmployerRecord(
        credit_code=row.credit_code,
        name=row.name,
        division=row.division,
        updated_at=row.updated_at,
        ids=ids,
    )
