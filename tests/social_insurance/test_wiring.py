"""Social insurance as the fourth registered system: off unless switched on; when on,
the gateway builds its adapter, reports it in ``/readyz`` and the metrics, and
opening an account registers the unit there too (against the stand-ins)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from adapters.social_insurance.model import SYSTEM
from adapters.social_insurance.review import SEED_UNITS
from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS
from gateway.app import create_app
from gateway.cli import build_parser
from gateway.config import GatewayConfig
from gateway.demo import prepare_store
from gateway.domain.model import EmployerProfile
from gateway.registrations.model import Channel, RegistrationState, StepState
from gateway.registrations.plan import new_id, plan_account
from gateway.registrations.wiring import engine_for
from gateway.registry import registry
from gateway.resilience import Resilient
from gateway.services import Gateway
from tests.factories import credit_code
from tests.registrations.support import settle, store_all
from tests.services import sqlite_store


def test_it_is_registered_and_off_unless_switched_on() -> None:
    spec = registry().get(SYSTEM)
    assert spec.cli_name == "social-insurance"
    assert SYSTEM not in GatewayConfig.load(environ={}).systems
    assert SYSTEM in GatewayConfig.load(environ={"HRSS_SOCIAL_INSURANCE_ENABLED": "true"}).systems
    # The demo switches it on, unless the deployment says otherwise.
    assert SYSTEM in GatewayConfig.load(environ={}, demo=True).systems
    off = {"HRSS_SOCIAL_INSURANCE_ENABLED": "false"}
    assert SYSTEM not in GatewayConfig.load(environ=off, demo=True).systems
    assert build_parser().parse_args(["legacy", "social-insurance"]).system == "social-insurance"


def test_its_table_in_the_file_switches_it_on(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[systems.social_insurance]\nenabled = true\nurl = "http://si.example:9"\n')
    config = GatewayConfig.load(path, environ={})
    assert config.system(SYSTEM).url == "http://si.example:9"


@pytest.fixture
async def gateway(
    tmp_path: Path,
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
    social_insurance_standin: RunningStandin,
) -> AsyncIterator[Gateway]:
    env = {
        "HRSS_EMPLOYMENT_URL": employment_standin.url,
        "HRSS_LABOUR_URL": labor_standin.url,
        "HRSS_UNEMPLOYMENT_URL": unemployment_standin.url,
        "HRSS_SOCIAL_INSURANCE_URL": social_insurance_standin.url,
        "HRSS_SOCIAL_INSURANCE_ENABLED": "on",
    }
    config = GatewayConfig.load(
        environ=env,
        token_secret="t" * 32,
        audit_key="a" * 32,
        data_dir=str(tmp_path),
        store_url=sqlite_store(tmp_path / "gateway.db"),
        # Readiness looked at anew at each request: the test takes a system down
        # between two (tests/gateway/test_systems.py shows the answer kept).
        readiness_cache_s=0,
    )
    gw = await Gateway.start(config)
    await prepare_store(gw.store, config.systems)
    yield gw
    await gw.close()


async def test_when_on_it_is_in_the_adapters_readiness_and_metrics(
    gateway: Gateway, social_insurance_standin: RunningStandin
) -> None:
    assert list(gateway.adapters)[-1] == SYSTEM
    assert isinstance(gateway.adapters[SYSTEM], Resilient)
    app = create_app(gateway.config, gateway=gateway)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        ready = await http.get("/readyz")
        assert ready.json()["systems"]["social_insurance"] == {"ready": True}
        social_insurance_standin.faults(down=True)
        degraded = await http.get("/readyz")
        social_insurance_standin.reset()
    assert degraded.status_code == 503
    assert degraded.json()["systems"]["social_insurance"]["ready"] is False
    assert degraded.json()["systems"]["employment"] == {"ready": True}
    lines = gateway.metrics.exposition().splitlines()
    ours = [line for line in lines if 'system="social_insurance"' in line]
    assert any(line.startswith("hrss_system_breaker_state{") for line in ours)
    assert any(
        line.startswith("hrss_system_calls_total{") and 'operation="ping"' in line for line in ours
    )
    # The demo's seed units are bound there too, under the stand-in's seed ids.
    seeded = await gateway.store.employers.get(EMPLOYERS[0].profile.credit_code)
    assert seeded is not None
    assert seeded.ids[SYSTEM] == SEED_UNITS[0]


async def test_opening_an_account_registers_the_unit_for_insurance(gateway: Gateway) -> None:
    profile = EmployerProfile(
        credit_code(), "济南参保测试有限公司", "370102", "张三", "053188880000"
    )
    registration = plan_account(
        profile,
        systems=gateway.registrar.systems,
        submission_id=new_id(),
        channel=Channel.GOVERNMENT_PORTAL,
        actor_id=None,
        actor_username=None,
        warnings=[],
        now=dt.datetime.now(dt.UTC),
        step_deadline=dt.timedelta(minutes=5),
    )
    assert {s.system for s in registration.steps} == set(gateway.adapters)
    (stored,) = await store_all(gateway.store, registration.submission_id, [registration])

    (done,) = await settle(gateway.store, [stored.id], engine_for(gateway))

    assert done.state is RegistrationState.COMPLETED
    (insured,) = [s for s in done.steps if s.system == SYSTEM]
    assert insured.state is StepState.DONE
    assert insured.reference is not None
    bound = await gateway.store.employers.get(profile.credit_code)
    assert bound is not None
    assert bound.ids[SYSTEM] == insured.reference
    found = await gateway.adapters[SYSTEM].find_employer(profile.credit_code)
    assert found is not None
    assert found.employer_id == insured.reference
