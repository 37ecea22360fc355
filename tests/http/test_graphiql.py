"""GraphiQL offline: the page, its Content-Security-Policy and every asset it loads."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from gateway.http import GRAPHIQL_ASSETS_PATH, GatewayGraphQL, graphiql_assets_app
from gateway.http.graphiql import STATIC_DIR, GraphiQLAssets
from tests.http.conftest import (
    BROWSER_ACCEPT,
    SCHEMA,
    ClientFactory,
    asset_references,
    parse_page,
)

VENDORED = STATIC_DIR / "graphiql"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


async def fetch_page(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/graphql", headers={"accept": BROWSER_ACCEPT})


async def test_browser_gets_the_page(client: httpx.AsyncClient) -> None:
    response = await fetch_page(client)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<div id="graphiql"' in response.text
    assert response.headers["vary"] == "Accept, Authorization"


@pytest.mark.parametrize(
    "accept", [None, "*/*", "application/json", "application/graphql-response+json"]
)
async def test_non_browsers_do_not_get_the_page(
    client: httpx.AsyncClient, accept: str | None
) -> None:
    request = client.build_request("GET", "/graphql")
    if accept is None:
        del request.headers["accept"]
    else:
        request.headers["accept"] = accept
    response = await client.send(request)
    assert response.status_code == 400, "a GET without query is a malformed GraphQL request"
    assert "html" not in response.headers["content-type"]
    assert response.json()["errors"]


async def test_browser_with_a_query_gets_the_result(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": "{ hello }"}, headers={"accept": BROWSER_ACCEPT}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"hello": "hello world"}}


async def test_page_is_not_served_when_graphiql_is_off(client_factory: ClientFactory) -> None:
    client = client_factory(graphiql=False)
    response = await fetch_page(client)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    only_html = await client.get("/graphql", headers={"accept": "text/html"})
    assert only_html.status_code == 406


async def test_page_has_no_external_url(client: httpx.AsyncClient) -> None:
    html = (await fetch_page(client)).text
    urls = re.findall(r"""(?:https?:)?//[^\s"'<>)]+""", html)
    assert [u for u in urls if u != SVG_NAMESPACE and not u.startswith(SVG_NAMESPACE)] == []
    assert "unpkg" not in html
    assert "cdn" not in html.lower()


async def test_page_has_no_inline_script_or_style(client: httpx.AsyncClient) -> None:
    page = parse_page((await fetch_page(client)).text)
    assert page.inline_script == ""
    assert all(tag != "style" for tag, _ in page.tags)
    for _tag, attrs in page.tags:
        assert "style" not in attrs
        assert not any(name.startswith("on") for name in attrs)


async def test_content_security_policy_allows_self_only(client: httpx.AsyncClient) -> None:
    response = await fetch_page(client)
    directives = {
        d.split()[0]: d.split()[1:]
        for d in response.headers["content-security-policy"].split(";")
        if d.strip()
    }
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert "'unsafe-eval'" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_every_asset_resolves_with_its_content_type_and_integrity(
    client: httpx.AsyncClient,
) -> None:
    refs = asset_references((await fetch_page(client)).text)
    assert len(refs) == 9, "react, react-dom, js-cookie, graphiql x2, explorer x2, page x2"
    for url, integrity in refs:
        assert url.startswith(GRAPHIQL_ASSETS_PATH + "/"), url
        response = await client.get(url)
        assert response.status_code == 200, url
        expected = "text/css" if url.split("?")[0].endswith(".css") else "text/javascript"
        assert response.headers["content-type"] == f"{expected}; charset=utf-8", url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        algorithm, _, digest = integrity.partition("-")
        assert algorithm == "sha384", url
        assert base64.b64decode(digest) == hashlib.sha384(response.content).digest(), url


async def test_page_script_keeps_the_websocket_url_of_the_page(
    client: httpx.AsyncClient,
) -> None:
    refs = asset_references((await fetch_page(client)).text)
    boot = next(url for url, _ in refs if "/page/graphiql.js" in url)
    script = (await client.get(boot)).text
    assert "window.location.href" in script
    assert '"ws:" : "wss:"' in script
    assert "subscriptionUrl: websocketURL(fetchURL)" in script


