"""What the social insurance stand-in checks before any operation, and how it answers trouble.

The envelope, the infrastructure answers for the simulator, the simulator with
this system's three extra settings (``review_delay_s``, ``return_rate``,
``quota_per_s``), and ``Guard``: the signature (``4010``/``4011``/``4012``) and
the quota (429, ``4290``, ``Retry-After``). Nonces are kept in the store for 10
minutes, so that a restart does not open a replay window.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adapters.social_insurance import crypto
from adapters.social_insurance.settings import SocialInsuranceSettings
from adapters.standin.sim import Faults, Simulator
from adapters.standin.store import Store

TIMESTAMP_WINDOW_S = 300
NONCE_MEMORY_S = 600
_NONCE = re.compile(r"[\x21-\x7e]{16,64}")


# ---------------------------------------------------------------- answers


def envelope(code: str, message: str, data: Any = None, status: int = 200) -> Response:
    return JSONResponse({"code": code, "message": message, "data": data}, status_code=status)


def success(data: Any) -> Response:
    return envelope("0000", "成功", data)


class Answers:
    """How the system answers when it is in trouble (for the Simulator)."""

    def infra_error(self) -> Response:
        return Response(b"", status_code=502)

    def down(self) -> Response:
        return Response(
            b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
            status_code=503,
            media_type="text/html",
        )

    def maintenance(self, retry_after_s: int) -> Response:
        response = envelope("5030", "系统维护中，请稍后再试", status=503)
        response.headers["Retry-After"] = str(retry_after_s)
        return response


@dataclass(slots=True)
class SocialFaults(Faults):
    review_delay_s: float = 2.0
    return_rate: float = 0.0
    quota_per_s: int = 20

    def update(self, changes: dict[str, Any]) -> None:
        rate = changes.get("return_rate")
        if isinstance(rate, int | float) and not isinstance(rate, bool) and rate > 1:
            raise ValueError("return_rate is out of range")
        Faults.update(self, changes)


class SocialSimulator(Simulator):
    """The common simulator with this system's three extra settings."""

    def __init__(self) -> None:
        super().__init__(Answers())
        self.faults = SocialFaults()
        # When the last second's requests came (one app id is configured: one window).
        self.calls: deque[float] = deque()

    @property
    def settings(self) -> SocialFaults:
        return cast(SocialFaults, self.faults)

    async def _reset(self, request: Request) -> Response:
        await super()._reset(request)
        self.faults = SocialFaults()
        self.calls.clear()
        return JSONResponse(asdict(self.faults))


class Guard:
    """The signature, then the quota, for the one app id the stand-in knows."""

    def __init__(
        self, store: Store, sim: SocialSimulator, settings: SocialInsuranceSettings
    ) -> None:
        self.store = store
        self.sim = sim
        self._app_id = settings.app_id
        self._secret = settings.app_secret

    async def refused(self, request: Request) -> Response | None:
        """The signature, then the quota: a refusal, or None to go on."""
        h = request.headers
        app_id, timestamp = h.get(crypto.HEADER_APP_ID), h.get(crypto.HEADER_TIMESTAMP)
        nonce, given = h.get(crypto.HEADER_NONCE), h.get(crypto.HEADER_SIGNATURE)
        if not (app_id and timestamp and nonce and given) or app_id != self._app_id:
            return envelope("4010", "签名缺失或应用标识无效", status=401)
        if not _NONCE.fullmatch(nonce):
            return envelope("4010", "随机数长度应为16至64个字符", status=401)
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        expected = crypto.signature(
            self._secret,
            request.method,
            raw_path.split(b"?", 1)[0].decode("latin-1"),
            crypto.canonical_query(request.query_params.multi_items()),
            timestamp,
            nonce,
            await request.body(),
        )
        if not crypto.signatures_match(expected, given):
            return envelope("4010", "签名验证失败", status=401)
        now = time.time()
        if not timestamp.isdigit() or abs(int(timestamp) / 1000 - now) > TIMESTAMP_WINDOW_S:
            return envelope("4011", "时间戳超出允许范围", status=401)
        if not self.remember_nonce(nonce, now):
            return envelope("4012", "请求随机数重复", status=401)
        return self._over_quota(now)

    def _over_quota(self, now: float) -> Response | None:
        quota = self.sim.settings.quota_per_s
        calls = self.sim.calls
        while calls and calls[0] <= now - 1:
            calls.popleft()
        if quota and len(calls) >= quota:
            wait = max(1, math.ceil(calls[0] + 1 - now))
            response = envelope("4290", "请求过于频繁，请稍后再试", status=429)
            response.headers["Retry-After"] = str(wait)
            return response
        calls.append(now)
        return None

    def remember_nonce(self, nonce: str, now: float) -> bool:
        """False when the nonce was seen within the last 10 minutes; else remember it."""
        with self.store.transaction() as tx:
            tx.execute("DELETE FROM si_nonce WHERE seen < ?", (now - NONCE_MEMORY_S,))
            seen = tx.execute("SELECT 1 FROM si_nonce WHERE nonce = ?", (nonce,)).fetchone()
            if seen is not None:
                return False
            tx.execute("INSERT INTO si_nonce (nonce, seen) VALUES (?, ?)", (nonce, now))
        return True
