"""Helpers for the identity tests: the authorization flow by hand, and signers.

A signer makes tokens with a provider's own current key, so that a test can
change one claim and see that alone refused.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import socket
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.identity.config import DEFAULT_CLIENT_ID, DEFAULT_REDIRECT_URI, DEMO_PASSWORD
from adapters.standin.seed import EMPLOYERS
from gateway.signin import pkce_pair, sign_in

DEMO_CREDIT_CODE = EMPLOYERS[0].profile.credit_code


def demo_token(issuer: str, username: str = DEMO_CREDIT_CODE) -> str:
    """An access token of a seed account, through the whole code flow."""
    return sign_in(
        issuer, DEFAULT_CLIENT_ID, username, DEMO_PASSWORD, redirect_uri=DEFAULT_REDIRECT_URI
    ).access_token


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@dataclass
class Authorization:
    """One authorization request, driven by hand as a browser would."""

    issuer: str
    client_id: str = DEFAULT_CLIENT_ID
    redirect_uri: str = DEFAULT_REDIRECT_URI
    state: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(8))

    def __post_init__(self) -> None:
        self.verifier, self.challenge = pkce_pair()

    def params(self, **changes: str) -> dict[str, str]:
        return {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile",
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
            **changes,
        }

    def start(self, **changes: str) -> httpx.Response:
        return httpx.get(self.issuer + "/authorize", params=self.params(**changes), timeout=10)

    def code(self, username: str = DEMO_CREDIT_CODE, password: str = DEMO_PASSWORD) -> str:
        page = self.start()
        assert page.status_code == 200, page.text
        handle = page.text.split('name="request_id" value="')[1].split('"')[0]
        answer = httpx.post(
            self.issuer + "/authorize",
            data={"request_id": handle, "username": username, "password": password},
            timeout=10,
        )
        assert answer.status_code == 302, answer.text
        query = redirect_query(answer, self.redirect_uri)
        assert query["state"] == self.state
        assert query["iss"] == self.issuer
        return query["code"]

    def exchange(self, code: str, /, **changes: str) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": self.verifier,
            **changes,
        }
        return httpx.post(self.issuer + "/token", data=form, timeout=10)


def redirect_query(response: httpx.Response, redirect_uri: str) -> dict[str, str]:
    location = response.headers["location"]
    assert location.startswith(redirect_uri + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@functools.cache
def _private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """A PEM parsed once per process: loading one checks the RSA key (milliseconds of
    CPU), and the tests sign hundreds of tokens with a few keys."""
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


class StandinSigner:
    """Signs with the stand-in's current key, read from its data file."""

    def __init__(self, issuer: str, data: Path) -> None:
        self.issuer = issuer
        self.data = data

    def key(self) -> tuple[str, rsa.RSAPrivateKey]:
        with closing(sqlite3.connect(self.data)) as db:
            kid, pem = db.execute(
                "SELECT kid, pem FROM signing_key WHERE retire_at IS NULL "
                "ORDER BY created_at DESC LIMIT 1"
            ).fetchone()
        return kid, _private_key(pem)

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        kid, key = self.key()
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, **headers})

    def public_pem(self) -> bytes:
        return (
            self.key()[1]
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class TinyProvider:
    """Discovery and a JWKS over real HTTP, with keys made here; nothing else."""

    claim = "uscc"

    def __init__(self) -> None:
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}/realms/hrss"
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.pss_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwks_requests = 0
        app = Starlette(
            routes=[
                Route("/realms/hrss/.well-known/openid-configuration", self._discovery),
                Route("/realms/hrss/protocol/openid-connect/certs", self._jwks),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> TinyProvider:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the tiny provider did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    async def _discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "jwks_uri": self.issuer + "/protocol/openid-connect/certs",
                "id_token_signing_alg_values_supported": ["ES256", "PS256"],
            }
        )

    async def _jwks(self, request: Request) -> Response:
        self.jwks_requests += 1
        # No "alg" and no "use": both are optional in RFC 7517.
        ec_jwk = ECAlgorithm.to_jwk(self.ec_key.public_key(), as_dict=True)
        pss_jwk = RSAAlgorithm.to_jwk(self.pss_key.public_key(), as_dict=True)
        for jwk in (ec_jwk, pss_jwk):
            jwk.pop("key_ops", None)
        return JSONResponse({"keys": [{**ec_jwk, "kid": "ec-1"}, {**pss_jwk, "kid": "ps-1"}]})

    def public_pem(self) -> bytes:
        return self.ec_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], alg: str = "ES256", **headers: Any) -> str:
        key: Any = self.ec_key if alg == "ES256" else self.pss_key
        kid = "ec-1" if alg == "ES256" else "ps-1"
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, **headers})
