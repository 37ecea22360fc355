"""Request limits and the production profile: each limit just at and just over its
threshold, on a tiny schema where that is enough and on the real gateway."""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from typing import Any

import httpx
import pytest
import strawberry
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.extensions.parser_cache import _get_parse_cache

from adapters.standin.process import RunningStandin
from gateway.app import create_app
from gateway.domain.model import System
from gateway.schema import MASKED_MESSAGE, GatewaySchema, _should_mask
from gateway.schema.limits import Disclosure, RequestLimits, schema_config, schema_extensions
from gateway.services import Gateway
from tests.factories import credit_code
from tests.gateway.conftest import GraphQLClient, error_codes

DEFAULTS = RequestLimits()


@strawberry.type
class Node:
    name: str = "n"

    @strawberry.field
    def child(self) -> Node:
        return Node()

    @strawberry.field
    def children(self, first: int = 10) -> list[Node]:
        return [Node() for _ in range(min(first, 2))]

    @strawberry.field
    def kids(self, last: int | None = None) -> list[Node]:
        return [Node()]


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@strawberry.type
class Query:
    @strawberry.field
    def version(self) -> str:
        return "1"

    @strawberry.field
    def node(self) -> Node:
        return Node()

    @strawberry.field
    def nodes(self, first: int = 10, last: int | None = None) -> list[Node]:
        return [Node() for _ in range(min(first, 2))]

    @strawberry.field
    def paint(self, colour: Colour) -> str:
        return colour.value

    @strawberry.field
    def echo(self, words: list[str]) -> int:
        return len(words)


PRODUCTION = Disclosure()


def tiny_schema(
    limits: RequestLimits = DEFAULTS, disclosure: Disclosure = PRODUCTION
) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        extensions=schema_extensions(limits, disclosure),
        config=schema_config(limits),
    )


async def codes(query: str, schema: strawberry.Schema | None = None, **variables: Any) -> list[str]:
    result = await (schema or tiny_schema()).execute(query, variable_values=variables)
    return [(e.extensions or {}).get("code", f"uncoded: {e.message}") for e in result.errors or []]


# --- each limit, at and over -------------------------------------------------------------


def of_depth(depth: int) -> str:
    """A query whose deepest field is at ``depth`` (the root field at 0)."""
    return "{ node { " + "child { " * (depth - 1) + "name" + " }" * depth + " }"


async def test_depth_at_and_over_the_default() -> None:
    assert await codes(of_depth(DEFAULTS.max_depth)) == []
    assert await codes(of_depth(DEFAULTS.max_depth + 1)) == ["QUERY_TOO_DEEP"]


async def test_depth_counts_through_fragments() -> None:
    limits = RequestLimits(max_depth=3)
    ok = "{ node { ...A } } fragment A on Node { child { child { name } } }"
    deep = "{ node { ...A } } fragment A on Node { child { child { child { name } } } }"
    assert await codes(ok, tiny_schema(limits)) == []
    assert await codes(deep, tiny_schema(limits)) == ["QUERY_TOO_DEEP"]


def of_tokens(count: int) -> str:
    # { echo ( words : [ "w" ... ] ) } : 9 tokens and one per word
    return "{ echo(words: [" + ' "w"' * (count - 9) + " ]) }"


async def test_tokens_at_and_over_the_default() -> None:
    assert await codes(of_tokens(DEFAULTS.max_tokens)) == []
    assert await codes(of_tokens(DEFAULTS.max_tokens + 1)) == ["TOO_MANY_TOKENS"]


def of_length(length: int, padding: str = " ") -> str:
    """``{ version }`` padded to ``length`` characters: as many tokens as unpadded."""
    return "{ version }" + padding * (length - len("{ version }"))


async def test_document_length_at_and_over_the_default() -> None:
    limit = DEFAULTS.max_document_length
    assert await codes(of_length(limit)) == []
    assert await codes(of_length(limit + 1)) == ["DOCUMENT_TOO_LONG"]
    # One token long enough: the token limit alone let a megabyte through.
    word = '{ echo(words: ["' + "w" * (limit + 1) + '"]) }'
    assert await codes(word) == ["DOCUMENT_TOO_LONG"]
    assert await codes("#" + "c" * limit + "\n{ version }") == ["DOCUMENT_TOO_LONG"]


