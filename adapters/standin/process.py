"""Stand-ins as real processes on loopback, as the gateway meets them.

Used by the demo, the tests and the benchmarks: start one, wait until it
answers, restart it (keeping its port and data file), kill it, and drive its
``/__sim/`` surface.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx


class ChildProcess(Protocol):
    """What the stand-ins' handles use of ``subprocess.Popen``."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


#: How a stand-in's process is started: ``subprocess.Popen``, or anything called
#: as it is (the same keywords) that returns what it does. The tests put the fork
#: server of ``tests/forkserver.py`` here, whose children have already imported
#: what a stand-in imports.
launch: Callable[..., ChildProcess] = subprocess.Popen


#: Held while a handle makes its client (``RunningStandin._client``).
_MAKING_CLIENTS = threading.Lock()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PortInUse(RuntimeError):
    """Another process listens where a stand-in is to listen."""

    def __init__(self, name: str, port: int) -> None:
        super().__init__(f"port {port}, where the {name} stand-in is to listen, is in use")
        self.name = name
        self.port = port


def bound_socket(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A socket bound to ``port`` on ``host`` (0: a port the system picks), for a
    server to listen on (a child's ``--fd``, or uvicorn in this process, as the
    demo's gateway); ``OSError`` when another process holds it.
    Bound as uvicorn binds: connections of an earlier process on the port, closed
    and waiting out TCP's TIME_WAIT, do not hold it (a restart)."""
    listener = socket.socket()
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError:
        listener.close()
        raise
    return listener


@dataclass
class RunningStandin:
    """One stand-in process. ``restart()`` keeps its port and data file."""

    name: str
    port: int
    data: str | None
    seed: bool
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: ChildProcess | None = None
    #: The client of the readiness probe and the ``/__sim/`` surface, its connection
    #: kept alive while the process runs: a connection opened for every call (a
    #: client too) cost the caller and the stand-in more CPU than the call itself,
    #: and the tests reset and read their stand-ins before and after every test.
    _sim: httpx.Client | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> RunningStandin:
        """Start it on ``port`` (0: one the system picks, kept for restarts) and wait
        until it answers; ``PortInUse`` when another process holds the port.

        The port is bound here and the socket handed to the stand-in (``--fd``):
        found free and then started on, it could be taken in between (by another
        stand-in, or as the local port of a connection), and the readiness probe
        below, answered by whatever listens there, could not tell."""
        try:
            listener = bound_socket(self.port)
        except OSError:
            raise PortInUse(self.name, self.port) from None
        self.port = listener.getsockname()[1]
        fd = str(listener.fileno())
        cmd = [sys.executable, "-m", "gateway.cli", "legacy", self.name, "--port", str(self.port)]
        cmd += ["--fd", fd]
        # The stand-in's own credentials come from the same variables as the gateway's.
        if self.data:
            cmd += ["--data", self.data]
        if self.seed:
            cmd.append("--seed")
        with listener, self.log.open("ab") as log:
            self.proc = launch(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                pass_fds=(listener.fileno(),),
            )
        try:
            return self._ready(timeout)
        except BaseException:
            # Interrupted while it came up (Ctrl-C, or the demo's SIGTERM raised
            # here): whoever started it never got it back to stop, and it went on
            # running, holding its port, after the demo had ended.
            self.stop()
            raise

    def _ready(self, timeout: float) -> RunningStandin:
        """This stand-in once it answers; ``RuntimeError`` if it exits or is not up
        within ``timeout`` seconds."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        # Asked often, over one client: until it listens, each try is a refused
        # connection, which costs next to nothing, and a restart waits no longer
        # than it must.
        probe = self._client()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text()[-3000:]
                raise RuntimeError(f"{self.name} stand-in exited:\n{tail}")
            try:
                probe.get(self.url + "/__sim/faults", timeout=1.0).raise_for_status()
                return self
            except httpx.HTTPError:
                time.sleep(0.02)
        raise RuntimeError(f"{self.name} stand-in did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self, *, kill: bool = False) -> None:
        if self._sim is not None:
            self._sim.close()
            self._sim = None
        if self.proc is None or self.proc.poll() is not None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self, *, kill: bool = False) -> RunningStandin:
        self.stop(kill=kill)
        return self.start()

    # ----------------------------------------------------- the /__sim/ surface

    def faults(self, **settings: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._sim_call("POST", "faults", json=settings).json()
        return result

    def reset(self) -> None:
        self._sim_call("POST", "reset")

    def stats(self) -> dict[str, int]:
        """Requests per operation since the last reset."""
        ops: dict[str, int] = self._stats()["operations"]
        return ops

    def peak_in_flight(self) -> dict[str, int]:
        """The most requests in flight at once, per operation, since the last reset."""
        peaks: dict[str, int] = self._stats()["peak_in_flight"]
        return peaks

    def _stats(self) -> dict[str, Any]:
        body: dict[str, Any] = self._sim_call("GET", "stats").json()
        return body

    def _client(self) -> httpx.Client:
        # Made once even when threads ask at once: a second, never closed, would
        # leave its sockets to the garbage collector.
        with _MAKING_CLIENTS:
            if self._sim is None:
                self._sim = httpx.Client(timeout=5)
            return self._sim

    def _sim_call(self, method: str, name: str, **kwargs: Any) -> httpx.Response:
        """``/__sim/<name>`` answered (``HTTPStatusError`` for an error status).

        Every call of this surface may be repeated (a reset, faults set, counts
        read), so one that finds its kept connection closed under it (the stand-in
        let it idle out, or was restarted by another handle) is sent once more,
        over a new one."""
        url = f"{self.url}/__sim/{name}"
        try:
            response = self._client().request(method, url, **kwargs)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            response = self._client().request(method, url, **kwargs)
        return response.raise_for_status()


def start_standin(
    name: str,
    log_dir: Path,
    *,
    seed: bool = True,
    data: str | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> RunningStandin:
    """Start one stand-in (on a free port unless one is given) and wait until it
    answers; ``PortInUse`` when another process holds the port given."""
    return RunningStandin(
        name=name,
        port=port or 0,
        data=data,
        seed=seed,
        log=log_dir / f"{name}-standin.log",
        env=env or {},
    ).start()
