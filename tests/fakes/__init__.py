"""In-memory fakes of the systems, with the stand-ins' fault switches.

``fake_systems()`` gives one of each of the three (and social insurance when
asked), keyed by system: each is both the
adapter the engine calls (it satisfies its ``gateway.systems`` Protocol) and
the switchboard a test drives (``faults(...)``, ``reset()``, ``stats()``, as
``RunningStandin`` offers them for a stand-in process). Each starts with the
seed employers of ``adapters.standin.seed`` under their known ids, and no
worker: a test's workers are its own.

``tests/fakes/test_conformance.py`` runs the same behaviours against these and
against the real adapters over the stand-in processes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from gateway.domain.model import System
from tests.fakes.base import FakeSystem
from tests.fakes.employment import FakeEmployment
from tests.fakes.labour import FakeLabour
from tests.fakes.social_insurance import FakeSocialInsurance
from tests.fakes.unemployment import FakeUnemployment

__all__ = [
    "FakeEmployment",
    "FakeLabour",
    "FakeSocialInsurance",
    "FakeSystem",
    "FakeUnemployment",
    "fake_systems",
]


def fake_systems(
    *, social_insurance: bool = False, clock: Callable[[], dt.datetime] | None = None
) -> dict[System, FakeSystem]:
    """A fresh employment, labour and unemployment system, keyed by system; with
    ``social_insurance``, the fourth too, its reviews falling due by ``clock``."""
    systems: dict[System, FakeSystem] = {
        System.EMPLOYMENT: FakeEmployment(),
        System.LABOUR: FakeLabour(),
        System.UNEMPLOYMENT: FakeUnemployment(),
    }
    if social_insurance:
        fake = FakeSocialInsurance(clock=clock)
        systems[fake.system] = fake
    return systems