async def test_a_document_too_long_is_not_kept_by_the_parser_cache() -> None:
    # Strawberry's parser cache is one per process (by its size, 512 here): a long
    # document parsed and kept would hold its text and its tree for good.
    parse_cache: Any = _get_parse_cache(512)
    kept = parse_cache.cache_info
    schema = tiny_schema(RequestLimits(max_document_length=100))
    before = kept().currsize
    for n in range(3):
        assert await codes(of_length(101 + n), schema) == ["DOCUMENT_TOO_LONG"]
    assert kept().currsize == before
    assert await codes(of_length(99, "\n"), schema) == []
    assert kept().currsize == before + 1


async def test_comments_count_as_tokens() -> None:
    padded = "#\n" * 3 + of_tokens(DEFAULTS.max_tokens - 2)
    assert await codes(padded) == ["TOO_MANY_TOKENS"]


def of_aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


async def test_aliases_at_and_over_the_default() -> None:
    assert await codes(of_aliases(DEFAULTS.max_aliases)) == []
    assert await codes(of_aliases(DEFAULTS.max_aliases + 1)) == ["TOO_MANY_ALIASES"]


def of_root_fields(count: int) -> str:
    return "{ __typename " + " ".join(f"f{i}: version" for i in range(count)) + " }"


async def test_root_fields_at_and_over_the_default() -> None:
    assert await codes(of_root_fields(DEFAULTS.max_root_fields)) == []
    assert await codes(of_root_fields(DEFAULTS.max_root_fields + 1)) == ["TOO_MANY_ROOT_FIELDS"]


async def test_root_fields_count_through_fragments() -> None:
    limits = RequestLimits(max_root_fields=2)
    query = "{ version ...R } fragment R on Query { node { name } %s }"
    assert await codes(query % "", tiny_schema(limits)) == []
    assert await codes(query % "nodes { name }", tiny_schema(limits)) == ["TOO_MANY_ROOT_FIELDS"]


@pytest.mark.parametrize("argument", ["first", "last"])
async def test_page_size_at_and_over_the_default(argument: str) -> None:
    at, over = DEFAULTS.max_page_size, DEFAULTS.max_page_size + 1
    assert await codes(f"{{ nodes({argument}: {at}) {{ name }} }}") == []
    assert await codes(f"{{ nodes({argument}: {over}) {{ name }} }}") == ["PAGE_TOO_LARGE"]


async def test_page_size_in_variables_and_their_defaults() -> None:
    query = "query($n: Int!) { node { children(first: $n) { name } } }"
    assert await codes(query, n=DEFAULTS.max_page_size) == []
    assert await codes(query, n=DEFAULTS.max_page_size + 1) == ["PAGE_TOO_LARGE"]
    defaulted = "query($n: Int = %d) { nodes(first: $n) { name } }"
    assert await codes(defaulted % DEFAULTS.max_page_size) == []
    assert await codes(defaulted % (DEFAULTS.max_page_size + 1)) == ["PAGE_TOO_LARGE"]


async def test_page_size_inside_a_fragment() -> None:
    query = "{ node { ...F } } fragment F on Node { children(first: %d) { name } }"
    assert await codes(query % DEFAULTS.max_page_size) == []
    assert await codes(query % (DEFAULTS.max_page_size + 1)) == ["PAGE_TOO_LARGE"]


# nodes(first: 10) { children(first: 10) { name } }: 1 + 10 + 10 * 10 = 111
ONE_ELEVEN = "{ nodes(first: 10) { children(first: 10) { name } } }"


async def test_cost_at_and_over() -> None:
    schema = tiny_schema(RequestLimits(max_cost=111))
    assert await codes(ONE_ELEVEN, schema) == []
    assert await codes(ONE_ELEVEN.replace("{ nodes", "{ version nodes"), schema) == [
        "QUERY_TOO_COSTLY"
    ]


