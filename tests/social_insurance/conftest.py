"""The social insurance stand-in as a real process, shared per xdist worker.

The shared one is seeded; each test gets it with its faults cleared and the
quota off, since a quick run of tests easily makes more than 20 requests a
second. The tests about the quota turn it back on.
"""

from __future__ import annotations

import pytest

from adapters.standin.process import RunningStandin, start_standin

NAME = "social-insurance"


@pytest.fixture
def social_insurance_standin(
    _standins: dict[str, RunningStandin], tmp_path_factory: pytest.TempPathFactory
) -> RunningStandin:
    if NAME not in _standins:
        _standins[NAME] = start_standin(NAME, tmp_path_factory.getbasetemp(), seed=True)
    standin = _standins[NAME]
    standin.reset()
    standin.faults(quota_per_s=0)
    return standin
