"""The employment system (就业) as the gateway sees it: ``EmploymentAdapter``.

The adapter lives in ``adapter.py`` and the package's registration with the
gateway in ``system.py``. Importing the package loads neither: the registry reads
``system.py`` at every start, and only a process that calls the system builds
the adapter (names below are loaded on first use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.employment.adapter import MAX_PAGE_SIZE, QUERY_CHUNK, EmploymentAdapter

__all__ = ["MAX_PAGE_SIZE", "QUERY_CHUNK", "EmploymentAdapter"]

_LAZY = {
    "EmploymentAdapter": "adapters.employment.adapter",
    "QUERY_CHUNK": "adapters.employment.adapter",
    "MAX_PAGE_SIZE": "adapters.employment.adapter",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
