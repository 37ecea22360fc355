"""A cancelled ending whose approved removal the gateway cannot reverse by itself,
against the social insurance stand-in (the three other systems are the fakes).

The clerk ends a worker with the unemployment registration; unemployment refuses,
the agency approves the removal, the clerk cancels the registration. Undoing the
removal needs the worker insured again: where the gateway holds no addition to
declare again, or its reverse addition is returned, the step waits for a person.
Once the clerk has had the worker insured again at the agency by hand, a retry
finds it so (``insured/search``): the step is undone, the registration ends and
the worker is released for the next registration.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from adapters.social_insurance import SocialInsuranceAdapter, deciding
from adapters.social_insurance.model import SYSTEM as INSURANCE
from adapters.social_insurance.model import DeclarationKind, DeclarationState
from adapters.social_insurance.review import SEED_UNITS
from adapters.social_insurance.settings import SocialInsuranceSettings
from adapters.standin.process import RunningStandin
from adapters.standin.today import province_today
from gateway.domain.model import EndReason, RegistrationRow, System, UnemploymentRequest
from gateway.registrations.engine import Engine
from gateway.registrations.model import Channel, Registration, RegistrationState, StepState
from gateway.registrations.plan import new_id, person_of, plan_row, to_payload
from gateway.store import Store
from tests.registrations.support import (
    LEFT_ON,
    START,
    UNIT,
    Adapters,
    end_row,
    hire_row,
    settle,
    step_of,
    store_all,
    unit_ids,
)
from tests.social_insurance import wire

UNIT_SI = SEED_UNITS[0]
WAGE = Decimal("6000.00")
STOPPED_ON = LEFT_ON + dt.timedelta(days=1)


@pytest.fixture
async def si(social_insurance_standin: RunningStandin) -> AsyncIterator[SocialInsuranceAdapter]:
    social_insurance_standin.faults(review_delay_s=0)  # decided as soon as the agency looks
    adapter = SocialInsuranceAdapter.from_settings(
        SocialInsuranceSettings(url=social_insurance_standin.url, timeout=5.0, connect_timeout=1.0)
    )
    yield adapter
    await adapter.aclose()


@pytest.fixture
def engine(
    make_engine: Callable[..., Engine], adapters: Adapters, si: SocialInsuranceAdapter
) -> Engine:
    return make_engine(owner="insurance-by-hand", using={**adapters.all(), INSURANCE: si})


def planned(row: RegistrationRow, *, insurance: bool = True) -> tuple[str, Registration]:
    ids: dict[System, str | None] = {**unit_ids(UNIT)}
    if insurance:
        ids[INSURANCE] = UNIT_SI
    submission_id = new_id()
    registration = plan_row(
        row, UNIT.profile.credit_code, UNIT.profile.division, ids,
        submission_id=submission_id, channel=Channel.SERVICE_WINDOW, actor_id=None,
        actor_username=None, warnings=[], now=dt.datetime.now(dt.UTC),
        step_deadline=dt.timedelta(minutes=5),
    )  # fmt: skip
    return submission_id, registration


async def run(store: Store, engine: Engine, row: RegistrationRow, **options: bool) -> Registration:
    submission_id, registration = planned(row, **options)
    (stored,) = await store_all(store, submission_id, [registration])
    (done,) = await settle(store, [stored.id], engine)
    return done


async def ended_then_cancelled(
    store: Store,
    engine: Engine,
    si: SocialInsuranceAdapter,
    row: RegistrationRow,
    before_cancel: Callable[[], object] = lambda: None,
) -> Registration:
    """End the worker with the unemployment registration, which the system refuses
    (a relation ending tomorrow: 40001); the removal is approved; the clerk
    cancels the registration (``before_cancel`` done first)."""
    ending = dataclasses.replace(end_row(row), monthly_wage=None)
    submission_id, registration = planned(ending)
    tomorrow = province_today() + dt.timedelta(days=1)
    refused = UnemploymentRequest(
        UNIT.unemployment_id, person_of(row), tomorrow, EndReason.AGREEMENT
    )
    registration.steps = [
        dataclasses.replace(s, payload=to_payload(refused))
        if s.system is System.UNEMPLOYMENT
        else s
        for s in registration.steps
    ]
    (stored,) = await store_all(store, submission_id, [registration])
    (settled,) = await settle(store, [stored.id], engine)
    assert settled.state is RegistrationState.NEEDS_ATTENTION
    assert step_of(settled, System.UNEMPLOYMENT).state is StepState.REFUSED
    removal = step_of(settled, INSURANCE)
    assert removal.state is StepState.DONE
    approved = await si.declaration(removal.reference or "")
    assert approved.state is DeclarationState.APPROVED
    before_cancel()
    await engine.cancel(settled.id)
    (cancelled,) = await settle(store, [settled.id], engine)
    return cancelled


def insure_by_hand(standin: RunningStandin, row: RegistrationRow, start: dt.date) -> str:
    """The clerk declares the worker's addition at the agency, which approves it."""
    standin.faults(review_delay_s=0, return_rate=0.0)
    body = wire.addition(
        UNIT_SI, aac002=row.id_number, aac003=row.name, aac004="1", csrq="1990-05-01",
        cbrq=start.isoformat(), jfgz=str(WAGE),
    )  # fmt: skip
    slh = wire.declare(standin, "/si/v2/declarations/additions", body)
    assert wire.wait_decided(standin, slh)["zt"] == "02"
    return slh


