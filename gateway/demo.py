"""Demo mode: the gateway, the seeded stand-ins and three demo accounts.

``hrss-gateway serve --demo`` (what ``make demo`` runs) starts each stand-in
(every system switched on, which in the demo includes social insurance, and the
identity provider, which the gateway is set to trust) as its own process on its
default loopback port, keeps every store under the local data folder, signs up
``demo-employer``, ``demo-clerk`` and ``demo-admin`` (password ``demo-password``,
in demo mode only), and stops the stand-ins when the gateway stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx

from adapters.identity.config import DEFAULT_PORT as IDENTITY_PORT
from adapters.standin.process import PortInUse, RunningStandin, bound_socket, start_standin
from adapters.standin.seed import EMPLOYERS
from gateway.config import GatewayConfig
from gateway.domain.identifiers import eleven_two_check
from gateway.domain.model import (
    ContractTerm,
    ContractType,
    Education,
    EmployerProfile,
    EmploymentForm,
    EmploymentPersonCategory,
    EmploymentRegistrationRequest,
    FilingPersonCategory,
    Gender,
    IdType,
    Person,
    System,
)
from gateway.oidc_settings import OidcSettings, secure_url
from gateway.registry import SystemSpec, registry
from gateway.store import DuplicateUsername, EmployerRecord, Role, Store
from gateway.systems import EmploymentSystem, LabourSystem, UnemploymentSystem

DEMO_PASSWORD = "demo-password"  # noqa: S105 - demo mode only, printed on start
DEMO_EMPLOYER = EMPLOYERS[0]
#: Jinan city: the clerk reaches the two Jinan employers of the seed, not Qingdao's.
DEMO_CLERK_DIVISION = "370100"


def _standins(config: GatewayConfig) -> list[SystemSpec]:
    """The systems switched on whose stand-in the demo runs."""
    return [registry().get(s) for s in config.systems if registry().get(s).standin is not None]


def _data_file(data: Path, spec: SystemSpec) -> Path:
    """The stand-in's SQLite file; one kept under an older name of the system stays in use."""
    for name in spec.aliases:
        older = data / f"{name}.db"
        if older.exists() and not (data / f"{spec.key}.db").exists():
            return older
    return data / f"{spec.key}.db"


FIRST_QUERY = """\
# Sign in first (mutation below), then put the token in the headers pane:
#   {"Authorization": "Bearer <token>"}
mutation SignIn {
  login(username: "demo-employer", password: "demo-password") { token expiresAt }
}

query MyWorkers {
  employer {
    name
    creditCode
    systemIds { employment labour unemployment socialInsurance }
    workers(first: 10) {
      totalCount
      edges {
        node {
          name idNumber status inconsistencies insuranceStatus
          labourContracts { contractType startDate endDate state }
          insuranceSpells { unitInsuranceNumber startDate stopDate state }
        }
      }
    }
  }
}
"""


def trust_identity_standin(config: GatewayConfig) -> GatewayConfig:
    """The demo's config, trusting the identity stand-in unless a provider is configured.

    The settings are also exported as ``HRSS_OIDC_*`` (where not set), so that
    ``hrss-gateway signin`` and anything else this process reads finds the same.
    """
    if config.oidc is not None:
        return config
    oidc = OidcSettings(issuer=f"http://127.0.0.1:{IDENTITY_PORT}")
    os.environ.setdefault("HRSS_OIDC_ISSUER", oidc.issuer)
    os.environ.setdefault("HRSS_OIDC_AUDIENCE", oidc.audience)
    os.environ.setdefault("HRSS_OIDC_CREDIT_CODE_CLAIM", oidc.credit_code_claim)
    return dataclasses.replace(config, oidc=oidc)


def _runs_identity_standin(config: GatewayConfig) -> bool:
    """A provider on this machine over plain HTTP is ours to start; any other is real."""
    issuer = config.oidc.issuer if config.oidc else ""
    return issuer.startswith("http://") and secure_url(issuer)


class DemoRefused(Exception):
    """The demo cannot start as configured: the message says why and what to do."""


@contextlib.contextmanager
def _refused_unless_free(variable: str) -> Iterator[None]:
    """A stand-in's port taken, as ``DemoRefused`` naming the setting that moves it."""
    try:
        yield
    except PortInUse as e:
        raise DemoRefused(
            f"{e}: stop what listens there (an earlier demo still running?) or set "
            f"{variable} to another port"
        ) from None


def gateway_socket(config: GatewayConfig) -> socket.socket:
    """The gateway's port, bound before any stand-in starts (uvicorn is handed the
    socket): taken, it is ``DemoRefused`` at once rather than found so by uvicorn
    once every stand-in has started."""
    try:
        return bound_socket(config.port, config.host)
    except OSError:
        raise DemoRefused(
            f"port {config.port}, where the gateway is to listen, is in use: stop what "
            "listens there (an earlier demo still running?) or choose another with "
            "--port or HRSS_PORT"
        ) from None


