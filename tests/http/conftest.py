"""A tiny schema and the gateway's HTTP layer mounted the way the application mounts it."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.types import Info

from gateway.http import GRAPHIQL_ASSETS_PATH, GatewayGraphQL, graphiql_assets_app


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, name: str = "world") -> str:
        return f"hello {name}"

    @strawberry.field
    def double(self, n: int) -> int:
        return 2 * n

    @strawberry.field
    def broken(self) -> str:
        raise ValueError("the employment system is down")

    @strawberry.field
    def maybe(self) -> str | None:
        raise ValueError("the labour system is down")

    @strawberry.field
    def channel(self, info: Info) -> str:
        return str(info.context["channel"])


@strawberry.type
class Mutation:
    @strawberry.mutation
    def bump(self, info: Info) -> int:
        counter: list[int] = info.context["counter"]
        counter.append(1)
        return len(counter)


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[int, None]:
        yield 1


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if self.tags and self.tags[-1][0] in ("script", "style") and data.strip():
            self.inline_script += data


def parse_page(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def asset_references(html: str) -> list[tuple[str, str]]:
    """(url, integrity) of every script and stylesheet on the page."""
    refs = []
    for tag, attrs in parse_page(html).tags:
        url = attrs.get("src") if tag == "script" else None
        if tag == "link" and attrs.get("rel") == "stylesheet":
            url = attrs.get("href")
        if url:
            refs.append((url, attrs.get("integrity") or ""))
    return refs


SCHEMA = strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription)


def make_app(counter: list[int] | None = None, **options: Any) -> Starlette:
    calls = counter if counter is not None else []

    async def context(request: Request | WebSocket, response: Response | WebSocket) -> Any:
        return {"channel": "window", "counter": calls, "request": request}

    options.setdefault("graphiql", True)
    view = GatewayGraphQL(SCHEMA, context_getter=context, **options)
    return Starlette(
        routes=[
            Route("/graphql", view),
            WebSocketRoute("/graphql", view),
            Mount(GRAPHIQL_ASSETS_PATH, app=graphiql_assets_app()),
        ]
    )


ClientFactory = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def client_factory() -> AsyncIterator[ClientFactory]:
    clients: list[httpx.AsyncClient] = []

    def factory(app: Starlette | None = None, **options: Any) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app or make_app(**options))
        client = httpx.AsyncClient(transport=transport, base_url="http://gateway.test")
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(client_factory: ClientFactory) -> httpx.AsyncClient:
    return client_factory()
