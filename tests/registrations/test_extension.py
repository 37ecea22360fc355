"""A fifth system joins through the extension point, and a hire goes through it.

The toy system (``toy_system.py``) lives outside the gateway's package. A
distribution's metadata, written to a folder put on ``sys.path``, names it under
the ``hrss_gateway.systems`` entry-point group, as an installed package of a
province would: the registry finds it there, the configuration switches it on,
planning adds its steps, and the engine writes, reconciles and undoes them by
what its spec declares, on a real store, beside the three core systems (fakes).
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from gateway.auth import HashParams, Passwords
from gateway.cli import build_parser
from gateway.config import GatewayConfig
from gateway.registrations.engine import Engine
from gateway.registrations.model import Channel, RegistrationState, StepKind, StepState
from gateway.registrations.service import Registrar
from gateway.registry import ENTRY_POINT_GROUP, registry, reload
from gateway.services import system_limits
from gateway.store import EmployerRecord, Store
from tests.clock import MovableClock
from tests.factories import clerk_account
from tests.registrations.support import (
    UNIT,
    Adapters,
    contracts,
    employments,
    end_row,
    hire_row,
    settle,
    step_of,
)
from tests.registrations.toy_system import ENROL, REMOVE, SPEC, SYSTEM, TRAINING

ENABLED = {"HRSS_TRAINING_ENABLED": "true"}
CLERK = clerk_account()


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[None]:
    """The toy system's distribution, installed on ``sys.path`` for the test only."""
    dist = tmp_path / "site" / "hrss_toy_training-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hrss-toy-training\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\ntraining = tests.registrations.toy_system:SPEC\n"
    )
    site = str(tmp_path / "site")
    sys.path.insert(0, site)
    importlib.invalidate_caches()
    TRAINING.__init__()  # type: ignore[misc]
    try:
        reload()
        yield
    finally:
        sys.path.remove(site)
        importlib.invalidate_caches()
        reload()


def test_without_its_distribution_the_system_is_unknown() -> None:
    assert SYSTEM not in registry()
    assert "training" not in registry().names()


def test_its_entry_point_registers_it_and_a_deployment_switches_it_on(installed: None) -> None:
    assert registry().get(SYSTEM) is SPEC
    assert registry().system_of(ENROL) == SYSTEM
    # Off by default; on where the deployment says so, with its own settings.
    assert SYSTEM not in GatewayConfig.load(environ={}).systems
    config = GatewayConfig.load(environ={**ENABLED, "HRSS_TRAINING_URL": "memory://elsewhere"})
    assert config.system(SYSTEM).url == "memory://elsewhere"
    assert list(config.systems)[-1] == SYSTEM  # after the built-ins
    # Its stand-in-less self is not offered by ``legacy``; its name is taken nowhere else.
    args = build_parser().parse_args(["legacy", "employment"])
    assert args.system == "employment"
    assert "training" in registry().names()


@pytest.fixture
async def registrar(
    installed: None, store_url: str, clock: MovableClock
) -> AsyncIterator[tuple[Registrar, EmployerRecord]]:
    config = GatewayConfig.load(environ=ENABLED)
    audited = await Store.open(
        store_url, passwords=Passwords(HashParams.cheap()), audit_key=b"k" * 32, clock=clock
    )
    unit = UNIT.profile
    binding = await TRAINING.ensure_employer(unit)
    employer = await audited.employers.upsert(
        EmployerRecord(
            unit.credit_code,
            unit.name,
            unit.division,
            ids={
                **dict(zip(registry().systems[:3], _core_ids(), strict=True)),
                SYSTEM: binding.employer_id,
            },
        )
    )
    registrar = Registrar(audited, config, clock=clock, limits=system_limits(config.systems))
    yield registrar, employer
    await audited.close()


def _core_ids() -> tuple[str, str, str]:
    return UNIT.employment_id, UNIT.labour_id, UNIT.unemployment_id


@pytest.fixture
def training_engine(
    installed: None, make_engine: Callable[..., Engine], adapters: Adapters
) -> Engine:
    return make_engine(owner="with-training", using={**adapters.all(), SYSTEM: TRAINING})


async def _submit(registrar: Registrar, employer: EmployerRecord, row: object) -> str:
    outcome = await registrar.submit(
        actor=CLERK,
        channel=Channel.SERVICE_WINDOW,
        employer=employer,
        rows=[row],  # type: ignore[list-item]
        idempotency_key=f"key-{id(row)}",
    )
    assert outcome.problems == []
    (registration,) = outcome.registrations
    return registration.id


async def test_a_hire_is_carried_through_the_fifth_system(
    registrar: tuple[Registrar, EmployerRecord],
    training_engine: Engine,
    store: Store,
    adapters: Adapters,
) -> None:
    submitting, employer = registrar
    hired = hire_row()
    registration_id = await _submit(submitting, employer, hired)

    planned = await store.registrations.get(registration_id)
    assert planned is not None
    # Its spec's follow-up: after the employment and labour steps.
    assert [(s.system, s.operation, s.stage) for s in planned.steps][-1] == (SYSTEM, ENROL, 1)
    # Lost once, its answer is found by its own query, never sent twice.
    TRAINING.lose_next_answer = True
    (done,) = await settle(store, [registration_id], training_engine)

    assert done.state is RegistrationState.COMPLETED
    enrolment = step_of(done, SYSTEM)
    assert enrolment.state is StepState.DONE
    assert enrolment.reference == "TR-0001"
    assert TRAINING.calls["enrol"] == 1
    assert [e.kind for e in TRAINING.active(employer.ids[SYSTEM], hired.id_number)] == ["enrolment"]
    assert len(await employments(adapters, hired.id_number)) == 1
    assert len(await contracts(adapters, hired.id_number)) == 1