async def test_cost_uses_the_declared_default_page_size_when_absent() -> None:
    # children's and nodes' first default to 10: the same cost as ONE_ELEVEN.
    schema = tiny_schema(RequestLimits(max_cost=111))
    assert await codes("{ nodes { children { name } } }", schema) == []
    schema = tiny_schema(RequestLimits(max_cost=110))
    assert await codes("{ nodes { children { name } } }", schema) == ["QUERY_TOO_COSTLY"]


async def test_cost_uses_the_largest_page_when_no_default_is_declared() -> None:
    # kids(last) has no default: counted as max_page_size (5): 1 + 1 + 5 = 7.
    query = "{ nodes(first: 1) { kids { name } } }"
    assert await codes(query, tiny_schema(RequestLimits(max_page_size=5, max_cost=7))) == []
    over = tiny_schema(RequestLimits(max_page_size=5, max_cost=6))
    assert await codes(query, over) == ["QUERY_TOO_COSTLY"]


async def test_cost_with_the_default_limit() -> None:
    # 1 + 100 + 100 * 99 = 10 001, twice: 20 002.
    one = "a: nodes(first: 100) { children(first: 99) { name } }"
    two = one.replace("a:", "b:")
    assert await codes(f"{{ {one} }}") == []
    assert await codes(f"{{ {one} {two} }}") == ["QUERY_TOO_COSTLY"]


def doubling_fragments(count: int, field: str = "name") -> str:
    chain = " ".join(f"fragment F{i} on Node {{ ...F{i + 1} ...F{i + 1} }}" for i in range(count))
    return f"{{ node {{ ...F0 }} }} {chain} fragment F{count} on Node {{ {field} }}"


async def test_fragments_spread_twice_are_measured_once_each() -> None:
    # 2**60 fields in 400 tokens: refused by its cost, every measure bounded.
    assert await codes(doubling_fragments(60)) == ["QUERY_TOO_COSTLY"]
    assert await codes(doubling_fragments(60, "a: name")) == ["TOO_MANY_ALIASES"]
    deep = doubling_fragments(60, "child { " * DEFAULTS.max_depth + "name" + " }" * 12)
    assert await codes(deep) == ["QUERY_TOO_DEEP"]


async def test_a_fragment_chain_longer_than_the_stack_is_too_deep() -> None:
    # Only a token limit far above the default lets such a chain through the parser.
    count = 1500
    chain = " ".join(f"fragment F{i} on Node {{ ...F{i + 1} }}" for i in range(count))
    query = f"{{ node {{ ...F0 }} }} {chain} fragment F{count} on Node {{ name }}"
    found = await codes(query, tiny_schema(RequestLimits(max_tokens=100_000)))
    assert "QUERY_TOO_DEEP" in found


async def test_each_refusal_says_it_in_both_languages() -> None:
    result = await tiny_schema().execute(of_depth(DEFAULTS.max_depth + 1))
    [error] = result.errors or []
    extensions = error.extensions or {}
    assert extensions["message_en"] == error.message
    assert re.search(r"[\u4e00-\u9fff]", extensions["message_zh"])
    assert error.locations, "the refusal points at the operation"
    assert result.data is None


async def test_nothing_is_resolved_when_a_limit_is_over() -> None:
    resolved: list[str] = []

    class Spy(SchemaExtension):
        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            resolved.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    limits = RequestLimits(max_cost=111)
    schema = strawberry.Schema(
        query=Query, extensions=[*schema_extensions(limits, Disclosure()), Spy]
    )
    result = await schema.execute(ONE_ELEVEN.replace("{ nodes", "{ version nodes"))
    assert result.errors
    assert resolved == []
    await schema.execute(ONE_ELEVEN)
    assert resolved, "the spy sees resolvers when nothing is refused"


# --- what the schema tells of itself -------------------------------------------------------


INTROSPECTION = "{ __schema { queryType { name } } }"


async def test_introspection_is_off_in_production_and_on_in_the_demo() -> None:
    assert await codes(INTROSPECTION) == ["INTROSPECTION_DISABLED"]
    assert await codes('{ __type(name: "Node") { name } }') == ["INTROSPECTION_DISABLED"]
    assert await codes("{ __typename node { __typename } }") == []
    assert await codes(INTROSPECTION, tiny_schema(disclosure=Disclosure.demo())) == []