async def test_large_assets_are_compressed(client: httpx.AsyncClient) -> None:
    url = f"{GRAPHIQL_ASSETS_PATH}/graphiql/graphiql-3.8.3/graphiql.min.js"
    async with client.stream("GET", url, headers={"accept-encoding": "gzip"}) as response:
        assert response.headers["content-encoding"] == "gzip"
        sent = sum([len(chunk) async for chunk in response.aiter_raw()])
    assert sent < 1_000_000
    assert (VENDORED / "graphiql-3.8.3/graphiql.min.js").stat().st_size > 3_000_000


GRAPHIQL_JS = f"{GRAPHIQL_ASSETS_PATH}/graphiql/graphiql-3.8.3/graphiql.min.js"


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip", True),
        ("br, gzip;q=0.5", True),
        ("*", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("gzip;q=0, *", False),
        ("*;q=0", False),
        ("identity", False),
        ("", False),
    ],
)
async def test_a_large_asset_is_gzipped_for_those_who_take_gzip_only(
    client: httpx.AsyncClient, accept_encoding: str, gzipped: bool
) -> None:
    original = (VENDORED / "graphiql-3.8.3/graphiql.min.js").read_bytes()
    headers = {"accept-encoding": accept_encoding}
    async with client.stream("GET", GRAPHIQL_JS, headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert response.status_code == 200
    assert response.headers["vary"] == "Accept-Encoding"
    assert int(response.headers["content-length"]) == len(raw)
    if gzipped:
        assert response.headers["content-encoding"] == "gzip"
        assert gzip.decompress(raw) == original
    else:
        assert "content-encoding" not in response.headers
        assert raw == original


async def test_head_tells_the_length_of_what_get_sends_and_sends_nothing(
    client: httpx.AsyncClient,
) -> None:
    for encoding in ("gzip", "identity"):
        headers = {"accept-encoding": encoding}
        got = await client.get(GRAPHIQL_JS, headers=headers)
        head = await client.head(GRAPHIQL_JS, headers=headers)
        assert head.status_code == 200
        assert head.content == b""
        for name in ("content-length", "content-type", "etag", "cache-control"):
            assert head.headers[name] == got.headers[name], name
        assert head.headers.get("content-encoding") == got.headers.get("content-encoding")


async def test_a_browser_that_has_the_asset_is_told_it_has_not_changed(
    client: httpx.AsyncClient,
) -> None:
    gzipped = await client.get(GRAPHIQL_JS, headers={"accept-encoding": "gzip"})
    plain = await client.get(GRAPHIQL_JS, headers={"accept-encoding": "identity"})
    assert gzipped.headers["etag"] != plain.headers["etag"]  # two representations
    for sent, encoding in ((gzipped, "gzip"), (plain, "identity")):
        again = await client.get(
            GRAPHIQL_JS,
            headers={"accept-encoding": encoding, "if-none-match": sent.headers["etag"]},
        )
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == sent.headers["etag"]
        assert again.headers["cache-control"] == sent.headers["cache-control"]
    other = await client.get(
        GRAPHIQL_JS, headers={"accept-encoding": "identity", "if-none-match": 'W/"other"'}
    )
    assert other.status_code == 200
    assert other.content == plain.content


async def test_each_file_is_read_and_compressed_once(tmp_path: Path) -> None:
    script = tmp_path / "app.js"
    first = b"console.log('first');\n" * 2000
    script.write_bytes(first)
    (tmp_path / "small.css").write_text("body { margin: 0 }")
    assets = GraphiQLAssets(tmp_path)
    transport = httpx.ASGITransport(app=assets)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        for encoding in ("gzip", "identity"):
            response = await client.get("/app.js", headers={"accept-encoding": encoding})
            assert response.content == first
        small = await client.get("/small.css", headers={"accept-encoding": "gzip"})
        assert "content-encoding" not in small.headers  # too small to be worth it
        # Changed on disk: what was read at the first request is what is served.
        script.write_bytes(b"console.log('second');\n" * 2000)
        for encoding in ("gzip", "identity"):
            response = await client.get("/app.js", headers={"accept-encoding": encoding})
            assert response.content == first


@pytest.mark.parametrize(
    "path",
    [
        "graphiql/VERSIONS",
        "graphiql/react-18.2.0/LICENSE",
        "graphiql/react-18.2.0/",
        "graphiql/../graphiql.py",
        "graphiql/react-18.2.0/../../../view.py",
        "..%2Fview.py",
        "nope.js",
        "",
    ],
)
async def test_only_listed_assets_are_served(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(f"{GRAPHIQL_ASSETS_PATH}/{path}")
    assert response.status_code == 404


async def test_assets_answer_only_get_and_head(client: httpx.AsyncClient) -> None:
    url = f"{GRAPHIQL_ASSETS_PATH}/page/graphiql.css"
    assert (await client.head(url)).status_code == 200
    response = await client.post(url)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


async def test_page_follows_the_root_path(client_factory: ClientFactory) -> None:
    view = GatewayGraphQL(SCHEMA, graphiql=True)
    app = Starlette(
        routes=[
            Route("/graphql", view),
            Mount(GRAPHIQL_ASSETS_PATH, app=graphiql_assets_app()),
        ]
    )
    transport = httpx.ASGITransport(app=app, root_path="/hr")
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        html = (await client.get("/hr/graphql", headers={"accept": BROWSER_ACCEPT})).text
        urls = [url for url, _ in asset_references(html)]
        assert all(url.startswith("/hr/graphql/static/") for url in urls), urls
        response = await client.get(urls[0])
        assert response.status_code == 200


def test_assets_index_holds_the_vendored_files_and_the_page_files() -> None:
    assert sorted(GraphiQLAssets().paths) == [
        "graphiql/graphiql-3.8.3/graphiql.min.css",
        "graphiql/graphiql-3.8.3/graphiql.min.js",
        "graphiql/js-cookie-3.0.5/js.cookie.min.js",
        "graphiql/plugin-explorer-1.0.2/index.umd.js",
        "graphiql/plugin-explorer-1.0.2/style.css",
        "graphiql/react-18.2.0/react.production.min.js",
        "graphiql/react-dom-18.2.0/react-dom.production.min.js",
        "page/graphiql.css",
        "page/graphiql.js",
    ]


def _versions() -> dict[str, str]:
    sums = {}
    for line in (VENDORED / "VERSIONS").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            sums[name] = digest
    return sums


def test_versions_sums_match_the_vendored_files() -> None:
    sums = _versions()
    files = {
        p.relative_to(VENDORED).as_posix()
        for p in VENDORED.rglob("*")
        if p.is_file() and p.name != "VERSIONS"
    }
    assert set(sums) == files, "VERSIONS lists exactly the vendored files"
    for name, digest in sums.items():
        assert hashlib.sha256((VENDORED / name).read_bytes()).hexdigest() == digest, name


def test_versions_records_each_package_and_every_file_has_its_licence() -> None:
    text = (VENDORED / "VERSIONS").read_text(encoding="utf-8")
    for package in (
        "react@18.2.0",
        "react-dom@18.2.0",
        "js-cookie@3.0.5",
        "graphiql@3.8.3",
        "@graphiql/plugin-explorer@1.0.2",
    ):
        assert re.search(rf"^# {re.escape(package)} sha512-\S+$", text, re.MULTILINE), package
    for directory in (p for p in VENDORED.iterdir() if p.is_dir()):
        licence = directory / "LICENSE"
        assert "Permission is hereby granted" in licence.read_text(encoding="utf-8"), directory


def test_vendoring_script_names_the_same_files() -> None:
    script = (Path(__file__).parents[2] / "scripts" / "vendor-graphiql.sh").read_text()
    for name in _versions():
        if not name.endswith(("LICENSE", "LICENSE.graphiql-explorer")):
            assert Path(name).name in script, name
