"""The real gateway app, with its metrics and request ids: every family after
real traffic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.observability.metrics import GatewayMetrics
from gateway.observability.registrations import count_registrations
from gateway.observability.request_id import REQUEST_ID_HEADER
from gateway.observability.settings import ObservabilitySettings
from gateway.services import Gateway
from tests.gateway.conftest import GraphQLClient
from tests.gateway.conftest import gateway as gateway
from tests.observability.support import families, value


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    """The operation names its front ends declare."""
    return {"observability": ObservabilitySettings(operation_names=("Own", "Who", "Broken"))}


@pytest.fixture
def metrics(gateway: Gateway) -> GatewayMetrics:
    return gateway.metrics


@pytest.fixture
async def http(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(gateway.config, gateway=gateway)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


async def test_metrics_and_request_ids_through_the_gateway(
    http: httpx.AsyncClient, gateway: Gateway, metrics: GatewayMetrics
) -> None:
    employer = await GraphQLClient(http).login("demo-employer")
    for _ in range(2):
        body = await employer.post("query Own { employer { creditCode name } }")
        assert "errors" not in body, body
    denied = await GraphQLClient(http).post("query Who { me { username } }")
    assert denied["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    await GraphQLClient(http).post("query Broken { employer { nope } }")
    metrics.set_registrations(await count_registrations(gateway.store.db))

    r = await http.get("/metrics", headers={REQUEST_ID_HEADER: "scrape-1"})
    assert r.headers[REQUEST_ID_HEADER] == "scrape-1"
    text = r.text
    requests = "hrss_graphql_requests_total"
    assert value(text, requests, operation="Own", type="query", outcome="ok") == 2
    assert value(text, requests, operation="anonymous", type="mutation", outcome="ok") == 1
    assert value(text, requests, operation="Who", type="query", outcome="UNAUTHENTICATED") == 1
    assert value(text, requests, operation="Broken", type="query", outcome="refused") == 1
    assert value(text, "hrss_http_requests_total", method="POST", route="/graphql", status="200")
    assert value(text, "hrss_cache_lookups_total", result="hit")
    assert value(text, "hrss_registrations", state="ACCEPTED") == 0
    assert {
        "hrss_graphql_requests",
        "hrss_graphql_request_duration_seconds",
        "hrss_http_requests",
        "hrss_http_request_duration_seconds",
        "hrss_system_calls",
        "hrss_system_call_duration_seconds",
        "hrss_system_call_errors",
        "hrss_cache_lookups",
        "hrss_registrations",
        "hrss_registration_oldest_age_seconds",
    } <= families(text)


async def test_an_operation_named_after_an_id_number_never_reaches_metrics(
    http: httpx.AsyncClient,
) -> None:
    employer = await GraphQLClient(http).login("demo-employer")
    named = "Worker110101199003077777"
    for query, variables in [
        (f"query {named} {{ employer {{ name }} }}", None),
        (
            f"query {named}($n: String!) {{ employer {{ worker(idType: RESIDENT_ID, "
            "idNumber: $n) { name } } }",
            {"n": "110101199003077777"},
        ),
        (f"query {named} {{ employer {{ nope }} }}", None),
        (f"query {named} {{ employer {{ name }}", None),
    ]:
        await employer.post(query, variables)
    text = (await http.get("/metrics")).text
    assert "110101199003077777" not in text
    assert value(text, "hrss_graphql_requests_total", operation="other", type="query", outcome="ok")


def _schema_of(app: Any) -> Any:
    return next(r.endpoint.schema for r in app.routes if getattr(r, "path", "") == "/graphql")


async def test_apps_built_alike_share_one_schema_and_count_their_own_operations(
    gateway: Gateway,
) -> None:
    """The schema is built once for apps with the same limits; each operation is
    still counted in the metrics of the gateway that served it."""
    other = await Gateway.start(gateway.config)
    try:
        first = create_app(gateway.config, gateway=gateway)
        second = create_app(other.config, gateway=other)
        assert _schema_of(first) is _schema_of(second)
        assert other.metrics is not gateway.metrics
        for app, times in ((first, 2), (second, 1)):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
                for _ in range(times):
                    await GraphQLClient(http).post("query Who { me { username } }")
        for app, times in ((first, 2), (second, 1)):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
                text = (await http.get("/metrics")).text
            counted = value(
                text,
                "hrss_graphql_requests_total",
                operation="Who",
                type="query",
                outcome="UNAUTHENTICATED",
            )
            assert counted == times
    finally:
        await other.close()
