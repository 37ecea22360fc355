"""``hrss-gateway signin``: an access token from the identity provider, for GraphiQL.

Runs the authorization code flow with PKCE (S256) as a public client would:
discovery, the authorization request, the sign-in form, the code from the
redirect (checked against the ``state`` and ``iss`` sent), and the exchange of
code and verifier at the token endpoint. A browser would show the form to a
person; here the form of the demo's stand-in is posted directly, so this
command is for the demo and for tests, not for the real platform's pages.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx


class SignInError(Exception):
    """The flow stopped; the message says where (never the password)."""


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    id_token: str | None
    expires_in: int | None


def pkce_pair() -> tuple[str, str]:
    """A fresh code verifier (RFC 7636 §4.1) and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)  # 64 characters of the unreserved set
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class _Form(HTMLParser):
    """The first form of a page: where it posts and its hidden fields."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action, self._in_form = a.get("action", ""), True
        elif tag == "input" and self._in_form and a.get("type") == "hidden":
            self.hidden[a.get("name", "")] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def sign_in(
    provider: str,
    client_id: str,
    username: str,
    password: str,
    *,
    redirect_uri: str,
    scope: str = "openid profile",
    client: httpx.Client | None = None,
) -> Tokens:
    """The tokens of ``username`` at ``provider`` (its issuer URL)."""
    http = client or httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0))
    try:
        return _flow(http, provider.rstrip("/"), client_id, username, password, redirect_uri, scope)
    except httpx.HTTPError as exc:
        raise SignInError(f"the provider did not answer: {type(exc).__name__}") from None
    finally:
        if client is None:
            http.close()


def _flow(
    http: httpx.Client,
    issuer: str,
    client_id: str,
    username: str,
    password: str,
    redirect_uri: str,
    scope: str,
) -> Tokens:
    meta = _json(http.get(issuer + "/.well-known/openid-configuration"), "discovery")
    if meta.get("issuer") != issuer:
        raise SignInError("the discovery document names another issuer")
    if "S256" not in meta.get("code_challenge_methods_supported", []):
        raise SignInError("the provider does not offer PKCE with S256")
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    page = http.get(
        meta["authorization_endpoint"],
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    _follow_error(page, redirect_uri)
    if page.status_code != 200:
        raise SignInError(f"the authorization request was refused (HTTP {page.status_code})")
    form = _Form()
    form.feed(page.text)
    if form.action is None:
        raise SignInError("the provider showed no sign-in form")
    answer = http.post(
        urljoin(str(page.url), form.action),
        data={**form.hidden, "username": username, "password": password},
    )
    if answer.status_code != 302:
        raise SignInError("sign-in refused: wrong username or password")
    params = _follow_error(answer, redirect_uri)
    if params.get("state") != state:
        raise SignInError("the redirect carries another state: not our sign-in")
    if meta.get("authorization_response_iss_parameter_supported") and params.get("iss") != issuer:
        raise SignInError("the redirect names another issuer")  # RFC 9207 mix-up defence
    body = _json(
        http.post(
            meta["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": params.get("code", ""),
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "code_verifier": verifier,
            },
        ),
        "token",
    )
    access = body.get("access_token")
    if not isinstance(access, str) or str(body.get("token_type", "")).lower() != "bearer":
        raise SignInError("the token endpoint gave no bearer access token")
    return Tokens(access, body.get("id_token"), body.get("expires_in"))


def _follow_error(response: httpx.Response, redirect_uri: str) -> dict[str, str]:
    """The query of a redirect to ``redirect_uri``; an OAuth error there is raised."""
    if response.status_code != 302:
        return {}
    location = response.headers.get("location", "")
    if not location.startswith(redirect_uri):
        raise SignInError("the provider redirected elsewhere than the redirect URI")
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    if "error" in params:
        raise SignInError(
            f"the provider refused: {params['error']} {params.get('error_description', '')}"
        )
    return params


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        detail = body.get("error", "") if isinstance(body, dict) else ""
        raise SignInError(f"the {what} endpoint answered HTTP {response.status_code} {detail}")
    return body
