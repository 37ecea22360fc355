"""Where the social insurance system lives and how to sign for it, read once.

The system is a plug-in the province switches on later, so its settings live in
its package rather than in ``gateway.settings``: ``HRSS_SOCIAL_INSURANCE_URL``,
``_APP_ID``, ``_APP_SECRET``, ``_SM4_KEY`` (32 hex digits), ``_TIMEOUT``,
``_CONNECT_TIMEOUT``, ``_MAX_IN_FLIGHT``, and the province's floor and ceiling
of the monthly contribution wage a hire declares, ``_WAGE_FLOOR`` and
``_WAGE_CEILING`` (the older ``HRSS_CONTRIBUTION_WAGE_FLOOR`` / ``_CEILING``
still work). The stand-in reads the same variables
for its side of the credentials, so the defaults on both sides match.

Standard library only: the stand-in and the command line import this at start-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from gateway.domain.checks import is_amount

DEFAULT_PORT = 8105
DEFAULT_APP_ID = "hrss-gateway"
DEFAULT_APP_SECRET = "demo-social-insurance-secret"  # noqa: S105 - the demo's, documented
#: The demo's SM4 key (16 bytes, hex); a deployment configures the agency's.
DEFAULT_SM4_KEY = "0123456789abcdeffedcba9876543210"

_PREFIX = "HRSS_SOCIAL_INSURANCE_"
#: The wage's older variables, from before the system's settings were its own.
_OLDER_WAGE = {
    "wage_floor": "HRSS_CONTRIBUTION_WAGE_FLOOR",
    "wage_ceiling": "HRSS_CONTRIBUTION_WAGE_CEILING",
}


@dataclass(frozen=True, slots=True)
class ContributionWage:
    """The province's floor and ceiling of the monthly contribution wage (缴费工资基数
    上下限), in yuan."""

    floor: Decimal = Decimal("3800.00")
    ceiling: Decimal = Decimal("20000.00")

    def __post_init__(self) -> None:
        for name in ("floor", "ceiling"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not is_amount(value):
                raise ValueError(f"the contribution wage {name} must be yuan with 2 decimals")
        if self.floor > self.ceiling:
            raise ValueError("the contribution wage floor is above its ceiling")


def _amount(name: str, text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{name} must be an amount in yuan, not {text!r}") from None


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
    #: The province's floor and ceiling of a hire's monthly contribution wage.
    wage_floor: Decimal = Decimal("3800.00")
    wage_ceiling: Decimal = Decimal("20000.00")

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
        self.contribution_wage  # noqa: B018 - a floor above its ceiling fails at start-up

    @property
    def contribution_wage(self) -> ContributionWage:
        """The wage rule a hire's row is checked against."""
        return ContributionWage(self.wage_floor, self.wage_ceiling)

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

        def wage(name: str) -> str:
            older = env.get(_OLDER_WAGE[name])
            return str(
                env.get(_PREFIX + name.upper()) or older or file.get(name, getattr(default, name))
            )

        return cls(
            url=pick("url").rstrip("/"),
            app_id=pick("app_id"),
            app_secret=pick("app_secret"),
            sm4_key=pick("sm4_key"),
            timeout=float(pick("timeout")),
            connect_timeout=float(pick("connect_timeout")),
            max_in_flight=int(pick("max_in_flight")),
            wage_floor=_amount("wage_floor", wage("wage_floor")),
            wage_ceiling=_amount("wage_ceiling", wage("wage_ceiling")),
        )
