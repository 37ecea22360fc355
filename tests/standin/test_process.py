"""A stand-in process listens on the socket its starter bound (``adapters/standin/process.py``)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from adapters.standin.process import PortInUse, start_standin


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
