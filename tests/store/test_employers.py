"""Employers: the record of which unit is which in each system, and clerks' paging."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.domain.model import System
from gateway.store import (
    MAX_PAGE,
    BindingConflict,
    EmployerNotFound,
    EmployerRecord,
    InvalidCursor,
    InvalidRecord,
    Store,
    covers_division,
)
from tests.factories import credit_code


async def test_upsert_adds_then_updates(store: Store) -> None:
    code = credit_code()
    added = await store.employers.upsert(EmployerRecord(code, "旧名称", "370102", labour_id="L-1"))
    assert (added.name, added.division, added.labour_id, added.employment_id) == (
        "旧名称",
        "370102",
        "L-1",
        None,
    )
    assert added.updated_at is not None

    updated = await store.employers.upsert(
        EmployerRecord(code, "新名称", "370103", employment_id="E-1")
    )
    # A unit's id in a system does not go away: None leaves the binding as it was.
    assert (updated.name, updated.division, updated.labour_id, updated.employment_id) == (
        "新名称",
        "370103",
        "L-1",
        "E-1",
    )
    assert updated.updated_at is not None
    assert updated.updated_at >= added.updated_at
    assert await store.employers.get(code) == updated
    assert await store.employers.get(credit_code()) is None


async def test_upsert_refuses_to_rebind(store: Store) -> None:
    first, second = credit_code(), credit_code()
    await store.employers.upsert(EmployerRecord(first, "甲", "370102", labour_id="L-1"))
    with pytest.raises(BindingConflict):
        await store.employers.upsert(EmployerRecord(first, "甲", "370102", labour_id="L-2"))
    with pytest.raises(BindingConflict):
        await store.employers.upsert(EmployerRecord(second, "乙", "370102", labour_id="L-1"))
    assert (await store.employers.get(first)) is not None
    assert (await store.employers.get(second)) is None
    stored = await store.employers.get(first)
    assert stored is not None
    assert stored.labour_id == "L-1"


async def test_bind_each_system(store: Store) -> None:
    code = credit_code()
    await store.employers.upsert(EmployerRecord(code, "甲", "370102"))
    for system, employer_id in [
        (System.EMPLOYMENT, "E-9"),
        (System.LABOUR, "L-9"),
        (System.UNEMPLOYMENT, "U-9"),
    ]:
        bound = await store.employers.bind(code, system, employer_id)
        assert bound.system_id(system) == employer_id
    again = await store.employers.bind(code, System.LABOUR, "L-9")  # the same id: no-op
    assert (again.employment_id, again.labour_id, again.unemployment_id) == ("E-9", "L-9", "U-9")
    found = await store.employers.find_by_system_id(System.UNEMPLOYMENT, "U-9")
    assert found is not None
    assert found.credit_code == code
    assert await store.employers.find_by_system_id(System.EMPLOYMENT, "U-9") is None


async def test_bind_conflicts(store: Store) -> None:
    first, second = credit_code(), credit_code()
    await store.employers.upsert(EmployerRecord(first, "甲", "370102", labour_id="L-1"))
    await store.employers.upsert(EmployerRecord(second, "乙", "370102"))
    with pytest.raises(BindingConflict):  # the unit has another id there
        await store.employers.bind(first, System.LABOUR, "L-2")
    with pytest.raises(BindingConflict):  # the id belongs to another unit
        await store.employers.bind(second, System.LABOUR, "L-1")
    with pytest.raises(EmployerNotFound):
        await store.employers.bind(credit_code(), System.LABOUR, "L-3")
    stored = await store.employers.get(second)
    assert stored is not None
    assert stored.labour_id is None


async def test_a_bad_division_is_refused(store: Store) -> None:
    with pytest.raises(InvalidRecord, match="six digits"):
        await store.employers.upsert(EmployerRecord(credit_code(), "甲", "3701"))
    with pytest.raises(InvalidRecord, match="six digits"):
        await store.employers.page(divisions=["37010x"], first=1)


def test_a_division_covers_itself_and_what_lies_under_it() -> None:
    assert covers_division(["370102"], "370102")
    assert not covers_division(["370102"], "370103")
    assert covers_division(["370100"], "370102")  # Jinan covers its districts
    assert not covers_division(["370100"], "370202")  # but not Qingdao's
    assert covers_division(["370000"], "371502")  # the province covers everything in it
    assert covers_division(["110101", "370100"], "370181")
    assert not covers_division([], "370102")


async def test_clerks_page_through_the_units_of_their_divisions(store: Store) -> None:
    jinan = sorted(
        [credit_code(division="370102") for _ in range(4)]
        + [credit_code(division="370181") for _ in range(3)]
    )
    qingdao = [credit_code(division="370202") for _ in range(2)]
    for code in jinan:
        await store.employers.upsert(EmployerRecord(code, "济南单位", code[2:8]))
    for code in qingdao:
        await store.employers.upsert(EmployerRecord(code, "青岛单位", "370202"))

    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        page = await store.employers.page(divisions=["370100"], first=3, after=after)
        pages += 1
        seen += [e.credit_code for e in page.items]
        assert len(page.cursors) == len(page.items)
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert seen == jinan
    assert pages == 3

    district = await store.employers.page(divisions=["370181"], first=MAX_PAGE)
    assert [e.credit_code for e in district.items] == [c for c in jinan if c[2:8] == "370181"]
    both = await store.employers.page(divisions=["370181", "370202"], first=MAX_PAGE)
    assert len(both.items) == 5
    assert not both.has_next_page
    empty = await store.employers.page(divisions=[], first=10)
    assert empty.items == []
    assert empty.end_cursor is None


async def test_paging_refuses_bad_cursors_and_sizes(store: Store) -> None:
    for cursor in ["not a cursor", "YXVkaXQ6MQ", ""]:  # garbage; an audit cursor; empty
        with pytest.raises(InvalidCursor):
            await store.employers.page(divisions=["370102"], first=1, after=cursor)
    for first in (-1, MAX_PAGE + 1):
        with pytest.raises(ValueError, match="first"):
            await store.employers.page(divisions=["370102"], first=first)


async def test_units_are_found_by_part_of_their_name_or_the_start_of_their_code(
    store: Store,
) -> None:
    machines = credit_code(division="370102")
    software = credit_code(division="370102")
    odd = credit_code(division="370181")
    qingdao = credit_code(division="370202")
    await store.employers.upsert(EmployerRecord(machines, "济南泉城机械制造有限公司", "370102"))
    await store.employers.upsert(EmployerRecord(software, "济南ABC/D软件有限公司", "370102"))
    await store.employers.upsert(EmployerRecord(odd, "章丘100%_纯棉纺织厂", "370181"))
    await store.employers.upsert(EmployerRecord(qingdao, "青岛泉城机械有限公司", "370202"))

    async def found(**bounds: Any) -> list[str]:
        page = await store.employers.page(first=MAX_PAGE, **bounds)
        assert await store.employers.count(**bounds) == len(page.items)
        return [e.credit_code for e in page.items]

    assert await found(search="泉城机械") == sorted([machines, qingdao])
    assert await found(divisions=["370100"], search="泉城机械") == [machines]
    assert await found(search="abc") == [software]  # a Latin name without case
    assert await found(search="c/d") == [software]  # the escape character is text too
    assert await found(search=odd[:10].lower()) == [odd]  # the start of a code, any case
    assert await found(search=odd[4:12]) == []  # the middle of a code is not its start
    assert await found(search="100%_") == [odd]  # % and _ are only themselves
    assert await found(search="%") == [odd]
    assert await found(search="_") == [odd]
    assert await found(credit_codes=[software]) == [software]
    assert await found(credit_codes=[software], search="泉城") == []
    assert await found(credit_codes=[]) == []
    assert await found(divisions=[]) == []
    assert len(await found()) == 4

    first = await store.employers.page(search="有限公司", first=1)
    rest = await store.employers.page(search="有限公司", first=MAX_PAGE, after=first.end_cursor)
    assert [e.credit_code for e in first.items + rest.items] == sorted(
        [machines, software, qingdao]
    )
    assert first.has_next_page
    assert not rest.has_next_page
