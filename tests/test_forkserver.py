"""The fork server the tests start their processes from (``tests/forkserver.py``):
each child is a process of its own that behaves as ``python -m`` would and is
handled as ``subprocess.Popen`` handles its children."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.forkserver import ForkedProcess, ForkServer

PROBE = [sys.executable, "-m", "tests.forkprobe"]

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="the fork server needs Linux (abstract sockets, pidfd_open)"
)


@pytest.fixture(autouse=True)
def _forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests fork, whatever the run's ``HRSS_TEST_FORK`` says of the others."""
    monkeypatch.setenv("HRSS_TEST_FORK", "1")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ForkServer]:
    forks = ForkServer(tmp_path / "server")
    forks.directory.mkdir()
    yield forks
    forks.close()


def _start(
    server: ForkServer, log: Path, *args: str, **kwargs: object
) -> ForkedProcess | subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return server.popen([*PROBE, *args], stdout=out, stderr=subprocess.STDOUT, **kwargs)  # type: ignore[arg-type]


def test_a_child_runs_its_module_with_its_arguments_environment_and_directory(
    server: ForkServer, tmp_path: Path
) -> None:
    log = tmp_path / "child.log"
    child = _start(server, log, "hello", "exit=3", env={**os.environ, "PROBE": "x"}, cwd=tmp_path)
    assert isinstance(child, ForkedProcess)
    assert child.wait(30) == 3
    assert server.proc is not None
    assert child.pid not in (os.getpid(), server.proc.pid)
    said = log.read_text()
    assert f"pid={child.pid} cwd={tmp_path} probe=x args=['hello', 'exit=3']" in said
    # A second child is forked from the same server, not started anew.
    again = _start(server, log, "exit=0")
    assert again.wait(30) == 0
    assert again.pid != child.pid


def test_a_module_the_server_imported_runs_as_main_as_python_m_runs_it(
    server: ForkServer, tmp_path: Path
) -> None:
    """``gateway.cli``, which the server imports to warm its children, runs afresh as
    ``__main__`` (``runpy`` warned of the copy it found in ``sys.modules``, into every
    stand-in's log)."""
    log = tmp_path / "cli.log"
    with log.open("ab") as out:
        cli = server.popen(
            [sys.executable, "-m", "gateway.cli", "--help"], stdout=out, stderr=subprocess.STDOUT
        )
    assert isinstance(cli, ForkedProcess)
    assert cli.wait(30) == 0
    said = log.read_text()
    assert said.startswith("usage: ")
    assert "Warning" not in said


def test_a_child_is_waited_for_terminated_and_killed_as_popen_children_are(
    server: ForkServer, tmp_path: Path
) -> None:
    sleeper = _start(server, tmp_path / "a.log", "sleep=60")
    assert sleeper.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        sleeper.wait(0.2)
    sleeper.kill()
    assert sleeper.wait(30) == -signal.SIGKILL
    assert sleeper.poll() == -signal.SIGKILL
    sleeper.kill()  # ended: nothing is signalled
    other = _start(server, tmp_path / "b.log", "sleep=60")
    other.terminate()
    assert other.wait(30) == -signal.SIGTERM


def test_a_child_gets_the_descriptors_it_is_passed_at_their_numbers(
    server: ForkServer, tmp_path: Path
) -> None:
    read, write = os.pipe()
    try:
        child = _start(server, tmp_path / "c.log", f"fd={write}", pass_fds=(write,))
        assert child.wait(30) == 0
        os.close(write)
        write = -1
        assert os.read(read, 100) == b"through the descriptor\n"
    finally:
        os.close(read)
        if write >= 0:
            os.close(write)


def test_a_child_ends_as_the_interpreter_ends(server: ForkServer, tmp_path: Path) -> None:
    log = tmp_path / "d.log"
    late = tmp_path / "late.txt"
    assert _start(server, log, "atexit", f"thread={late}").wait(30) == 0
    assert "atexit ran" in log.read_text()
    assert late.read_text() == "written after the module ended"  # its threads were joined
    failed = _start(server, log, "raise")
    assert failed.wait(30) == 1
    assert "ValueError: the probe was told to fail" in log.read_text()


_ABANDON = """
import os, subprocess, sys
from pathlib import Path
from tests.forkserver import ForkServer

directory = Path(sys.argv[1])
with (directory / "child.log").open("ab") as out:
    child = ForkServer(directory).popen(
        [sys.executable, "-m", "tests.forkprobe", "sleep=60"], stdout=out, stderr=subprocess.STDOUT
    )
print(child.pid, flush=True)
os._exit(0)  # no cleanup: as a test process killed
"""


def test_the_children_of_a_test_process_that_died_are_killed(tmp_path: Path) -> None:
    """The test process gone, however it ended (here without any cleanup), its
    fork server ends and its children are killed and reaped: nothing is left
    running to hold a port."""
    done = subprocess.run(
        [sys.executable, "-c", _ABANDON, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    pid = int(done.stdout)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, "the child outlived the process that started it"
        time.sleep(0.05)


def test_the_cpu_of_the_children_counts_in_the_test_process(tmp_path: Path) -> None:
    """Their CPU is the test process's children's (``time make test`` counts it, as
    it did when each was a new interpreter): each is waited for by its waiter, each
    waiter by the server, and the server by the test process."""
    forks = ForkServer(tmp_path)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        assert _start(forks, tmp_path / "spin.log", "spin=0.5").wait(30) == 0
    finally:
        forks.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) >= 0.5


def test_what_an_interpreter_reads_at_its_start_starts_a_new_one(
    server: ForkServer, tmp_path: Path
) -> None:
    """Another ``PYTHON*`` variable, output to a pipe, another program, or
    ``HRSS_TEST_FORK=0``: ``subprocess.Popen`` as it is."""
    log = tmp_path / "f.log"
    for env in (
        {**os.environ, "PYTHONPATH": str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", "")},
        {**os.environ, "HRSS_TEST_FORK": "0"},
    ):
        child = _start(server, log, "exit=0", env=env)
        assert isinstance(child, subprocess.Popen)
        assert child.wait(30) == 0
    piped = server.popen([*PROBE, "exit=0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert isinstance(piped, subprocess.Popen)
    piped.communicate(timeout=30)
    with log.open("ab") as out:
        other = server.popen(["/bin/sh", "-c", "exit 4"], stdout=out, stderr=subprocess.STDOUT)
    assert isinstance(other, subprocess.Popen)
    assert other.wait(30) == 4
