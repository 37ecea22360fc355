"""``hrss-gateway cluster``: N gateway processes on one port and M worker processes.

The parent binds the port once and hands the listening socket to each ``serve``
child (``--fd``), so that the kernel spreads connections over them as uvicorn's own
``--workers`` does; the children run with ``HRSS_RUN_WORKER=false`` and the ``worker``
children carry registrations out. They find each other only through the store and
the events (``gateway/events.py``): PostgreSQL, and Redis when configured. SQLite is
the single-machine path of ``hrss-gateway serve`` and is refused here.

The parent only supervises: SIGTERM or SIGINT stops every child (gracefully, then
killed after ``STOP_S``); a child that ends on its own stops the others, and the
cluster exits with its status, for the machine's supervisor (systemd, the container
runtime) to start it again. uvicorn's own ``--workers`` would run the web processes
only; this runs the worker processes beside them, under one supervisor.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

log = logging.getLogger("gateway.cluster")

#: How long children have to stop before they are killed.
STOP_S = 15.0


class ClusterRefused(Exception):
    """The configuration cannot run as a cluster (said why, with the setting to change)."""


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def check(store_url: str, gateways: int, workers: int) -> None:
    if gateways < 1 or workers < 0:
        raise ClusterRefused("--gateways must be at least 1 and --workers at least 0")
    if not store_url.startswith("postgresql"):
        raise ClusterRefused(
            "a cluster shares a PostgreSQL store (HRSS_STORE_URL=postgresql+asyncpg://...); "
            "SQLite is for one `hrss-gateway serve`"
        )


def commands(config_file: str | None, fd: int, gateways: int, workers: int) -> list[list[str]]:
    base = [sys.executable, "-m", "gateway.cli"]
    options = ["--config", config_file] if config_file else []
    return [[*base, "serve", "--fd", str(fd), *options] for _ in range(gateways)] + [
        [*base, "worker", *options] for _ in range(workers)
    ]


def run(
    *,
    host: str,
    port: int,
    store_url: str,
    gateways: int,
    workers: int,
    config_file: str | None = None,
) -> int:
    """Start the children, supervise them, and return the cluster's exit status."""
    check(store_url, gateways, workers)
    sock = listening_socket(host, port)
    env = {**os.environ, "HRSS_RUN_WORKER": "false"}
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for command in commands(config_file, sock.fileno(), gateways, workers):
            children.append(subprocess.Popen(command, env=env, pass_fds=(sock.fileno(),)))  # noqa: S603
        sock.close()  # the children hold it now
        log.info(
            "cluster: %d gateway processes on %s:%d, %d worker processes",
            gateways,
            host,
            port,
            workers,
        )
        status = 0
        while not stopping:
            ended = [c for c in children if c.poll() is not None]
            if ended:
                status = ended[0].returncode or 1
                log.error(
                    "cluster: process %d ended (status %s); stopping the others",
                    ended[0].pid,
                    ended[0].returncode,
                )
                break
            time.sleep(0.2)
        _stop_all(children)
        return status
    finally:
        _stop_all(children)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stop_all(children: Sequence[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_S
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


__all__ = ["STOP_S", "ClusterRefused", "check", "commands", "listening_socket", "run"]
