"""HTTP I/O with the social insurance system: signing, field encryption, deadlines.

Nothing here knows what a declaration is. ``SignedAuth`` is an httpx auth flow
that signs every request as the contract says; ``SocialInsuranceClient.call``
encrypts the contract's encrypted fields on the way out, sends one request
under an overall deadline, and hands back the status and the envelope with
those fields decrypted. Failures of the transport become ``Unavailable``
(``outcome_unknown`` when a write may have reached the system).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.http import parse_retry_after
from adapters.social_insurance import crypto
from adapters.social_insurance.mapping import unified_field
from adapters.social_insurance.model import SYSTEM
from adapters.social_insurance.settings import SocialInsuranceSettings
from gateway.systems import Unavailable

BASE_PATH = "/si/v2"
CONTENT_TYPE = "application/json; charset=utf-8"
SUCCESS = "0000"


class SignedAuth(httpx.Auth):
    """Signs each request: ``X-App-Id``, ``X-Timestamp``, ``X-Nonce``, ``X-Signature``.

    ``clock`` (seconds since the epoch) and ``nonce`` are injectable so that a
    test can sign as of another time, or replay a nonce, on purpose.
    """

    requires_request_body = True

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self._app_id = app_id
        self._secret = app_secret
        self._clock = clock
        self._nonce = nonce

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # The path as it goes on the wire (percent-encoded), without the query.
        path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
        query = crypto.canonical_query(request.url.params.multi_items())
        timestamp = str(int(self._clock() * 1000))
        nonce = self._nonce()
        request.headers[crypto.HEADER_APP_ID] = self._app_id
        request.headers[crypto.HEADER_TIMESTAMP] = timestamp
        request.headers[crypto.HEADER_NONCE] = nonce
        request.headers[crypto.HEADER_SIGNATURE] = crypto.signature(
            self._secret, request.method, path, query, timestamp, nonce, request.content
        )
        yield request


@dataclass(frozen=True, slots=True)
class Answer:
    """What the system said: the HTTP status, the envelope (None when the body was
    not JSON) with encrypted fields in clear, and ``Retry-After`` in seconds."""

    status: int
    body: Any
    retry_after: float | None = None

    @property
    def code(self) -> str | None:
        code = self.body.get("code") if isinstance(self.body, dict) else None
        return code if isinstance(code, str) else None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.code == SUCCESS

    @property
    def data(self) -> Any:
        return self.body.get("data") if isinstance(self.body, dict) else None


class UnreadableField(ValueError):
    """An encrypted field of an answer that does not decrypt under our key."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def encrypt_fields(key: bytes, body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: crypto.encrypt(key, value)
        if name in crypto.ENCRYPTED_FIELDS and isinstance(value, str)
        else value
        for name, value in body.items()
    }


def decrypt_fields(key: bytes, value: Any) -> Any:
    """The answer with every encrypted field in clear, at any depth (``data.rows[i]``)."""
    if isinstance(value, list):
        return [decrypt_fields(key, item) for item in value]
    if not isinstance(value, dict):
        return value
    clear: dict[str, Any] = {}
    for name, item in value.items():
        if name in crypto.ENCRYPTED_FIELDS and isinstance(item, str):
            try:
                clear[name] = crypto.decrypt(key, item)
            except crypto.DecryptError:
                raise UnreadableField(name) from None
        else:
            clear[name] = decrypt_fields(key, item)
    return clear


class SocialInsuranceClient:
    """One system, one app id. ``max_in_flight`` bounds every call: the quota is
    20 a second per app id, shared by every worker of the gateway."""

    def __init__(self, settings: SocialInsuranceSettings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http
        self._key = settings.key
        self._base = settings.url.rstrip("/") + BASE_PATH
        self._auth = SignedAuth(settings.app_id, settings.app_secret)
        self._timeout = httpx.Timeout(settings.timeout, connect=settings.connect_timeout)
        self._slots = asyncio.Semaphore(settings.max_in_flight)

    async def call(
        self, method: str, path: str, *, body: Mapping[str, Any] | None = None, write: bool = False
    ) -> Answer:
        """Send one request under the overall deadline; return whatever came back."""
        content = b""
        headers = {"Accept": "application/json"}
        if body is not None:
            payload = encrypt_fields(self._key, body)
            content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = CONTENT_TYPE
        async with self._slots:
            try:
                # httpx's timeouts are per phase; a server that drips its answer
                # never trips them. The deadline bounds the whole exchange.
                async with asyncio.timeout(self._settings.timeout):
                    response = await self._http.request(
                        method,
                        self._base + path,
                        content=content,
                        headers=headers,
                        auth=self._auth,
                        timeout=self._timeout,
                    )
            except TimeoutError:
                raise Unavailable(
                    SYSTEM, "no answer within the deadline", outcome_unknown=write
                ) from None
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached the system: a write certainly did not happen.
                raise Unavailable(SYSTEM, f"cannot connect ({type(exc).__name__})") from None
            except httpx.TransportError as exc:
                raise Unavailable(
                    SYSTEM, f"the exchange failed ({type(exc).__name__})", outcome_unknown=write
                ) from None
        try:
            parsed = json.loads(response.content) if response.content else None
        except ValueError:
            parsed = None
        try:
            clear = decrypt_fields(self._key, parsed)
        except UnreadableField as exc:
            # The system answered, but not under our key: the answer cannot be used.
            raise Unavailable(
                SYSTEM,
                f"the {unified_field(exc.field)} in the answer does not decrypt",
                outcome_unknown=write,
            ) from None
        return Answer(
            status=response.status_code,
            body=clear,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
