"""Browsers calling from the front ends' origins (CORS), through the gateway's own
middleware in front of an app that accepts anything."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.app import middleware
from gateway.auth import ConfigurationError
from gateway.config import GatewayConfig
from gateway.observability import GatewayMetrics
from tests.http.conftest import ClientFactory

PORTAL = "https://portal.example.gov.cn"
ELSEWHERE = "https://evil.example.com"
JSON_POST = {"Content-Type": "application/json"}


def gateway_app(environ: Mapping[str, str]) -> Starlette:
    config = GatewayConfig.load(environ=environ)

    async def accept(request: Request) -> JSONResponse:
        return JSONResponse({"data": {"ok": True}})

    return Starlette(
        routes=[Route("/graphql", accept, methods=["GET", "POST"])],
        middleware=middleware(config, config.limits, GatewayMetrics(config.observability)),
    )


def preflight(origin: str, headers: str = "authorization,content-type") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": headers,
    }


@pytest.fixture
def browser(client_factory: ClientFactory) -> httpx.AsyncClient:
    return client_factory(gateway_app({"HRSS_CORS_ORIGINS": f"{PORTAL}, http://127.0.0.1:5173"}))


async def test_a_front_end_origin_is_answered_and_its_preflight_is_cheap(
    browser: httpx.AsyncClient,
) -> None:
    asked = await browser.options("/graphql", headers=preflight(PORTAL))
    assert asked.status_code == 200
    assert asked.headers["access-control-allow-origin"] == PORTAL
    allowed = asked.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "apollo-require-preflight"} <= {
        h.strip() for h in allowed.split(",")
    }
    assert asked.headers["access-control-max-age"] == "600"
    # Tokens travel in a header: a page gets no cookies' worth of credentials.
    assert "access-control-allow-credentials" not in asked.headers
    sent = await browser.post(
        "/graphql", json={"query": "{ ok }"}, headers={"Origin": PORTAL, **JSON_POST}
    )
    assert sent.status_code == 200
    assert sent.headers["access-control-allow-origin"] == PORTAL
    exposed = sent.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed
    assert "retry-after" in exposed
    local = await browser.options("/graphql", headers=preflight("http://127.0.0.1:5173"))
    assert local.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"


async def test_another_origin_is_refused_with_a_code_and_gets_no_header(
    browser: httpx.AsyncClient,
) -> None:
    for asked in (
        await browser.options("/graphql", headers=preflight(ELSEWHERE)),
        await browser.options("/graphql", headers=preflight(PORTAL, "x-custom-secret")),
    ):
        assert asked.status_code == 403
        assert "access-control-allow-origin" not in asked.headers
        [error] = asked.json()["errors"]
        assert error["extensions"]["code"] == "CROSS_ORIGIN_REFUSED"
        assert error["extensions"]["message_zh"]
    # A request a browser sends without a preflight gets no header: its page cannot read it.
    sent = await browser.post(
        "/graphql", json={"query": "{ ok }"}, headers={"Origin": ELSEWHERE, **JSON_POST}
    )
    assert "access-control-allow-origin" not in sent.headers


async def test_a_refusal_reaches_the_page_that_must_wait(client_factory: ClientFactory) -> None:
    app = gateway_app({"HRSS_CORS_ORIGINS": PORTAL, "HRSS_RATE_LIMIT_PER_ADDRESS": "1/minute"})
    browser = client_factory(app)
    headers = {"Origin": PORTAL, **JSON_POST}
    assert (await browser.post("/graphql", json={"query": "{ ok }"}, headers=headers)).is_success
    limited = await browser.post("/graphql", json={"query": "{ ok }"}, headers=headers)
    assert limited.status_code == 429
    assert limited.headers["access-control-allow-origin"] == PORTAL
    assert "retry-after" in limited.headers


async def test_without_origins_configured_no_page_of_another_origin_is_answered(
    client_factory: ClientFactory,
) -> None:
    browser = client_factory(gateway_app({}))
    asked = await browser.options("/graphql", headers=preflight(PORTAL))
    assert "access-control-allow-origin" not in asked.headers
    sent = await browser.post(
        "/graphql", json={"query": "{ ok }"}, headers={"Origin": PORTAL, **JSON_POST}
    )
    assert "access-control-allow-origin" not in sent.headers


@pytest.mark.parametrize("origin", [PORTAL, ELSEWHERE, "null"])
async def test_without_origins_configured_a_preflight_is_refused_as_cross_origin(
    client_factory: ClientFactory, origin: str
) -> None:
    """The default (and the demo's): no origin may call from a browser, so a page's
    preflight is answered as every refused preflight is, 403 ``CROSS_ORIGIN_REFUSED``;
    it was the CSRF guard's 400 telling the page to send application/json."""
    browser = client_factory(gateway_app({}))
    for headers in (preflight(origin), {**preflight(origin), "Accept": "application/json"}):
        asked = await browser.options("/graphql", headers=headers)
        assert asked.status_code == 403, asked.text
        assert "access-control-allow-origin" not in asked.headers
        [error] = asked.json()["errors"]
        assert error["extensions"]["code"] == "CROSS_ORIGIN_REFUSED"
        assert error["extensions"]["message_zh"]
        assert "application/json" not in error["message"]


async def test_without_origins_configured_an_options_request_that_is_no_preflight_is_not_one(
    client_factory: ClientFactory,
) -> None:
    """Only a browser's preflight (an ``Origin`` and ``Access-Control-Request-Method``)
    is answered as a refused cross-origin call: any other OPTIONS goes on as before."""
    browser = client_factory(gateway_app({}))
    for headers in ({"Origin": PORTAL}, {"Access-Control-Request-Method": "POST"}, {}):
        asked = await browser.options("/graphql", headers=headers)
        assert asked.status_code != 403, asked.text


@pytest.mark.parametrize(
    "origins",
    ["*", "https://portal.example.gov.cn/", "portal.example.gov.cn", "https://a.cn/app"],
)
def test_only_origins_are_configured(origins: str) -> None:
    with pytest.raises(ConfigurationError, match="HRSS_CORS_ORIGINS"):
        GatewayConfig.load(environ={"HRSS_CORS_ORIGINS": origins})


def test_origins_from_the_file_or_the_environment() -> None:
    config = GatewayConfig.load(environ={"HRSS_CORS_ORIGINS": "HTTPS://Portal.example.gov.cn,"})
    assert config.cors_origins == ("https://portal.example.gov.cn",)
    assert GatewayConfig.load(environ={}).cors_origins == ()
    ipv6 = GatewayConfig.load(environ={"HRSS_CORS_ORIGINS": "http://[::1]:8080"})
    assert ipv6.cors_origins == ("http://[::1]:8080",)
