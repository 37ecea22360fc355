"""Where the social insurance system lives and how to sign for it, read once.

The system is a plug-in the province switches on later, so its settings live in
its package rather than in ``gateway.settings``: ``HRSS_SOCIAL_INSURANCE_URL``,
``_APP_ID``, ``_APP_SECRET``, ``_SM4_KEY`` (32 hex digits), ``_TIMEOUT``,
``_CONNECT_TIMEOUT``, ``_MAX_IN_FLIGHT``. The stand-in reads the same variables
for its side of the credentials, so the defaults on both sides match.

Standard library only: the stand-in and the command line import this at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_PORT = 8105
DEFAULT_APP_ID = "hrss-gateway"
DEFAULT_APP_SECRET = "demo-social-insurance-secret"  # noqa: S105 - the demo's, documented
#: The demo's SM4 key (16 bytes, hex); a deployment configures the agency's.
DEFAULT_SM4_KEY = "0123456789abcdeffedcba9876543210"

_PREFIX = "HRSS_SOCIAL_INSURANCE_"


@dataclass(frozen=True, slots=True)
class SocialInsuranceSettings:
    """How to reach the system and sign for it. ``repr`` hides the secrets."""

    url: str = f"http://127.0.0.1:{DEFAULT_PORT}"
    app_id: str = DEFAULT_APP_ID
    app_secret: str = field(default=DEFAULT_APP_SECRET, repr=False)
    sm4_key: str = field(default=DEFAULT_SM4_KEY, repr=False)  # hex, 32 digits
    timeout: float = 10.0  # overall deadline of one call, seconds
    connect_timeout: float = 2.0
    max_in_flight: int = 8  # concurrent calls; the quota is per second, not per call

    def __post_init__(self) -> None:
        # A wrong key would only show as every ID number refused (1400): say so at start.
        try:
            key = bytes.fromhex(self.sm4_key)
        except ValueError:
            raise ValueError(f"{_PREFIX}SM4_KEY must be hexadecimal") from None
        if len(key) != 16:
            raise ValueError(f"{_PREFIX}SM4_KEY must be 16 bytes (32 hex digits)")
        if not self.app_id or not self.app_secret:
            raise ValueError(f"{_PREFIX}APP_ID and _APP_SECRET must not be empty")

    @property
    def key(self) -> bytes:
        return bytes.fromhex(self.sm4_key)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, section: Mapping[str, object] | None = None
    ) -> SocialInsuranceSettings:
        """The environment first, then ``section`` (the system's table of a
        configuration file, same names in lower case), then the defaults."""
        env = os.environ if environ is None else environ
        file = section or {}
        default = cls()

        def pick(name: str) -> str:
            return str(env.get(_PREFIX + name.upper(), file.get(name, getattr(default, name))))

        return cls(
            url=pick("url").rstrip("/"),
            app_id=pick("app_id"),
            app_secret=pick("app_secret"),
            sm4_key=pick("sm4_key"),
            timeout=float(pick("timeout")),
            connect_timeout=float(pick("connect_timeout")),
            max_in_flight=int(pick("max_in_flight")),
        )