async def test_suggestions_are_off_in_production() -> None:
    production, demo = tiny_schema(), tiny_schema(disclosure=Disclosure.demo())
    for query in ["{ nodez { name } }", "{ nodes(firts: 1) { name } }", "{ paint(colour: RDE) }"]:
        quiet = await production.execute(query)
        loud = await demo.execute(query)
        assert quiet.errors
        assert loud.errors
        assert all("Did you mean" not in e.message for e in quiet.errors), query
        assert any("Did you mean" in e.message for e in loud.errors), query


@pytest.mark.parametrize("suggestions", [False, True])
async def test_suggestions_are_off_in_variables_too(suggestions: bool) -> None:
    # Variables are coerced at execution, not validation.
    disclosure = Disclosure(field_suggestions=suggestions)
    schema = GatewaySchema(
        query=Query,
        extensions=schema_extensions(DEFAULTS, disclosure),
        field_suggestions=disclosure.field_suggestions,
    )
    result = await schema.execute(
        "query($c: Colour!) { paint(colour: $c) }", variable_values={"c": "RDE"}
    )
    [error] = result.errors or []
    assert ("Did you mean" in error.message) is suggestions, error.message


async def test_a_bad_variable_is_the_callers_mistake_not_an_internal_error() -> None:
    schema = GatewaySchema(
        query=Query,
        extensions=[lambda: MaskErrors(should_mask_error=_should_mask)],
    )
    result = await schema.execute(
        "query($c: Colour!) { paint(colour: $c) }", variable_values={"c": "BLUE"}
    )
    [error] = result.errors or []
    # Coded as the caller's input, naming the variable and its type, not the value.
    assert error.extensions == {
        "code": "BAD_INPUT",
        "message_en": "The value of variable $c is not a valid Colour!.",
        "message_zh": "变量 $c 的值不符合类型 Colour!。",
        "field": "c",
    }
    assert "BLUE" not in error.message
    assert error.message != MASKED_MESSAGE


class Gate(SchemaExtension):
    def on_execute(self) -> Any:
        raise RuntimeError("SELECT id_number FROM workers -- db.internal:5432")


async def test_an_exception_in_a_hook_is_masked_too() -> None:
    schema = GatewaySchema(
        query=Query,
        extensions=[Gate, lambda: MaskErrors(should_mask_error=_should_mask)],
    )
    result = await schema.execute("{ version }")
    assert [e.message for e in result.errors or []] == [MASKED_MESSAGE]


# --- the real gateway -------------------------------------------------------------------


def app_client(gateway: Gateway, **changes: Any) -> httpx.AsyncClient:
    config = dataclasses.replace(gateway.config, **changes)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(config, gateway=gateway)),
        base_url="http://gateway",
    )


async def test_the_gateway_refuses_each_limit(client: GraphQLClient) -> None:
    clerk = await client.login("demo-clerk")
    refused = {
        "QUERY_TOO_DEEP": of_depth(DEFAULTS.max_depth + 1).replace("node", "me"),
        "TOO_MANY_TOKENS": of_tokens(DEFAULTS.max_tokens + 1),
        "DOCUMENT_TOO_LONG": of_length(DEFAULTS.max_document_length + 1),
        "TOO_MANY_ALIASES": of_aliases(DEFAULTS.max_aliases + 1),
        "TOO_MANY_ROOT_FIELDS": "{ "
        + " ".join(f"t{i}: codeTables {{ name }}" for i in range(DEFAULTS.max_root_fields + 1))
        + " }",
        "PAGE_TOO_LARGE": "{ registrations(first: 101) { hasNextPage } }",
        "TOO_MANY_REPRESENTATIONS": "{ _entities(representations: ["
        + ", ".join(['{__typename: "Employer", creditCode: "x"}'] * 101)
        + "]) { __typename } }",
    }
    for code, query in refused.items():
        response = await clerk.http.post(
            "/graphql",
            json={"query": query},
            headers={
                "Accept": "application/graphql-response+json",
                "Authorization": f"Bearer {clerk.token}",
            },
        )
        body = response.json()
        found = [e.get("extensions", {}).get("code") for e in body["errors"]]
        assert code in found, (code, body)
        assert response.status_code == 400, code
        assert "data" not in body, "refused before execution"


ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Employer { name } } }"