@contextlib.contextmanager
def standins(config: GatewayConfig) -> Iterator[list[RunningStandin]]:
    """Start the seeded stand-ins on the configured ports (the identity provider's
    too, when the trusted provider is on loopback); stop them after.
    ``DemoRefused`` when a stand-in's port is taken."""
    data = Path(config.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    started: list[RunningStandin] = []
    try:
        for spec in _standins(config):
            port = httpx.URL(config.system(spec.system).url).port
            with _refused_unless_free(f"HRSS_{spec.system.value.upper()}_URL"):
                started.append(
                    start_standin(
                        spec.cli_name, data, seed=True, data=str(_data_file(data, spec)), port=port
                    )
                )
        if config.oidc is not None and _runs_identity_standin(config):
            oidc = config.oidc
            # The stand-in issues what the gateway is set to trust.
            env = {
                "HRSS_IDENTITY_ISSUER": oidc.issuer.rstrip("/"),
                "HRSS_IDENTITY_AUDIENCE": oidc.audience,
                "HRSS_IDENTITY_CREDIT_CODE_CLAIM": oidc.credit_code_claim,
            }
            port = httpx.URL(oidc.issuer).port or 80
            with _refused_unless_free("HRSS_OIDC_ISSUER"):
                started.append(
                    start_standin(
                        "identity",
                        data,
                        seed=True,
                        data=str(data / "identity.db"),
                        env=env,
                        port=port,
                    )
                )
        yield started
    finally:
        for standin in started:
            standin.stop()


async def prepare_store(store: Store, systems: Iterable[System] | None = None) -> None:
    """Bindings of the seed employers in each system switched on (None: every
    registered one), and the demo accounts (kept if they exist)."""
    chosen = registry().systems if systems is None else tuple(systems)
    seeds = {
        s: spec.standin.seed_units()
        for s in chosen
        if (spec := registry().get(s)).standin is not None
    }
    for e in EMPLOYERS:
        code = e.profile.credit_code
        await store.employers.upsert(
            EmployerRecord(
                credit_code=code,
                name=e.profile.name,
                division=e.profile.division,
                ids={s: units.get(code) for s, units in seeds.items()},
            )
        )
    accounts: list[tuple[str, Role, dict[str, object]]] = [
        (
            "demo-employer",
            Role.EMPLOYER,
            {
                "credit_code": DEMO_EMPLOYER.profile.credit_code,
                "display_name": DEMO_EMPLOYER.profile.name,
            },
        ),
        (
            "demo-clerk",
            Role.CLERK,
            {"divisions": [DEMO_CLERK_DIVISION], "display_name": "济南市服务窗口"},
        ),
        ("demo-admin", Role.ADMIN, {"display_name": "管理员"}),
    ]
    for username, role, extra in accounts:
        with contextlib.suppress(DuplicateUsername):
            await store.accounts.create(username, DEMO_PASSWORD, role, **extra)  # type: ignore[arg-type]


def demo_people(
    n: int, *, division: str = "370102", born_from: dt.date | None = None
) -> list[Person]:
    """``n`` made-up people with valid, distinct resident ID numbers (one per birth day)."""
    first = born_from or dt.date(1980, 1, 1)
    people = []
    for i in range(n):
        body = f"{division}{first + dt.timedelta(days=i):%Y%m%d}{2 * (i % 400) + 1:03d}"
        people.append(
            Person(
                IdType.RESIDENT_ID,
                body + eleven_two_check(body),
                f"演示{i:03d}",
                Gender.MALE,
                "01",
                Education.SENIOR_HIGH,
                f"139{i:08d}",
                "山东省济南市历下区1号",
                "山东省济南市历下区1号",
            )
        )
    return people


async def populate_employer(
    adapters: tuple[EmploymentSystem, LabourSystem, UnemploymentSystem],
    store: Store,
    profile: EmployerProfile,
    people: list[Person],
    *,
    start: dt.date = dt.date(2025, 3, 1),
    in_flight: int = 8,
) -> EmployerRecord:
    """Open ``profile`` in the three systems and hire ``people`` there (employment
    registered, a three-year contract filed), for demonstrations and measurements."""
    employment, labour, unemployment = adapters
    bindings = await asyncio.gather(
        employment.ensure_employer(profile),
        labour.ensure_employer(profile),
        unemployment.ensure_employer(profile),
    )
    emp_id, lab_id, unemp_id = (b.employer_id for b in bindings)
    term = ContractTerm(
        ContractType.FIXED_TERM,
        start,
        start.replace(year=start.year + 3) - dt.timedelta(days=1),
        FilingPersonCategory.URBAN_EMPLOYEE,
        EmploymentForm.FULL_TIME,
        "操作工",
        profile.division,
    )
    slots = asyncio.Semaphore(in_flight)

    async def hire(person: Person) -> None:
        async with slots:
            await employment.register(
                EmploymentRegistrationRequest(
                    emp_id,
                    person,
                    start,
                    EmploymentPersonCategory.NEW_URBAN_ENTRANT,
                    EmploymentForm.FULL_TIME,
                    "操作工",
                    profile.division,
                )
            )
            await labour.file(lab_id, person, term)

    await asyncio.gather(*(hire(p) for p in people))
    return await store.employers.upsert(
        EmployerRecord(
            profile.credit_code, profile.name, profile.division, emp_id, lab_id, unemp_id
        )
    )


def _identity_lines(config: GatewayConfig) -> str:
    if config.oidc is None:
        return ""
    line = f"\n  identity:  {config.oidc.issuer}"
    if _runs_identity_standin(config):
        code = DEMO_EMPLOYER.profile.credit_code
        line += (
            f" (legal-person accounts: the seed employers' credit codes, password"
            f" {DEMO_PASSWORD})\n  a token:   hrss-gateway signin --username {code}"
        )
    return line


def banner(config: GatewayConfig) -> str:
    url = f"http://{config.host}:{config.port}/graphql"
    return (
        f"\nhrss-gateway demo\n  GraphiQL:  {url}\n"
        f"  accounts:  demo-employer, demo-clerk, demo-admin (password {DEMO_PASSWORD})\n"
        f"  stand-ins: "
        + ", ".join(f"{s.cli_name} {config.system(s.system).url}" for s in _standins(config))
        + _identity_lines(config)
        + f"\n  data:      {Path(config.data_dir).resolve()}\n\n"
        "A first query to try (paste it into GraphiQL):\n\n" + FIRST_QUERY
    )
