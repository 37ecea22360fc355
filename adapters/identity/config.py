"""What the identity stand-in is told: its issuer URL, its clients, the lifetimes.

Read from ``HRSS_IDENTITY_*`` variables; the defaults match what the gateway
trusts in the demo (``gateway/demo.py``), so that neither side needs settings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.oidc_settings import DEFAULT_AUDIENCE, DEFAULT_CREDIT_CODE_CLAIM

DEFAULT_PORT = 8104
#: The demo's one client: public (no secret, PKCE instead), as a command-line
#: tool or a browser page is. Not the gateway's audience: its ID tokens (whose
#: audience is the client) must not pass as access tokens to the gateway.
DEFAULT_CLIENT_ID = "hrss-signin"
#: Where ``hrss-gateway signin`` says the code should go (it reads the redirect
#: itself, so nothing needs to listen there).
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
DEFAULT_CLIENTS: dict[str, tuple[str, ...]] = {
    DEFAULT_CLIENT_ID: (
        DEFAULT_REDIRECT_URI,
        "http://localhost:8765/callback",
        "http://127.0.0.1:8000/oidc/callback",
    ),
}
DEMO_PASSWORD = "demo-password"  # noqa: S105 - the demo accounts' password, printed on start


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    issuer: str
    audience: str = DEFAULT_AUDIENCE
    credit_code_claim: str = DEFAULT_CREDIT_CODE_CLAIM
    #: client id -> the redirect URIs registered for it (matched exactly).
    clients: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_CLIENTS))
    code_ttl_s: float = 60.0  # an authorization code
    request_ttl_s: float = 600.0  # a sign-in form, from showing to posting
    token_ttl_s: int = 3600  # id and access tokens
    #: How long a replaced signing key stays published after a rotation.
    keep_old_key_s: float = 3600.0

    @classmethod
    def from_env(cls, port: int, environ: Mapping[str, str] | None = None) -> IdentitySettings:
        """``HRSS_IDENTITY_ISSUER`` (default ``http://127.0.0.1:<port>``), ``_AUDIENCE``,
        ``_CREDIT_CODE_CLAIM``, ``_CLIENTS`` (JSON: client id -> redirect URIs),
        ``_CODE_TTL_S``, ``_TOKEN_TTL_S``, ``_KEEP_OLD_KEY_S``."""
        env = os.environ if environ is None else environ
        p = "HRSS_IDENTITY_"
        clients: Mapping[str, tuple[str, ...]] = dict(DEFAULT_CLIENTS)
        if env.get(p + "CLIENTS"):
            raw = json.loads(env[p + "CLIENTS"])
            clients = {str(c): tuple(str(u) for u in uris) for c, uris in raw.items()}
        return cls(
            issuer=env.get(p + "ISSUER", f"http://127.0.0.1:{port}").rstrip("/"),
            audience=env.get(p + "AUDIENCE", DEFAULT_AUDIENCE),
            credit_code_claim=env.get(p + "CREDIT_CODE_CLAIM", DEFAULT_CREDIT_CODE_CLAIM),
            clients=clients,
            code_ttl_s=float(env.get(p + "CODE_TTL_S", 60)),
            token_ttl_s=int(env.get(p + "TOKEN_TTL_S", 3600)),
            keep_old_key_s=float(env.get(p + "KEEP_OLD_KEY_S", 3600)),
        )
