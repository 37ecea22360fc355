"""Raw, signed requests to the social insurance stand-in, as any client of the
real system would send them: the contract suite's own client."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from typing import Any

import httpx

from adapters.social_insurance import crypto
from adapters.social_insurance.settings import (
    DEFAULT_APP_ID,
    DEFAULT_APP_SECRET,
    DEFAULT_SM4_KEY,
)
from adapters.standin.process import RunningStandin
from tests import factories

KEY = bytes.fromhex(DEFAULT_SM4_KEY)


def signed_headers(
    method: str,
    path: str,
    body: bytes,
    *,
    app_id: str = DEFAULT_APP_ID,
    secret: str = DEFAULT_APP_SECRET,
    timestamp: str | None = None,
    nonce: str | None = None,
    query: str = "",
) -> dict[str, str]:
    ts = timestamp or str(int(time.time() * 1000))
    n = nonce or secrets.token_hex(16)
    return {
        "X-App-Id": app_id,
        "X-Timestamp": ts,
        "X-Nonce": n,
        "X-Signature": crypto.signature(secret, method, path, query, ts, n, body),
    }


def call(
    standin: RunningStandin,
    method: str,
    path: str,
    payload: dict[str, Any] | None = None,
    *,
    encrypt: bool = True,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    timeout: float = 5.0,
    **signing: Any,
) -> httpx.Response:
    """Sign and send; ``payload``'s ``aac002``/``aac003`` are encrypted unless told not."""
    if payload is not None:
        if encrypt:
            payload = {
                k: crypto.encrypt(KEY, v) if k in crypto.ENCRYPTED_FIELDS else v
                for k, v in payload.items()
            }
        content = json.dumps(payload, ensure_ascii=False).encode()
    body = content or b""
    sent = signed_headers(method, path, body, **signing) if headers is None else headers
    if content is not None:
        sent = {**sent, "Content-Type": "application/json"}
    return httpx.request(method, standin.url + path, content=body, headers=sent, timeout=timeout)


def answer(r: httpx.Response, code: str = "0000") -> Any:
    """The envelope's ``data`` after checking its code (and HTTP 200 for a business answer)."""
    body = r.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"]
    return body["data"]


def clear(value: str) -> str:
    return crypto.decrypt(KEY, value)


def new_unit(standin: RunningStandin, name: str = "济南测试科技有限公司") -> str:
    r = call(
        standin,
        "POST",
        "/si/v2/units",
        {"tyshxydm": factories.credit_code(), "dwmc": name, "xzqh": "370102"},
    )
    assert r.status_code == 200, r.content
    dwbh: str = answer(r)["dwbh"]
    return dwbh


def addition(dwbh: str, /, **changes: Any) -> dict[str, Any]:
    body = {
        "dwbh": dwbh,
        "aac058": "01",
        "aac002": factories.resident_id(),
        "aac003": "欧阳晓燕",
        "aac004": "2",
        "csrq": "1990-05-01",
        "cbrq": (dt.date.today() - dt.timedelta(days=3)).isoformat(),
        "jfgz": "5200.00",
        "xzlx": ["110", "210", "310", "410", "510"],
    }
    return {**body, **changes}


def declare(standin: RunningStandin, path: str, body: dict[str, Any]) -> str:
    r = call(standin, "POST", path, body)
    assert r.status_code == 200, r.content
    data = answer(r)
    assert data["zt"] == "01"
    slh: str = data["slh"]
    return slh


def declaration(standin: RunningStandin, slh: str) -> dict[str, Any]:
    data: dict[str, Any] = answer(call(standin, "GET", f"/si/v2/declarations/{slh}"))
    return data


def wait_decided(standin: RunningStandin, slh: str, timeout: float = 10.0) -> dict[str, Any]:
    """Poll, as the contract says, until the agency has decided."""
    deadline = time.monotonic() + timeout
    while True:
        found = declaration(standin, slh)
        if found["zt"] != "01" or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def insured(standin: RunningStandin, aac058: str, aac002: str) -> list[dict[str, Any]]:
    r = call(standin, "POST", "/si/v2/insured/search", {"aac058": aac058, "aac002": aac002})
    rows: list[dict[str, Any]] = answer(r)["rows"]
    return rows


def insure(standin: RunningStandin, dwbh: str, **changes: Any) -> dict[str, Any]:
    """A worker insured with the unit (an addition declared and approved); its body."""
    standin.faults(review_delay_s=0)
    body = addition(dwbh, **changes)
    slh = declare(standin, "/si/v2/declarations/additions", body)
    assert wait_decided(standin, slh)["zt"] == "02"
    return body