def representations(n: int) -> list[dict[str, str]]:
    return [{"__typename": "Employer", "creditCode": credit_code()} for _ in range(n)]


@pytest.mark.parametrize("given", ["variable", "literal"])
async def test_entities_are_a_page_at_most_and_refused_before_any_is_looked_up(
    client: GraphQLClient,
    gateway: Gateway,
    standins: dict[System, RunningStandin],
    given: str,
) -> None:
    """The finding: ``_entities`` took as many representations as the JSON limits let
    through (about 4,000), each looked up in every system at once: one clerk's request
    held the store's connections and the systems' bulkheads for half a minute, other
    callers' requests failed meanwhile, and every breaker opened. The bound is the page
    size (100 by default, ``test_the_gateway_refuses_each_limit``); 5 here, so that the
    page answered looks up a few units, not a hundred."""
    page = 5
    clerk = await client.login("demo-clerk")
    app = create_app(gateway.config, gateway=gateway, limits=RequestLimits(max_page_size=page))

    async def ask(http: httpx.AsyncClient, n: int) -> dict[str, Any]:
        window = GraphQLClient(http, clerk.token)
        if given == "variable":
            return await window.post(ENTITIES, {"r": representations(n)})
        items = ", ".join(
            f'{{__typename: "Employer", creditCode: "{r["creditCode"]}"}}'
            for r in representations(n)
        )
        return await window.post(
            f"{{ _entities(representations: [{items}]) {{ ... on Employer {{ name }} }} }}"
        )

    for system in standins.values():
        system.reset()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        over = await ask(http, page + 1)
        assert error_codes(over) == ["TOO_MANY_REPRESENTATIONS"]
        assert over["errors"][0]["extensions"]["limit"] == page
        assert "data" not in over, "refused before execution"
        assert all(system.stats() == {} for system in standins.values())
        # Unknown units, each looked up: NOT_FOUND in its place, the page answered.
        at = await ask(http, page)
    assert len(at["data"]["_entities"]) == page
    assert set(error_codes(at)) == {"NOT_FOUND"}


async def test_entities_count_in_the_cost(client: GraphQLClient, gateway: Gateway) -> None:
    # _entities 1, then name once for each of the 10 representations: 11.
    clerk = await client.login("demo-clerk")
    for max_cost, refused in [(11, False), (10, True)]:
        app = create_app(gateway.config, gateway=gateway, limits=RequestLimits(max_cost=max_cost))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as http:
            body = await GraphQLClient(http, clerk.token).post(ENTITIES, {"r": representations(10)})
        assert ("QUERY_TOO_COSTLY" in error_codes(body)) is refused, body


# employer 1 + workers 1 + edges, node and name 100 each: 302
WORKER_NAMES = "{ employer { workers(first: 100) { edges { node { name } } } } }"


@pytest.mark.parametrize(("max_cost", "refused"), [(302, False), (301, True)])
async def test_the_gateway_cost_at_and_over(
    client: GraphQLClient, gateway: Gateway, max_cost: int, refused: bool
) -> None:
    employer = await client.login("demo-employer")
    app = create_app(gateway.config, gateway=gateway, limits=RequestLimits(max_cost=max_cost))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        body = await GraphQLClient(http, employer.token).post(WORKER_NAMES)
    assert error_codes(body) == (["QUERY_TOO_COSTLY"] if refused else []), body
    assert ("data" in body) is not refused


async def test_a_real_query_within_the_default_limits_passes(client: GraphQLClient) -> None:
    employer = await client.login("demo-employer")
    body = await employer.post(
        "{ employer { workers(first: 100) { edges { node { name idNumber status } } } } }"
    )
    assert "errors" not in body, body


