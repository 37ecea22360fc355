"""SocialInsuranceAdapter against the running stand-in, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from adapters.social_insurance import SocialInsuranceAdapter
from adapters.social_insurance.model import (
    AdditionRequest,
    Declaration,
    DeclarationKind,
    DeclarationState,
    InsuranceState,
    RemovalRequest,
    ReturnReason,
)
from adapters.social_insurance.review import SEED_UNITS
from adapters.social_insurance.settings import SocialInsuranceSettings
from adapters.standin import seed
from adapters.standin.process import RunningStandin
from gateway.domain.model import Education, EmployerProfile, Gender, IdType, Person
from gateway.systems import Duplicate, NotFound, Rejected, Unavailable
from tests import factories

LEGACY_NAMES = re.compile(r"\b(aac\d{3}|dwbh|slh|tyshxydm|jfgz|cbrq|tbrq|xzlx|zt)\b")


def settings_for(url: str, **changes: Any) -> SocialInsuranceSettings:
    return replace(SocialInsuranceSettings(url=url, timeout=5.0, connect_timeout=1.0), **changes)


@pytest.fixture
async def make_adapter(
    social_insurance_standin: RunningStandin,
) -> AsyncIterator[Callable[..., SocialInsuranceAdapter]]:
    made: list[SocialInsuranceAdapter] = []

    def make(**changes: Any) -> SocialInsuranceAdapter:
        adapter = SocialInsuranceAdapter.from_settings(
            settings_for(social_insurance_standin.url, **changes)
        )
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.aclose()


@pytest.fixture
def adapter(
    make_adapter: Callable[..., SocialInsuranceAdapter], social_insurance_standin: RunningStandin
) -> SocialInsuranceAdapter:
    social_insurance_standin.faults(review_delay_s=0)
    return make_adapter()


def a_person(**changes: Any) -> Person:
    base = Person(
        IdType.RESIDENT_ID, factories.resident_id(), "欧阳娜娜", Gender.FEMALE, "03",
        Education.BACHELOR, factories.mobile(),
    )  # fmt: skip
    return replace(base, **changes)


def an_addition(employer_id: str, person: Person | None = None, **changes: Any) -> AdditionRequest:
    base = AdditionRequest(
        employer_id, person or a_person(), dt.date.today() - dt.timedelta(days=5), Decimal("6200")
    )
    return replace(base, **changes)


def a_removal(request: AdditionRequest, **changes: Any) -> RemovalRequest:
    p = request.person
    base = RemovalRequest.after_relation_ended(
        request.employer_id, p.id_type, p.id_number, dt.date.today()
    )
    return replace(base, **changes)


async def new_employer(adapter: SocialInsuranceAdapter) -> str:
    binding = await adapter.ensure_employer(
        EmployerProfile(factories.credit_code(), "烟台蓬莱葡萄酒有限公司", "370614")
    )
    return binding.employer_id


async def decided(adapter: SocialInsuranceAdapter, reference: str) -> Declaration:
    """Poll as the contract says, until the agency has decided."""
    for _ in range(200):
        found = await adapter.declaration(reference)
        if found.state.decided:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("never decided")


def assert_clean(error: Exception, *secrets: str | None) -> None:
    """No personal value and no legacy field name in what leaves the adapter."""
    text = str(error)
    for secret in secrets:
        if secret:
            assert secret not in text
    assert not LEGACY_NAMES.search(text), text


# ------------------------------------------------------------------ shape


# -------------------------------------------------------------- employers


async def test_find_employer(adapter: SocialInsuranceAdapter) -> None:
    employer = seed.EMPLOYERS[1]
    binding = await adapter.find_employer(employer.profile.credit_code)
    assert binding is not None
    assert binding.employer_id == SEED_UNITS[1]
    assert binding.profile == replace(employer.profile, contact=None, phone=None)
    assert binding.created is False
    assert await adapter.find_employer(factories.credit_code()) is None


async def test_ensure_employer_registers_then_binds(adapter: SocialInsuranceAdapter) -> None:
    profile = EmployerProfile(factories.credit_code(), "威海海洋食品有限公司", "371002")
    opened = await adapter.ensure_employer(profile)
    assert opened.created is True
    assert re.fullmatch(r"SB371002\d{8}", opened.employer_id)
    again = await adapter.ensure_employer(replace(profile, name="威海海洋食品股份有限公司"))
    assert (again.created, again.employer_id) == (False, opened.employer_id)
    assert again.profile.name == "威海海洋食品有限公司"  # as the system holds it


async def test_an_invalid_unit_is_rejected_naming_the_unified_field(
    adapter: SocialInsuranceAdapter,
) -> None:
    with pytest.raises(Rejected) as caught:
        await adapter.ensure_employer(EmployerProfile(factories.credit_code(), "某单位", "3701"))
    assert (caught.value.system_code, caught.value.field) == ("1400", "division")
    assert_clean(caught.value)


# ---------------------------------------------------------- declarations


async def test_an_addition_is_approved_later_and_insures(
    adapter: SocialInsuranceAdapter, social_insurance_standin: RunningStandin
) -> None:
    employer_id = await new_employer(adapter)
    social_insurance_standin.faults(review_delay_s=0.3)
    request = an_addition(employer_id)
    reference = await adapter.declare_addition(request)
    pending = await adapter.declaration(reference)
    assert (pending.state, pending.kind, pending.employer_id) == (
        DeclarationState.UNDER_REVIEW, DeclarationKind.ADDITION, employer_id,
    )  # fmt: skip
    assert (pending.id_type, pending.id_number) == (IdType.RESIDENT_ID, request.person.id_number)
    done = await decided(adapter, reference)
    assert done.state is DeclarationState.APPROVED
    assert done.effective_on == request.start_date
    assert done.insurance_number
    [spell] = await adapter.insurance(IdType.RESIDENT_ID, request.person.id_number)
    assert (spell.employer_id, spell.state, spell.start_date, spell.insurance_number) == (
        employer_id, InsuranceState.INSURED, request.start_date, done.insurance_number,
    )  # fmt: skip


async def test_a_second_addition_is_a_duplicate_naming_the_one_under_review(
    adapter: SocialInsuranceAdapter, social_insurance_standin: RunningStandin
) -> None:
    employer_id = await new_employer(adapter)
    social_insurance_standin.faults(review_delay_s=30)
    request = an_addition(employer_id)
    reference = await adapter.declare_addition(request)
    with pytest.raises(Duplicate) as caught:
        await adapter.declare_addition(request)
    error = caught.value
    assert (error.system_code, error.field, error.existing_reference) == (
        "1002", "id_number", reference,
    )  # fmt: skip
    assert_clean(error, request.person.id_number, request.person.name)


async def test_removal_and_its_two_refusals(
    adapter: SocialInsuranceAdapter, social_insurance_standin: RunningStandin
) -> None:
    employer_id = await new_employer(adapter)
    addition = an_addition(employer_id)
    with pytest.raises(NotFound) as never:
        await adapter.declare_removal(a_removal(addition))
    assert (never.value.system_code, never.value.field) == ("1003", "id_number")
    await decided(adapter, await adapter.declare_addition(addition))

    social_insurance_standin.faults(review_delay_s=0.3)
    reference = await adapter.declare_removal(a_removal(addition))
    with pytest.raises(Duplicate) as twice:
        await adapter.declare_removal(a_removal(addition))
    assert twice.value.existing_reference == reference
    assert_clean(twice.value, addition.person.id_number)
    done = await decided(adapter, reference)
    assert (done.kind, done.state, done.effective_on) == (
        DeclarationKind.REMOVAL, DeclarationState.APPROVED, dt.date.today() + dt.timedelta(days=1),
    )  # fmt: skip
    [spell] = await adapter.insurance(IdType.RESIDENT_ID, addition.person.id_number)
    assert (spell.state, spell.stop_date) == (InsuranceState.STOPPED, done.effective_on)


async def test_a_returned_declaration_says_why(
    adapter: SocialInsuranceAdapter, social_insurance_standin: RunningStandin
) -> None:
    employer_id = await new_employer(adapter)
    social_insurance_standin.faults(return_rate=1.0, review_delay_s=0)
    done = await decided(adapter, await adapter.declare_addition(an_addition(employer_id)))
    assert (done.state, done.return_reason) == (
        DeclarationState.RETURNED,
        ReturnReason.RECORDS_DIFFER,
    )
    assert done.return_note
    social_insurance_standin.faults(return_rate=0.0)
    low = an_addition(employer_id, monthly_wage=Decimal("1000"))
    done = await decided(adapter, await adapter.declare_addition(low))
    assert done.return_reason is ReturnReason.WAGE_OUT_OF_RANGE


async def test_withdraw(
    adapter: SocialInsuranceAdapter, social_insurance_standin: RunningStandin
) -> None:
    employer_id = await new_employer(adapter)
    social_insurance_standin.faults(review_delay_s=30)
    reference = await adapter.declare_addition(an_addition(employer_id))
    await adapter.withdraw(reference)
    assert (await adapter.declaration(reference)).state is DeclarationState.WITHDRAWN
    with pytest.raises(Rejected) as again:
        await adapter.withdraw(reference)
    assert type(again.value) is Rejected
    assert again.value.system_code == "1409"
    with pytest.raises(NotFound) as missing:
        await adapter.withdraw("SL0")
    assert (missing.value.system_code, missing.value.field) == ("1005", "reference")
    with pytest.raises(NotFound):
        await adapter.declaration("SL0")


async def test_reversing_an_approved_addition_and_removal(adapter: SocialInsuranceAdapter) -> None:
    employer_id = await new_employer(adapter)
    addition = an_addition(employer_id)
    added = await decided(adapter, await adapter.declare_addition(addition))
    undo = await decided(adapter, await adapter.reverse(added.reference))
    assert (undo.kind, undo.state, undo.effective_on) == (
        DeclarationKind.REMOVAL, DeclarationState.APPROVED, addition.start_date,
    )  # fmt: skip
    [spell] = await adapter.insurance(IdType.RESIDENT_ID, addition.person.id_number)
    assert (spell.start_date, spell.stop_date) == (addition.start_date, addition.start_date)

    # The removal undone in its turn: insured again from the day it stopped.
    with pytest.raises(ValueError, match="needs the addition"):
        await adapter.reverse(undo.reference)
    redo = await decided(adapter, await adapter.reverse(undo.reference, restore=addition))
    assert (redo.kind, redo.state, redo.effective_on) == (
        DeclarationKind.ADDITION, DeclarationState.APPROVED, undo.effective_on,
    )  # fmt: skip
    spells = await adapter.insurance(IdType.RESIDENT_ID, addition.person.id_number)
    assert [s.state for s in spells] == [InsuranceState.INSURED, InsuranceState.STOPPED]


async def test_only_an_approved_declaration_is_reversed(
    adapter: SocialInsuranceAdapter, social_insurance_standin: RunningStandin
) -> None:
    employer_id = await new_employer(adapter)
    social_insurance_standin.faults(review_delay_s=30)
    reference = await adapter.declare_addition(an_addition(employer_id))
    with pytest.raises(Rejected) as caught:
        await adapter.reverse(reference)
    assert caught.value.field == "reference"
    assert "withdraw" in str(caught.value)


async def test_a_lost_answer_is_found_by_searching(
    make_adapter: Callable[..., SocialInsuranceAdapter], social_insurance_standin: RunningStandin
) -> None:
    social_insurance_standin.faults(review_delay_s=30)
    adapter = make_adapter(timeout=0.5)
    employer_id = await new_employer(adapter)
    request = an_addition(employer_id)
    social_insurance_standin.faults(commit_then_drop=1.0)
    with pytest.raises(Unavailable) as caught:
        await adapter.declare_addition(request)
    assert caught.value.outcome_unknown is True
    assert_clean(caught.value, request.person.id_number, request.person.name)
    social_insurance_standin.faults(commit_then_drop=0.0)
    [found] = await adapter.find_declarations(
        employer_id, IdType.RESIDENT_ID, request.person.id_number
    )
    assert (found.kind, found.state) == (DeclarationKind.ADDITION, DeclarationState.UNDER_REVIEW)


async def test_every_id_type_round_trips(adapter: SocialInsuranceAdapter) -> None:
    employer_id = await new_employer(adapter)
    n = factories.mobile()[-8:]
    born = dt.date(1985, 4, 5)
    people = [
        a_person(id_type=IdType.HK_MACAO_PERMIT, id_number=f"H{n}"),
        a_person(id_type=IdType.HK_MACAO_PERMIT, id_number=f"M{n}"),
        a_person(id_type=IdType.TAIWAN_PERMIT, id_number=n),
        a_person(id_type=IdType.FOREIGN_PASSPORT, id_number=f"E{n}", name="JOHN SMITH"),
    ]
    for person in people:
        reference = await adapter.declare_addition(
            an_addition(employer_id, person, birth_date=born)
        )
        found = await adapter.declaration(reference)
        assert (found.id_type, found.id_number) == (person.id_type, person.id_number)


async def test_a_missing_birth_date_is_refused_before_sending(
    adapter: SocialInsuranceAdapter, social_insurance_standin: RunningStandin
) -> None:
    passport = a_person(id_type=IdType.FOREIGN_PASSPORT, id_number="E87654321")
    social_insurance_standin.reset()
    with pytest.raises(Rejected) as caught:
        await adapter.declare_addition(an_addition("SB37010200000001", passport))
    assert (caught.value.field, caught.value.system_code) == ("birth_date", None)
    assert social_insurance_standin.stats() == {}


# ---------------------------------------------------------------- failures


async def test_the_quota_is_unavailable_with_retry_after_and_honouring_it_works(
    adapter: SocialInsuranceAdapter, social_insurance_standin: RunningStandin
) -> None:
    social_insurance_standin.faults(quota_per_s=2)
    code = seed.EMPLOYERS[0].profile.credit_code
    with pytest.raises(Unavailable) as caught:  # noqa: PT012 - the quota's moment is not ours
        for _ in range(30):
            await adapter.find_employer(code)
            await adapter.declare_addition(an_addition(SEED_UNITS[0], a_person()))
    assert (caught.value.retry_after, caught.value.outcome_unknown) == (1.0, False)
    assert caught.value.retry_after is not None
    await asyncio.sleep(caught.value.retry_after)
    assert await adapter.find_employer(code) is not None


async def test_a_wrong_sm4_key_is_refused_going_and_unreadable_coming(
    make_adapter: Callable[..., SocialInsuranceAdapter], adapter: SocialInsuranceAdapter
) -> None:
    employer_id = await new_employer(adapter)
    request = an_addition(employer_id)
    reference = await adapter.declare_addition(request)
    wrong = make_adapter(sm4_key="ff" * 16)
    with pytest.raises(Rejected) as going:
        await wrong.declare_addition(an_addition(employer_id))
    assert (going.value.system_code, going.value.field) == ("1400", "id_number")
    with pytest.raises(Unavailable) as coming:
        await wrong.declaration(reference)
    assert "id_number" in str(coming.value)
    for error in (going.value, coming.value):
        assert_clean(error, request.person.id_number, request.person.name)
