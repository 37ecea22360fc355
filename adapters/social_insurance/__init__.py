"""The social insurance system (社会保险登记) as the gateway sees it: ``SocialInsuranceAdapter``.

The adapter lives in ``adapter.py`` and the package's registration with the
gateway in ``system.py``. Importing the package loads neither: the registry reads
``system.py`` at every start, and only a process that calls the system builds
the adapter (names below are loaded on first use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.social_insurance.adapter import SocialInsuranceAdapter
    from adapters.social_insurance.protocol import SocialInsuranceSystem
    from adapters.social_insurance.settings import SocialInsuranceSettings

__all__ = ["SocialInsuranceAdapter", "SocialInsuranceSettings", "SocialInsuranceSystem"]

_LAZY = {
    "SocialInsuranceAdapter": "adapters.social_insurance.adapter",
    "SocialInsuranceSettings": "adapters.social_insurance.settings",
    "SocialInsuranceSystem": "adapters.social_insurance.protocol",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