async def test_production_profile_against_the_demo(gateway: Gateway) -> None:
    async with app_client(gateway) as production, app_client(gateway, demo=True) as demo:
        for http, allowed in ((production, False), (demo, True)):
            body = (await http.post("/graphql", json={"query": INTROSPECTION})).json()
            assert ("errors" not in body) is allowed, body
            wrong = (await http.post("/graphql", json={"query": "{ codeTabel { name } }"})).json()
            assert ("Did you mean" in json.dumps(wrong)) is allowed
            typename = (await http.post("/graphql", json={"query": "{ __typename }"})).json()
            assert typename == {"data": {"__typename": "Query"}}
            # A supergraph router reads the SDL: published unless turned off.
            sdl = (await http.post("/graphql", json={"query": "{ _service { sdl } }"})).json()
            assert "type Employer" in sdl["data"]["_service"]["sdl"]


async def test_the_sdl_can_be_withheld(gateway: Gateway) -> None:
    app = create_app(gateway.config, gateway=gateway, disclosure=Disclosure(service_sdl=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        body = (await http.post("/graphql", json={"query": "{ _service { sdl } }"})).json()
        assert error_codes(body) == ["INTROSPECTION_DISABLED"]
        entities = await http.post(
            "/graphql",
            json={"query": "{ _entities(representations: []) { __typename } }"},
        )
        assert entities.json() == {"data": {"_entities": []}}


async def test_graphiql_is_off_unless_enabled(gateway: Gateway) -> None:
    browser = {"Accept": "text/html,*/*;q=0.8"}
    async with app_client(gateway, graphiql=False) as off, app_client(gateway) as on:
        assert "html" not in (await off.get("/graphql", headers=browser)).headers["content-type"]
        assert (
            (await on.get("/graphql", headers=browser))
            .headers["content-type"]
            .startswith("text/html")
        )


async def test_batching_is_off_by_default(gateway: Gateway) -> None:
    batch = [{"query": "{ __typename }"}, {"query": "{ __typename }"}]
    async with app_client(gateway) as http:
        response = await http.post("/graphql", json=batch)
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BATCHING_DISABLED"]
    limits = RequestLimits(batching=True, max_batch_operations=2)
    app = create_app(gateway.config, gateway=gateway, limits=limits)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        ok = await http.post("/graphql", json=batch)
        assert ok.json() == [{"data": {"__typename": "Query"}}] * 2
        over = await http.post("/graphql", json=[*batch, batch[0]])
        assert over.status_code == 400
        assert error_codes(over.json()) == ["TOO_MANY_OPERATIONS"]


# --- nothing internal in any response ------------------------------------------------------

LEAKS = re.compile(
    r"Traceback|File \"|RuntimeError|KeyError|RecursionError|OperationalError|Exception|"
    r"SELECT|INSERT|db\.internal|5432|127\.0\.0\.1|soap|Fault|zeep|sqlalchemy|asyncpg",
    re.IGNORECASE,
)
SECRET = "SELECT * FROM registrations WHERE host='db.internal:5432' -- OperationalError"


async def test_a_failing_store_leaks_nothing(
    client: GraphQLClient, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    clerk = await client.login("demo-clerk")

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(gateway.store.registrations, "list", broken)
    body = await clerk.post("{ registrations { nodes { id } } }")
    assert [e["message"] for e in body["errors"]] == [MASKED_MESSAGE]
    assert not LEAKS.search(json.dumps(body)), body


async def test_a_failure_while_building_the_context_leaks_nothing(
    client: GraphQLClient, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    clerk = await client.login("demo-clerk")

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(gateway.cache, "get", broken)
    response = await clerk.http.post(
        "/graphql",
        json={"query": "{ me { username } }"},
        headers={"Authorization": f"Bearer {clerk.token}"},
    )
    assert response.status_code == 500
    assert error_codes(response.json()) == ["INTERNAL"]
    assert not LEAKS.search(response.text), response.text


@pytest.mark.parametrize(
    "query",
    [
        "{",
        "{ nope }",
        "{ ...Missing }",
        "query { employer(creditCode: 1) { name } }",
        "{" + "a{" * 300 + "b" + "}" * 301,
        "query($x: Int) { codeTable(name: $x) { name } }",
    ],
)
async def test_malformed_documents_leak_nothing(client: GraphQLClient, query: str) -> None:
    body = await client.post(query)
    assert body["errors"]
    assert not LEAKS.search(json.dumps(body)), body
