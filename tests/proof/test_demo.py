"""``hrss-gateway serve --demo`` (what ``make demo`` runs) as a real process: its
stand-ins start and stop with it, and ports already taken are refused.

A demo stopped with SIGTERM (``kill``, a supervisor) ended once uvicorn had shut
down, before it stopped its stand-ins: they kept running and holding their
ports. The next demo's stand-in then failed to bind, but the one left running
answered its readiness probe, so the new gateway talked to the old stand-in and
its data without a word.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.standin.process import bound_socket, free_port

#: The demo's stand-ins, by the variable that places each.
PLACES = (
    "HRSS_EMPLOYMENT_URL",
    "HRSS_LABOUR_URL",
    "HRSS_UNEMPLOYMENT_URL",
    "HRSS_SOCIAL_INSURANCE_URL",
    "HRSS_OIDC_ISSUER",
)


class Demo:
    """The demo's settings: every port free and its own, its files in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.ports = {variable: free_port() for variable in PLACES}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HRSS_")}
        env.update({v: f"http://127.0.0.1:{port}" for v, port in self.ports.items()})
        env.update(
            HRSS_PORT=str(self.port),
            HRSS_DATA_DIR=str(self.directory / "data"),
            HRSS_STORE_URL=f"sqlite+aiosqlite:///{self.directory}/data/gateway.db",
            # The demo accounts' hashes: the test is about processes, not Argon2.
            HRSS_ARGON2_TIME_COST="1",
            HRSS_ARGON2_MEMORY_KIB="8",
            HRSS_ARGON2_PARALLELISM="1",
        )
        return env

    @property
    def log(self) -> Path:
        return self.directory / "demo.log"

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "serve", "--demo"],
                cwd=self.directory,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8")


def port_in_use(port: int) -> bool:
    try:
        bound_socket(port).close()
    except OSError:
        return True
    return False


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(p) for p in found]


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan is reaped by whatever runs as PID 1)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    return Demo(tmp_path)


class Started:
    """What a test started, killed should the test fail midway: the demo, and the
    stand-ins it started (which outlive it when it fails to stop them)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.pids: list[int] = []

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.pids.extend(children(proc.pid))
                proc.kill()
            proc.wait()
        for pid in self.pids:
            if running(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def started() -> Iterator[Started]:
    done = Started()
    yield done
    done.kill()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_sigterm_stops_the_standins_with_the_demo(demo: Demo, started: Started) -> None:
    proc = demo.start()
    started.procs.append(proc)

    def serving() -> bool:
        assert proc.poll() is None, demo.output()
        try:
            return httpx.get(f"http://127.0.0.1:{demo.port}/healthz", timeout=1).is_success
        except httpx.HTTPError:
            return False

    wait_until(serving, 60, "the demo serves")
    standins = children(proc.pid)
    started.pids.extend(standins)
    assert len(standins) == len(PLACES)

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM  # ended as SIGTERM ends a process
    wait_until(lambda: not any(running(pid) for pid in standins), 15, "the stand-ins stop")
    for variable, port in demo.ports.items():
        assert not port_in_use(port), variable


@pytest.mark.parametrize("taken", ["HRSS_PORT", "HRSS_LABOUR_URL"])
def test_a_port_in_use_is_refused_with_what_to_do(demo: Demo, taken: str, started: Started) -> None:
    """The gateway's port is checked before any stand-in starts; a stand-in's when
    it starts, the ones started before it stopped again."""
    port = demo.port if taken == "HRSS_PORT" else demo.ports[taken]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        proc = demo.start()
        started.procs.append(proc)
        proc.wait(timeout=60)
    output = demo.output()
    assert proc.returncode == 1, output
    assert f"port {port}" in output
    assert "is in use" in output
    if taken == "HRSS_PORT":
        assert "HRSS_PORT" in output
    else:
        assert "labour stand-in" in output
        assert taken in output
    assert "Traceback" not in output
    for variable, other in demo.ports.items():
        assert not port_in_use(other), variable
