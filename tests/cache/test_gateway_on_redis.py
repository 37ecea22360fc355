"""A whole gateway with its cache in Redis: after a worker is read, a form imported
with problems and its progress shown, Redis holds none of the workers' data nor
the caller's idempotency key, in any name or value, and the cache still serves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from adapters.standin.seed import WORKERS
from gateway.services import Gateway
from tests.cache.test_sealed import _stored, _value
from tests.forms.support import filled, hire_row
from tests.forms.test_import_api import upload
from tests.gateway.conftest import GraphQLClient
from tests.gateway.conftest import client as client
from tests.gateway.conftest import gateway as gateway
from tests.services import RedisNamespace
from tests.services import redis_namespace as redis_namespace

WORKER = WORKERS[0].person
READ = """query($n: String!) { employer { worker(idType: RESIDENT_ID, idNumber: $n) {
  name idNumber mobile householdAddress } } }"""
PROGRESS = """query($k: String!) { formImportProgress(idempotencyKey: $k) { phase } }"""


@pytest.fixture
def gateway_settings(redis_namespace: RedisNamespace) -> dict[str, Any]:
    return {
        "cache_url": redis_namespace.url,
        "events_url": "local",
        # Not what is shown here; counted, they would be in Redis through a client
        # that only the app's lifespan (not run over ASGI here) closes.
        "environ": {
            "HRSS_RATE_LIMIT_ENABLED": "false",
            "HRSS_RATE_LIMIT_KEY_PREFIX": redis_namespace.prefix + "ratelimit",
        },
    }


@pytest.fixture
def raw(redis_namespace: RedisNamespace) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_namespace.url)
    before = set(client.scan_iter(match="hrss:*"))
    try:
        yield client
    finally:
        # The gateway's own namespace (``hrss``) on a shared Redis: this test's entries go.
        made = set(client.scan_iter(match="hrss:*")) - before
        if made:
            client.delete(*made)
        client.close()


async def test_redis_holds_no_workers_data_and_no_callers_key_in_clear(
    client: GraphQLClient,
    gateway: Gateway,
    raw: redis.Redis,
    redis_namespace: RedisNamespace,
) -> None:
    before = set(raw.scan_iter(match="hrss:*"))
    employer = await client.login("demo-employer")
    for _ in range(2):
        body = await employer.post(READ, {"n": WORKER.id_number})
        assert body["data"]["employer"]["worker"]["householdAddress"] == WORKER.household_address
    assert gateway.cache.hits > 0  # the second read came from Redis, opened
    row = hire_row(mobile="12345", name="钱七", household_address="户籍巷11号")
    key = f"form-{row['id_number']}"
    result = (await upload(employer, filled([row]), k=key, d=True))["data"]
    url = result["importRegistrationForm"]["markedWorkbook"]["url"]
    token = url.rsplit("/", 1)[1].removesuffix(".xlsx")
    progress = await employer.post(PROGRESS, {"k": key})
    assert progress["data"]["formImportProgress"] == {"phase": "DONE"}
    fetched = await employer.http.get(url, headers={"Authorization": f"Bearer {employer.token}"})
    assert fetched.status_code == 200
    secrets = [
        WORKER.id_number,
        WORKER.mobile,
        WORKER.name,
        WORKER.household_address,
        WORKER.current_address,
        row["id_number"],
        row["name"],
        row["household_address"],
        key,
        token,
    ]
    made = {n: _value(raw, n) for n in set(raw.scan_iter(match="hrss:*")) - before}
    made |= _stored(raw, redis_namespace)
    kinds = {name.split(b":")[2] for name in made if name.startswith(b"hrss:s1:")}
    assert {b"worker", b"account", b"form-marked", b"form-progress"} <= kinds
    leaks = [
        (name, secret)
        for name, value in made.items()
        for secret in secrets
        if secret.encode() in name or secret.encode() in value
    ]
    assert leaks == []
    pickled = [n for n, v in made.items() if n.startswith(b"hrss:") and not v.startswith(b"\x01")]
    assert pickled == []  # every value sealed (version 1), none a pickle


async def test_a_token_unchanged_still_finds_its_account_through_redis(
    client: GraphQLClient, gateway: Gateway, raw: redis.Redis
) -> None:
    employer = await client.login("demo-employer")
    for _ in range(3):
        body = await employer.post("{ me { username } }")
        assert body["data"]["me"]["username"] == "demo-employer"
    assert gateway.cache.hits >= 2
