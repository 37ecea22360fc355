"""What the graph answers is the caller's own and may hold personal data (a worker's
full ID number, to the employer who reaches it): no cache along the way keeps it, nor
serves one caller's answer to another."""

from __future__ import annotations

import httpx
import pytest


def uncached(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store"
    varies = {v.strip().lower() for v in response.headers["vary"].split(",")}
    assert {"accept", "authorization"} <= varies


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_no_answer_is_kept_by_a_cache(client: httpx.AsyncClient, method: str) -> None:
    query = "{ hello }"
    if method == "GET":
        answered = await client.get("/graphql", params={"query": query})
    else:
        answered = await client.post("/graphql", json={"query": query})
    assert answered.status_code == 200
    uncached(answered)
    # Refusals too: they say what the caller may do.
    refused = await client.get("/graphql", params={"query": "{"})
    assert refused.status_code in (200, 400)
    uncached(refused)
