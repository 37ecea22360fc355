"""The /__sim/ surface shared by the stand-ins, on a tiny app over real ASGI."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from adapters.standin.sim import Faults, Simulator, mark_committed


class Answers:
    def infra_error(self) -> Response:
        return PlainTextResponse("infra", status_code=500)

    def down(self) -> Response:
        return PlainTextResponse("down", status_code=503)

    def maintenance(self, retry_after_s: int) -> Response:
        return PlainTextResponse(
            "maintenance", status_code=503, headers={"Retry-After": str(retry_after_s)}
        )


def make_app(sim: Simulator, committed: list[int]) -> Starlette:
    @sim.operation("thing.write", write=True)
    async def write(request: Request) -> Response:
        committed.append(1)
        mark_committed(request)
        return PlainTextResponse("written")

    @sim.operation("thing.read")
    async def read(request: Request) -> Response:
        return PlainTextResponse("read")

    return Starlette(
        routes=[Route("/w", write, methods=["POST"]), Route("/r", read), *sim.routes()]
    )


@pytest.fixture
def sim() -> Simulator:
    return Simulator(Answers(), rng=random.Random(7))


@pytest.fixture
def committed() -> list[int]:
    return []


@pytest.fixture
async def client(sim: Simulator, committed: list[int]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app(sim, committed))
    return httpx.AsyncClient(transport=transport, base_url="http://sim")


def test_faults_reject_unknown_and_ill_typed_settings() -> None:
    f = Faults()
    for bad in (
        {"latency": 1},
        {"down": 1},
        {"error_rate": 2},
        {"latency_ms": -1},
        {"latency_ms": True},
        {"error_rate": "0.5"},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            f.update(bad)
    assert f == Faults()  # nothing half-applied


def test_a_bad_update_changes_nothing() -> None:
    f = Faults()
    with pytest.raises(ValueError, match="down"):
        f.update({"latency_ms": 50, "down": "yes"})
    assert f.latency_ms == 0


async def test_settings_stay_until_changed_and_reset_clears(client: httpx.AsyncClient) -> None:
    r = await client.post("/__sim/faults", json={"latency_ms": 5, "maintenance": True})
    assert r.status_code == 200
    assert r.json()["latency_ms"] == 5
    await client.post("/__sim/faults", json={"jitter_ms": 3})
    current = (await client.get("/__sim/faults")).json()
    assert (current["latency_ms"], current["jitter_ms"], current["maintenance"]) == (5, 3, True)
    await client.post("/__sim/reset")
    assert (await client.get("/__sim/faults")).json() == {
        "latency_ms": 0,
        "jitter_ms": 0,
        "error_rate": 0.0,
        "down": False,
        "commit_then_drop": 0.0,
        "maintenance": False,
        "error_after_commit": 0.0,
        "retry_after_s": 60,
        "stall_s": 600.0,
    }


async def test_bad_settings_are_a_400(client: httpx.AsyncClient) -> None:
    assert (await client.post("/__sim/faults", content=b"{")).status_code == 400
    assert (await client.post("/__sim/faults", json=[1])).status_code == 400
    r = await client.post("/__sim/faults", json={"nope": 1})
    assert r.status_code == 400
    assert "nope" in r.json()["error"]


async def test_down_maintenance_and_error_rate_answer_before_the_operation(
    client: httpx.AsyncClient, committed: list[int]
) -> None:
    await client.post("/__sim/faults", json={"down": True})
    assert (await client.post("/w")).status_code == 503
    await client.post(
        "/__sim/faults", json={"down": False, "maintenance": True, "retry_after_s": 9}
    )
    r = await client.post("/w")
    assert (r.status_code, r.headers["retry-after"]) == (503, "9")
    await client.post("/__sim/faults", json={"maintenance": False, "error_rate": 1.0})
    assert (await client.post("/w")).status_code == 500
    assert committed == []


async def test_after_commit_faults_commit_then_fail(
    client: httpx.AsyncClient, committed: list[int]
) -> None:
    await client.post("/__sim/faults", json={"error_after_commit": 1.0})
    assert (await client.post("/w")).status_code == 500
    assert (await client.get("/r")).status_code == 200  # reads are not writes
    await client.post(
        "/__sim/faults", json={"error_after_commit": 0, "commit_then_drop": 1.0, "stall_s": 30}
    )
    with pytest.raises(asyncio.TimeoutError):
        async with asyncio.timeout(0.3):
            await client.post("/w")
    assert committed == [1, 1]


async def test_latency_delays_each_request(client: httpx.AsyncClient) -> None:
    await client.post("/__sim/faults", json={"latency_ms": 150})
    loop = asyncio.get_running_loop()
    start = loop.time()
    await client.get("/r")
    assert loop.time() - start >= 0.15


async def test_stats_count_operations_and_peak_in_flight(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    await client.post("/__sim/faults", json={"latency_ms": 100})
    await asyncio.gather(*(client.get("/r") for _ in range(4)))
    await client.post("/w")
    stats = (await client.get("/__sim/stats")).json()
    assert stats["operations"] == {"thing.read": 4, "thing.write": 1}
    assert stats["total"] == 5
    assert stats["peak_in_flight"]["thing.read"] == 4
    assert stats["peak_in_flight"]["thing.write"] == 1
    await client.post("/__sim/reset")
    assert (await client.get("/__sim/stats")).json()["total"] == 0


async def test_requests_held_from_before_a_reset_are_not_in_its_peak(
    client: httpx.AsyncClient,
) -> None:
    """A latency that outlives its test holds requests in flight: the next test's
    peak counts only what it sent after the reset."""
    await client.post("/__sim/faults", json={"latency_ms": 1000})
    held = [asyncio.create_task(client.get("/r")) for _ in range(3)]
    await asyncio.sleep(0.2)  # they are in, and held
    await client.post("/__sim/reset")
    await client.post("/__sim/faults", json={"latency_ms": 100})
    await asyncio.gather(*(client.get("/r") for _ in range(2)))
    assert (await client.get("/__sim/stats")).json()["peak_in_flight"]["thing.read"] == 2
    await asyncio.gather(*held)
    await asyncio.gather(*(client.get("/r") for _ in range(2)))
    assert (await client.get("/__sim/stats")).json()["peak_in_flight"]["thing.read"] == 2
