"""Shared fixtures: the stand-ins (the three systems and social insurance) as real
processes on loopback.

The session-wide stand-ins are seeded and shared; each test that uses one gets
it with its faults cleared. Tests that need a fresh store, a data file or a
restart use ``standin_factory``. Under xdist every worker has stand-ins of its
own (session fixtures are per worker), on free ports.

Every test under ``tests/proof/`` is marked ``proof`` (the gateway as real
``serve`` and ``worker`` processes): ``make test-fast`` leaves them out. They
are also run first, so that the longest tests do not start last on a worker
while the others sit idle (docs/testing.md).
"""

from __future__ import annotations

import gc
import subprocess
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from httpx._transports import default as _httpx_transports
from hypothesis import settings

from adapters.http import tls_context
from adapters.standin import process as standin_process
from adapters.standin.process import RunningStandin, start_standin
from tests.forkserver import ForkServer
from tests.forkserver import enabled as forking
from tests.scheduling import ProofsSpread, proof_rank

# tests.services: the PostgreSQL, Redis and template-store fixtures, for every
# conftest and test module without importing them one by one.
pytest_plugins = ["tests.pii_scan", "tests.services"]


PROOFS = Path(__file__).parent / "proof"

# Hypothesis fails an example that takes longer than 200 ms by default: a test
# about what a function answers would then fail on how busy the machine is (the
# tests run on shared machines, several workers per core). Speed is measured
# by the benchmarks, never by a test.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")

_create_ssl_context = _httpx_transports.create_ssl_context


def _shared_default_tls(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
    """httpx builds TLS settings (loading the CA bundle: ~20 ms of CPU) for every
    client made without them, and ``httpx.get``/``post``/``request`` make a client
    per call: the tests' raw calls to the stand-ins, the identity platform and
    ``/__sim/`` made thousands, the largest single cost of the fast tier. A client
    made with the defaults gets the one context the gateway's own clients share
    (``adapters.http.tls_context()``, the same settings); any other is built as
    httpx builds it. httpx offers no public hook for this (it is its private
    ``_transports.default`` module's name): ``tests/test_tls.py`` fails if the name
    goes away or the patch stops applying."""
    if verify is True and cert is None and trust_env:
        return tls_context()
    return _create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)


_httpx_transports.create_ssl_context = _shared_default_tls


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(PROOFS):
            item.add_marker(pytest.mark.proof)
    # Stable: the proofs first, the longest files first; the other files in an
    # order fixed by their names but unrelated to them, each file's tests
    # together and in their usual order.
    items.sort(
        key=lambda item: (
            (0, proof_rank(item.nodeid))
            if item.get_closest_marker("proof")
            else (1, _scattered(item.nodeid.split("::", 1)[0]))
        )
    )


def _scattered(module: str) -> int:
    """Where a test file comes among the others: the files of one folder are alike
    (a system's contract tests wait on its stand-in's restarts and delays, the
    conformance tests on deadlines), and taken in the folders' order the workers
    ran such files side by side, the machine's cores idle meanwhile (a quarter
    of a minute of both cores over the fast tier). The same on every worker, as
    xdist requires: a checksum, not ``hash()``."""
    return zlib.crc32(module.encode())


def pytest_collection_finish(session: pytest.Session) -> None:
    """What the imports and the collection made (modules, the schema, the test
    items: about 257,000 objects in each xdist worker) lives to the end of the
    run, and every full pass of the garbage collector walked it again: 3.6 to
    3.9 s of each worker's 32 to 40 s of CPU over the fast tier. Frozen after
    a full collection (``gc.freeze``), those passes skip it: 1.9 to 3.1 s
    (docs/testing.md). Only what is reachable now is frozen: what the tests
    leave behind is collected as before, and the warnings of its finalizers
    (errors here) come when they did."""
    gc.collect()
    gc.freeze()


@pytest.hookimpl(optionalhook=True)  # xdist's hook: absent with -p no:xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist load`` (xdist's default) with the proofs dealt out one by one to
    every worker (``tests/scheduling.py``); any other mode as xdist has it."""
    if config.getoption("dist") != "load":
        return None
    return ProofsSpread(config, log)


@pytest.fixture(scope="session", autouse=True)
def _fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The processes this test process starts (stand-ins, ``serve``, ``worker``)
    are forked from a server that has imported them once (``tests/forkserver.py``),
    started with the first; ``HRSS_TEST_FORK=0`` starts each as a new interpreter.
    Set up before, and so ended after, every fixture that starts a process."""
    if not forking():
        yield
        return
    server = ForkServer(tmp_path_factory.mktemp("fork"))
    standin_process.launch = server.popen
    try:
        yield
    finally:
        standin_process.launch = subprocess.Popen
        server.close()


