"""The gateway as it is deployed, for the proof tests: real processes only.

Each test runs ``hrss-gateway serve`` (and, where it says so, ``hrss-gateway
worker``) as child processes over a store of its own (an SQLite file, or a
PostgreSQL database of its own), in front of the three stand-in processes. It
talks to the gateway over HTTP, as a front end does, and counts what each
system holds through the adapters' own queries against the stand-ins, never
through the gateway's store: what the systems hold is what the promise is
about.

Nothing here waits blindly: every wait polls a condition against a deadline.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.employment import EmploymentAdapter
from adapters.labor import LabourAdapter
from adapters.standin import process as standin_process
from adapters.standin.process import ChildProcess, RunningStandin, bound_socket, free_port
from adapters.standin.seed import EMPLOYERS, SeedEmployer
from adapters.unemployment import UnemploymentAdapter
from gateway.auth import HashParams, Passwords
from gateway.demo import DEMO_PASSWORD, prepare_store
from gateway.domain.model import (
    ContractTerm,
    ContractType,
    Education,
    EmploymentForm,
    EmploymentRecord,
    FilingPersonCategory,
    Gender,
    IdType,
    LabourContract,
    Person,
    System,
    UnemploymentRegistration,
)
from gateway.settings import SystemSettings
from gateway.store import Store
from tests.conftest import start_missing
from tests.factories import mobile, resident_id
from tests.services import postgres_database as postgres_database
from tests.services import redis_namespace as redis_namespace
from tests.services import run_isolated

#: The employer every proof test hires at: the demo employer, bound in all three
#: systems by ``prepare_store`` (its ids there come from the stand-ins' seed).
UNIT: SeedEmployer = EMPLOYERS[0]

#: The stand-ins' names (``hrss-gateway legacy NAME``) of the three systems.
STANDIN_NAMES = {
    System.EMPLOYMENT: "employment",
    System.LABOUR: "labor",
    System.UNEMPLOYMENT: "unemployment",
}
#: The prefix of each system's ``HRSS_<S>_*`` variables.
ENV_PREFIX = {
    System.EMPLOYMENT: "EMPLOYMENT",
    System.LABOUR: "LABOUR",
    System.UNEMPLOYMENT: "UNEMPLOYMENT",
}
#: The write each system's step of a hire (or, for unemployment, of an ending)
#: sends, and the query that reconciliation asks, as the stand-in counts them.
WRITE = {
    System.EMPLOYMENT: "employment.register",
    System.LABOUR: "FileContract",
    System.UNEMPLOYMENT: "djxx.create",
}
QUERY = {
    System.EMPLOYMENT: "employment.query",
    System.LABOUR: "QueryContracts",
    System.UNEMPLOYMENT: "djxx.by_person",
}

AT_REST = frozenset({"COMPLETED", "COMPENSATED", "CANCELLED", "NEEDS_ATTENTION"})


# ===================================================================== stand-ins


@pytest.fixture(scope="session")
def shared_standins(
    _standins: dict[str, RunningStandin], tmp_path_factory: pytest.TempPathFactory
) -> dict[System, RunningStandin]:
    """The session's seeded stand-ins (the same processes the other tests share)."""
    start_missing(STANDIN_NAMES.values(), _standins, tmp_path_factory.getbasetemp())
    return {system: _standins[name] for system, name in STANDIN_NAMES.items()}


@pytest.fixture
def standins(
    shared_standins: dict[System, RunningStandin],
) -> Iterator[dict[System, RunningStandin]]:
    """The shared stand-ins, faults and counts cleared before and after the test."""
    for standin in shared_standins.values():
        standin.reset()
    yield shared_standins
    for standin in shared_standins.values():
        if standin.proc is not None and standin.proc.poll() is None:
            standin.reset()


# ============================================================ gateway processes


