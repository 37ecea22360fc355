"""The social insurance fake keeps to the contract: its behaviours, run against the
fake and against the real adapter over the stand-in (``test_conformance.py``'s
``systems``, with its fault points there too).

What the engine's declaration steps rely on: a declaration is answered under
review and decided later, by the review's delay; approved, it changes the
worker's insurance; returned, it says why; under review, it is the duplicate a
second one names, and it can be withdrawn; approved, it is undone by its
reverse; a lost answer is found by the search. Also the 429 quota.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from adapters.social_insurance.model import (
    Declaration,
    DeclarationKind,
    DeclarationState,
    InsuranceState,
    RemovalRequest,
    ReturnReason,
)
from gateway.systems import Duplicate, NotFound, Rejected, Unavailable
from tests.fakes.test_conformance import (
    INSURANCE,
    START,
    UNIT_SI,
    Systems,
    _refused,
    an_addition,
    systems,  # noqa: F401 - the fixture, fake and stand-in
)

LEFT_ON = dt.date(2024, 9, 30)


async def decided(s: Systems, reference: str) -> Declaration:
    """Poll as the contract says, until the agency has decided."""
    async with asyncio.timeout(20):
        while True:
            found = await s.insurance.declaration(reference)
            if found.state.decided:
                return found
            await asyncio.sleep(0.05)


async def test_an_addition_is_decided_later_and_insures_and_a_removal_stops_it(
    systems: Systems,  # noqa: F811
) -> None:
    si = systems.insurance
    systems.switches[INSURANCE].faults(review_delay_s=0)
    addition = an_addition()
    p = addition.person
    reference = await si.declare_addition(addition)
    approved = await decided(systems, reference)
    assert (approved.state, approved.kind, approved.effective_on) == (
        DeclarationState.APPROVED,
        DeclarationKind.ADDITION,
        START,
    )
    assert approved.insurance_number
    (spell,) = await si.insurance(p.id_type, p.id_number)
    assert (spell.employer_id, spell.start_date, spell.state) == (
        UNIT_SI,
        START,
        InsuranceState.INSURED,
    )
    # Insured here: a second addition is refused, and no declaration stands in the way.
    again = await _refused(si.declare_addition(addition), Duplicate, "1002")
    assert isinstance(again, Duplicate)
    assert again.existing_reference is None

    removal = RemovalRequest.after_relation_ended(UNIT_SI, p.id_type, p.id_number, LEFT_ON)
    stopped = await decided(systems, await si.declare_removal(removal))
    assert (stopped.state, stopped.effective_on) == (
        DeclarationState.APPROVED,
        LEFT_ON + dt.timedelta(days=1),
    )
    (spell,) = await si.insurance(p.id_type, p.id_number)
    assert (spell.state, spell.stop_date) == (
        InsuranceState.STOPPED,
        LEFT_ON + dt.timedelta(days=1),
    )
    assert (await _refused(si.declare_removal(removal), NotFound, "1003")).field == "id_number"
    found = await si.find_declarations(UNIT_SI, p.id_type, p.id_number)
    assert [d.kind for d in found] == [DeclarationKind.REMOVAL, DeclarationKind.ADDITION]


async def test_under_review_it_is_the_duplicate_and_can_be_withdrawn(
    systems: Systems,  # noqa: F811
) -> None:
    si = systems.insurance
    systems.switches[INSURANCE].faults(review_delay_s=60)
    addition = an_addition()
    p = addition.person
    reference = await si.declare_addition(addition)
    assert (await si.declaration(reference)).state is DeclarationState.UNDER_REVIEW
    duplicate = await _refused(si.declare_addition(addition), Duplicate, "1002")
    assert isinstance(duplicate, Duplicate)
    assert duplicate.existing_reference == reference  # how a lost answer is found again
    (found,) = await si.find_declarations(UNIT_SI, p.id_type, p.id_number)
    assert (found.reference, found.id_number) == (reference, p.id_number)
    # Not yet insured: nothing to remove, and no reverse of what is not approved.
    removal = RemovalRequest.after_relation_ended(UNIT_SI, p.id_type, p.id_number, LEFT_ON)
    await _refused(si.declare_removal(removal), NotFound, "1003")
    with pytest.raises(Rejected, match="withdraw"):
        await si.reverse(reference)

    await si.withdraw(reference)
    assert (await si.declaration(reference)).state is DeclarationState.WITHDRAWN
    await _refused(si.withdraw(reference), Rejected, "1409")
    await _refused(si.withdraw("SL20240101999999"), NotFound, "1005")
    await _refused(si.declaration("SL20240101999999"), NotFound, "1005")
    assert await si.insurance(p.id_type, p.id_number) == []
    await _refused(
        si.find_declarations("SB37010299999999", p.id_type, p.id_number), NotFound, "1004"
    )
    await _refused(
        si.declare_addition(replace(addition, employer_id="SB37010299999999")), NotFound, "1004"
    )


async def test_a_returned_declaration_says_why(systems: Systems) -> None:  # noqa: F811
    si = systems.insurance
    switches = systems.switches[INSURANCE]
    switches.faults(review_delay_s=0)
    low = await decided(
        systems, await si.declare_addition(an_addition(monthly_wage=Decimal("3799.99")))
    )
    assert (low.state, low.return_reason) == (
        DeclarationState.RETURNED,
        ReturnReason.WAGE_OUT_OF_RANGE,
    )
    assert low.return_note
    switches.faults(return_rate=1.0)
    drawn = await decided(systems, await si.declare_addition(an_addition()))
    assert (drawn.state, drawn.return_reason) == (
        DeclarationState.RETURNED,
        ReturnReason.RECORDS_DIFFER,
    )
    assert drawn.insurance_number is None
    assert drawn.effective_on is None


async def test_an_approved_addition_is_undone_by_its_reverse(systems: Systems) -> None:  # noqa: F811
    si = systems.insurance
    systems.switches[INSURANCE].faults(review_delay_s=0)
    addition = an_addition()
    p = addition.person
    approved = await decided(systems, await si.declare_addition(addition))
    reverse = await si.reverse(approved.reference)
    undone = await decided(systems, reverse)
    assert (undone.kind, undone.state, undone.effective_on) == (
        DeclarationKind.REMOVAL,
        DeclarationState.APPROVED,
        START,
    )
    (spell,) = await si.insurance(p.id_type, p.id_number)
    assert (spell.start_date, spell.stop_date, spell.state) == (
        START,
        START,
        InsuranceState.STOPPED,
    )
    # The removal reversed in its turn: insured again from the day it stopped.
    restored = await decided(systems, await si.reverse(reverse, restore=addition))
    assert (restored.kind, restored.state, restored.effective_on) == (
        DeclarationKind.ADDITION,
        DeclarationState.APPROVED,
        START,
    )


async def test_over_the_quota_nothing_is_done_and_retry_after_says_when(
    systems: Systems,  # noqa: F811
) -> None:
    si = systems.insurance
    switches = systems.switches[INSURANCE]
    addition = an_addition()
    p = addition.person
    switches.faults(quota_per_s=1, review_delay_s=60)
    await si.find_declarations(UNIT_SI, p.id_type, p.id_number)  # the second's one request
    with pytest.raises(Unavailable) as raised:
        await si.declare_addition(addition)
    assert (raised.value.outcome_unknown, raised.value.retry_after) == (False, 1.0)
    switches.faults(quota_per_s=0)
    assert await si.find_declarations(UNIT_SI, p.id_type, p.id_number) == []
    assert switches.stats()["declarations.addition"] == 1
