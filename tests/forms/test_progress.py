"""A long import shows how far it has got: formImportProgress, polled while it runs."""

from __future__ import annotations

import asyncio
import uuid

from gateway.services import Gateway
from tests.forms.support import filled, hire_row
from tests.forms.test_import_api import upload
from tests.gateway.conftest import GraphQLClient

PROGRESS = """query($k: String!) { formImportProgress(idempotencyKey: $k) { phase done total } }"""


async def test_progress_is_seen_while_the_import_runs_and_by_its_uploader_only(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    rows = 1500
    data = filled([hire_row() for _ in range(rows)])
    key = uuid.uuid4().hex
    running = asyncio.create_task(upload(employer, data, k=key, d=True))
    seen = []
    async with asyncio.timeout(60):
        while True:
            body = await employer.post(PROGRESS, {"k": key})
            found = body["data"]["formImportProgress"]
            if found is not None:
                seen.append(found)
                if found["phase"] == "DONE":
                    break
            await asyncio.sleep(0.05)
    result = (await running)["data"]["importRegistrationForm"]
    assert result["rows"] == rows
    assert any(s["phase"] in ("READING", "CHECKING") for s in seen)
    for s in seen:
        assert s["total"] is None or 0 <= s["done"] <= s["total"]
    assert seen[-1] == {"phase": "DONE", "done": rows, "total": rows}
    clerk = await client.login("demo-clerk")
    assert (await clerk.post(PROGRESS, {"k": key}))["data"]["formImportProgress"] is None
