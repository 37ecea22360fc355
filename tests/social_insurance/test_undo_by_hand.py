"""What a clerk reads of the agency's refusals and returns, and an undo that a clerk
saw to at the agency by hand: found so by the worker's insurance
(``insured/search``), against the stand-in and over the fake."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adapters.social_insurance import SocialInsuranceAdapter
from adapters.social_insurance import deciding as d
from adapters.social_insurance.model import (
    AdditionRequest,
    Declaration,
    DeclarationKind,
    DeclarationState,
    RemovalRequest,
    ReturnReason,
)
from adapters.social_insurance.review import SEED_UNITS
from adapters.social_insurance.settings import SocialInsuranceSettings
from adapters.social_insurance.system import DECLARE_ADDITION
from adapters.standin.process import RunningStandin
from gateway.decided import Undone, UndoPending, UndoStuck
from gateway.domain.model import Education, Gender, IdType, Person
from gateway.registrations import messages
from gateway.registrations.model import Operation
from gateway.systems import NotFound
from tests import factories
from tests.clock import MovableClock
from tests.fakes import FakeSocialInsurance

UNIT = SEED_UNITS[0]
START = dt.date(2024, 3, 1)
STOP = dt.date(2024, 10, 1)
LATIN_WORDS = re.compile(r"[A-Za-z]{3,}")


def settings_for(url: str) -> SocialInsuranceSettings:
    return SocialInsuranceSettings(url=url, timeout=5.0, connect_timeout=1.0)


@pytest.fixture
async def adapter(
    social_insurance_standin: RunningStandin,
) -> AsyncIterator[SocialInsuranceAdapter]:
    social_insurance_standin.faults(review_delay_s=0)
    made = SocialInsuranceAdapter.from_settings(settings_for(social_insurance_standin.url))
    yield made
    await made.aclose()


def a_person() -> Person:
    return Person(
        IdType.RESIDENT_ID, factories.resident_id(), "欧阳娜娜", Gender.FEMALE, "03",
        Education.BACHELOR, factories.mobile(),
    )  # fmt: skip


def an_addition(person: Person | None = None, start: dt.date = START) -> AdditionRequest:
    return AdditionRequest(UNIT, person or a_person(), start, Decimal("6200.00"))


def a_removal(addition: AdditionRequest) -> RemovalRequest:
    p = addition.person
    return RemovalRequest(UNIT, p.id_type, p.id_number, STOP)


async def decided(adapter: SocialInsuranceAdapter, reference: str) -> Declaration:
    for _ in range(200):
        found = await adapter.declaration(reference)
        if found.state.decided:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("never decided")


# ------------------------------------------------- a refused removal's words


async def test_a_removal_of_a_worker_not_insured_quotes_the_systems_own_words(
    adapter: SocialInsuranceAdapter,
) -> None:
    with pytest.raises(NotFound) as caught:
        await adapter.declare_removal(a_removal(an_addition()))
    error = caught.value
    assert error.system_code == "1003"
    assert error.said is not None
    assert "未在本单位参保" in error.said  # the stand-in's own message
    step_error = messages.refused(error)
    assert "未在本单位参保" in step_error.message_zh
    assert not LATIN_WORDS.search(step_error.message_zh), step_error.message_zh
    assert "not insured with the unit" in step_error.message_en


async def test_a_removal_refused_without_words_says_it_in_chinese() -> None:
    # A 1003 whose message is blank: the adapter's Chinese words, not its English.
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/declarations/removals"):
            body: dict[str, Any] = {"code": "1003", "message": " ", "data": None}
        else:  # the search that tells a removal under review from a worker not insured
            body = {"code": "0000", "message": "成功", "data": {"rows": []}}
        return httpx.Response(200, content=json.dumps(body, ensure_ascii=False).encode())

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        adapter = SocialInsuranceAdapter.from_settings(
            settings_for("http://si.example"), client=http
        )
        with pytest.raises(NotFound) as caught:
            await adapter.declare_removal(a_removal(an_addition()))
    error = caught.value
    assert error.said == "该劳动者未在本单位参保"
    step_error = messages.refused(error)
    assert step_error.message_zh.endswith("：该劳动者未在本单位参保")
    assert not LATIN_WORDS.search(step_error.message_zh), step_error.message_zh


# ------------------------------------------------------- R01 by declaration kind


def a_returned(kind: DeclarationKind) -> Declaration:
    return Declaration(
        "SL20240301000001", kind, UNIT, IdType.RESIDENT_ID, factories.resident_id(),
        DeclarationState.RETURNED, dt.datetime(2024, 3, 1, 9), ReturnReason.RECORDS_DIFFER,
    )  # fmt: skip


def test_a_returned_addition_says_what_may_be_corrected_on_retrying() -> None:
    error = d.returned(a_returned(DeclarationKind.ADDITION))
    assert (error.code, error.system_code) == (d.DECLARATION_RETURNED, "R01")
    assert error.message_zh == (
        "社会保险经办机构退回了增员申报：申报信息与社会保险经办机构的记录不一致：证件不含出生日期的，"
        "出生日期有误，或缴费工资有误的，可更正后重试本项增员申报；姓名、性别、证件类型或号码与经办"
        "机构记录不一致的，不能在此更正（已随就业登记和劳动合同备案报送），请与经办机构核实，待其更正"
        "记录后不带更正重试，或单独取消本项增员申报"
    )
    assert error.message_en == (
        "The social insurance agency returned the addition: the declared details differ "
        "from the agency's records: a wrong date of birth (for a document that carries "
        "none) or contribution wage may be corrected when retrying the addition; the "
        "worker's name, gender and ID cannot be corrected here (the employment "
        "registration and the contract filing sent them): check them with the agency "
        "and, once its records are put right, retry without corrections, or cancel the "
        "addition alone"
    )
    assert "declare again" not in error.message_en


def test_a_returned_removal_says_to_retry_without_corrections_or_cancel() -> None:
    error = d.returned(a_returned(DeclarationKind.REMOVAL))
    assert error.system_code == "R01"
    assert error.message_zh == (
        "社会保险经办机构退回了减员申报：申报信息与社会保险经办机构的记录不一致，请与经办机构核实，"
        "待其更正记录后不带更正重试本项减员申报，或单独取消"
    )
    assert error.message_en == (
        "The social insurance agency returned the removal: the declared details differ "
        "from the agency's records: check them with the agency and, once its records are "
        "put right, retry the removal without corrections, or cancel it alone"
    )


# ------------------------------------- undone by hand: against the stand-in


async def test_an_approved_addition_whose_reverse_was_returned_is_undone_once_removed_by_hand(
    adapter: SocialInsuranceAdapter, social_insurance_standin: RunningStandin
) -> None:
    addition = an_addition()
    added = await decided(adapter, await adapter.declare_addition(addition))
    assert added.state is DeclarationState.APPROVED

    social_insurance_standin.faults(review_delay_s=0, return_rate=1.0)
    pending = await d.undo(adapter, addition, added.reference)
    assert isinstance(pending, UndoPending)
    reverse = await decided(adapter, pending.reference)
    assert (reverse.kind, reverse.state) == (DeclarationKind.REMOVAL, DeclarationState.RETURNED)
    social_insurance_standin.faults(return_rate=0.0)

    stuck = await d.undo(adapter, addition, pending.reference)
    assert isinstance(stuck, UndoStuck)
    assert stuck.error.code == d.REVERSE_RETURNED
    # What to declare by hand, then retry: the gateway looks at the worker's insurance.
    assert "减员" in stuck.error.message_zh
    assert "重试" in stuck.error.message_zh
    assert START.isoformat() in stuck.error.message_en
    assert "retry" in stuck.error.message_en
    assert addition.person.id_number not in stuck.error.message_zh + stuck.error.message_en

    # The clerk declares the removal at the agency by hand, from the day it started.
    removal = RemovalRequest(UNIT, IdType.RESIDENT_ID, addition.person.id_number, START)
    by_hand = await decided(adapter, await adapter.declare_removal(removal))
    assert by_hand.state is DeclarationState.APPROVED
    assert await d.undo(adapter, addition, pending.reference) == Undone()


async def test_a_removal_not_undone_while_the_worker_is_not_insured_again(
    adapter: SocialInsuranceAdapter, social_insurance_standin: RunningStandin
) -> None:
    addition = an_addition()
    await decided(adapter, await adapter.declare_addition(addition))
    removal = a_removal(addition)
    stopped = await decided(adapter, await adapter.declare_removal(removal))
    assert stopped.state is DeclarationState.APPROVED

    stuck = await d.undo(adapter, removal, stopped.reference)
    assert isinstance(stuck, UndoStuck)
    assert stuck.error.code == d.REVERSE_NEEDS_A_PERSON
    assert STOP.isoformat() in stuck.error.message_zh
    assert STOP.isoformat() in stuck.error.message_en

    # An addition declared by hand, still under review: not insured yet.
    social_insurance_standin.faults(review_delay_s=30)
    under_review = await adapter.declare_addition(an_addition(addition.person, STOP))
    assert isinstance(await d.undo(adapter, removal, stopped.reference), UndoStuck)
    await adapter.withdraw(under_review)

    # Approved: insured with the unit again, and open-ended.
    social_insurance_standin.faults(review_delay_s=0)
    await decided(adapter, await adapter.declare_addition(an_addition(addition.person, STOP)))
    assert await d.undo(adapter, removal, stopped.reference) == Undone()


async def test_a_worker_insured_again_from_a_later_day_is_insured_again(
    adapter: SocialInsuranceAdapter,
) -> None:
    # The clerk declared the addition from another day than the removal's: insured
    # with the unit again all the same (the day is the clerk's and the agency's).
    addition = an_addition()
    await decided(adapter, await adapter.declare_addition(addition))
    removal = a_removal(addition)
    stopped = await decided(adapter, await adapter.declare_removal(removal))
    later = STOP + dt.timedelta(days=14)
    await decided(adapter, await adapter.declare_addition(an_addition(addition.person, later)))
    assert await d.undo(adapter, removal, stopped.reference) == Undone()


# ------------------------------------------------------------ over the fake


@pytest.fixture
def si() -> FakeSocialInsurance:
    fake = FakeSocialInsurance(clock=MovableClock())
    fake.faults(review_delay_s=60)
    return fake


async def test_a_removal_insured_again_is_not_reversed_a_second_time(
    si: FakeSocialInsurance,
) -> None:
    # The reverse whose answer was lost, approved meanwhile: the worker is insured
    # again, and nothing more is declared (the agency would refuse it: 1002).
    addition = an_addition()
    si.approve(await si.declare_addition(addition))
    removal = a_removal(addition)
    stopped = await si.declare_removal(removal)
    si.approve(stopped)
    si.approve(await si.reverse(stopped, restore=addition))
    declared = si.stats()["declarations.addition"]

    async def earlier(operation: Operation) -> Any | None:
        return addition if operation == DECLARE_ADDITION else None

    assert await d.undo(si, removal, stopped, earlier) == Undone()
    assert si.stats()["declarations.addition"] == declared
