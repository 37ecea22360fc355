"""The wake-ups between processes (gateway/events.py), on each carrier.

Two carriers on one channel stand for two processes: each publishes as a gateway
or a worker does, and what the other hears is what the other process would act
on. The PostgreSQL and Redis carriers run against the real services; each test
has a channel of its own, so that parallel runs never hear each other.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]
import pytest

from gateway.config import GatewayConfig
from gateway.events import Events, PostgresEvents, RedisEvents, events_for
from tests.services import _asyncpg_dsn, postgres_url, redis_url, services

#: Long enough for a loaded machine, far below anything the tests could wait by polling.
WITHIN = 10.0


class Counter:
    """``on_work`` of one process: how many times its worker was woken."""

    def __init__(self) -> None:
        self.count = 0
        self.woken = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self.woken.set()


async def test_in_process_events_wake_the_worker_and_the_followers_of_that_registration() -> None:
    woken = Counter()
    events = Events(on_work=woken)
    await events.start()
    events.work()
    assert woken.count == 1
    with events.watch("r1") as first, events.watch("r2") as second:
        events.changed(["r1"])
        assert first.is_set()
        assert not second.is_set()
    # Nobody follows r1 any more: nothing is kept for it.
    events.changed(["r1"])
    assert events._waiters == {}
    await events.close()


def test_the_carrier_follows_the_configuration() -> None:
    pg = "postgresql+asyncpg://u@127.0.0.1/db"
    assert isinstance(events_for(None, store_url=pg, cache_url="redis://127.0.0.1/0"), RedisEvents)
    assert isinstance(events_for(None, store_url=pg, cache_url="memory://"), PostgresEvents)
    sqlite = "sqlite+aiosqlite:///gateway.db"
    assert type(events_for(None, store_url=sqlite, cache_url="memory://")) is Events
    assert type(events_for("local", store_url=pg, cache_url="redis://h/0")) is Events
    assert isinstance(events_for(pg, store_url=sqlite, cache_url="memory://"), PostgresEvents)
    with pytest.raises(ValueError, match="events_url"):
        GatewayConfig(events_url="amqp://broker")
    with pytest.raises(ValueError, match="worker_poll_s"):
        GatewayConfig(worker_poll_s=0)


Make = Callable[[Callable[[], None]], Events]


def _postgres(channel: str) -> Make:
    url = postgres_url()
    return lambda on_work: PostgresEvents(url, channel, on_work)


def _redis(channel: str) -> Make:
    url = redis_url()
    return lambda on_work: RedisEvents(url, channel, on_work)


CARRIERS = {
    "postgresql": _postgres,
    "redis": _redis,
}


@asynccontextmanager
async def two_processes(
    make: Make,
) -> AsyncIterator[tuple[Events, Counter, Events, Counter]]:
    a_work, b_work = Counter(), Counter()
    a, b = make(a_work), make(b_work)
    for events in (a, b):
        await events.start()
    try:
        for events in (a, b):
            assert isinstance(events, PostgresEvents | RedisEvents)
            await asyncio.wait_for(events.listening.wait(), WITHIN)
        yield a, a_work, b, b_work
    finally:
        for events in (a, b):
            await events.close()


async def _within(awaitable: Awaitable[object]) -> None:
    await asyncio.wait_for(awaitable, WITHIN)


@services
@pytest.mark.parametrize("carrier", list(CARRIERS))
async def test_work_and_changes_published_in_one_process_wake_the_other(carrier: str) -> None:
    async with two_processes(CARRIERS[carrier](f"hrss_test_{secrets.token_hex(6)}")) as (
        a,
        a_work,
        b,
        b_work,
    ):
        a.work()
        await _within(b_work.woken.wait())
        with b.watch("registration-1") as followed, b.watch("registration-2") as other:
            a.changed(["registration-1"])
            await _within(followed.wait())
            assert not other.is_set()
        # A hears neither its own work nor its own changes back a second time.
        b.work()
        await _within(a_work.woken.wait())
        assert a_work.count == 1
        assert b_work.count == 2  # A's, then its own
        # Many ids go in several messages, all of them heard.
        ids = [f"r{i}" for i in range(250)]
        with b.watch(ids[-1]) as last:
            a.changed(ids)
            await _within(last.wait())


@services
async def test_a_lost_postgresql_connection_is_made_again_and_everything_looks_again() -> None:
    async with two_processes(_postgres(f"hrss_test_{secrets.token_hex(6)}")) as (
        a,
        _a_work,
        b,
        b_work,
    ):
        assert isinstance(b, PostgresEvents)
        with b.watch("registration-1") as followed:
            # The database ends B's listening connection, as a restart or failover does.
            admin = await asyncpg.connect(_asyncpg_dsn(postgres_url()))
            try:
                pid = b._conn.get_server_pid()
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
            finally:
                await admin.close()
            # Whatever was published meanwhile is lost: B looks again on its own.
            await _within(followed.wait())
            await _within(b_work.woken.wait())
            await _within(b.listening.wait())
        b_work.woken.clear()
        a.work()
        await _within(b_work.woken.wait())


async def test_a_carrier_that_cannot_connect_keeps_the_process_working() -> None:
    # Nothing listens on port 9: the carrier retries in the background, and local
    # delivery goes on as with in-process events.
    woken = Counter()
    events = RedisEvents("redis://127.0.0.1:9/0", "nowhere", woken)
    await events.start()
    try:
        events.work()
        assert woken.count == 1
        with events.watch("r") as followed:
            events.changed(["r"])
            assert followed.is_set()
        await asyncio.sleep(0)
        assert not events.listening.is_set()
    finally:
        await events.close()


def test_what_piled_up_goes_as_one_message_per_kind() -> None:
    from gateway.events import _merged

    pending = [
        {"k": "changed", "ids": ["b", "a"], "o": "x"},
        {"k": "work", "o": "x"},
        {"k": "changed", "ids": ["a", "c"], "o": "x"},
        {"k": "work", "o": "x"},
    ]
    assert _merged(pending, "x") == [
        {"k": "work", "o": "x"},
        {"k": "changed", "ids": ["a", "b", "c"], "o": "x"},
    ]
    many = [{"k": "changed", "ids": [f"r{i:03}"], "o": "x"} for i in range(250)]
    assert [len(m["ids"]) for m in _merged(many, "x")] == [100, 100, 50]


def test_a_message_that_is_not_the_gateways_is_ignored() -> None:
    woken = Counter()
    events = Events(on_work=woken)
    with events.watch("r") as followed:
        for payload in (b"\xff", "[]", '{"k": "changed", "ids": 7}', '{"k": "other"}'):
            events.receive(payload)
        assert not followed.is_set()
        events.receive('{"k": "changed", "ids": ["r"], "o": "elsewhere"}')
        assert followed.is_set()
    assert woken.count == 0


@services
async def test_the_metrics_count_the_wake_ups_and_say_whether_the_process_hears_the_others() -> (
    None
):
    from prometheus_client import generate_latest

    from gateway.observability import GatewayMetrics

    metrics_a, metrics_b = GatewayMetrics(), GatewayMetrics()
    async with two_processes(_postgres(f"hrss_test_{secrets.token_hex(6)}")) as (a, _, b, b_work):
        assert isinstance(b, PostgresEvents)
        sent = asyncio.Event()

        def count_a(direction: str, kind: str) -> None:
            metrics_a.on_event(direction, kind)
            sent.set()

        a.counted, b.counted = count_a, metrics_b.on_event
        metrics_b.watch_events(b.kind, b.listening.is_set)
        a.work()
        await _within(b_work.woken.wait())
        await _within(sent.wait())
        sent_text = generate_latest(metrics_a.registry).decode()
        assert 'hrss_events_total{direction="sent",kind="work"} 1.0' in sent_text
        text = generate_latest(metrics_b.registry).decode()
        assert 'hrss_events_total{direction="received",kind="work"} 1.0' in text
        assert 'hrss_events_listening{carrier="postgresql"} 1.0' in text
    text = generate_latest(metrics_b.registry).decode()
    assert 'hrss_events_listening{carrier="postgresql"} 0.0' in text
