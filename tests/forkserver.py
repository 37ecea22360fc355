"""Child processes of the tests, forked from one that has already imported them.

The processes the tests start (stand-ins, ``serve``, ``worker``, commands) are
``python -m gateway.cli ...``, and before it answers such a process spends most
of its CPU importing: 0.4 to 0.8 s a stand-in, about 1 s a worker, 1.5 s a
``serve``, on two cores shared by the whole run. A fork server (one per test
process, started on the first child) imports them once, and each child is a
fork of it running the same command as ``python -m`` would (``runpy``, its own
arguments, environment, working directory, output and inherited sockets). The
children are real processes all the same: their own pid, killed by SIGKILL,
restarted on their data, talked to over loopback.

Why by hand: ``multiprocessing``'s forkserver runs a Python function in the
child, not a command line, and reports no exit status to anyone but its
parent; the tests need ``subprocess.Popen``'s handle (``poll``, ``wait``,
``terminate``, ``kill``, ``returncode``) over a command. Each child has a
waiter of its own (a fork of the server too) that reports the exit status over
the connection that asked for the child, and reaps the child only once the
status was read, so that its pid is never reused while the tests may signal it.

``HRSS_TEST_FORK=0`` starts every child with ``subprocess.Popen`` as before; the
tests of the deployed commands' imports and of ``make demo`` always do
(they call ``subprocess`` themselves).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
import json
import os
import secrets
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

#: What the server imports before it forks anything, by command: what the
#: children would otherwise each import (a stand-in's app modules, the gateway's
#: schema and store). The stand-ins' modules are found from the registered systems.
WARM: dict[str, tuple[str, ...]] = {
    "legacy": ("adapters.standin.server", "adapters.standin.serving", "adapters.identity.server"),
    "serve": ("gateway.app", "gateway.config", "gateway.serving"),
    "worker": ("gateway.config", "gateway.registrations.wiring", "gateway.services"),
}

_STATUS = struct.Struct("!i")
_LENGTH = struct.Struct("!I")
#: The most descriptors one child is handed: its output and its sockets.
_MAX_FDS = 16


def enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether children are forked: on Linux (abstract sockets, ``pidfd_open``),
    unless ``HRSS_TEST_FORK=0``."""
    return (
        sys.platform == "linux"
        and (os.environ if env is None else env).get("HRSS_TEST_FORK", "1") != "0"
    )


# --------------------------------------------------------------------- client


