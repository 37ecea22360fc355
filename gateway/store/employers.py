"""Employers: the gateway's record of which unit is which in each system."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

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
    id_column,
)
from gateway.store.paging import check_first, decode_cursor, encode_cursor

_CURSOR = "employer"
_IDS = ("employment_id", "labour_id", "unemployment_id")


class Employers:
    """The ``employers`` repository."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, record: EmployerRecord) -> EmployerRecord:
        """Add the unit unless it is known; a known unit keeps its name and division.

        For what a caller types: only a proven record (the systems', or a clerk
        with papers at the window) may rename or move a unit, through ``upsert``."""
        insert = self._insert(record)
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    insert.on_conflict_do_nothing(index_elements=[t.employers.c.credit_code])
                )
        except sa.exc.IntegrityError:
            raise BindingConflict(
                f"a system id given for {record.credit_code} belongs to another unit"
            ) from None
        stored = await self.get(record.credit_code)
        assert stored is not None
        return stored

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
        values.update({c: getattr(record, c) for c in _IDS})
        dialect = postgresql if self._db.dialect == "postgresql" else sqlite
        return dialect.insert(t.employers).values(**values)

    async def upsert(self, record: EmployerRecord) -> EmployerRecord:
        """Add the unit, or update its name and division.

        System ids given are bound; ids left None keep what is stored, because
        a unit's id in a system does not go away. ``BindingConflict`` when an
        id belongs to another unit.
        """
        insert = self._insert(record)
        update: dict[str, Any] = {
            "name": insert.excluded.name,
            "division": insert.excluded.division,
            "updated_at": insert.excluded.updated_at,
        }
        for c in _IDS:
            update[c] = sa.func.coalesce(insert.excluded[c], t.employers.c[c])
        conflicting = sa.or_(
            *(
                sa.and_(t.employers.c[c].is_not(None), insert.excluded[c].is_not(None))
                & (t.employers.c[c] != insert.excluded[c])
                for c in _IDS
            )
        )
        statement = insert.on_conflict_do_update(
            index_elements=[t.employers.c.credit_code], set_=update, where=sa.not_(conflicting)
        )
        try:
            async with self._db.write() as conn:
                result = await conn.execute(statement)
                if result.rowcount == 0:  # the WHERE above refused a rebinding
                    raise BindingConflict(
                        f"the unit {record.credit_code} is already bound to other ids"
                    )
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
        return None if row is None else _record(row)

    async def find_by_system_id(self, system: System, employer_id: str) -> EmployerRecord | None:
        """The unit that ``system`` knows as ``employer_id``."""
        column = t.employers.c[id_column(system)]
        async with self._db.read() as conn:
            row = (
                await conn.execute(sa.select(t.employers).where(column == employer_id))
            ).one_or_none()
        return None if row is None else _record(row)

    async def bind(self, credit_code: str, system: System, employer_id: str) -> EmployerRecord:
        """Record that ``system`` knows the unit as ``employer_id``.

        Binding again to the same id is a no-op. ``BindingConflict`` when the
        unit is bound to another id there, or the id to another unit;
        ``EmployerNotFound`` for an unknown unit.
        """
        column = t.employers.c[id_column(system)]
        try:
            async with self._db.write() as conn:
                result = await conn.execute(
                    sa.update(t.employers)
                    .where(
                        t.employers.c.credit_code == credit_code,
                        sa.or_(column.is_(None), column == employer_id),
                    )
                    .values({column.name: employer_id, "updated_at": self._db.now()})
                )
                if result.rowcount == 0:
                    exists = await conn.scalar(
                        sa.select(t.employers.c.credit_code).where(
                            t.employers.c.credit_code == credit_code
                        )
                    )
                    if exists is None:
                        raise EmployerNotFound(credit_code)
                    raise BindingConflict(
                        f"the unit {credit_code} is bound to another id in the {system} system"
                    )
        except sa.exc.IntegrityError:
            raise BindingConflict(
                f"that {system} system id is bound to a unit other than {credit_code}"
            ) from None
        stored = await self.get(credit_code)
        assert stored is not None
        return stored

    async def in_divisions(
        self, divisions: Iterable[str], *, first: int, after: str | None = None
    ) -> CursorPage[EmployerRecord]:
        """The units in ``divisions`` or under them (a city covers its districts),
        by credit code."""
        check_first(first)
        prefixes = sorted({division_prefix(d) for d in divisions})
        if not prefixes or first == 0:
            return CursorPage(items=[], cursors=[], has_next_page=False)
        query = (
            sa.select(t.employers)
            .where(sa.or_(*(t.employers.c.division.startswith(p) for p in prefixes)))
            .order_by(t.employers.c.credit_code)
            .limit(first + 1)
        )
        if after is not None:
            query = query.where(t.employers.c.credit_code > decode_cursor(_CURSOR, after))
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        items = [_record(r) for r in rows[:first]]
        return CursorPage(
            items=items,
            cursors=[encode_cursor(_CURSOR, e.credit_code) for e in items],
            has_next_page=len(rows) > first,
        )


def _record(row: Any) -> EmployerRecord:
    return EmployerRecord(
        credit_code=row.credit_code,
        name=row.name,
        division=row.division,
        employment_id=row.employment_id,
        labour_id=row.labour_id,
        unemployment_id=row.unemployment_id,
        updated_at=row.updated_at,
    )
