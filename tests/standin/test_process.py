"""A stand-in process listens on the socket its starter bound (``adapters/standin/process.py``)."""

from __future__ import annotations

import socket
import time
import types
from pathlib import Path

import httpx
import pytest

from adapters.standin import process
from adapters.standin.process import PortInUse, RunningStandin, start_standin


def test_a_port_another_process_holds_is_refused_before_anything_starts(tmp_path: Path) -> None:
    """Another server on the port would have answered the readiness probe in the
    stand-in's place while the stand-in failed to bind."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port}, where the employment stand-in"):
            start_standin("employment", tmp_path, port=port)
    assert not (tmp_path / "employment-standin.log").exists()  # no process was started


def test_a_standin_keeps_the_port_it_was_given_across_a_kill(tmp_path: Path) -> None:
    """The port is bound by the starter and handed over: the stand-in answers
    there, and after a kill (its connections left in TIME_WAIT) on the same one."""
    standin = start_standin("unemployment", tmp_path)
    try:
        port = standin.port
        assert port != 0
        assert httpx.get(standin.url + "/__sim/faults", timeout=5).is_success
        standin.restart(kill=True)
        assert standin.port == port
        assert httpx.get(standin.url + "/__sim/faults", timeout=5).is_success
    finally:
        standin.stop()


def test_a_standin_interrupted_while_it_comes_up_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C, or the demo's SIGTERM raised as an exception, while the starter waits
    for the stand-in to answer: the starter never got it back to stop, and it went
    on running, holding its port, after the demo had ended."""
    standin = RunningStandin("unemployment", 0, None, True, tmp_path / "u.log")

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    # The first probe finds nothing listening yet (the process is still importing):
    # the wait between probes is where the interrupt lands.
    clock = types.SimpleNamespace(monotonic=time.monotonic, sleep=interrupted)
    monkeypatch.setattr(process, "time", clock)  # its own waits only, not subprocess's
    with pytest.raises(KeyboardInterrupt):
        standin.start()
    assert standin.proc is not None
    assert standin.proc.poll() is not None  # stopped, not left behind
    with socket.socket() as again:
        again.bind(("127.0.0.1", standin.port))  # and its port is free
