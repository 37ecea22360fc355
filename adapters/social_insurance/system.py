"""The social insurance system (社会保险) as the gateway registers it: ``SPEC``.

Off unless a deployment switches it on (``HRSS_SOCIAL_INSURANCE_ENABLED=true``,
or ``enabled = true`` in ``[systems.social_insurance]``); ``serve --demo``
switches it on. When on, opening an employer's account also registers the unit
for insurance (单位参保登记: ``ensure_employer``), ``/readyz`` and the metrics
report it, and its stand-in runs in the demo.

Its declarations (增员 / 减员) are not yet steps of a plan: they are reviewed by
the agency later, so a step must wait for an outcome it polls for, and an
approved one is undone by the reverse declaration. Their operations join
``operations`` and ``plan`` below with that step kind. See ``gateway/registry.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from adapters.social_insurance.model import SYSTEM
from adapters.social_insurance.settings import DEFAULT_PORT, SocialInsuranceSettings
from gateway.registry import Standin, SystemSpec

if TYPE_CHECKING:
    import httpx

    from gateway.domain.limits import Limits
    from gateway.systems import SystemAdapter


def settings(environ: Mapping[str, str], section: Mapping[str, Any]) -> SocialInsuranceSettings:
    """``HRSS_SOCIAL_INSURANCE_URL``, ``_APP_ID``, ``_APP_SECRET``, ``_SM4_KEY``,
    ``_TIMEOUT``, ``_CONNECT_TIMEOUT``, ``_MAX_IN_FLIGHT``, or the
    ``[systems.social_insurance]`` table."""
    return SocialInsuranceSettings.from_env(environ, section)


def adapter(settings: SocialInsuranceSettings, client: httpx.AsyncClient) -> SystemAdapter:
    from adapters.social_insurance import SocialInsuranceAdapter

    return SocialInsuranceAdapter.from_settings(settings, client=client)


def standin(settings: SocialInsuranceSettings, data: str | None, seed: bool) -> Any:
    from adapters.social_insurance.standin import create_app

    return create_app(data=data, seed=seed, settings=settings)


def seed_units() -> dict[str, str]:
    from adapters.social_insurance.review import SEED_UNITS
    from adapters.standin.seed import EMPLOYERS

    return {e.profile.credit_code: u for e, u in zip(EMPLOYERS, SEED_UNITS, strict=True)}


def limits() -> Limits:
    from adapters.social_insurance.limits import LIMITS

    return LIMITS


SPEC = SystemSpec(
    system=SYSTEM,
    name_zh="社会保险登记系统",
    name_en="social insurance system",
    settings=settings,
    adapter=adapter,
    limits=limits,
    standin=Standin(standin, DEFAULT_PORT, seed_units),
    reads=frozenset({"declaration", "find_declarations", "insurance"}),
    writes=frozenset({"declare_addition", "declare_removal", "withdraw", "reverse"}),
    enabled_by_default=False,
    in_demo=True,
    secrets=("app_secret", "sm4_key"),
)
