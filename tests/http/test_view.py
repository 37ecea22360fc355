"""GraphQL-over-HTTP behaviour of the GraphQL view: media types, status codes, methods."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.types import Info

from gateway.http import GatewayGraphQL
from gateway.http.view import GRAPHQL_RESPONSE_JSON, JSON, negotiate_media_type
from tests.http.conftest import ClientFactory

GRJ = GRAPHQL_RESPONSE_JSON
BOTH = [GRJ, JSON]


@strawberry.type
class MethodQuery:
    @strawberry.field
    def method(self, info: Info) -> str:
        return str(info.context["request"].method)


def _status_for(media_type: str, *, graphql_response_json: int, json_: int) -> int:
    return graphql_response_json if media_type == GRJ else json_


async def post(
    client: httpx.AsyncClient,
    body: Any,
    *,
    accept: str | None = GRJ,
    content_type: str | None = "application/json",
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = client.build_request("POST", "/graphql", content=content)
    for name, value in (("accept", accept), ("content-type", content_type)):
        if value is None:
            request.headers.pop(name, None)
        else:
            request.headers[name] = value
    return await client.send(request)


async def get(
    client: httpx.AsyncClient, params: dict[str, str], *, accept: str | None = GRJ
) -> httpx.Response:
    request = client.build_request("GET", "/graphql", params=params)
    if accept is None:
        request.headers.pop("accept", None)
    else:
        request.headers["accept"] = accept
    return await client.send(request)


def assert_media_type(response: httpx.Response, media_type: str) -> None:
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"


def assert_request_error(response: httpx.Response) -> None:
    body = response.json()
    assert "data" not in body, "a request that was not executed has no data entry"
    assert body["errors"]
    assert all(error["message"] for error in body["errors"])


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, GRJ),
        ("", GRJ),
        (GRJ, GRJ),
        (JSON, JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (f"{GRJ}, {JSON};q=0.9", GRJ),
        (f"{JSON}, {GRJ}", JSON),
        (f"{GRJ}, {JSON}", GRJ),
        (f"{JSON};q=0.5, {GRJ}", GRJ),
        (f"{GRJ};q=0, */*", JSON),
        (f"{JSON};q=0, */*", GRJ),
        (f"{JSON}, multipart/mixed", JSON),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),
        (f"{GRJ}; charset=utf-8, {JSON}; charset=utf-8", GRJ),
        ("text/plain", None),
        (f"{GRJ};q=0", None),
        (f"{GRJ};q=oops", None),
    ],
)
def test_negotiation(accept: str | None, expected: str | None) -> None:
    assert negotiate_media_type(accept) == expected


@pytest.mark.parametrize("media_type", BOTH)
async def test_post_query_answers_200_in_the_accepted_media_type(
    client: httpx.AsyncClient, media_type: str
) -> None:
    response = await post(client, {"query": "{ hello }"}, accept=media_type)
    assert response.status_code == 200
    assert_media_type(response, media_type)
    assert response.json() == {"data": {"hello": "hello world"}}
    assert response.headers["vary"] == "Accept, Authorization"


async def test_no_accept_header_means_graphql_response_json(client: httpx.AsyncClient) -> None:
    response = await post(client, {"query": "{ __typename }"}, accept=None)
    assert response.status_code == 200
    assert_media_type(response, GRJ)


async def test_wildcard_accept_gets_legacy_json(client: httpx.AsyncClient) -> None:
    response = await post(client, {"query": "{ nope }"}, accept="*/*")
    assert response.status_code == 200
    assert_media_type(response, JSON)
    assert_request_error(response)


async def test_unacceptable_accept_is_406(client: httpx.AsyncClient) -> None:
    response = await post(client, {"query": "{ hello }"}, accept="text/plain")
    assert response.status_code == 406
    assert response.json()["errors"][0]["message"]


async def test_get_with_variables_and_operation_name(client: httpx.AsyncClient) -> None:
    response = await get(
        client,
        {
            "query": "query A { hello } query B($n: Int!) { double(n: $n) }",
            "operationName": "B",
            "variables": json.dumps({"n": 21}),
        },
    )
    assert response.status_code == 200
    assert_media_type(response, GRJ)
    assert response.json() == {"data": {"double": 42}}


async def test_operation_name_selects_the_operation_on_post(client: httpx.AsyncClient) -> None:
    document = 'query A { hello } query B { hello(name: "黄河") }'
    first = await post(client, {"query": document, "operationName": "A"})
    second = await post(client, {"query": document, "operationName": "B"})
    assert first.json() == {"data": {"hello": "hello world"}}
    assert second.json() == {"data": {"hello": "hello 黄河"}}
    assert "黄河".encode() in second.content, "the response is UTF-8, not ASCII escapes"


REQUEST_ERRORS = {
    "parse": {"query": "{ hello"},
    "validation": {"query": "{ nosuchfield }"},
    "unknown operationName": {"query": "query A { hello }", "operationName": "Z"},
    "several operations, no operationName": {"query": "query A { hello } query B { hello }"},
    "variable missing": {"query": "query ($n: Int!) { double(n: $n) }"},
    "variable of the wrong type": {
        "query": "query ($n: Int!) { double(n: $n) }",
        "variables": {"n": "many"},
    },
    "subscription over plain HTTP": {"query": "subscription { ticks }"},
}


@pytest.mark.parametrize("media_type", BOTH)
@pytest.mark.parametrize("body", REQUEST_ERRORS.values(), ids=REQUEST_ERRORS.keys())
async def test_graphql_request_errors(
    client: httpx.AsyncClient, media_type: str, body: dict[str, Any]
) -> None:
    response = await post(client, body, accept=media_type)
    assert response.status_code == _status_for(media_type, graphql_response_json=400, json_=200)
    assert_media_type(response, media_type)
    assert_request_error(response)


@pytest.mark.parametrize("media_type", BOTH)
async def test_request_error_over_get(client: httpx.AsyncClient, media_type: str) -> None:
    response = await get(client, {"query": "{ nosuchfield }"}, accept=media_type)
    assert response.status_code == _status_for(media_type, graphql_response_json=400, json_=200)
    assert_request_error(response)


@pytest.mark.parametrize("media_type", BOTH)
async def test_field_error_nulling_data_is_still_200(
    client: httpx.AsyncClient, media_type: str
) -> None:
    response = await post(client, {"query": "{ broken }"}, accept=media_type)
    assert response.status_code == 200
    assert_media_type(response, media_type)
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["broken"]


@pytest.mark.parametrize("media_type", BOTH)
async def test_partial_data_is_200(client: httpx.AsyncClient, media_type: str) -> None:
    response = await post(client, {"query": "{ hello maybe }"}, accept=media_type)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"hello": "hello world", "maybe": None}
    assert body["errors"][0]["path"] == ["maybe"]


MALFORMED = {
    "not JSON": b"NONSENSE",
    "truncated JSON": b'{"query":',
    "empty body": b"",
    "JSON string": b'"{ hello }"',
    "JSON number": b"7",
    "batch while batching is off": b'[{"query": "{ hello }"}]',
    "missing query": b'{"qeury": "{ hello }"}',
    "null query": b'{"query": null}',
    "query is a number": b'{"query": 7}',
    "query is an object": b'{"query": {"a": 1}}',
    "variables is a list": b'{"query": "{ hello }", "variables": [7]}',
    "variables is a string": b'{"query": "{ hello }", "variables": "{}"}',
    "extensions is a number": b'{"query": "{ hello }", "extensions": 1}',
    "operationName is a number": b'{"query": "{ hello }", "operationName": 1}',
    "operationName is a list": b'{"query": "{ hello }", "operationName": ["a"]}',
}


@pytest.mark.parametrize("media_type", BOTH)
@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_requests_are_400_for_both_media_types(
    client: httpx.AsyncClient, media_type: str, body: bytes
) -> None:
    response = await post(client, body, accept=media_type)
    assert response.status_code == 400
    assert_media_type(response, media_type)
    assert_request_error(response)


@pytest.mark.parametrize("media_type", BOTH)
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"query": "{ hello }", "variables": "{not json"},
        {"query": "{ hello }", "variables": "[1]"},
        {"query": "{ hello }", "extensions": "3"},
    ],
    ids=["no query", "variables not JSON", "variables a list", "extensions a number"],
)
async def test_malformed_get_requests_are_400(
    client: httpx.AsyncClient, media_type: str, params: dict[str, str]
) -> None:
    response = await get(client, params, accept=media_type)
    assert response.status_code == 400
    assert_media_type(response, media_type)


async def test_null_optional_parameters_are_allowed(client: httpx.AsyncClient) -> None:
    body = {"query": "{ hello }", "variables": None, "operationName": None, "extensions": None}
    response = await post(client, body)
    assert response.status_code == 200
    assert response.json() == {"data": {"hello": "hello world"}}


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/graphql",
        "application/jsonx",
        "application/json; charset=iso-8859-1",
    ],
)
async def test_unsupported_body_media_type_is_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    response = await post(client, {"query": "{ hello }"}, content_type=content_type)
    assert response.status_code == 415
    assert_media_type(response, GRJ)
    assert_request_error(response)


async def test_json_with_utf8_charset_is_accepted(client: httpx.AsyncClient) -> None:
    response = await post(
        client, {"query": "{ hello }"}, content_type="application/json; charset=UTF-8"
    )
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def test_other_methods_are_405_with_allow(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, "/graphql", headers={"accept": GRJ})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


@pytest.mark.parametrize("media_type", BOTH)
async def test_mutation_over_get_is_405_and_not_executed(
    client_factory: ClientFactory, media_type: str
) -> None:
    counter: list[int] = []
    client = client_factory(counter=counter)
    response = await get(client, {"query": "mutation { bump }"}, accept=media_type)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert_media_type(response, media_type)
    assert_request_error(response)
    assert counter == []

    response = await post(client, {"query": "mutation { bump }"}, accept=media_type)
    assert response.status_code == 200
    assert response.json() == {"data": {"bump": 1}}


async def test_named_mutation_in_a_mixed_document_over_get_is_405(
    client_factory: ClientFactory,
) -> None:
    counter: list[int] = []
    client = client_factory(counter=counter)
    document = "query Q { hello } mutation M { bump }"
    assert (await get(client, {"query": document, "operationName": "Q"})).status_code == 200
    response = await get(client, {"query": document, "operationName": "M"})
    assert response.status_code == 405
    assert counter == []


async def test_queries_over_get_can_be_turned_off(client_factory: ClientFactory) -> None:
    client = client_factory(allow_queries_via_get=False)
    response = await get(client, {"query": "{ hello }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert (await post(client, {"query": "{ hello }"})).status_code == 200


async def test_context_getter_builds_the_context(client: httpx.AsyncClient) -> None:
    response = await post(client, {"query": "{ channel }"})
    assert response.json() == {"data": {"channel": "window"}}


async def test_without_context_getter_strawberry_default_context_is_used(
    client_factory: ClientFactory,
) -> None:
    view = GatewayGraphQL(strawberry.Schema(query=MethodQuery))
    client = client_factory(Starlette(routes=[Route("/graphql", view)]))
    response = await post(client, {"query": "{ method }"})
    assert response.json() == {"data": {"method": "POST"}}


@pytest.mark.parametrize(
    ("document", "several"),
    [
        ("{ hello }", False),
        ("query { hello }", False),
        ("query query { hello }", False),
        ("query A($x: Int = 1) @d(a: {b: [1]}) { hello }", False),
        ("query A { ...F } fragment F on Query { hello }", False),
        ("fragment F on Query { hello } { ...F }", False),
        ("{ a } { b }", True),
        ("query A { hello } query B { hello }", True),
        ("query A($x: In = {a: 1}) { a } mutation B { bump }", True),
        ("fragment F on Query { hello } query A { ...F } subscription S { ticks }", True),
        ('{ hello } "unterminated', False),
    ],
)
def test_counting_operations_by_lexing(document: str, several: bool) -> None:
    from gateway.http.view import _has_several_operations

    assert _has_several_operations(document) is several


async def test_a_caller_that_hangs_up_before_its_body_is_read_is_no_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The finding: a POST that announced 1,000 bytes, sent 9 and hung up was logged as
    ``unexpected ClientDisconnect`` at ERROR with a stack of some 20 lines, by anyone,
    without signing in: 200 of them wrote 4,200 lines of the log in two seconds."""
    from tests.http.conftest import make_app

    app = make_app()
    sent: list[dict[str, Any]] = []
    parts = iter(
        [
            {"type": "http.request", "body": b'{"query":', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> dict[str, Any]:
        return next(parts)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"gateway.test"),
            (b"content-type", b"application/json"),
            (b"content-length", b"1000"),
            (b"accept", GRJ.encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway.test", 80),
    }
    with caplog.at_level("DEBUG"):
        await app(scope, receive, send)
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [499]
    assert not [r for r in caplog.records if r.levelno >= 30], caplog.records
