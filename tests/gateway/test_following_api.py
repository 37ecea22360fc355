"""Subscriptions that wait: what they cost the gateway, and how many one account holds.

A registration under way can wait a long time (a system down, its steps backing off
for up to five minutes). Its subscriptions read it when it changes: told by the
events, or found by the process's one poll of the versions of every registration
followed (``gateway/following.py``), never by each of them on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.registrations.model import RegistrationState
from gateway.services import Gateway
from tests.gateway.conftest import GraphQLClient
from tests.gateway.test_registrations_api import HIRE, JINAN, hire_input, key, socket, start
from tests.subscribe import SSE_ACCEPT

SUBSCRIBE = "subscription($id: ID!) { registrationUpdates(id: $id) { id state version } }"
#: The limit of these tests' gateway.
PER_ACCOUNT = 2


@pytest.fixture
def gateway_settings(store_url: str) -> dict[str, Any]:
    # The poll as often on PostgreSQL as with local events: the tests wait for it.
    return {
        "store_url": store_url,
        "subscription_poll_s": 0.2,
        "subscriptions_per_account": PER_ACCOUNT,
    }


async def held(clerk: GraphQLClient, n: int) -> list[str]:
    """``n`` hires that stay ACCEPTED (no worker runs here), their subscriptions open."""
    body = await clerk.post(HIRE, {"w": [hire_input() for _ in range(n)], "k": key(), "c": JINAN})
    return [r["id"] for r in body["data"]["hire"]["registrations"]]


@contextlib.asynccontextmanager
async def streamed(port: int, token: str, registration_id: str) -> AsyncIterator[Any]:
    """A subscription over server-sent events, open while in the block; yields the
    lines of its body as they come."""
    async with (
        httpx.AsyncClient(timeout=30) as http,
        http.stream(
            "POST",
            f"http://127.0.0.1:{port}/graphql",
            json={"query": SUBSCRIBE, "variables": {"id": registration_id}},
            headers={"Accept": SSE_ACCEPT, "Authorization": f"Bearer {token}"},
        ) as response,
    ):
        assert response.status_code == 200
        yield response.aiter_lines()


async def next_payload(lines: Any) -> dict[str, Any]:
    """The data of the stream's next ``next`` event."""
    event = None
    async for line in lines:
        if line.startswith("event:"):
            event = line.partition(":")[2].strip()
        elif line.startswith("data:") and event == "next":
            payload: dict[str, Any] = json.loads(line.partition(":")[2])
            return payload
    raise AssertionError("the stream ended")


async def test_a_change_no_one_was_told_of_is_found_by_the_poll(
    gateway: Gateway, client: GraphQLClient, server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a worker process on the same SQLite file changes a registration: no event
    reaches this process, and the subscription still sees the change."""
    clerk = await client.login("demo-clerk")
    [registration] = await held(clerk, 1)
    async with streamed(server, clerk.token or "", registration) as lines:
        first = await next_payload(lines)
        assert first["data"]["registrationUpdates"]["state"] == "ACCEPTED"
        monkeypatch.setattr(gateway.store.registrations, "on_change", lambda ids: None)
        await gateway.store.registrations.update_registration(
            registration, state=RegistrationState.CANCELLED, now=gateway.clock()
        )
        async with asyncio.timeout(10):
            update = await next_payload(lines)
    assert update["data"]["registrationUpdates"]["state"] == "CANCELLED"
    assert (
        update["data"]["registrationUpdates"]["version"]
        > (first["data"]["registrationUpdates"]["version"])
    )


async def test_waiting_subscriptions_read_nothing_but_the_versions(
    gateway: Gateway, client: GraphQLClient, server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each subscription read its registration and its steps at every poll, five
    times a second with local events: 100 of them held a core. Now, while nothing
    changes, the process reads their versions, once a poll for all of them."""
    employer = await client.login("demo-employer")
    clerk = await client.login("demo-clerk")
    ids = await held(clerk, 2)
    reads = {"get": 0, "versions": 0}
    store = gateway.store.registrations
    get, versions = store.get, store.versions

    async def counted_get(registration_id: str) -> Any:
        reads["get"] += 1
        return await get(registration_id)

    async def counted_versions(registration_ids: Any) -> dict[str, int]:
        reads["versions"] += 1
        return await versions(registration_ids)

    async with contextlib.AsyncExitStack() as stack:
        streams = [
            await stack.enter_async_context(streamed(server, token, registration))
            for token in (clerk.token or "", employer.token or "")
            for registration in ids[:1]
        ] + [await stack.enter_async_context(streamed(server, clerk.token or "", ids[1]))]
        for lines in streams:
            await next_payload(lines)  # each has read its registration once
        monkeypatch.setattr(store, "get", counted_get)
        monkeypatch.setattr(store, "versions", counted_versions)
        async with asyncio.timeout(10):
            while reads["versions"] < 5:  # noqa: ASYNC110 - the poll offers nothing to wait on
                await asyncio.sleep(0.05)
        assert reads["get"] == 0
        assert gateway.following.followed == 3


async def test_an_account_follows_a_bounded_number_of_registrations_at_once(
    gateway: Gateway, client: GraphQLClient, server: int
) -> None:
    """However they come (operations of one socket, streams of their own): each
    holds a connection and a task, and an account's rate limit let it open 600 a
    minute."""
    clerk = await client.login("demo-clerk")
    ids = await held(clerk, PER_ACCOUNT + 1)
    async with socket(server, clerk.token) as ws:
        for op, registration in zip("ab", ids, strict=False):
            await start(ws, op, SUBSCRIBE, {"id": registration})
            assert json.loads(await ws.recv())["type"] == "next"
        assert "hrss_subscriptions 2.0" in gateway.metrics.exposition().splitlines()
        # One more, over another transport: refused in its stream.
        async with streamed(server, clerk.token or "", ids[2]) as lines:
            refused = await next_payload(lines)
        [error] = refused["errors"]
        assert error["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        assert error["extensions"]["limit"] == PER_ACCOUNT
        assert error["extensions"]["message_zh"]
        # Another account is not held back by this one's.
        employer = await client.login("demo-employer")
        async with streamed(server, employer.token or "", ids[2]) as lines:
            assert "data" in await next_payload(lines)
        # One ended by the client: room for another.
        await ws.send(json.dumps({"id": "a", "type": "complete"}))
        async with asyncio.timeout(10):
            while gateway.following.followed > 1:  # noqa: ASYNC110 - the server's own pace
                await asyncio.sleep(0.02)
        await start(ws, "c", SUBSCRIBE, {"id": ids[2]})
        async with asyncio.timeout(10):
            while (answer := json.loads(await ws.recv()))["id"] != "c":
                continue
        assert answer["type"] == "next"
