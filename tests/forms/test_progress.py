"""A long import shows how far it has got: formImportProgress, polled while it runs."""

from __future__ import annotations

import asyncio
import threading
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from aiocache.plugins import BasePlugin

from gateway.access import Principal
from gateway.auth import Role
from gateway.cache import GatewayCache
from gateway.forms.progress import Phase, Progress, progress_of, published
from gateway.forms.settings import FormSettings
from gateway.services import Gateway
from tests.forms.support import filled, hire_row
from tests.forms.test_import_api import JINAN, upload
from tests.gateway.conftest import GraphQLClient

PROGRESS = """query($k: String!) { formImportProgress(idempotencyKey: $k) { phase done total } }"""


async def test_progress_is_seen_while_the_import_runs_and_by_its_uploader_only(
    client: GraphQLClient, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    employer = await client.login("demo-employer")
    rows = 50
    data = filled([hire_row() for _ in range(rows)])
    key = uuid.uuid4().hex
    # The import's thread holds on as its checking starts until a poll has seen it
    # there: "seen while it runs" whatever the machine's speed, without a workbook
    # big enough to outlast the polls.
    polled = threading.Event()
    start = Progress.start

    def held(progress: Progress, phase: Phase, total: int | None) -> None:
        start(progress, phase, total)
        if phase is Phase.CHECKING:
            polled.wait(timeout=30)

    monkeypatch.setattr(Progress, "start", held)
    running = asyncio.create_task(upload(employer, data, k=key, d=True))
    seen = []
    async with asyncio.timeout(60):
        while True:
            body = await employer.post(PROGRESS, {"k": key})
            found = body["data"]["formImportProgress"]
            if found is not None:
                seen.append(found)
                if found["phase"] == "CHECKING":
                    polled.set()
                if found["phase"] == "DONE":
                    break
            await asyncio.sleep(0.05)
    result = (await running)["data"]["importRegistrationForm"]
    assert result["rows"] == rows
    assert polled.is_set()  # seen checking, before the end
    for s in seen:
        assert s["total"] is None or 0 <= s["done"] <= s["total"]
    assert seen[-1] == {"phase": "DONE", "done": rows, "total": rows}
    clerk = await client.login("demo-clerk")
    assert (await clerk.post(PROGRESS, {"k": key}))["data"]["formImportProgress"] is None


async def test_the_copying_stops_when_the_import_ends_just_as_a_copy_is_stored() -> None:
    """The import ended in the same turn of the event loop as the copier's write to
    the cache finished. aiocache bounds each call with ``asyncio.wait_for``, which on
    Python 3.11 answers the finished write and drops a cancellation that comes then:
    a copier stopped by cancelling went on copying, and the import waited for it
    for ever (seen under load: a form import that never answered)."""
    cache = GatewayCache("memory://", key_secret=b"k", worker_ttl_s=60, employer_ttl_s=60)
    stored = asyncio.Event()

    class Stored(BasePlugin):
        async def post_set(self, *args: Any, **kwargs: Any) -> None:
            stored.set()

    # Called inside aiocache's wait_for, as the write finishes.
    cache._cache.plugins = [Stored()]
    gateway: Any = SimpleNamespace(cache=cache, config=SimpleNamespace(forms=FormSettings()))
    uploader = Principal(Role.EMPLOYER, JINAN)

    async def importing() -> None:
        async with published(gateway, uploader, "key"):
            await stored.wait()  # woken in the turn in which the copier's write finished

    running = asyncio.create_task(importing())
    # Waited for without cancelling it: a hang fails here rather than at the suite's
    # timeout (no speed is asserted: it ends within milliseconds).
    done, _ = await asyncio.wait({running}, timeout=30)
    running.cancel()
    assert running in done, "the import waited for ever for the progress copier"
    found = await progress_of(gateway, uploader, "key")
    assert found is not None
    assert found.phase is Phase.DONE
