"""Raw calls to the employment system's contract, for tests that speak it directly."""

from __future__ import annotations

from typing import Any

import httpx

from adapters.standin.process import RunningStandin
from gateway.domain.model import System
from gateway.settings import SystemSettings
from tests import factories

BASE = "/jy/api/v1"
#: The key the stand-in processes read from the same environment.
KEY = SystemSettings.from_env(System.EMPLOYMENT).secret


def call(
    standin: RunningStandin,
    method: str,
    path: str,
    *,
    json: Any = None,
    params: dict[str, Any] | None = None,
    key: str | None = KEY,
    timeout: float = 10.0,
) -> httpx.Response:
    headers = {} if key is None else {"X-Api-Key": key}
    return httpx.request(
        method,
        standin.url + BASE + path,
        json=json,
        params=params,
        headers=headers,
        timeout=timeout,
    )


def ok(response: httpx.Response) -> Any:
    """The data of a successful business answer."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == "0", body
    assert body["msg"] == "成功"
    return body["data"]


def refused(response: httpx.Response, code: str) -> dict[str, Any]:
    """A business error: HTTP 200, the envelope, the code and a Chinese message."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "msg", "data"}
    assert body["code"] == code, body
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["msg"]), body["msg"]
    return body


def unit_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "aab998": factories.credit_code(),
        "aab004": "测试有限公司",
        "aab301": "370102",
        "aae004": "联系人",
        "aae005": "0531-80000000",
    }
    body.update(overrides)
    return body


def open_unit(standin: RunningStandin, **overrides: Any) -> str:
    aab001: str = ok(call(standin, "POST", "/unit/open", json=unit_body(**overrides)))["aab001"]
    return aab001


def person_body(aab001: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "aab001": aab001,
        "aac058": "01",
        "aac147": factories.resident_id(),
        "aac003": "张三",
        "aac004": "1",
        "aac005": "01",
        "aac011": "20",
        "aac067": factories.mobile(),
        "aac010": "山东省济南市历下区一号",
        "aae006": "山东省济南市历下区二号",
        "aae030": "2024-03-01",
        "acc032": "01",
        "aac048": "1",
        "aca111": "操作工",
        "aab301": "370102",
    }
    body.update(overrides)
    return body


def register(standin: RunningStandin, body: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = ok(call(standin, "POST", "/employment/register", json=body))
    return data


def dismiss(
    standin: RunningStandin, body: dict[str, Any], *, date: str = "2024-12-31", reason: str = "2"
) -> str:
    serial: str = ok(
        call(
            standin,
            "POST",
            "/employment/dismiss",
            json={
                "aab001": body["aab001"],
                "aac058": body["aac058"],
                "aac147": body["aac147"],
                "bcc03x": date,
                "bcc03y": reason,
            },
        )
    )["ywlsh"]
    return serial


def query(standin: RunningStandin, numbers: list[str], **extra: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok(
        call(standin, "POST", "/employment/query", json={"aac147_list": numbers, **extra})
    )
    return rows
