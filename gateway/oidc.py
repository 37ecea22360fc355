"""Bearer tokens of the province's unified identity platform, verified.

The platform is an OpenID Connect provider; its tokens carry the verified
unified social credit code of the legal-person account that signed in
(DESIGN.md, "People and rights"). ``OidcVerifier`` checks such a token against
the provider named in ``OidcSettings`` and gives a ``ProvenEmployer``; it works
with any conforming provider: the keys come from the JWKS that the discovery
document names, and nothing here knows our stand-in (``adapters/identity``).

What is refused, always with the one ``AuthenticationError`` of
``gateway.auth`` (a probe learns nothing about which check failed): an
algorithm off the allow-list (asymmetric ones only, so ``none`` and HS*, and
with them an RSA public key used as an HMAC secret, are impossible), a key
that is not in the provider's JWKS or does not fit the algorithm, a wrong
``iss`` or ``aud``, a token expired or not yet valid (beyond the leeway), and
a missing or malformed credit code. The signature and ``iss``/``aud`` are
checked by PyJWT; the times against the injectable clock.

The JWKS is cached. A ``kid`` not in the cache means the provider may have
rotated its keys: the JWKS is fetched again, but at most once per
``jwks_min_refetch_s``, so that a flood of tokens with made-up ``kid``s cannot
make the gateway hammer the provider.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from gateway.auth import TOKEN_REFUSED, AuthenticationError
from gateway.domain.checks import check_credit_code
from gateway.domain.identifiers import normalize_credit_code
from gateway.oidc_settings import (
    ASYMMETRIC_ALGORITHMS,
    DEFAULT_ALGORITHMS,
    DEFAULT_AUDIENCE,
    DEFAULT_CREDIT_CODE_CLAIM,
    OidcSettings,
    secure_url,
)

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "DEFAULT_ALGORITHMS",
    "DEFAULT_AUDIENCE",
    "DEFAULT_CREDIT_CODE_CLAIM",
    "OidcSettings",
    "OidcVerifier",
    "ProvenEmployer",
    "ProviderUnavailable",
    "secure_url",
]

log = logging.getLogger(__name__)

#: The JWK key type each algorithm family needs (RFC 7518 §6.1, RFC 8037).
_KEY_TYPE = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
#: ... and the curve of the elliptic ones (RFC 7518 §3.4).
_CURVE = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
#: The provider's documents are small; a bigger answer is refused, not read.
MAX_DOCUMENT_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class ProvenEmployer:
    """Who signed in at the provider, and the employer that account legally stands for."""

    issuer: str
    subject: str
    credit_code: str
    name: str | None
    expires_at: dt.datetime


class ProviderUnavailable(AuthenticationError):
    """No keys of the provider could be had: the token could not be checked at all.

    The same message as every refusal; the type lets a caller answer 503 rather
    than 401 if it wishes.
    """

    def __init__(self) -> None:
        super().__init__(TOKEN_REFUSED)


class _FetchFailed(Exception):
    """A provider document could not be read or was not as the specifications say."""


@dataclass(slots=True)
class _KeyCache:
    keys: list[dict[str, Any]] | None = None
    fetched_at: float = 0.0  # monotonic
    next_unplanned: float = float("-inf")  # monotonic: the earliest unplanned fetch
    jwks_uri: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class OidcVerifier:
    """Checks the provider's bearer tokens; one per process, shared by every request.

    ``clock`` (epoch seconds) judges the token's times; ``monotonic`` paces the
    key cache. Both can be moved by tests.
    """

    def __init__(
        self,
        settings: OidcSettings,
        http_client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._http = http_client
        self._clock = clock
        self._monotonic = monotonic
        self._cache = _KeyCache()
        self._timeout = httpx.Timeout(
            settings.http_timeout_s, connect=settings.http_connect_timeout_s
        )
        #: JWKS documents fetched so far (for metrics and tests).
        self.jwks_fetches = 0

    def is_provider_token(self, token: str) -> bool:
        """Whether ``token`` says it comes from the provider (nothing verified).

        Tells the provider's tokens from the gateway's own before either is
        checked; whichever it is, the matching verifier still checks everything.
        """
        try:
            payload = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return False
        return isinstance(payload, dict) and payload.get("iss") == self.settings.issuer

    async def verify(self, token: str) -> ProvenEmployer:
        """The employer a valid token proves; ``AuthenticationError`` for anything else."""
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
            alg = header.get("alg")
            if not isinstance(alg, str) or alg not in s.algorithms:
                raise _Refused("algorithm not allowed")
            kid = header.get("kid")
            if kid is not None and not isinstance(kid, str):
                raise _Refused("kid is not a string")
            # Its times first, unverified: a token past its time is refused without
            # the provider's keys, so that an outage of the provider does not keep it
            # standing (a subscription's recheck); checked again once verified.
            self._check_times(jwt.decode(token, options={"verify_signature": False}))
            key = await self._key(kid, alg)
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=s.audience,
                issuer=s.issuer,
                # The times are judged below, against the injectable clock.
                options={
                    "require": ["iss", "aud", "sub", "exp", "iat"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
            expires_at = self._check_times(payload)
            subject = payload["sub"]
            if not isinstance(subject, str) or not subject:
                raise _Refused("sub is not a string")
            credit_code = self._credit_code(payload.get(s.credit_code_claim))
            name = payload.get(s.name_claim)
        except ProviderUnavailable:
            raise
        except (_Refused, jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            # The reason for operators, never the token: the caller gets one message.
            log.info("provider token refused: %s", _reason(exc))
            raise AuthenticationError(TOKEN_REFUSED) from None
        return ProvenEmployer(
            issuer=s.issuer,
            subject=subject,
            credit_code=credit_code,
            name=name if isinstance(name, str) and name else None,
            expires_at=dt.datetime.fromtimestamp(expires_at, dt.UTC),
        )

    # ------------------------------------------------------------- the claims

    def _check_times(self, payload: Mapping[str, Any]) -> float:
        now, leeway = self._clock(), self.settings.leeway_s
        exp = _number(payload["exp"], "exp")
        iat = _number(payload["iat"], "iat")
        if now >= exp + leeway:
            raise _Refused("expired")
        if iat > now + leeway:
            raise _Refused("issued in the future")
        if "nbf" in payload and _number(payload["nbf"], "nbf") > now + leeway:
            raise _Refused("not yet valid")
        return exp

    @staticmethod
    def _credit_code(raw: object) -> str:
        if not isinstance(raw, str):
            raise _Refused("no credit code claim")
        code = normalize_credit_code(raw)
        if check_credit_code(code):
            raise _Refused("malformed credit code claim")
        return code

    # --------------------------------------------------------------- the keys

    async def _key(self, kid: str | None, alg: str) -> jwt.PyJWK:
        keys = await self._current_keys()
        jwk = _pick(keys, kid, alg)
        if jwk is None:
            jwk = await self._refetch_for(kid, alg)
        if jwk is None:
            raise _Refused("no key of the provider fits")
        # The key is bound to the algorithm allowed above: PyJWT then verifies
        # with that algorithm only, whatever else the token says.
        return jwt.PyJWK(jwk, algorithm=alg)

    async def _current_keys(self) -> list[dict[str, Any]]:
        c = self._cache
        if c.keys is not None and self._monotonic() - c.fetched_at < self.settings.jwks_cache_s:
            return c.keys
        async with c.lock:
            now = self._monotonic()
            if c.keys is not None and now - c.fetched_at < self.settings.jwks_cache_s:
                return c.keys  # another request refreshed them meanwhile
            if now >= c.next_unplanned:
                try:
                    return await self._fetch()
                except _FetchFailed as exc:
                    c.next_unplanned = now + self.settings.jwks_min_refetch_s
                    log.warning("the identity provider's keys could not be fetched: %s", exc)
            # Keys a little past their time are still the provider's last word;
            # beyond twice the cache time they are too old to trust.
            if c.keys is not None and now - c.fetched_at < 2 * self.settings.jwks_cache_s:
                return c.keys
            raise ProviderUnavailable()

    async def _refetch_for(self, kid: str | None, alg: str) -> dict[str, Any] | None:
        """One more JWKS fetch for a key not in the cache, unless one was made lately."""
        c = self._cache
        async with c.lock:
            if c.keys is not None and (jwk := _pick(c.keys, kid, alg)) is not None:
                return jwk  # fetched by another request while this one waited
            now = self._monotonic()
            if now < c.next_unplanned:
                return None
            c.next_unplanned = now + self.settings.jwks_min_refetch_s
            try:
                keys = await self._fetch()
            except _FetchFailed as exc:
                log.warning("the identity provider's keys could not be fetched: %s", exc)
                return None
            return _pick(keys, kid, alg)

    async def _fetch(self) -> list[dict[str, Any]]:
        """Discovery (once), then the JWKS; called with the cache's lock held."""
        c = self._cache
        if c.jwks_uri is None:
            doc = await self._get_json(self.settings.discovery_url)
            if doc.get("issuer") != self.settings.issuer:
                raise _FetchFailed("the discovery document names another issuer")
            uri = doc.get("jwks_uri")
            if not isinstance(uri, str) or not secure_url(uri):
                raise _FetchFailed("the discovery document has no usable jwks_uri")
            c.jwks_uri = uri
        try:
            jwks = await self._get_json(c.jwks_uri)
            keys = jwks.get("keys")
            if not isinstance(keys, list):
                raise _FetchFailed("the JWKS has no keys list")
        except _FetchFailed:
            c.jwks_uri = None  # the provider may have moved it: read discovery again
            raise
        self.jwks_fetches += 1
        c.keys = [k for k in keys if isinstance(k, dict)]
        c.fetched_at = self._monotonic()
        return c.keys

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._http.stream(
                "GET", url, headers={"Accept": "application/json"}, timeout=self._timeout
            ) as response:
                if response.status_code != 200:
                    raise _FetchFailed(f"HTTP {response.status_code} from {url}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise _FetchFailed(f"the answer of {url} is too large")
        except httpx.HTTPError as exc:
            raise _FetchFailed(f"{type(exc).__name__} from {url}") from None
        try:
            doc = json.loads(body)
        except ValueError:
            raise _FetchFailed(f"the answer of {url} is not JSON") from None
        if not isinstance(doc, dict):
            raise _FetchFailed(f"the answer of {url} is not a JSON object")
        return doc


class _Refused(Exception):
    """One reason a token is refused (for the log only)."""


def _pick(keys: list[dict[str, Any]], kid: str | None, alg: str) -> dict[str, Any] | None:
    """The published key for ``kid`` that fits ``alg``; without a kid, the only one that fits."""
    fits = [k for k in keys if _fits(k, alg)]
    if kid is None:
        return fits[0] if len(fits) == 1 else None
    return next((k for k in fits if k.get("kid") == kid), None)


def _fits(jwk: Mapping[str, Any], alg: str) -> bool:
    if jwk.get("kty") != _KEY_TYPE.get(alg[:2]):
        return False
    if alg in _CURVE and jwk.get("crv") != _CURVE[alg]:
        return False
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
        return False
    ops = jwk.get("key_ops")
    return ops is None or (isinstance(ops, list) and "verify" in ops)


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Refused(f"{name} is not a number")
    return float(value)


def _reason(exc: Exception) -> str:
    if isinstance(exc, _Refused):
        return str(exc)
    return type(exc).__name__
