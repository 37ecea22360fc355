"""A system whose writes are decided later joins through the extension point and
needs nothing outside its own module (``toy_review.py``): the engine awaits its
application by the hooks it declares (``gateway.decided``), polled from the
store, finds it when its answer was lost, refuses it as the system says, and
withdraws it on a compensation, beside the three core systems (fakes)."""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from gateway.auth import HashParams, Passwords
from gateway.config import GatewayConfig
from gateway.registrations import declarations
from gateway.registrations.engine import Engine
from gateway.registrations.model import (
    Channel,
    RegistrationState,
    StepKind,
    StepState,
    core_complete,
)
from gateway.registrations.service import Registrar
from gateway.registry import ENTRY_POINT_GROUP, registry, reload
from gateway.services import system_limits
from gateway.store import EmployerRecord, Store
from tests.clock import MovableClock
from tests.registrations.support import UNIT, Adapters, hire_row, run_until, settle, step_of
from tests.registrations.test_extension import CLERK
from tests.registrations.toy_review import APPLY, REFUSED_CODE, REVIEW, SPEC, SYSTEM, ToyReview

ENABLED = {"HRSS_SUBSIDY_ENABLED": "true"}


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[None]:
    dist = tmp_path / "site" / "hrss_toy_subsidy-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hrss-toy-subsidy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nsubsidy = tests.registrations.toy_review:SPEC\n"
    )
    site = str(tmp_path / "site")
    sys.path.insert(0, site)
    importlib.invalidate_caches()
    ToyReview.__init__(REVIEW)
    try:
        reload()
        yield
    finally:
        sys.path.remove(site)
        importlib.invalidate_caches()
        reload()


@pytest.fixture
async def registrar(
    installed: None, store_url: str, clock: MovableClock
) -> AsyncIterator[tuple[Registrar, EmployerRecord]]:
    config = GatewayConfig.load(environ=ENABLED)
    audited = await Store.open(
        store_url, passwords=Passwords(HashParams.cheap()), audit_key=b"k" * 32, clock=clock
    )
    unit = UNIT.profile
    binding = await REVIEW.ensure_employer(unit)
    core = dict(
        zip(
            registry().systems[:3],
            (UNIT.employment_id, UNIT.labour_id, UNIT.unemployment_id),
            strict=True,
        )
    )
    employer = await audited.employers.upsert(
        EmployerRecord(
            unit.credit_code, unit.name, unit.division, ids={**core, SYSTEM: binding.employer_id}
        )
    )
    yield Registrar(audited, config, clock=clock, limits=system_limits(config.systems)), employer
    await audited.close()


@pytest.fixture
def review_engine(
    installed: None, make_engine: Callable[..., Engine], adapters: Adapters
) -> Engine:
    return make_engine(owner="with-review", using={**adapters.all(), SYSTEM: REVIEW})


async def _submit(registrar: Registrar, employer: EmployerRecord) -> str:
    outcome = await registrar.submit(
        actor=CLERK,
        channel=Channel.SERVICE_WINDOW,
        employer=employer,
        rows=[hire_row()],
        idempotency_key=f"key-{dt.datetime.now().timestamp()}",
    )
    assert outcome.problems == []
    (registration,) = outcome.registrations
    return registration.id


def test_its_spec_says_its_writes_are_decided_later(installed: None) -> None:
    assert registry().operation(APPLY).decided_later is SPEC.operations[0].decided_later
    assert SYSTEM in GatewayConfig.load(environ=ENABLED).systems


async def test_an_application_is_awaited_then_done_and_a_lost_answer_is_found(
    registrar: tuple[Registrar, EmployerRecord], review_engine: Engine, store: Store
) -> None:
    submitting, employer = registrar
    REVIEW.lose_next_answer = True  # committed, its answer lost: found, never sent twice
    registration_id = await _submit(submitting, employer)

    async def awaiting() -> bool:
        found = await store.registrations.get(registration_id)
        assert found is not None
        step = step_of(found, SYSTEM)
        return step.last_error is not None and step.reference is not None

    await run_until(awaiting, review_engine)
    found = await store.registrations.get(registration_id)
    assert found is not None
    step = step_of(found, SYSTEM)
    assert step.state is StepState.UNKNOWN  # answered, not decided
    assert step.last_error is not None
    assert step.last_error.code == declarations.AWAITING_DECISION
    assert step.reference in step.last_error.message_en
    assert found.state is RegistrationState.IN_PROGRESS

    REVIEW.decide_after = REVIEW.entries[step.reference or ""].looks + 2  # polled, then decided
    (done,) = await settle(store, [registration_id], review_engine)
    assert done.state is RegistrationState.COMPLETED
    applied = step_of(done, SYSTEM)
    assert (applied.state, applied.reference, applied.last_error) == (
        StepState.DONE,
        step.reference,
        None,
    )
    assert REVIEW.calls["apply"] == 1
    assert REVIEW.calls["search"] >= 1
    assert REVIEW.calls["look"] >= 2


async def test_a_refused_application_is_a_follow_up_waiting_with_the_systems_reason(
    registrar: tuple[Registrar, EmployerRecord], review_engine: Engine, store: Store
) -> None:
    submitting, employer = registrar
    REVIEW.decide_after, REVIEW.verdict = 1, "REFUSED"
    (done,) = await settle(store, [await _submit(submitting, employer)], review_engine)
    assert done.state is RegistrationState.NEEDS_ATTENTION
    assert core_complete(done)
    refused = step_of(done, SYSTEM)
    assert (refused.kind, refused.state) == (StepKind.FOLLOW_UP, StepState.REFUSED)
    assert refused.last_error is not None
    assert refused.last_error.code == REFUSED_CODE
    assert "subsidy" in refused.last_error.message_en


async def test_a_cancel_withdraws_an_application_still_under_review(
    registrar: tuple[Registrar, EmployerRecord],
    review_engine: Engine,
    store: Store,
    clock: MovableClock,
) -> None:
    submitting, employer = registrar
    registration_id = await _submit(submitting, employer)

    async def applied() -> bool:
        found = await store.registrations.get(registration_id)
        assert found is not None
        return step_of(found, SYSTEM).reference is not None

    await run_until(applied, review_engine)
    clock.advance(10 * 24 * 3600)  # past the step's deadline: stuck for a person
    (stuck,) = await settle(store, [registration_id], review_engine)
    assert stuck.state is RegistrationState.NEEDS_ATTENTION
    assert step_of(stuck, SYSTEM).state is StepState.STUCK
    await review_engine.cancel(registration_id)
    (cancelled,) = await settle(store, [registration_id], review_engine)
    withdrawn = step_of(cancelled, SYSTEM)
    assert withdrawn.state is StepState.UNDONE
    assert REVIEW.entries[withdrawn.reference or ""].state == "WITHDRAWN"
    assert REVIEW.calls["withdraw"] == 1
