"""JSON log lines with the request id, and no ID or mobile number in clear."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets

from adapters.standin.process import free_port
from gateway.app import create_app
from gateway.observability.logging import QUIET, RedactionFilter, configure_logging
from gateway.observability.request_id import bind_request_id
from gateway.privacy import mask_id_number, mask_mobile
from gateway.services import Gateway
from gateway.serving import gateway_options
from tests.factories import mobile, resident_id

pytestmark = pytest.mark.usefixtures("restore_logging")

log = logging.getLogger("tests.observability.sample")


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_level_logger_message_and_request_id() -> None:
    out = io.StringIO()
    configure_logging(json=True, level=logging.INFO, stream=out)
    with bind_request_id("req-42"):
        log.info("登记已受理 %s", "R-1")
    log.info("outside a request")
    inside, outside = lines(out)
    assert inside["message"] == "登记已受理 R-1"
    assert inside["level"] == "INFO"
    assert inside["logger"] == "tests.observability.sample"
    assert inside["request_id"] == "req-42"
    assert inside["time"].startswith("20")
    assert outside["request_id"] is None


def test_text_lines_show_the_request_id_or_a_dash() -> None:
    out = io.StringIO()
    configure_logging(json=False, stream=out)
    with bind_request_id("req-7"):
        log.warning("one")
    log.warning("two")
    first, second = out.getvalue().splitlines()
    assert "[req-7] one" in first
    assert "[-] two" in second


def test_configuring_again_replaces_the_handler_and_keeps_http_clients_quiet() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first)
    configure_logging(stream=second, level=logging.DEBUG)
    log.info("once")
    assert first.getvalue() == ""
    assert len(lines(second)) == 1
    assert all(logging.getLogger(name).getEffectiveLevel() >= logging.WARNING for name in QUIET)
    number = resident_id()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with httpx.Client(transport=transport) as client:
        client.get("http://unemployment.test/sy/djxx", params={"zjhm": number})
    assert number not in second.getvalue()


def test_id_and_mobile_numbers_are_masked_in_messages_and_arguments() -> None:
    out = io.StringIO()
    configure_logging(stream=out)
    number, phone, other = resident_id(), mobile(), resident_id()
    log.info(f"careless {number} and {phone}")
    log.info("worker %s phone %d", other, int(phone))
    log.info("as a mapping %(who)s", {"who": number})
    log.info("as an extra", extra={"person": {"id": number, "phones": [phone]}})
    text = out.getvalue()
    for clear in (number, phone, other):
        assert clear not in text
    direct, args, mapping, extra = lines(out)
    assert direct["message"] == f"careless {mask_id_number(number)} and {mask_mobile(phone)}"
    assert args["message"] == f"worker {mask_id_number(other)} phone {mask_mobile(phone)}"
    assert mapping["message"] == f"as a mapping {mask_id_number(number)}"
    assert extra["person"] == {"id": mask_id_number(number), "phones": [mask_mobile(phone)]}


def test_exception_text_is_masked() -> None:
    out = io.StringIO()
    configure_logging(stream=out)
    number = resident_id()
    try:
        raise ValueError(f"no worker {number}")
    except ValueError:
        log.exception("lookup failed")
    (record,) = lines(out)
    assert number not in out.getvalue()
    assert mask_id_number(number) in record["exc_info"]
    assert "ValueError" in record["exc_info"]


def test_records_reach_other_handlers_masked(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging(stream=io.StringIO())
    number, phone = resident_id(), mobile()
    with caplog.at_level(logging.INFO):
        log.info("worker %s phone %s", number, phone)
        try:
            raise LookupError(number)
        except LookupError:
            log.exception("failed")
    assert number not in caplog.text
    assert phone not in caplog.text
    assert mask_id_number(number) in caplog.text
    assert "LookupError" in caplog.text


def test_the_filter_works_on_any_handler() -> None:
    """Defence in depth for handlers others install (a test runner's, a server's)."""
    number = resident_id()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "id %s", (number,), None)
    assert RedactionFilter().filter(record)
    assert record.getMessage() == f"id {mask_id_number(number)}"
    # A second pass leaves the masked text as it is.
    assert RedactionFilter().filter(record)
    assert record.getMessage() == f"id {mask_id_number(number)}"


def test_a_gateway_says_at_start_which_store_it_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A relative store URL (the default's is) names a file under the directory the
    process started in: the line gives it whole, as ``hrss-gateway accounts`` does."""
    from gateway.config import GatewayConfig
    from gateway.services import Gateway

    monkeypatch.chdir(tmp_path)
    config = GatewayConfig.load(
        environ={},
        store_url="sqlite+aiosqlite:///data/gateway.db",
        token_secret="t" * 32,
        audit_key="a" * 32,
        data_dir=str(tmp_path),
    )

    async def start_and_stop() -> None:
        gw = await Gateway.start(config)
        await gw.close()

    with caplog.at_level(logging.INFO, logger="gateway.services"):
        asyncio.run(start_and_stop())
    where = f"sqlite+aiosqlite:///{tmp_path.resolve()}/data/gateway.db"
    assert [r.getMessage() for r in caplog.records if r.name == "gateway.services"] == [
        f"store {where}, events local"
    ]


async def test_a_websocket_path_uvicorn_logs_is_masked_however_it_is_escaped(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The finding: uvicorn logs each WebSocket handshake's path and query at INFO as
    sent (`"` written as ``%22``), and ``/graphql?b=%22<ID>%22&c=%2B86<mobile>`` was
    logged with both in clear: the ``2`` of ``%22`` and the ``6`` of ``86`` hid them
    from the masks. Served as ``hrss-gateway serve`` serves (uvicorn's loggers
    through the gateway's handler, at INFO)."""
    number, phone = resident_id(), mobile()
    out = io.StringIO()
    configure_logging(json=True, level=logging.INFO, stream=out)
    # As in a fresh ``serve`` process: an earlier test of this process that ran uvicorn
    # with its own logging configuration left its loggers with handlers of their own
    # and no propagation to the root, where the gateway's handler is.
    for name in ("uvicorn", "uvicorn.error"):
        kept = logging.getLogger(name)
        monkeypatch.setattr(kept, "propagate", True)
        monkeypatch.setattr(kept, "handlers", [])
    port = free_port()
    app = create_app(gateway.config, gateway=gateway)
    options = gateway_options(gateway.config.limits)
    served = uvicorn.Server(
        uvicorn.Config(
            app, port=port, log_level="info", log_config=None, access_log=False, **options
        )
    )
    serving = asyncio.create_task(served.serve())
    try:
        while not served.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.05)
        escaped = "%" + "%".join(f"{ord(c):02X}" for c in number[:6]) + number[6:]
        for query in (
            f"b=%22{number}%22&c=%2B86{phone}",
            f"id={escaped}&m=0086-{phone}",
            f"q=%7B%22m%22%3A%22tel{phone}%22%7D",
        ):
            url = f"ws://127.0.0.1:{port}/graphql?{query}"
            subprotocols = [websockets.Subprotocol("graphql-transport-ws")]
            async with websockets.connect(url, subprotocols=subprotocols):
                pass
    finally:
        served.should_exit = True
        await serving
    handshakes = [r for r in lines(out) if '"WebSocket /graphql?' in r["message"]]
    assert len(handshakes) == 3, out.getvalue()
    text = out.getvalue()
    decoded = urllib.parse.unquote(text)
    for clear in (number, phone):
        assert clear not in text
        assert clear not in decoded
    assert mask_id_number(number) in handshakes[0]["message"]
