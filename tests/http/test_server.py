"""The page and a query over a real socket: uvicorn on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from tests.http.conftest import BROWSER_ACCEPT, asset_references, make_app


@pytest.fixture
def server_url() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(), log_level="warning", ws="none", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_page_assets_and_query_over_a_real_socket(server_url: str) -> None:
    with httpx.Client(base_url=server_url, timeout=10) as client:
        page = client.get("/graphql", headers={"accept": BROWSER_ACCEPT})
        assert page.status_code == 200
        assert "default-src 'none'" in page.headers["content-security-policy"]
        for url, _ in asset_references(page.text):
            asset = client.get(url, headers={"accept-encoding": "gzip"})
            assert asset.status_code == 200, url

        response = client.post(
            "/graphql",
            json={"query": "{ nosuchfield }"},
            headers={"accept": "application/graphql-response+json"},
        )
        assert response.status_code == 400
        assert response.headers["content-type"] == (
            "application/graphql-response+json; charset=utf-8"
        )
