"""Which identity platform the gateway trusts: settings only, read at start-up.

Kept apart from the verifier (``gateway.oidc``) so that reading the
configuration imports no HTTP client or JOSE library.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gateway.auth import ConfigurationError

#: Signature algorithms with a public verification key: the only ones a
#: relying party can check without sharing a secret with the provider.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256")
#: The claim our stand-in puts the credit code in, unless told otherwise.
DEFAULT_CREDIT_CODE_CLAIM = "credit_code"
#: What the gateway calls itself as an audience of the provider's tokens.
DEFAULT_AUDIENCE = "hrss-gateway"


def secure_url(url: str) -> bool:
    """HTTPS, or plain HTTP to this machine only (the demo's stand-in)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class OidcSettings:
    """Which provider the gateway trusts, and how it checks that provider's tokens."""

    issuer: str
    audience: str = DEFAULT_AUDIENCE
    credit_code_claim: str = DEFAULT_CREDIT_CODE_CLAIM
    name_claim: str = "name"
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    #: Clock difference allowed between the provider and the gateway.
    leeway_s: float = 30.0
    #: How long the provider's keys are kept before they are fetched again.
    jwks_cache_s: float = 3600.0
    #: At most one unplanned JWKS fetch (unknown kid, failed fetch) per this long.
    jwks_min_refetch_s: float = 10.0
    http_timeout_s: float = 5.0
    http_connect_timeout_s: float = 2.0

    def __post_init__(self) -> None:
        if not secure_url(self.issuer):
            raise ConfigurationError("HRSS_OIDC_ISSUER must be an https URL (http on loopback)")
        if not self.audience:
            raise ConfigurationError("HRSS_OIDC_AUDIENCE must not be empty")
        if not self.credit_code_claim:
            raise ConfigurationError("HRSS_OIDC_CREDIT_CODE_CLAIM must not be empty")
        refused = [a for a in self.algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if refused or not self.algorithms:
            raise ConfigurationError(
                "HRSS_OIDC_ALGORITHMS takes asymmetric algorithms only, one or more of "
                + ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
            )
        if self.leeway_s < 0 or self.leeway_s > 300:
            raise ConfigurationError("HRSS_OIDC_LEEWAY_S must be between 0 and 300 seconds")

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        section: Mapping[str, object] | None = None,
    ) -> OidcSettings | None:
        """Settings from ``HRSS_OIDC_ISSUER``, ``_AUDIENCE``, ``_CREDIT_CODE_CLAIM``,
        ``_NAME_CLAIM``, ``_ALGORITHMS`` (comma-separated), ``_LEEWAY_S``,
        ``_JWKS_CACHE_S``, ``_JWKS_MIN_REFETCH_S``, ``_HTTP_TIMEOUT_S``,
        ``_HTTP_CONNECT_TIMEOUT_S``; then from ``section`` (the ``[oidc]`` table of
        the configuration file, same names in lower case); then the defaults.
        None when no issuer is configured: then no provider is trusted."""
        env = os.environ if environ is None else environ
        file = section or {}

        def pick(name: str, default: object) -> Any:
            return env.get("HRSS_OIDC_" + name.upper(), file.get(name, default))

        issuer = pick("issuer", None)
        if not issuer:
            return None
        d = cls.__dataclass_fields__
        algorithms = pick("algorithms", d["algorithms"].default)
        if isinstance(algorithms, str):
            algorithms = [a.strip() for a in algorithms.split(",") if a.strip()]
        try:
            return cls(
                issuer=str(issuer),
                audience=str(pick("audience", DEFAULT_AUDIENCE)),
                credit_code_claim=str(pick("credit_code_claim", DEFAULT_CREDIT_CODE_CLAIM)),
                name_claim=str(pick("name_claim", d["name_claim"].default)),
                algorithms=tuple(str(a) for a in algorithms),
                **{
                    name: float(pick(name, d[name].default))
                    for name in (
                        "leeway_s",
                        "jwks_cache_s",
                        "jwks_min_refetch_s",
                        "http_timeout_s",
                        "http_connect_timeout_s",
                    )
                },
            )
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"an HRSS_OIDC_* setting is not a number: {exc}") from None