async def released(store: Store, engine: Engine, row: RegistrationRow, stuck: Registration) -> None:
    """Retried, the step finds the worker insured again: undone, the registration
    ends, and a new registration of the worker is accepted."""
    await engine.retry(stuck.id)
    (ended,) = await settle(store, [stuck.id], engine)
    assert ended.state.is_final, ended.state
    assert ended.state is RegistrationState.CANCELLED
    assert step_of(ended, INSURANCE).state is StepState.UNDONE
    submission_id, again = planned(dataclasses.replace(end_row(row), register_unemployment=False))
    await store_all(store, submission_id, [again])  # Created: the worker is no longer locked


async def test_a_removal_with_no_addition_to_restore_clears_once_insured_again_by_hand(
    store: Store,
    engine: Engine,
    si: SocialInsuranceAdapter,
    social_insurance_standin: RunningStandin,
) -> None:
    row = hire_row()
    # Hired through the gateway before social insurance was on; insured at the
    # agency before the gateway knew it: the gateway holds no addition to restore.
    assert (await run(store, engine, row, insurance=False)).state is RegistrationState.COMPLETED
    insure_by_hand(social_insurance_standin, row, START)

    stuck = await ended_then_cancelled(store, engine, si, row)
    assert stuck.state is RegistrationState.NEEDS_ATTENTION
    step = step_of(stuck, INSURANCE)
    assert step.state is StepState.STUCK
    assert step.last_error is not None
    assert step.last_error.code == deciding.REVERSE_NEEDS_A_PERSON
    # It says what to declare by hand and that a retry then moves on.
    assert "重试" in step.last_error.message_zh
    assert "retry" in step.last_error.message_en
    assert STOPPED_ON.isoformat() in step.last_error.message_en

    # A retry before anything was done at the agency: stuck again, the same.
    await engine.retry(stuck.id)
    (again,) = await settle(store, [stuck.id], engine)
    assert step_of(again, INSURANCE).state is StepState.STUCK
    assert again.state is RegistrationState.NEEDS_ATTENTION

    insure_by_hand(social_insurance_standin, row, STOPPED_ON)
    await released(store, engine, row, again)


async def test_a_returned_reverse_addition_clears_once_insured_again_by_hand(
    store: Store,
    engine: Engine,
    si: SocialInsuranceAdapter,
    social_insurance_standin: RunningStandin,
) -> None:
    row = dataclasses.replace(hire_row(), monthly_wage=WAGE)
    hired = await run(store, engine, row)
    assert hired.state is RegistrationState.COMPLETED  # its addition approved

    stuck = await ended_then_cancelled(
        store, engine, si, row,
        # The removal approved, the reverse addition is returned.
        before_cancel=lambda: social_insurance_standin.faults(return_rate=1.0),
    )  # fmt: skip
    step = step_of(stuck, INSURANCE)
    assert step.state is StepState.STUCK
    assert step.last_error is not None
    assert step.last_error.code == deciding.REVERSE_RETURNED
    assert "重试" in step.last_error.message_zh
    assert "retry" in step.last_error.message_en
    reverse = await si.declaration(step.reference or "")
    assert (reverse.kind, reverse.state) == (DeclarationKind.ADDITION, DeclarationState.RETURNED)

    # Retried as it is: the same returned reverse, stuck again.
    social_insurance_standin.faults(return_rate=0.0)
    await engine.retry(stuck.id)
    (again,) = await settle(store, [stuck.id], engine)
    assert step_of(again, INSURANCE).state is StepState.STUCK

    insure_by_hand(social_insurance_standin, row, STOPPED_ON)
    await released(store, engine, row, again)
