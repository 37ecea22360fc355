"""The identity stand-in: a small OpenID Connect provider, faithful where the gateway meets it.

Discovery (OpenID Connect Discovery 1.0), the JWKS, the authorization code
flow with PKCE (RFC 7636, S256 only) for public clients, id tokens (OIDC Core)
and JWT access tokens (RFC 9068) carrying the legal person's credit code, and
``/userinfo``. Besides the shared ``/__sim/`` surface (faults, stats, reset),
``POST /__sim/rotate`` rotates the signing key.

Where the specifications leave a choice, the strict one is taken: redirect URIs
match a registered one exactly; an unknown client or redirect URI is answered
here, never by a redirect (RFC 6749 §4.1.2.1); a code is single-use, short-lived
and bound to its client, redirect URI and PKCE challenge; the ``iss`` parameter
comes back with the code (RFC 9207).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from adapters.identity import pages
from adapters.identity.config import DEMO_PASSWORD, IdentitySettings
from adapters.identity.keys import ALGORITHM, SCHEMA, Account, Records
from adapters.standin.sim import Simulator
from adapters.standin.store import Store

#: RFC 7636 §4.1: 43 to 128 characters of the unreserved set.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
#: Codes and sign-in forms outstanding at once: a flood cannot exhaust memory.
_MAX_PENDING = 10_000
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class IdentityAnswers:
    """How the provider answers when it is in trouble: OAuth's own error bodies."""

    def infra_error(self) -> Response:
        return JSONResponse({"error": "server_error"}, status_code=500)

    def down(self) -> Response:
        return Response("Service Unavailable", status_code=503, media_type="text/plain")

    def maintenance(self, retry_after_s: int) -> Response:
        return JSONResponse(
            {"error": "temporarily_unavailable"},
            status_code=503,
            headers={"Retry-After": str(retry_after_s)},
        )


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """An authorization request that passed its checks, waiting for the sign-in form."""

    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str
    expires: float


@dataclass(frozen=True, slots=True)
class Grant:
    """What an authorization code stands for."""

    request: AuthRequest
    subject: str
    auth_time: int
    expires: float


