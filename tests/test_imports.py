"""What a process loads at start-up: only what it runs.

Every stand-in, worker and command the tests (and operators) start goes through
``gateway.cli``; loading Strawberry, SQLAlchemy, Alembic and Prometheus there cost
each of them well over a second. Each check runs a fresh interpreter, as a
process started by the tests does, and lists the heavy packages it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Packages that a module imported at start-up must not bring along.
HEAVY = ("strawberry", "graphql", "sqlalchemy", "alembic", "prometheus_client", "zeep", "spyne")

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2:]))))
"""


def heavy_packages_loaded_by(module: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, *HEAVY],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize(
    "module",
    [
        # The light settings: where each system lives, the defaults.
        "gateway.settings",
        # The configuration a worker and ``serve`` read first.
        "gateway.config",
        # The command line itself (``legacy``, ``accounts``, ``audit``, ``--help``).
        "gateway.cli",
        "gateway.logs",
        # The store's plain records, without the engine that stores them.
        "gateway.store.model",
    ],
)
def test_a_light_module_loads_nothing_heavy(module: str) -> None:
    assert heavy_packages_loaded_by(module) == []


def test_the_probe_sees_heavy_packages_where_they_are() -> None:
    """The check can fail: the store's engine does load SQLAlchemy and Alembic."""
    assert {"sqlalchemy", "alembic"} <= set(heavy_packages_loaded_by("gateway.store.database"))
