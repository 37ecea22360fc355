"""HTTP I/O with the employment system: its base path, API key, envelope and deadlines.

Nothing here knows what the records mean. A call returns the envelope of a
business answer (code, msg, data), whatever its code; everything else (an
HTML error page, a 503, a timeout, a dropped connection) is raised as
``Unavailable``, with ``outcome_unknown`` set for a write that may have reached
the system.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.http import parse_retry_after
from gateway.domain.model import System
from gateway.settings import SystemSettings
from gateway.systems import Rejected, Unavailable

BASE_PATH = "/jy/api/v1"
SYSTEM = System.EMPLOYMENT


@dataclass(frozen=True, slots=True)
class Envelope:
    """A business answer: ``code`` is ``"0"`` on success."""

    code: str
    msg: str
    data: Any

    @property
    def ok(self) -> bool:
        return self.code == "0"


class EmploymentClient:
    """One method per HTTP exchange; the caller says whether it is a write."""

    def __init__(self, settings: SystemSettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self._http = http
        self._base = settings.url.rstrip("/") + BASE_PATH
        self._timeout = httpx.Timeout(settings.timeout, connect=settings.connect_timeout)

    async def get(self, operation: str, path: str, params: dict[str, str | int]) -> Envelope:
        return await self._call(operation, "GET", path, write=False, params=params)

    async def post(
        self, operation: str, path: str, body: dict[str, Any], *, write: bool
    ) -> Envelope:
        return await self._call(operation, "POST", path, write=write, body=body)

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        write: bool,
        params: dict[str, str | int] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Envelope:
        try:
            # httpx's timeouts are per phase: a server that drips its answer a
            # byte at a time never trips the read timeout, so the whole
            # exchange also gets one deadline.
            async with asyncio.timeout(self.settings.timeout):
                response = await self._http.request(
                    method,
                    self._base + path,
                    params=params,
                    json=body,
                    headers={"X-Api-Key": self.settings.secret, "Accept": "application/json"},
                    timeout=self._timeout,
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing was sent: a write certainly did not happen.
            raise Unavailable(
                SYSTEM, f"{operation}: could not connect ({type(exc).__name__})"
            ) from None
        except (TimeoutError, httpx.TimeoutException):
            raise Unavailable(
                SYSTEM, f"{operation}: no answer in time", outcome_unknown=write
            ) from None
        except httpx.TransportError as exc:
            raise Unavailable(
                SYSTEM,
                f"{operation}: the connection failed ({type(exc).__name__})",
                outcome_unknown=write,
            ) from None
        return self._envelope(operation, response, write=write)

    @staticmethod
    def _envelope(operation: str, response: httpx.Response, *, write: bool) -> Envelope:
        status = response.status_code
        if status >= 500:
            raise Unavailable(
                SYSTEM,
                f"{operation}: the system answered HTTP {status}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                outcome_unknown=write,
            )
        envelope = _parse(response)
        if envelope is not None:
            return envelope
        if status >= 400:
            raise Rejected(
                SYSTEM,
                f"{operation}: the system refused the request with HTTP {status}",
                system_code=f"HTTP {status}",
            )
        # A 200 that is not the envelope: something other than the system
        # answered (a proxy page, say), so the write's fate is unknown.
        raise Unavailable(
            SYSTEM,
            f"{operation}: the answer is not the system's envelope (HTTP {status})",
            outcome_unknown=write,
        )


def _parse(response: httpx.Response) -> Envelope | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        return None
    msg = body.get("msg")
    return Envelope(body["code"], msg if isinstance(msg, str) else "", body.get("data"))
