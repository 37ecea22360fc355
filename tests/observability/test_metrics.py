"""``/metrics`` after traffic through a small app: every family, bounded labels."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import httpx
import pytest
import strawberry
from prometheus_client import generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import MaskErrors

from gateway import errors
from gateway.cache import GatewayCache
from gateway.observability.metrics import GatewayMetrics, HttpMetricsMiddleware
from gateway.observability.settings import ObservabilitySettings
from tests.observability.support import families, value


@strawberry.type
class Query:
    @strawberry.field
    def ok(self) -> int:
        return 1

    @strawberry.field
    def forbidden(self) -> int | None:
        raise errors.forbidden()

    @strawberry.field
    def broken(self) -> int | None:
        raise ValueError("boom")


def small_app(metrics: GatewayMetrics) -> Starlette:
    schema = strawberry.Schema(
        query=Query,
        extensions=[
            lambda: MaskErrors(
                should_mask_error=lambda e: not isinstance(e.original_error, errors.GatewayError)
            ),
            metrics.graphql_extension(),
        ],
    )
    return Starlette(
        routes=[Route("/graphql", GraphQL(schema)), metrics.route()],
        middleware=[Middleware(HttpMetricsMiddleware, metrics=metrics)],
    )


#: The operation names the operators declared (those of the front ends' documents).
DECLARED = ("Good", "Denied", "Crash", "Invalid", "Write", "Missing", *"ABCDEFGH")


@pytest.fixture
def metrics() -> GatewayMetrics:
    return GatewayMetrics(ObservabilitySettings(operation_names=DECLARED))


@pytest.fixture
async def http(metrics: GatewayMetrics) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=small_app(metrics))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        yield client


async def scrape(http: httpx.AsyncClient) -> str:
    r = await http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    return r.text


async def graphql(http: httpx.AsyncClient, query: str, name: str | None = None) -> None:
    await http.post("/graphql", json={"query": query, "operationName": name})


async def test_operations_by_name_type_and_outcome(http: httpx.AsyncClient) -> None:
    await graphql(http, "query Good { ok }")
    await graphql(http, "query Good { ok }")
    await graphql(http, "query Denied { forbidden }")
    await graphql(http, "query Crash { broken }")
    await graphql(http, "query Invalid { nope }")
    await graphql(http, "{ ok")
    await graphql(http, "mutation Write { ok }")
    await graphql(http, "query Named { ok }", name="Missing")
    text = await scrape(http)
    requests = "hrss_graphql_requests_total"
    assert value(text, requests, operation="Good", type="query", outcome="ok") == 2
    assert value(text, requests, operation="Denied", type="query", outcome="FORBIDDEN") == 1
    # Seen before MaskErrors turns it into a plain "Internal error".
    assert value(text, requests, operation="Crash", type="query", outcome="INTERNAL") == 1
    assert value(text, requests, operation="Invalid", type="query", outcome="refused") == 1
    assert value(text, requests, operation="anonymous", type="unknown", outcome="refused") == 1
    # The schema has no Mutation type: refused by validation.
    assert value(text, requests, operation="Write", type="mutation", outcome="refused") == 1
    # operationName names no operation of the document: raised, not answered.
    assert value(text, requests, operation="Missing", type="unknown", outcome="refused") == 1
    latency = "hrss_graphql_request_duration_seconds_count"
    assert value(text, latency, operation="Good", type="query") == 2
    assert value(text, latency, operation="Denied", type="query") == 1


async def test_only_declared_operation_names_are_labels(
    http: httpx.AsyncClient, metrics: GatewayMetrics
) -> None:
    for name in "ABCDEFGHIJ":
        await graphql(http, f"query {name} {{ ok }}")
    text = await scrape(http)
    kept = [
        n
        for n in "ABCDEFGHIJ"
        if value(text, "hrss_graphql_requests_total", operation=n, type="query", outcome="ok")
    ]
    assert kept == list("ABCDEFGH")
    assert (
        value(text, "hrss_graphql_requests_total", operation="other", type="query", outcome="ok")
        == 2
    )
    assert metrics.operation_label("A") == "A"
    assert metrics.operation_label("Z") == "other"
    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("not a name") == "other"
    assert metrics.operation_label("x" * 65) == "other"


@pytest.mark.parametrize(
    "name",
    ["q110101199003077777", "Mobile13800138000"],
    ids=["id-number", "mobile"],
)
async def test_a_name_the_caller_chose_never_reaches_metrics(
    http: httpx.AsyncClient, name: str
) -> None:
    # As the operation's name, as operationName naming nothing, and in a document
    # that fails validation: every path by which a name could become a label.
    await graphql(http, f"query {name} {{ ok }}")
    await graphql(http, "query Real { ok }", name=name)
    await graphql(http, f"query {name} {{ nope }}")
    await graphql(http, f"query {name} {{ forbidden }}")
    text = await scrape(http)
    for secret in ("110101199003077777", "13800138000"):
        assert secret not in text
    assert value(text, "hrss_graphql_requests_total", operation="other", type="query", outcome="ok")


async def test_http_requests_by_route_and_status(http: httpx.AsyncClient) -> None:
    await graphql(http, "{ ok }")
    await http.get("/no/such/page/370102199001011234")
    await http.request("BREW", "/graphql")
    await http.post("/metrics")
    text = await scrape(http)
    count = "hrss_http_requests_total"
    assert value(text, count, method="POST", route="/graphql", status="200") == 1
    assert value(text, count, method="GET", route="unmatched", status="404") == 1
    assert value(text, count, method="other", route="/graphql", status="405") == 1
    assert value(text, count, method="POST", route="/metrics", status="405") == 1
    assert "370102199001011234" not in text
    assert value(text, "hrss_http_request_duration_seconds_count", route="/graphql") == 2


async def test_a_failing_app_is_counted_as_500(metrics: GatewayMetrics) -> None:
    async def fail(scope: object, receive: object, send: object) -> None:
        raise RuntimeError("down")

    app = HttpMetricsMiddleware(fail, metrics=metrics)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        await client.get("/x")
    text = metrics.exposition()
    assert value(text, "hrss_http_requests_total", method="GET", route="unmatched", status="500")


async def test_system_calls_errors_and_breaker_state(
    http: httpx.AsyncClient, metrics: GatewayMetrics
) -> None:
    states = {"employment": "closed", "labour": "open"}

    def state_of(system: str) -> Callable[[], str]:
        return lambda: states[system]

    def broken() -> str:
        raise RuntimeError("breaker gone")

    metrics.watch_breaker("employment", state_of("employment"))
    metrics.watch_breaker("labour", state_of("labour"))
    metrics.watch_breaker("unemployment", broken)
    metrics.on_call("employment", "worker.query", "ok", 0.04)
    metrics.on_call("employment", "worker.query", "ok", 0.3)
    metrics.on_call("employment", "worker.query", "timeout", 10.0)
    metrics.on_call("labour", "QueryContracts", "breaker_open", 0.0)
    text = await scrape(http)
    calls = "hrss_system_calls_total"
    assert value(text, calls, system="employment", operation="worker.query", outcome="ok") == 2
    assert value(text, calls, system="employment", operation="worker.query", outcome="timeout") == 1
    seconds = "hrss_system_call_duration_seconds"
    assert value(text, seconds + "_count", system="employment", operation="worker.query") == 3
    assert (
        value(text, seconds + "_bucket", system="employment", operation="worker.query", le="0.05")
        == 1
    )
    errors_ = "hrss_system_call_errors_total"
    assert value(text, errors_, system="employment", kind="timeout") == 1
    assert value(text, errors_, system="labour", kind="breaker_open") == 1
    assert value(text, errors_, system="employment", kind="ok") is None
    breaker = "hrss_system_breaker_state"
    assert value(text, breaker, system="employment", state="closed") == 1
    assert value(text, breaker, system="employment", state="open") == 0
    assert value(text, breaker, system="labour", state="open") == 1
    assert value(text, breaker, system="unemployment", state="closed") is None
    states["labour"] = "half-open"
    text = await scrape(http)
    assert value(text, breaker, system="labour", state="half-open") == 1
    assert value(text, breaker, system="labour", state="open") == 0


async def test_cache_hits_and_misses_are_read_at_scrape_time(
    http: httpx.AsyncClient, metrics: GatewayMetrics
) -> None:
    cache = GatewayCache("memory://", key_secret=b"k" * 32, worker_ttl_s=5, employer_ttl_s=5)
    metrics.watch_cache(cache)
    try:
        assert await cache.get("employer:x") is None
        await cache.set("employer:x", "bound", ttl=5)
        assert await cache.get("employer:x") == "bound"
        assert await cache.get_many(["employer:x", "employer:y"]) == ["bound", None]
    finally:
        await cache.close()
    text = await scrape(http)
    assert value(text, "hrss_cache_lookups_total", result="hit") == 2
    assert value(text, "hrss_cache_lookups_total", result="miss") == 2


async def test_a_token_guards_the_endpoint_when_configured() -> None:
    metrics = GatewayMetrics(ObservabilitySettings(metrics_token="scrape-secret"))
    transport = httpx.ASGITransport(app=small_app(metrics))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = {"Authorization": "Bearer other"}
        assert (await client.get("/metrics", headers=wrong)).status_code == 401
        right = {"Authorization": "Bearer scrape-secret"}
        r = await client.get("/metrics", headers=right)
    assert r.status_code == 200
    assert "hrss_http_requests_total" in r.text


def test_each_instance_has_its_own_registry() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    first.on_call("labour", "FileContract", "ok", 0.1)
    assert (
        value(
            first.exposition(),
            "hrss_system_calls_total",
            system="labour",
            operation="FileContract",
            outcome="ok",
        )
        == 1
    )
    assert (
        value(
            second.exposition(),
            "hrss_system_calls_total",
            system="labour",
            operation="FileContract",
            outcome="ok",
        )
        is None
    )
    assert "hrss_graphql_requests" in families(second.exposition())


def test_the_alerting_rules_are_whole_and_name_what_the_gateway_exports() -> None:
    """docker/prometheus/alerts.yml: each rule says what to look at in both languages,
    and every metric and label value it names is one a gateway process exports (a
    rule on a misspelt name is never true, and never says so)."""
    import re
    from pathlib import Path

    import yaml

    from gateway.observability.registrations import RegistrationCounts
    from gateway.registrations.model import RegistrationState

    alerts = Path(__file__).resolve().parents[2] / "docker" / "prometheus" / "alerts.yml"
    [group] = yaml.safe_load(alerts.read_text(encoding="utf-8"))["groups"]
    rules = group["rules"]
    assert len({r["alert"] for r in rules}) == len(rules) >= 5
    metrics = GatewayMetrics()
    metrics.watch_breaker("labour", lambda: "open")
    metrics.watch_events("postgresql", lambda: False)
    metrics.on_call("labour", "file", "unavailable", 0.1)
    metrics.set_registrations(RegistrationCounts({s.value: 0 for s in RegistrationState}))
    exposition = metrics.exposition()
    exported = {
        line.split("{")[0].split(" ")[0]
        for line in exposition.splitlines()
        if line and not line.startswith("#")
    }
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert re.fullmatch(r"[1-9][0-9]*[smh]", rule["for"])
        notes = rule["annotations"]
        assert {"summary", "summary_zh", "description"} <= set(notes)
        assert re.search(r"[\u4e00-\u9fff]", notes["summary_zh"])
        text = f"{rule['expr']} {notes['description']}"
        for name in re.findall(r"\bhrss_[a-z_]+", text):
            assert name in exported, (rule["alert"], name)
        for label, wanted in re.findall(r'(\w+)="([^"]+)"', rule["expr"]):
            assert f'{label}="{wanted}"' in exposition, (rule["alert"], label, wanted)


async def test_a_subscription_its_client_left_is_counted_cancelled_not_internal(
    metrics: GatewayMetrics,
) -> None:
    """The finding: clients of server-sent events and multipart that hung up early
    showed as ``outcome="INTERNAL"`` (415 of them after a storm of hang-ups), as if
    the gateway had failed."""

    @strawberry.type
    class Ticks:
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            while True:
                yield 1
                await asyncio.sleep(0.01)

    schema = strawberry.Schema(
        query=Query, subscription=Ticks, extensions=[metrics.graphql_extension()]
    )
    stream = await schema.subscribe("subscription A { ticks }")
    assert isinstance(stream, AsyncGenerator)
    async for _ in stream:
        break  # the client reads once, then leaves
    await stream.aclose()
    text = generate_latest(metrics.registry).decode()
    requests = "hrss_graphql_requests_total"
    assert value(text, requests, operation="A", type="subscription", outcome="cancelled") == 1
    assert not value(text, requests, operation="A", type="subscription", outcome="INTERNAL")


def test_the_alerting_rules_match_the_breaker_states_exported() -> None:
    """The shipped alert on an open breaker named a state no breaker reports
    (``opened``, where the breakers say ``open``): it could never fire."""
    import re
    import typing
    from pathlib import Path

    from gateway.observability.metrics import BREAKER_STATES
    from gateway.resilience import BreakerState

    assert set(BREAKER_STATES) == set(typing.get_args(BreakerState))
    rules = (Path(__file__).resolve().parents[2] / "docker/prometheus/alerts.yml").read_text()
    named = re.findall(r'hrss_system_breaker_state\{[^}]*state="([^"]+)"', rules)
    assert named, "the rules alert on a breaker state"
    assert set(named) <= set(BREAKER_STATES)
