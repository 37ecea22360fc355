"""`hrss-gateway form template|check|submit` against a gateway served over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import openpyxl
import pytest
import uvicorn

from adapters.standin.process import free_port
from gateway.app import create_app
from gateway.cli import main
from gateway.forms import cli as forms_cli
from gateway.registrations.wiring import run_worker
from gateway.services import Gateway
from tests.forms.support import hire_row, type_in
from tests.gateway.conftest import GraphQLClient


@pytest.fixture
async def url(gateway: Gateway) -> AsyncIterator[str]:
    port = free_port()
    served = uvicorn.Server(
        uvicorn.Config(create_app(gateway.config, gateway=gateway), port=port, log_level="error")
    )
    serving = asyncio.create_task(served.serve())
    while not served.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    await serving


async def test_template_check_and_submit_with_a_token_from_the_environment(
    url: str,
    client: GraphQLClient,
    gateway: Gateway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    employer = await client.login("demo-employer")
    monkeypatch.setenv("HRSS_TOKEN", employer.token or "")
    template = tmp_path / "template.xlsx"
    assert await asyncio.to_thread(main, ["form", "template", str(template), "--url", url]) == 0
    book = openpyxl.load_workbook(template)
    type_in(book, [hire_row(mobile="123"), hire_row()])
    book.save(tmp_path / "bad.xlsx")
    marked = tmp_path / "marked.xlsx"
    args = ["form", "check", str(tmp_path / "bad.xlsx"), "--url", url, "--marked", str(marked)]
    assert await asyncio.to_thread(main, args) == 1
    out = capsys.readouterr().out
    assert "登记表!G6 MOBILE_FORMAT" in out
    assert openpyxl.load_workbook(marked)["登记表"]["G6"].comment is not None
    type_in(book, [hire_row(), hire_row()])
    book.save(tmp_path / "good.xlsx")
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(gateway, stop=stop))
    # Followed to their end: asked for often, since what is shown is the answer.
    monkeypatch.setattr(forms_cli, "FOLLOW_POLL_S", 0.05)
    try:
        args = ["form", "submit", str(tmp_path / "good.xlsx"), "--url", url]
        assert await asyncio.to_thread(main, args) == 0
    finally:
        stop.set()
        await asyncio.wait_for(worker, 10)
    assert "COMPLETED 2" in capsys.readouterr().out


async def test_a_refused_token_is_a_coded_error(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HRSS_TOKEN", "not-a-token")
    path = tmp_path / "t.xlsx"
    assert await asyncio.to_thread(main, ["form", "template", str(path), "--url", url]) == 2
    assert "UNAUTHENTICATED" in capsys.readouterr().err


@pytest.mark.parametrize("action", ["check", "submit", "template"])
async def test_a_file_that_cannot_be_read_or_written_is_named_without_a_traceback(
    url: str, tmp_path: Path, action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A form that is not there, or a template saved into a folder that is not:
    the file and the reason, exit status 2 as for any error, no traceback."""
    path = tmp_path / "missing" / "form.xlsx"
    assert await asyncio.to_thread(main, ["form", action, str(path), "--url", url]) == 2
    err = capsys.readouterr().err
    assert f"{path}: No such file or directory" in err
    assert "Traceback" not in err