async def test_a_refusal_undoes_its_write_and_an_undo_it_already_did_counts(
    registrar: tuple[Registrar, EmployerRecord],
    training_engine: Engine,
    store: Store,
    adapters: Adapters,
) -> None:
    submitting, employer = registrar
    hired = hire_row()
    (hire,) = await settle(store, [await _submit(submitting, employer, hired)], training_engine)
    assert hire.state is RegistrationState.COMPLETED
    # The contract was revoked in the labour system meanwhile: ending it is refused.
    await adapters.labour.revoke(step_of(hire, adapters.labour.system).reference or "")
    ending = dataclasses.replace(end_row(hired), register_unemployment=False)
    ending_id = await _submit(submitting, employer, ending)

    (done,) = await settle(store, [ending_id], training_engine)

    assert done.state is RegistrationState.COMPENSATED
    assert done.failure is not None
    removal = step_of(done, SYSTEM)
    assert removal.operation == REMOVE
    assert removal.state is StepState.UNDONE
    assert TRAINING.calls["withdraw"] == 1
    # Undone: the worker is enrolled again, and registered employed again.
    assert [e.kind for e in TRAINING.active(employer.ids[SYSTEM], hired.id_number)] == ["enrolment"]
    assert step_of(done, adapters.employment.system).state is StepState.UNDONE


async def test_an_undo_the_system_says_is_done_already_counts_as_done(
    registrar: tuple[Registrar, EmployerRecord],
    training_engine: Engine,
    store: Store,
    adapters: Adapters,
) -> None:
    """Its spec's ``already_undone`` codes are what its "already withdrawn" is."""
    submitting, employer = registrar
    hired = hire_row()
    await settle(store, [await _submit(submitting, employer, hired)], training_engine)
    original = TRAINING.withdraw

    async def withdrawn_by_hand_first(reference: str) -> None:
        # A clerk withdrew it in the register before the compensation came.
        TRAINING.entries[reference].withdrawn = True
        await original(reference)

    TRAINING.withdraw = withdrawn_by_hand_first  # type: ignore[method-assign]
    contract = (await contracts(adapters, hired.id_number))[0]
    await adapters.labour.revoke(contract.reference)
    ending = dataclasses.replace(end_row(hired), register_unemployment=False)

    (done,) = await settle(store, [await _submit(submitting, employer, ending)], training_engine)

    assert done.state is RegistrationState.COMPENSATED
    removal = step_of(done, SYSTEM)
    assert removal.state is StepState.UNDONE
    assert TRAINING.active(employer.ids[SYSTEM], hired.id_number)[-1].kind == "enrolment"


async def test_a_refused_follow_up_of_its_own_leaves_the_core_and_waits_for_a_person(
    registrar: tuple[Registrar, EmployerRecord],
    training_engine: Engine,
    store: Store,
    adapters: Adapters,
) -> None:
    """A step a system adds to another's business is a follow-up: refused, it
    leaves the worker registered and the contract filed, and says what is left."""
    submitting, employer = registrar
    TRAINING.refuse_enrolments = True
    hired = hire_row()

    (done,) = await settle(store, [await _submit(submitting, employer, hired)], training_engine)

    assert done.state is RegistrationState.NEEDS_ATTENTION
    assert done.failure is None  # nothing to undo: the core stands
    enrolment = step_of(done, SYSTEM)
    assert enrolment.kind is StepKind.FOLLOW_UP
    assert enrolment.state is StepState.REFUSED
    assert enrolment.last_error is not None
    assert enrolment.last_error.system_code == "T422"
    assert "职业培训登记系统" in enrolment.last_error.message_zh
    assert {s.state for s in done.steps if s.system != SYSTEM} == {StepState.DONE}
    assert [c.state.value for c in await contracts(adapters, hired.id_number)] == ["IN_FORCE"]


async def test_a_step_of_a_system_switched_off_since_waits_for_a_clerk(
    registrar: tuple[Registrar, EmployerRecord],
    make_engine: Callable[..., Engine],
    adapters: Adapters,
    store: Store,
    clock: MovableClock,
) -> None:
    """Planned while the system was on, carried out by a gateway without it: nothing is
    sent, the step waits without counting attempts, and its deadline brings a clerk."""
    submitting, employer = registrar
    registration_id = await _submit(submitting, employer, hire_row())
    without = make_engine(owner="without-training", using=adapters.all())
    for _ in range(20):
        await without.run_once()
        clock.advance(1.0)
    waiting = await store.registrations.get(registration_id)
    assert waiting is not None
    step = step_of(waiting, SYSTEM)
    assert step.state is StepState.PENDING
    assert step.attempts == 0
    assert step.last_error is not None
    assert step.last_error.code == "SYSTEM_UNAVAILABLE"
    assert "职业培训登记系统" in step.last_error.message_zh
    assert TRAINING.calls["enrol"] == 0

    clock.advance(25 * 3600)  # past the step's deadline (a day)
    (done,) = await settle(store, [registration_id], without)

    assert done.state is RegistrationState.NEEDS_ATTENTION
    assert step_of(done, SYSTEM).state is StepState.STUCK