class ForkedProcess:
    """A child of the fork server, handled as ``subprocess.Popen`` handles its own."""

    def __init__(
        self, args: list[str], pid: int, conn: socket.socket, running: set[ForkedProcess]
    ) -> None:
        self.args = args
        self.pid = pid
        self.returncode: int | None = None
        self._conn: socket.socket | None = conn
        # Held by its server until its status is read: its connection must stay
        # open (closed, it tells the waiter that nobody wants the child any more).
        self._running = running
        running.add(self)

    def poll(self) -> int | None:
        if self.returncode is None:
            self._read_status(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and not self._read_status(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        # Until its status is read the child is not reaped: the pid is still its own.
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _read_status(self, timeout: float | None) -> bool:
        conn = self._conn
        if conn is None:
            return True
        # poll, not select: a test process may hold more than 1,024 descriptors.
        readable = select.poll()
        readable.register(conn, select.POLLIN)
        if not readable.poll(None if timeout is None else timeout * 1000):
            return False
        data = _recv_exactly(conn, _STATUS.size)
        # No status: the waiter itself died (the server was killed), and the
        # child with it.
        self.returncode = _STATUS.unpack(data)[0] if data else -signal.SIGKILL
        conn.close()  # the waiter reaps the child now
        self._conn = None
        self._running.discard(self)
        return True


class ForkServer:
    """The server of one test process, started on the first child asked for."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory  # for its log
        # An abstract socket (Linux): no file to clean up, no limit on the
        # directory's path length, gone with the server.
        self.address = f"\0hrss-test-fork-{os.getpid()}-{secrets.token_hex(6)}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        #: Its children whose status is not read yet.
        self.running: set[ForkedProcess] = set()

    def popen(
        self,
        cmd: Sequence[str],
        *,
        stdout: IO[Any] | int | None = None,
        stderr: int | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> ForkedProcess | subprocess.Popen[bytes]:
        """``subprocess.Popen(cmd, ...)`` for the arguments the tests pass, forked
        where it can be: ``python -m <module>``, its output to one file, an
        environment whose ``PYTHON*`` variables (read once, when an interpreter
        starts) are the server's. Anything else is started by ``Popen``."""
        env = dict(os.environ if env is None else env)
        command = list(cmd)
        forkable = (
            enabled(env)
            and len(command) >= 3
            and command[:2] == [sys.executable, "-m"]
            and stderr == subprocess.STDOUT
            and stdout is not None
            and not isinstance(stdout, int)
            and _python_variables(env) == _python_variables(os.environ)
        )
        if not forkable:
            return subprocess.Popen(
                command,
                stdout=stdout,
                stderr=stderr,
                env=env,
                cwd=cwd,
                pass_fds=tuple(pass_fds),
            )
        assert stdout is not None
        assert not isinstance(stdout, int)
        stdout.flush()
        request = {
            "module": command[2],
            "args": command[3:],
            "env": env,
            "cwd": str(cwd) if cwd is not None else os.getcwd(),
            "fds": list(pass_fds),
        }
        conn = self._connect()
        try:
            body = json.dumps(request).encode()
            socket.send_fds(conn, [_LENGTH.pack(len(body))], [stdout.fileno(), *pass_fds])
            conn.sendall(body)
            answer = _recv_exactly(conn, _STATUS.size)
            if not answer:
                log = (self.directory / "fork-server.log").read_text()[-3000:]
                raise RuntimeError(f"the tests' fork server forked nothing:\n{log}")
            pid = _STATUS.unpack(answer)[0]
        except BaseException:
            conn.close()
            raise
        return ForkedProcess(command, pid, conn, self.running)

    def _connect(self) -> socket.socket:
        with self._lock:
            if self.proc is None or self.proc.poll() is not None:
                self._start()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(self.address)
        except BaseException:
            conn.close()
            raise
        return conn

    def _start(self, timeout: float = 60.0) -> None:
        log = self.directory / "fork-server.log"
        with log.open("ab") as out:
            # Its stdin is a pipe from this process: at its end (this process
            # gone, however) the server ends, and every child with its waiter.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.forkserver", self.address[1:]],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parent.parent,
            )
        # It listens once it has imported what a stand-in imports.
        deadline = time.monotonic() + timeout
        while True:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                if probe.connect_ex(self.address) == 0:  # else refused: not listening yet
                    return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text()[-3000:]
                raise RuntimeError(f"the tests' fork server did not start:\n{tail}")
            time.sleep(0.02)

    def close(self) -> None:
        """Kill the children still running, wait for them, then stop the server
        (which waits for their waiters)."""
        for child in list(self.running):
            child.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(10)
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _python_variables(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("PYTHON")}


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    """``size`` bytes, or ``b""`` if the peer closed before the first."""
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            if data:
                raise ConnectionError("the fork server's answer was cut short")
            return b""
        data += chunk
    return data


# --------------------------------------------------------------------- server


def _warm(command: str, warmed: set[str]) -> None:
    """Import what ``command``'s children would (once: the first such child pays
    for it here instead, the next ones not at all)."""
    if command in warmed:
        return
    warmed.add(command)
    modules = list(WARM.get(command, ()))
    if command == "legacy":
        from gateway.registry import registry

        for spec in registry():
            if spec.standin is not None:
                package = spec.standin.app.__module__.rsplit(".", 1)[0]
                modules.append(package + ".standin")
    for name in modules:
        try:
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
        except Exception:  # the child imports it again, and says what fails
            traceback.print_exc()
    if threading.active_count() != 1:
        # A fork copies only the thread that forks: a lock another held would be
        # held for ever in the child.
        raise SystemExit(f"threads running after the imports: {threading.enumerate()}")
    # What the imports made lives as long as every child: frozen, no collection
    # of a child walks it, and its pages stay shared with the server's.
    gc.collect()
    gc.freeze()


def serve(name: str) -> None:
    """Listen on the abstract socket ``name`` until stdin ends."""
    import gateway.cli  # noqa: F401 - every child runs it

    warmed: set[str] = set()
    _warm("legacy", warmed)  # the children asked for most
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + name)
    listener.listen(64)
    while True:
        ready, _, _ = select.select([listener, 0], [], [])
        if 0 in ready and not os.read(0, 1):
            break  # the test process is done, or gone
        if listener in ready:
            conn, _ = listener.accept()
            with conn:
                _fork_one(listener, conn, warmed)
        _reap(os.WNOHANG)
    # Waited for, not left to be reaped unasked: the CPU of every child then
    # counts in the test process's, and in ``time make test``'s.
    _reap(0)


