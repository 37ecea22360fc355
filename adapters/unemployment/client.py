"""HTTP I/O with the unemployment system: GBK JSON, Basic auth, deadlines.

Nothing here knows what a registration is. A call sends one request and hands
back the status and the decoded body; failures of the transport itself become
``Unavailable`` (with ``outcome_unknown`` when a write may have reached the
system), and a value the system's encoding cannot carry becomes ``Rejected``
before anything is sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.http import parse_retry_after
from adapters.unemployment.mapping import unified_field
from gateway.domain.model import System
from gateway.settings import SystemSettings
from gateway.systems import Rejected, Unavailable

BASE_PATH = "/sy"
CONTENT_TYPE = "application/json; charset=GBK"
ENCODING = "gbk"

_SYSTEM = System.UNEMPLOYMENT


@dataclass(frozen=True, slots=True)
class Answer:
    """What the system said: the HTTP status, the body decoded from GBK JSON
    (None when it was not), and ``Retry-After`` in seconds when given."""

    status: int
    body: Any
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def encode_body(body: Mapping[str, str | None]) -> bytes:
    """GBK JSON; a value outside GBK is refused naming the unified field."""
    for name, value in body.items():
        if value is None:
            continue
        try:
            value.encode(ENCODING)
        except UnicodeEncodeError:
            field = unified_field(name) or name
            raise Rejected(
                _SYSTEM,
                f"{field} holds a character the unemployment system cannot store (GBK)",
                field=field,
            ) from None
    return json.dumps(dict(body), ensure_ascii=False).encode(ENCODING)


def decode_body(content: bytes) -> Any:
    """The JSON of a GBK body, or None when it is not GBK JSON (a proxy's page)."""
    if not content:
        return None
    try:
        return json.loads(content.decode(ENCODING))
    except (UnicodeDecodeError, ValueError):
        return None


class UnemploymentClient:
    """One system, one account. ``max_in_flight`` bounds every call, not only
    fan-outs, since the system has no batch query and a small capacity."""

    def __init__(self, settings: SystemSettings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http
        self._base = settings.url.rstrip("/") + BASE_PATH
        self._auth = httpx.BasicAuth(settings.username, settings.secret)
        self._timeout = httpx.Timeout(settings.timeout, connect=settings.connect_timeout)
        self._slots = asyncio.Semaphore(settings.max_in_flight)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, str | None] | None = None,
        write: bool = False,
    ) -> Answer:
        """Send one request under the overall deadline; return whatever status came back."""
        content = encode_body(body) if body is not None else None
        headers = {"Accept": CONTENT_TYPE}
        if content is not None:
            headers["Content-Type"] = CONTENT_TYPE
        async with self._slots:
            try:
                # httpx's timeouts are per phase: a server that drips its answer
                # a byte at a time never trips them. The deadline bounds the whole.
                async with asyncio.timeout(self._settings.timeout):
                    response = await self._http.request(
                        method,
                        self._base + path,
                        params=dict(params) if params else None,
                        content=content,
                        headers=headers,
                        auth=self._auth,
                        timeout=self._timeout,
                    )
            except TimeoutError:
                raise self._lost("no answer within the deadline", write) from None
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached the system: a write certainly did not happen.
                raise Unavailable(
                    _SYSTEM, f"cannot connect ({type(exc).__name__})", outcome_unknown=False
                ) from None
            except httpx.TransportError as exc:
                # The exception text may quote the URL, whose query holds ID numbers.
                raise self._lost(f"the exchange failed ({type(exc).__name__})", write) from None
        return Answer(
            status=response.status_code,
            body=decode_body(response.content),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    @staticmethod
    def _lost(message: str, write: bool) -> Unavailable:
        return Unavailable(_SYSTEM, message, outcome_unknown=write)
