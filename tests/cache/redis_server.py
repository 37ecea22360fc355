"""A Redis of the test's own, which the test may stop, start again and lock.

The shared Redis (``tests/services.py``) must stay up for every other test: a test
of what the gateway does while Redis is down, refuses, or comes back runs
``redis-server`` on a free loopback port with a folder of its own, and stops it
(the fixture stops it in any case at the end).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from adapters.standin.process import free_port
from tests.services import unavailable

#: How long ``redis-server`` may take to answer after it is started.
START_TIMEOUT_S = 15.0


class RedisServer:
    """``redis-server`` on ``port``, its files (a dump when stopped with ``save``) in ``folder``."""

    def __init__(self, folder: Path, *, password: str | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.password = password
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0, *, password: str | None = None) -> str:
        """The URL of database ``db``; with ``password`` (by default the server's own)."""
        secret = self.password if password is None else password
        auth = f":{secret}@" if secret else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password,
            socket_timeout=2,
            socket_connect_timeout=2,
        )

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed")
        args = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.folder),
            "--logfile",
            str(self.folder / "redis.log"),
        ]
        if self.password:
            args += ["--requirepass", self.password]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with self.client() as probe:
                    probe.ping()
                return
            except redis.RedisError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    log = self.folder / "redis.log"
                    text = log.read_text()[-2000:] if log.exists() else ""
                    self.stop()
                    raise RuntimeError(f"redis-server did not start:\n{text}") from None
                time.sleep(0.02)

    def stop(self, *, save: bool = False) -> None:
        """Stopped: everything it held lost, or with ``save`` written to its folder,
        where ``start`` reads it again (as a Redis cut off from the gateways for a while)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        if save:
            try:
                with self.client() as admin:
                    admin.shutdown(save=True)
            except redis.ConnectionError:
                pass  # it answers nothing once it has gone: what SHUTDOWN does
        else:
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self, *, save: bool = False) -> None:
        self.stop(save=save)
        self.start()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, started; stopped at the end whatever the test left."""
    folder = tmp_path / "own-redis"
    folder.mkdir()
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