def _tail(path: Path, size: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except FileNotFoundError:
        return ""


@dataclass
class GatewayProcess:
    """``hrss-gateway serve`` or ``hrss-gateway worker`` as a child process."""

    command: str  # "serve" or "worker"
    env: dict[str, str]
    log: Path
    cwd: Path
    port: int | None = None
    proc: ChildProcess | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        assert self.port is not None
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    #: How long a ``serve`` process may take to answer: a bound, not a timing. A start
    #: costs about 3 s of CPU; on two shared cores, beside a proof that starts six
    #: processes at once, starts of over 30 s were seen.
    STARTUP_S = 120.0

    def start(self, timeout: float = STARTUP_S) -> GatewayProcess:
        """Start the process and, for ``serve``, wait until it answers."""
        return self.launch().wait_ready(timeout)

    def launch(self) -> GatewayProcess:
        """Start the process without waiting for it (:meth:`wait_ready` does): several
        launched before any is waited for start side by side, each start being
        mostly its process importing."""
        cmd = [sys.executable, "-m", "gateway.cli", self.command]
        # A ``serve`` listens on a socket bound here (``--fd``, as ``cluster`` gives
        # its children): the port cannot be taken between its choice and the
        # process's start, when the readiness probe could not tell who answers.
        listener = bound_socket(self.port or 0) if self.command == "serve" else None
        if listener is not None:
            self.port = listener.getsockname()[1]
            cmd += ["--host", "127.0.0.1", "--port", str(self.port)]
            cmd += ["--fd", str(listener.fileno())]
        self.starts += 1
        try:
            with self.log.open("ab") as log:
                log.write(f"\n==== start {self.starts}: {' '.join(cmd[3:])}\n".encode())
                log.flush()
                self.proc = standin_process.launch(
                    cmd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **self.env},
                    cwd=self.cwd,
                    pass_fds=() if listener is None else (listener.fileno(),),
                )
        finally:
            if listener is not None:
                listener.close()  # the child has its own
        return self

    def wait_ready(self, timeout: float = STARTUP_S) -> GatewayProcess:
        """For ``serve``, wait until it answers; a worker has nothing to answer."""
        if self.command == "serve":
            self._wait_until_serving(timeout)
        return self

    def _wait_until_serving(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hrss-gateway serve exited:\n{_tail(self.log)}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # polling the port, bounded by the deadline above
        self.kill()
        raise RuntimeError(f"hrss-gateway serve did not answer in {timeout} s:\n{_tail(self.log)}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, as when a machine dies."""
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.terminate()
        self.wait_stopped()

    def terminate(self) -> None:
        """SIGTERM: a graceful shutdown, not waited for (:meth:`wait_stopped`)."""
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()

    def wait_stopped(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def tail(self) -> str:
        return f"---- {self.command} ({self.log.name}) ----\n{_tail(self.log)}"


def deployment_env(
    store_url: str,
    urls: dict[System, str],
    *,
    timeout: float | dict[System, float],
    run_worker: bool,
    data_dir: Path,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The ``HRSS_*`` variables an operator would set for one deployment."""
    env = {
        "HRSS_STORE_URL": store_url,
        "HRSS_TOKEN_SECRET": "proof-token-secret-" + "t" * 32,
        "HRSS_AUDIT_KEY": "proof-audit-key-" + "a" * 32,
        "HRSS_RUN_WORKER": "true" if run_worker else "false",
        # The proofs sign the demo employer in with its password; production
        # employers sign in through the identity platform (tests/gateway/test_open_account.py).
        "HRSS_EMPLOYER_PASSWORDS": "true",
        "HRSS_DATA_DIR": str(data_dir),
        # Cheap password hashes: the tests sign in, they do not measure Argon2.
        "HRSS_ARGON2_TIME_COST": "1",
        "HRSS_ARGON2_MEMORY_KIB": "8",
        "HRSS_ARGON2_PARALLELISM": "1",
        # The tests poll the registrations' progress over the graph several times
        # a second, for minutes: that is not what the per-account limit is for.
        "HRSS_RATE_LIMIT_PER_ACCOUNT": "100000/minute",
        # A system that comes back is tried again within a second rather than the
        # production 30 s: the tests prove exactly-once under faults, not the
        # breaker's timing (tests/resilience does that).
        "HRSS_BREAKER_RECOVERY_S": "1",
        # A failed step is tried again within a second (production: 1 s doubling up
        # to 5 minutes): the proofs are about exactly once, not about the schedule,
        # which tests/registrations/test_backoff.py proves on its own.
        "HRSS_STEP_BACKOFF_BASE_S": "0.1",
        "HRSS_STEP_BACKOFF_CAP_S": "1",
    }
    for system, url in urls.items():
        env[f"HRSS_{ENV_PREFIX[system]}_URL"] = url
        seconds = timeout[system] if isinstance(timeout, dict) else timeout
        env[f"HRSS_{ENV_PREFIX[system]}_TIMEOUT"] = str(seconds)
    env.update(extra or {})
    return env


#: Stores are prepared one at a time, also by deployments started side by side in
#: threads: Alembic's migration context is one per process.
_PREPARING = threading.Lock()


async def _prepare(store_url: str) -> None:
    store = await Store.open(store_url, passwords=Passwords(HashParams.cheap()))
    try:
        await prepare_store(store)
    finally:
        await store.close()


@dataclass
class Deployment:
    """One gateway deployment of a test's own: a store, a ``serve`` process and
    any number of ``worker`` processes, all over the same store."""

    store_url: str
    env: dict[str, str]
    dir: Path
    gateway: GatewayProcess
    workers: list[GatewayProcess] = field(default_factory=list)
    #: The demo employer's bearer token, once signed in (tokens outlive restarts).
    token: str | None = None

    @property
    def url(self) -> str:
        return self.gateway.url

    def add_gateway(
        self, env: dict[str, str] | None = None, *, name: str | None = None, wait: bool = True
    ) -> GatewayProcess:
        """Another ``serve`` process over the same store (and cache, when Redis), with
        ``env`` over the deployment's variables; ``wait=False``: launched only."""
        n = len(self.workers) + 1
        other = GatewayProcess(
            "serve",
            {**self.env, **(env or {})},
            self.dir / f"serve-{name or n}.log",
            self.dir,
            port=free_port(),
        )
        self.workers.append(other)
        other.launch()
        return other.wait_ready() if wait else other

    def add_worker(self) -> GatewayProcess:
        n = len(self.workers) + 1
        worker = GatewayProcess("worker", self.env, self.dir / f"worker-{n}.log", self.dir)
        self.workers.append(worker)
        return worker.launch()

    def wait_ready(self) -> Deployment:
        """Wait until every ``serve`` process of the deployment answers."""
        for process in self.processes():
            process.wait_ready()
        return self

    def processes(self) -> list[GatewayProcess]:
        return [self.gateway, *self.workers]

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.processes())

    def stop(self) -> None:
        stop_all(self.processes())


def stop_all(processes: Iterable[GatewayProcess]) -> None:
    """Stop ``processes`` side by side: each told first, then each waited for."""
    stopping = list(processes)
    for process in stopping:
        process.terminate()
    for process in stopping:
        process.wait_stopped()


def deploy(
    directory: Path,
    urls: dict[System, str],
    *,
    store_url: str | None = None,
    workers: int = 1,
    gateway_worker: bool = False,
    timeout: float | dict[System, float] = 1.0,
    env: dict[str, str] | None = None,
    gateways: Sequence[dict[str, str]] = (),
) -> Deployment:
    """Prepare a store (migrations, the seed employers' bindings, the demo
    accounts), then start ``serve`` and ``workers`` worker processes side by side,
    and one more ``serve`` process per entry of ``gateways`` (its variables over
    the deployment's); return once every ``serve`` process answers.

    ``gateway_worker``: ``serve`` carries registrations out in its background
    (``HRSS_RUN_WORKER=true``); otherwise only the worker processes do.
    ``timeout`` is each system's ``HRSS_<S>_TIMEOUT``, or one per system (the engine's lease is
    ``max(60 s, 4 x the slowest timeout)``: see ``engine_for``).
    """
    directory.mkdir(parents=True, exist_ok=True)
    url = store_url or f"sqlite+aiosqlite:///{directory}/gateway.db"
    with _PREPARING:
        run_isolated(_prepare(url))
    variables = deployment_env(
        url, urls, timeout=timeout, run_worker=gateway_worker, data_dir=directory, extra=env
    )
    gateway = GatewayProcess(
        "serve", variables, directory / "serve.log", directory, port=free_port()
    )
    deployment = Deployment(url, variables, directory, gateway)
    try:
        gateway.launch()
        for _ in range(workers):
            deployment.add_worker()
        for extra_env in gateways:
            deployment.add_gateway(extra_env, wait=False)
        deployment.wait_ready()
    except BaseException:
        deployment.stop()
        raise
    return deployment


def stored_steps(deployment: Deployment, ids: Iterable[str]) -> list[dict[str, Any]]:
    """The steps of the registrations ``ids`` as the deployment's SQLite store holds
    them (``state``, ``attempts``, ``last_error`` decoded, ``lease_pid``: the pid in
    the lease owner), read directly: for a moment when none of its processes is
    alive to answer over the graph, or when a process's restart must not come first."""
    path = deployment.store_url.removeprefix("sqlite+aiosqlite:///")
    assert path != deployment.store_url, "an SQLite store"
    wanted = set(ids)
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM steps ORDER BY registration_id, ordinal").fetchall()
    db.close()
    return [
        {
            **dict(row),
            "last_error": json.loads(row["last_error"]) if row["last_error"] else None,
            "lease_pid": (row["lease_owner"] or "::").split(":")[1],
        }
        for row in rows
        if row["registration_id"] in wanted
    ]


def listening(process: GatewayProcess, carrier: str) -> bool:
    """Whether ``process`` hears the other processes over ``carrier`` (``redis`` or
    ``postgresql``), and, for a worker process, whether its worker has started."""
    log = process.log.read_text(errors="replace")
    ready = "registration worker" in log if process.command == "worker" else True
    return ready and f"{carrier} events: listening" in log


async def until_listening(
    processes: Iterable[GatewayProcess], carrier: str, *, within: float = 30
) -> None:
    """Wait until every process in ``processes`` is :func:`listening`."""
    waiting = list(processes)

    async def all_listening() -> bool:
        return all(listening(p, carrier) for p in waiting)

    await poll(all_listening, within=within, what=f"{carrier} events listening in every process")


def urls_of(standins: dict[System, RunningStandin]) -> dict[System, str]:
    return {system: standin.url for system, standin in standins.items()}


@pytest.fixture
def deployments() -> Iterator[Callable[..., Deployment]]:
    """``deployments(directory, urls, ...)``: deployments stopped after the test."""
    started: list[Deployment] = []

    def make(directory: Path, urls: dict[System, str], **options: Any) -> Deployment:
        deployment = deploy(directory, urls, **options)
        started.append(deployment)
        return deployment

    yield make
    for deployment in started:
        deployment.stop()


# ====================================================================== the graph


@dataclass
class Graph:
    """A front end's view of one gateway process: GraphQL over HTTP."""

    http: httpx.AsyncClient
    url: str
    token: str | None = None

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Accept": "application/graphql-response+json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        r = await self.http.post(
            self.url + "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )
        assert r.headers.get("content-type", "").startswith("application/"), (r.status_code, r.text)
        body: dict[str, Any] = r.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.post(query, variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def login(self, username: str = "demo-employer") -> Graph:
        data = await self.data(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
            {"u": username, "p": DEMO_PASSWORD},
        )
        return Graph(self.http, self.url, data["login"]["token"])


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        yield client


async def employer(http: httpx.AsyncClient, deployment: Deployment) -> Graph:
    """The demo employer at ``deployment``'s gateway process, signed in once per
    deployment (sign-ins are throttled per username)."""
    if deployment.token is None:
        deployment.token = (await Graph(http, deployment.url).login()).token
    return Graph(http, deployment.url, deployment.token)


RESULT = "accepted replayed registrations { id } problems { row field code }"
HIRE = f"""mutation($w: [HireInput!]!, $k: String!) {{
  hire(workers: $w, idempotencyKey: $k) {{ {RESULT} }} }}"""
END = f"""mutation($w: [EndInput!]!, $k: String!) {{
  endEmployment(workers: $w, idempotencyKey: $k) {{ {RESULT} }} }}"""
REGISTRATION_FIELDS = """id state
  failure { code systemCode messageEn }
  steps { system operation state reference attempts lastError { code } }"""

#: Hires start a week ago: on time (no late-registration warning), and before
#: any ending dated today.
HIRED_ON = dt.date.today() - dt.timedelta(days=7)


def new_person() -> dict[str, Any]:
    return {
        "name": "验证工人",
        "gender": "MALE",
        "ethnicity": "01",
        "idType": "RESIDENT_ID",
        "idNumber": resident_id(),
        "mobile": mobile(),
        "householdAddress": "山东省济南市历下区泉城路1号",
        "currentAddress": "山东省济南市历下区泉城路1号",
        "education": "BACHELOR",
    }


def hire_input(person: dict[str, Any]) -> dict[str, Any]:
    return {
        "person": person,
        "contract": {
            "contractType": "FIXED_TERM",
            "startDate": HIRED_ON.isoformat(),
            "endDate": (HIRED_ON + dt.timedelta(days=3 * 365)).isoformat(),
            "filingPersonCategory": "URBAN_EMPLOYEE",
            "employmentForm": "FULL_TIME",
            "post": "装配工",
            "labourFilingLocality": "370102",
        },
        "employmentPersonCategory": "NEW_URBAN_ENTRANT",
        "employmentLocality": "370102",
    }


def end_input(person: dict[str, Any]) -> dict[str, Any]:
    """The contract ended by agreement today; the worker asks to be registered unemployed."""
    return {
        "person": person,
        "reason": "AGREEMENT",
        "date": dt.date.today().isoformat(),
        "registerUnemployment": True,
    }


def domain_person(person: dict[str, Any]) -> Person:
    """The same worker in the domain's terms (to file something directly in a system)."""
    return Person(
        IdType.RESIDENT_ID,
        person["idNumber"],
        person["name"],
        Gender.MALE,
        person["ethnicity"],
        Education.BACHELOR,
        person["mobile"],
        person["householdAddress"],
        person["currentAddress"],
    )


def other_term(start: dt.date) -> ContractTerm:
    return ContractTerm(
        ContractType.FIXED_TERM,
        start,
        start + dt.timedelta(days=365),
        FilingPersonCategory.URBAN_EMPLOYEE,
        EmploymentForm.FULL_TIME,
        "仓管员",
        "370102",
    )


def new_key() -> str:
    return os.urandom(12).hex()


async def submit(graph: Graph, mutation: str, rows: list[dict[str, Any]]) -> list[str]:
    """Submit one batch under a fresh idempotency key; the registrations' ids."""
    data = await graph.data(mutation, {"w": rows, "k": new_key()})
    (result,) = data.values()
    assert result["accepted"] is True, result
    assert result["problems"] == [], result
    ids = [r["id"] for r in result["registrations"]]
    assert len(ids) == len(rows)
    return ids


#: Root fields per operation the gateway allows (``RequestLimits.max_root_fields``).
ROOT_FIELDS = 10


async def fetch(graph: Graph, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The registrations by id, ten to a request (aliases of ``registration``)."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), ROOT_FIELDS):
        chunk = ids[start : start + ROOT_FIELDS]
        fields = " ".join(
            f'r{i}: registration(id: "{rid}") {{ {REGISTRATION_FIELDS} }}'
            for i, rid in enumerate(chunk)
        )
        data = await graph.data(f"{{ {fields} }}")
        found.update({reg["id"]: reg for reg in data.values()})
    return found


async def poll(
    check: Callable[[], Awaitable[Any]],
    *,
    within: float,
    what: str,
    explain: Callable[[], str] = lambda: "",
    interval: float = 0.1,
) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``within`` s."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        try:
            last = await check()
        except (httpx.TransportError, OSError) as exc:  # a process being restarted
            last = exc
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {within} s (last: {last!r})\n{explain()}")
        await asyncio.sleep(interval)


UNDER_WAY = """query($after: String) { registrations(first: 100, after: $after,
  filter: {states: [ACCEPTED, IN_PROGRESS, COMPENSATING]}) {
  nodes { id } endCursor hasNextPage } }"""


async def under_way(graph: Graph) -> set[str]:
    """The ids of the caller's registrations still under way (not at rest)."""
    ids: set[str] = set()
    after = None
    while True:
        page = (await graph.data(UNDER_WAY, {"after": after}))["registrations"]
        ids.update(n["id"] for n in page["nodes"])
        if not page["hasNextPage"]:
            return ids
        after = page["endCursor"]


async def settle(
    graph: Graph, ids: Sequence[str], *, within: float, deployment: Deployment | None = None
) -> dict[str, dict[str, Any]]:
    """Wait until every registration is at rest (final, or needing attention);
    then read them all."""

    async def check() -> bool:
        return not (await under_way(graph)) & set(ids)

    def explain() -> str:
        return deployment.logs() if deployment else ""

    await poll(
        check,
        within=within,
        what=f"{len(ids)} registrations at rest",
        explain=explain,
        interval=0.25,
    )
    settled = await fetch(graph, ids)
    assert set(settled) == set(ids)
    assert all(r["state"] in AT_REST for r in settled.values()), summary(settled.values())
    return settled


def summary(registrations: Iterable[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """Each registration's state and its steps' states, for failure messages."""
    return [
        (r["state"], [f"{s['system']}:{s['state']}:{s['attempts']}" for s in r["steps"]])
        for r in registrations
    ]


def step(registration: dict[str, Any], system: System) -> dict[str, Any]:
    (found,) = [s for s in registration["steps"] if s["system"] == system.name]
    return found


# ====================================================== what the systems hold


@dataclass
class Ledger:
    """What the three systems hold, read through the adapters' own queries."""

    employment: EmploymentAdapter
    labour: LabourAdapter
    unemployment: UnemploymentAdapter

    async def jobs(self, numbers: Sequence[str]) -> dict[str, list[EmploymentRecord]]:
        """Every employment record of these people at the unit, any state."""
        records = await self.employment.query(list(numbers), UNIT.employment_id)
        return _by_person(numbers, records, lambda r: r.person.id_number)

    async def contracts(self, numbers: Sequence[str]) -> dict[str, list[LabourContract]]:
        """Every contract of these people at the unit, any state."""
        records = await self.labour.query(list(numbers), UNIT.labour_id)
        return _by_person(numbers, records, lambda c: c.person.id_number)

    async def unemployed(self, numbers: Sequence[str]) -> dict[str, list[UnemploymentRegistration]]:
        """Every unemployment registration of these people, any state."""
        records = await self.unemployment.query(list(numbers))
        return _by_person(numbers, records, lambda u: u.person.id_number)

    async def aclose(self) -> None:
        for adapter in (self.employment, self.labour, self.unemployment):
            await adapter.aclose()


def _by_person(
    numbers: Sequence[str], records: Iterable[Any], key: Callable[[Any], str]
) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {n: [] for n in numbers}
    for record in records:
        grouped.setdefault(key(record), []).append(record)
    return grouped


def _settings(system: System, url: str) -> SystemSettings:
    prefix = ENV_PREFIX[system]
    return SystemSettings.from_env(
        system, environ={f"HRSS_{prefix}_URL": url, f"HRSS_{prefix}_TIMEOUT": "10"}
    )


def open_ledger(urls: dict[System, str]) -> Ledger:
    return Ledger(
        EmploymentAdapter.from_settings(_settings(System.EMPLOYMENT, urls[System.EMPLOYMENT])),
        LabourAdapter.from_settings(_settings(System.LABOUR, urls[System.LABOUR])),
        UnemploymentAdapter.from_settings(
            _settings(System.UNEMPLOYMENT, urls[System.UNEMPLOYMENT])
        ),
    )


@pytest.fixture
async def ledgers() -> AsyncIterator[Callable[[dict[System, str]], Ledger]]:
    """``ledgers(urls)``: a ledger over these systems, closed after the test."""
    opened: list[Ledger] = []

    def make(urls: dict[System, str]) -> Ledger:
        ledger = open_ledger(urls)
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        await ledger.aclose()


def states(records: Iterable[Any]) -> list[str]:
    return sorted(str(r.state.value) for r in records)


async def hired_once(ledger: Ledger, numbers: Sequence[str]) -> list[str]:
    """What is wrong, per worker, with "hired exactly once": one employment
    record at the unit and it EMPLOYED, one contract and it IN_FORCE."""
    jobs, contracts = await asyncio.gather(ledger.jobs(numbers), ledger.contracts(numbers))
    wrong = []
    for i, n in enumerate(numbers):
        held = (states(jobs[n]), states(contracts[n]))
        if held != (["EMPLOYED"], ["IN_FORCE"]):
            wrong.append(f"worker {i}: employment {held[0]}, contracts {held[1]}")
    return wrong


async def ended_once(ledger: Ledger, numbers: Sequence[str]) -> list[str]:
    """What is wrong, per worker, with "ended exactly once": the one employment
    record DISMISSED, the one contract RESCINDED, one unemployment registration
    and it REGISTERED."""
    jobs, contracts, unemployed = await asyncio.gather(
        ledger.jobs(numbers), ledger.contracts(numbers), ledger.unemployed(numbers)
    )
    wrong = []
    for i, n in enumerate(numbers):
        held = (states(jobs[n]), states(contracts[n]), states(unemployed[n]))
        if held != (["DISMISSED"], ["RESCINDED"], ["REGISTERED"]):
            wrong.append(
                f"worker {i}: employment {held[0]}, contracts {held[1]}, unemployment {held[2]}"
            )
    return wrong
