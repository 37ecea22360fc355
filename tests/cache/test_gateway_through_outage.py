"""A whole gateway, served by uvicorn on loopback, its cache, rate limits and sign-in
throttle in a Redis of the test's own, which the test stops and starts again.

While Redis is down a signed-in request is answered (its account read from the
store), a subscription goes on, an upload with problems is answered with its marked
form, and wrong passwords are still throttled (counted in the process); once Redis
is back the cache serves from it again, nothing failing on the connections the
restart closed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import gateway.cache as cache_module
from adapters.standin.seed import WORKERS
from gateway.registrations.wiring import run_worker
from gateway.services import Gateway
from tests.cache.redis_server import RedisServer
from tests.cache.redis_server import own_redis as own_redis
from tests.forms.support import filled, hire_row
from tests.forms.test_import_api import upload
from tests.gateway.conftest import GraphQLClient
from tests.gateway.conftest import _cheap_password_hashes as _cheap_password_hashes
from tests.gateway.conftest import gateway as gateway
from tests.gateway.conftest import server as server
from tests.gateway.test_registrations_api import HIRE, hire_input
from tests.subscribe import over_http

WORKER = WORKERS[0].person
ME = "{ me { username } }"
READ = """query($n: String!) { employer { worker(idType: RESIDENT_ID, idNumber: $n) {
  name } } }"""
PROGRESS = """query($k: String!) { formImportProgress(idempotencyKey: $k) { phase } }"""
SUBSCRIBE = "subscription($id: ID!) { registrationUpdates(id: $id) { id state version } }"
LOGIN = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }"
#: How often a subscription asks again whether its token still signs its account in.
RECHECK_S = 0.5


@pytest.fixture(autouse=True)
def _short_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "REDIS_PAUSE_S", 0.1, raising=False)
    monkeypatch.setattr(cache_module, "REDIS_PAUSE_CAP_S", 0.4, raising=False)


@pytest.fixture
def gateway_settings(own_redis: RedisServer) -> dict[str, Any]:
    return {
        "cache_url": own_redis.url(),
        # The wake-ups too travel over it, as in compose (``events_url`` unset); they
        # reconnect by themselves (``gateway/events.py``), the poll meanwhile.
        "account_cache_ttl_s": RECHECK_S,
        "subscription_poll_s": 0.1,
        "environ": {
            "HRSS_RATE_LIMIT_KEY_PREFIX": "hrss-test-ratelimit",
            "HRSS_RATE_LIMIT_STORAGE_RETRY_S": "0.2",
        },
    }


@pytest.fixture
async def http(server: int) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server}", timeout=30) as client:
        yield client


async def answered(
    http: httpx.AsyncClient, token: str | None, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The answer's body, which must be a 200 without errors."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = await http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert "errors" not in body, body
    return body


async def test_signed_in_requests_are_answered_while_redis_is_down_and_after_it(
    http: httpx.AsyncClient, gateway: Gateway, own_redis: RedisServer
) -> None:
    employer = await GraphQLClient(http).login("demo-employer")
    token = employer.token
    assert (await answered(http, token, ME))["data"]["me"]["username"] == "demo-employer"
    own_redis.stop()
    for _ in range(10):
        body = await answered(http, token, ME)
        assert body["data"]["me"]["username"] == "demo-employer"
        read = await answered(http, token, READ, {"n": WORKER.id_number})
        assert read["data"]["employer"]["worker"]["name"] == WORKER.name
    assert not gateway.cache.reachable
    own_redis.start()  # empty: every connection the gateway pooled is closed
    for _ in range(20):
        assert (await answered(http, token, ME))["data"]["me"]["username"] == "demo-employer"
        await asyncio.sleep(0.05)
    assert gateway.cache.reachable
    hits = gateway.cache.hits
    for _ in range(3):
        await answered(http, token, ME)
    assert gateway.cache.hits > hits  # the account is read from Redis again


async def test_a_subscription_goes_on_through_a_redis_outage(
    http: httpx.AsyncClient, gateway: Gateway, own_redis: RedisServer
) -> None:
    employer = await GraphQLClient(http).login("demo-employer")
    body = await answered(employer.http, employer.token, HIRE, {"w": [hire_input()], "k": "k-1"})
    [registration] = body["data"]["hire"]["registrations"]
    following = asyncio.create_task(
        over_http(http, "/graphql", "sse", SUBSCRIBE, {"id": registration["id"]}, employer.token)
    )
    await asyncio.sleep(RECHECK_S)
    own_redis.stop()
    await asyncio.sleep(4 * RECHECK_S)  # the token asked again, with Redis down
    assert not following.done()
    own_redis.start()
    await asyncio.sleep(2 * RECHECK_S)
    assert not following.done()
    # Now carried out: the subscription follows it to its end.
    stop = asyncio.Event()
    working = asyncio.create_task(run_worker(gateway, stop=stop))
    try:
        response, payloads = await asyncio.wait_for(following, 60)
    finally:
        stop.set()
        await asyncio.wait_for(working, 10)
    assert response.status_code == 200
    assert [p for p in payloads if "errors" in p] == []
    assert payloads[-1]["data"]["registrationUpdates"]["state"] == "COMPLETED"


async def test_an_upload_with_problems_while_redis_is_down_is_answered_with_its_marked_form(
    http: httpx.AsyncClient, own_redis: RedisServer
) -> None:
    employer = await GraphQLClient(http).login("demo-employer")
    own_redis.stop()
    key = uuid.uuid4().hex
    row = hire_row(mobile="12345")  # a problem: the form comes back marked
    body = await upload(employer, filled([row]), k=key, d=True)
    assert "errors" not in body, body
    result = body["data"]["importRegistrationForm"]
    assert result["problems"]
    url = result["markedWorkbook"]["url"]
    fetched = await http.get(url, headers={"Authorization": f"Bearer {employer.token}"})
    assert fetched.status_code == 200
    assert fetched.content.startswith(b"PK")
    progress = await answered(http, employer.token, PROGRESS, {"k": key})
    assert progress["data"]["formImportProgress"] == {"phase": "DONE"}


async def test_wrong_passwords_are_still_throttled_while_redis_is_down(
    http: httpx.AsyncClient, own_redis: RedisServer
) -> None:
    """Five guesses at one user name in 15 minutes (``login_per_username``), Redis or not."""
    own_redis.stop()
    codes = []
    for n in range(12):
        r = await http.post(
            "/graphql",
            json={"query": LOGIN, "variables": {"u": "demo-clerk", "p": f"wrong-{n}"}},
        )
        assert r.status_code == 200, r.text
        codes.append(r.json()["errors"][0]["extensions"]["code"])
    assert codes == ["INVALID_CREDENTIALS"] * 5 + ["LOGIN_THROTTLED"] * 7