@pytest.fixture(scope="session")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandin]:
    """The worker's identity platform stand-in, with its seed accounts, checking
    passwords at Argon2's cheapest (``CHEAP_HASHES``): one per worker rather than
    one per test module, each start hashing the seed accounts' passwords. Tests
    take it through ``identity.reset()`` (``tests/identity/conftest.py::standin``)."""
    from tests.gateway.conftest import CHEAP_HASHES

    tmp = tmp_path_factory.mktemp("identity")
    standin = start_standin(
        "identity", tmp, seed=True, data=str(tmp / "identity.db"), env=CHEAP_HASHES
    )
    yield standin
    standin.stop()


@pytest.fixture(scope="session")
def _standins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningStandin]]:
    started: dict[str, RunningStandin] = {}
    yield started
    # Side by side: a stand-in may hold a slowed request up to its graceful
    # shutdown's second, and one after another they held a worker seconds.
    with ThreadPoolExecutor(max(1, len(started))) as threads:
        list(threads.map(lambda standin: standin.stop(), started.values()))


def start_missing(names: Iterable[str], pool: dict[str, RunningStandin], tmp: Path) -> None:
    """Start those of the stand-ins ``names`` not yet in ``pool``, side by side: each
    start mostly waits (its process importing, then answering its first request), so
    that a test needing four waits for one start, not four in a row. A start that
    fails raises once the others are in the pool, which stops them with the session."""
    missing = [name for name in dict.fromkeys(names) if name not in pool]
    if len(missing) <= 1:
        for name in missing:
            pool[name] = start_standin(name, tmp, seed=True)
        return
    with ThreadPoolExecutor(len(missing)) as threads:
        starts = {name: threads.submit(start_standin, name, tmp, seed=True) for name in missing}
    failures = []
    for name, start in starts.items():
        try:
            pool[name] = start.result()
        except Exception as e:  # the others' processes still go into the pool
            failures.append(e)
    if failures:
        raise failures[0]


def shared_standin(name: str, pool: dict[str, RunningStandin], tmp: Path) -> RunningStandin:
    """The worker's stand-in ``name`` (started the first time), its faults cleared."""
    start_missing([name], pool, tmp)
    standin = pool[name]
    standin.reset()
    return standin


#: The fixtures of the worker's shared stand-ins, and the stand-in each gives.
STANDIN_FIXTURES = {
    "employment_standin": "employment",
    "labor_standin": "labor",
    "unemployment_standin": "unemployment",
    "social_insurance_standin": "social-insurance",
}


def _standin_for(
    request: pytest.FixtureRequest, name: str, pool: dict[str, RunningStandin], tmp: Path
) -> RunningStandin:
    """``shared_standin``, having first started side by side every shared stand-in the
    test asks for (its fixtures, those of its fixtures included): lazily still, only
    those it needs, but at once."""
    wanted = [n for fixture, n in STANDIN_FIXTURES.items() if fixture in request.fixturenames]
    start_missing([name, *wanted], pool, tmp)
    return shared_standin(name, pool, tmp)


@pytest.fixture
def employment_standin(
    request: pytest.FixtureRequest,
    _standins: dict[str, RunningStandin],
    tmp_path_factory: pytest.TempPathFactory,
) -> RunningStandin:
    return _standin_for(request, "employment", _standins, tmp_path_factory.getbasetemp())


@pytest.fixture
def labor_standin(
    request: pytest.FixtureRequest,
    _standins: dict[str, RunningStandin],
    tmp_path_factory: pytest.TempPathFactory,
) -> RunningStandin:
    return _standin_for(request, "labor", _standins, tmp_path_factory.getbasetemp())


@pytest.fixture
def unemployment_standin(
    request: pytest.FixtureRequest,
    _standins: dict[str, RunningStandin],
    tmp_path_factory: pytest.TempPathFactory,
) -> RunningStandin:
    return _standin_for(request, "unemployment", _standins, tmp_path_factory.getbasetemp())


@pytest.fixture
def social_insurance_standin(
    request: pytest.FixtureRequest,
    _standins: dict[str, RunningStandin],
    tmp_path_factory: pytest.TempPathFactory,
) -> RunningStandin:
    """The social insurance stand-in, its faults cleared and its quota off: a quick run
    of tests easily makes more than 20 requests a second (the tests of the quota turn
    it back on)."""
    tmp = tmp_path_factory.getbasetemp()
    standin = _standin_for(request, "social-insurance", _standins, tmp)
    standin.faults(quota_per_s=0)
    return standin


@pytest.fixture
def standin_factory(tmp_path: Path) -> Iterator[Callable[..., RunningStandin]]:
    """Start private stand-ins: ``standin_factory("labor", seed=False, data=path)``."""
    started: list[RunningStandin] = []

    def start(name: str, **kwargs: Any) -> RunningStandin:
        s = start_standin(name, tmp_path, **kwargs)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    """What a test module changes of the gateway's configuration (``tests/gateway/conftest.py``
    builds it): override it in the module. Here, so that a module elsewhere that imports
    the ``gateway`` fixture gets it too."""
    return {}