class Provider:
    def __init__(
        self, settings: IdentitySettings, records: Records, clock: Callable[[], float]
    ) -> None:
        self.settings = settings
        self.records = records
        self._clock = clock
        self._requests: dict[str, AuthRequest] = {}
        self._codes: dict[str, Grant] = {}

    def url(self, path: str) -> str:
        return self.settings.issuer + path

    # ------------------------------------------------------------ discovery

    async def discovery(self, request: Request) -> Response:
        s = self.settings
        return JSONResponse(
            {
                "issuer": s.issuer,
                "authorization_endpoint": self.url("/authorize"),
                "token_endpoint": self.url("/token"),
                "userinfo_endpoint": self.url("/userinfo"),
                "jwks_uri": self.url("/jwks"),
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": [ALGORITHM],
                "token_endpoint_auth_methods_supported": ["none"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["openid", "profile"],
                "claims_supported": [
                    "iss",
                    "sub",
                    "aud",
                    "exp",
                    "iat",
                    "name",
                    s.credit_code_claim,
                ],
                "authorization_response_iss_parameter_supported": True,
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": self.records.published()})

    # ------------------------------------------------------------ authorize

    async def authorize_form(self, request: Request) -> Response:
        """Check the authorization request, then show the sign-in form for it."""
        q = request.query_params
        client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        if redirect_uri not in self.settings.clients.get(client_id, ()):
            # Never redirect to an address nobody registered (an open redirector).
            return pages.error("unknown client or unregistered redirect_uri", status=400)
        state = q.get("state")

        def refuse(error: str, description: str) -> Response:
            return self._redirect(redirect_uri, state, error=error, error_description=description)

        if q.get("response_type") != "code":
            return refuse("unsupported_response_type", "only the code flow is offered")
        if "openid" not in q.get("scope", "").split():
            return refuse("invalid_scope", "the openid scope is required")
        if q.get("code_challenge_method") != "S256":
            return refuse("invalid_request", "PKCE with code_challenge_method=S256 is required")
        challenge = q.get("code_challenge", "")
        if not re.fullmatch(r"[A-Za-z0-9\-_]{43}", challenge):
            return refuse("invalid_request", "code_challenge must be a base64url SHA-256")
        self._prune()
        if len(self._requests) >= _MAX_PENDING:
            return refuse("temporarily_unavailable", "too many sign-ins under way")
        handle = secrets.token_urlsafe(24)
        self._requests[handle] = AuthRequest(
            client_id,
            redirect_uri,
            q.get("scope", ""),
            state,
            q.get("nonce"),
            challenge,
            self._clock() + self.settings.request_ttl_s,
        )
        return pages.sign_in(handle)

    async def authorize_submit(self, request: Request) -> Response:
        """The posted sign-in form: a code for the client, or the form again."""
        form = await _form(request)
        handle = form.get("request_id", "")
        pending = self._requests.get(handle)
        if pending is None or pending.expires <= self._clock():
            return pages.error("the sign-in has expired; start again from the application")
        account = await asyncio.to_thread(
            self.records.authenticate, form.get("username", ""), form.get("password", "")
        )
        if account is None:
            return pages.sign_in(handle, failed=True)
        del self._requests[handle]
        code = secrets.token_urlsafe(32)
        now = self._clock()
        self._codes[code] = Grant(
            pending, account.subject, int(now), now + self.settings.code_ttl_s
        )
        return self._redirect(pending.redirect_uri, pending.state, code=code)

    def _redirect(self, uri: str, state: str | None, **params: str) -> Response:
        params["iss"] = self.settings.issuer
        if state is not None:
            params["state"] = state
        sep = "&" if "?" in uri else "?"
        return RedirectResponse(uri + sep + urlencode(params), status_code=302, headers=_NO_STORE)

    def _prune(self) -> None:
        now = self._clock()
        for table in (self._requests, self._codes):
            for key in [k for k, v in table.items() if v.expires <= now]:
                del table[key]

    # ---------------------------------------------------------------- token

    async def token(self, request: Request) -> Response:
        """Exchange a code and its PKCE verifier for an id token and an access token."""
        if request.headers.get("content-type", "").split(";")[0].strip() != (
            "application/x-www-form-urlencoded"
        ):
            return _oauth_error("invalid_request", "the body must be form-encoded")
        form = await _form(request)
        client_id = form.get("client_id", "")
        if client_id not in self.settings.clients:
            return _oauth_error("invalid_client", "unknown client", status=401)
        if form.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type", "only authorization_code is offered")
        # Taken out whatever follows: a code is good for one try, right or wrong.
        grant = self._codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        if (
            grant is None
            or grant.expires <= self._clock()
            or grant.request.client_id != client_id
            or grant.request.redirect_uri != form.get("redirect_uri")
            or not _VERIFIER.fullmatch(verifier)
            or not hmac.compare_digest(_challenge(verifier), grant.request.code_challenge)
        ):
            return _oauth_error("invalid_grant", "the code is not valid")
        account = self.records.account(grant.subject)
        if account is None:
            return _oauth_error("invalid_grant", "the account is gone")
        access, id_token = self._tokens(grant, account)
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": self.settings.token_ttl_s,
                "id_token": id_token,
                "scope": grant.request.scope,
            },
            headers=_NO_STORE,
        )

    def _tokens(self, grant: Grant, account: Account) -> tuple[str, str]:
        s = self.settings
        kid, key = self.records.signing_key()
        now = int(self._clock())
        common = {
            "iss": s.issuer,
            "sub": account.subject,
            "iat": now,
            "nbf": now,
            "exp": now + s.token_ttl_s,
            "auth_time": grant.auth_time,
            "name": account.name,
            s.credit_code_claim: account.credit_code,
        }
        access_claims = {
            **common,
            "aud": s.audience,
            "client_id": grant.request.client_id,
            "scope": grant.request.scope,
            "jti": str(uuid.uuid4()),
        }
        access = jwt.encode(
            access_claims, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": "at+jwt"}
        )
        id_claims: dict[str, Any] = {
            **common,
            "aud": grant.request.client_id,
            "azp": grant.request.client_id,
            "at_hash": _half_hash(access),
        }
        if grant.request.nonce is not None:
            id_claims["nonce"] = grant.request.nonce
        id_token = jwt.encode(id_claims, key, algorithm=ALGORITHM, headers={"kid": kid})
        return access, id_token

    # ------------------------------------------------------------- userinfo

    async def userinfo(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        if scheme.lower() != "bearer" or not token:
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        keys = {k["kid"]: k for k in self.records.published()}
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            claims = jwt.decode(
                token,
                jwt.PyJWK(keys[kid], algorithm=ALGORITHM),
                algorithms=[ALGORITHM],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
            )
        except (jwt.PyJWTError, KeyError, TypeError):
            return Response(status_code=401, headers=challenge)
        account = self.records.account(claims["sub"])
        if account is None:
            return Response(status_code=401, headers=challenge)
        return JSONResponse(
            {
                "sub": account.subject,
                "name": account.name,
                self.settings.credit_code_claim: account.credit_code,
            }
        )

    # ---------------------------------------------------------------- admin

    async def rotate(self, request: Request) -> Response:
        """A new signing key; ``{"keep_old_s": N}`` says how long the old one stays published."""
        keep = self.settings.keep_old_key_s
        body = await request.body()
        if body:
            try:
                given = (await request.json()).get("keep_old_s", keep)
                if isinstance(given, bool) or not isinstance(given, int | float) or given < 0:
                    raise ValueError
            except (ValueError, AttributeError):
                return JSONResponse({"error": "keep_old_s must be a number >= 0"}, 400)
            keep = float(given)
        kid = await asyncio.to_thread(self.records.rotate, keep_old_s=keep)
        return JSONResponse({"kid": kid, "keys": [k["kid"] for k in self.records.published()]})


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _half_hash(token: str) -> str:
    """``at_hash`` (OIDC Core §3.1.3.6): the left half of the token's SHA-256, base64url."""
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the only kind OAuth posts)."""
    body = await request.body()
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _oauth_error(error: str, description: str, *, status: int = 400) -> Response:
    """An error of the token endpoint (RFC 6749 §5.2)."""
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=_NO_STORE
    )


def create_app(
    *,
    data: str | None,
    seed: bool,
    settings: IdentitySettings,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The identity stand-in as an ASGI app."""
    store = Store(data, SCHEMA)
    records = Records(store, clock=clock)
    records.ensure_key()
    if seed:
        records.load_seed(DEMO_PASSWORD)
    provider = Provider(settings, records, clock)
    sim = Simulator(IdentityAnswers())
    op = sim.operation
    routes = [
        Route("/.well-known/openid-configuration", op("discovery")(provider.discovery)),
        Route("/jwks", op("jwks")(provider.jwks)),
        Route("/authorize", op("authorize")(provider.authorize_form), methods=["GET"]),
        Route("/authorize", op("authorize.submit")(provider.authorize_submit), methods=["POST"]),
        Route("/token", op("token")(provider.token), methods=["POST"]),
        Route("/userinfo", op("userinfo")(provider.userinfo), methods=["GET"]),
        Route("/__sim/rotate", provider.rotate, methods=["POST"]),
        *sim.routes(),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    return Starlette(routes=routes, lifespan=lifespan)