def _reap(options: int) -> None:
    """Reap the waiters that have ended (``WNOHANG``), or all of them (0)."""
    with contextlib.suppress(ChildProcessError):  # none left
        ended = os.waitpid(-1, options)[0]
        while ended:  # 0: with WNOHANG, none has ended yet
            ended = os.waitpid(-1, options)[0]


def _fork_one(listener: socket.socket, conn: socket.socket, warmed: set[str]) -> None:
    try:
        head, fds, _, _ = socket.recv_fds(conn, _LENGTH.size, _MAX_FDS)
    except OSError:
        return
    try:
        if len(head) != _LENGTH.size or not fds:
            return
        request = json.loads(_recv_exactly(conn, _LENGTH.unpack(head)[0]))
        started = time.process_time()
        if request["module"] == "gateway.cli" and request["args"]:
            _warm(request["args"][0], warmed)
        pid = os.fork()
        if pid == 0:
            listener.close()
            _wait_for_child(conn, request, fds)  # never returns
        cpu = time.process_time() - started
        command = " ".join([request["module"], *request["args"][:2]])
        print(f"waiter {pid} ({cpu:.3f} s): {command}", flush=True)
    finally:
        for fd in fds:
            os.close(fd)


def _wait_for_child(conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
    """The waiter: fork the child, hand its pid over, report how it ended, and reap
    it once that was read (or kill it if the test process went away first)."""
    try:
        pid = os.fork()
        if pid == 0:
            conn.close()
            _run_child(request, fds)  # never returns
        for fd in fds:
            os.close(fd)
        conn.sendall(_STATUS.pack(pid))
        child = os.pidfd_open(pid)
        ready, _, _ = select.select([conn, child], [], [])
        if child not in ready:  # nobody wants it any more
            os.kill(pid, signal.SIGKILL)
        ended = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        assert ended is not None
        code = ended.si_status if ended.si_code == os.CLD_EXITED else -ended.si_status
        with contextlib.suppress(OSError):
            conn.sendall(_STATUS.pack(code))
            conn.recv(1)  # until the test process has read it and closed
        os.waitpid(pid, 0)
    finally:
        os._exit(0)


def _run_child(request: dict[str, Any], fds: list[int]) -> None:
    """Become ``python -m <module> <args>`` with the request's environment,
    working directory, output (``fds[0]``, as stdout and stderr) and the
    descriptors it inherits at their numbers (``fds[1:]``, ``pass_fds``)."""
    code = 1
    try:
        wanted = [1, 2, *request["fds"]]
        sources = [fds[0], fds[0], *fds[1:]]
        # Out of the way of every number wanted, then each at its place.
        floor = max([*wanted, *fds]) + 1
        moved = [_dup_above(fd, floor) for fd in sources]
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        for source, target in zip(moved, wanted, strict=True):
            os.dup2(source, target)
        for fd in {*moved, *fds} - {0, *wanted}:
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[0] = request["cwd"]  # what ``-m`` puts first
        code = _run_module(request["module"], request["args"])
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def _dup_above(fd: int, floor: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD, floor)


def _run_module(module: str, args: list[str]) -> int:
    """What the interpreter does for ``-m module args``, then at its exit: the
    status of ``SystemExit``, non-daemon threads joined, ``atexit`` run, the
    output flushed. A ``KeyboardInterrupt`` ends it by SIGINT, as Python does."""
    import atexit
    import runpy

    sys.argv = ["-m", *args]
    # Run as ``__main__`` as ``-m`` runs it: not the copy the server imported to
    # warm its children (runpy warns of one found in ``sys.modules``).
    sys.modules.pop(module, None)
    interrupted = False
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit:
        code = _exit_status(exit.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        interrupted = True
    except BaseException:
        traceback.print_exc()
        code = 1
    threading._shutdown()  # type: ignore[attr-defined]  # what the interpreter calls at exit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return code


def _exit_status(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    print(value, file=sys.stderr)
    return 1


if __name__ == "__main__":
    serve(sys.argv[1])
