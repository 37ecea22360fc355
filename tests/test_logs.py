"""No ID number reaches a log through the HTTP client libraries."""

from __future__ import annotations

import logging

import httpx
import pytest

from gateway.logs import QUIET, configure
from tests.factories import resident_id


def test_http_clients_do_not_log_urls(caplog: pytest.LogCaptureFixture) -> None:
    configure()
    number = resident_id()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with caplog.at_level(logging.INFO), httpx.Client(transport=transport) as client:
        client.get("http://unemployment.test/sy/djxx", params={"zjhm": number})
    assert number not in caplog.text
    assert all(logging.getLogger(name).getEffectiveLevel() >= logging.WARNING for name in QUIET)
