"""What every fake system shares: the stand-ins' fault switches and request counts.

A fake is an in-memory system behind one of the Protocols of ``gateway.systems``:
it is its own adapter, and it answers with the errors the real adapter raises
for what the real system (a stand-in process) answers. The switches are the
stand-ins' own ``/__sim/faults`` settings (``adapters.standin.sim.Faults``,
validated the same way), applied in the same order, and the counts are kept
under the stand-ins' operation names, so that a test reads
``systems[System.LABOUR].stats()["FileContract"]`` against a fake as it reads
it against a stand-in.

How each fault reaches the engine is what the real adapter makes of the
stand-in's answer; ``tests/fakes/test_conformance.py`` checks both agree:

- ``down`` and ``maintenance`` refuse before any work. The employment and labour
  adapters cannot tell a 503 from a failure after the write (``outcome_unknown``
  for a write); the unemployment adapter can (a 503 is always "did nothing").
  ``maintenance`` carries ``retry_after_s`` as ``Unavailable.retry_after``.
- ``error_rate`` fails a call before it does anything, with a server error.
- ``commit_then_drop`` and ``error_after_commit`` commit the write, then the
  answer is lost: ``Unavailable(outcome_unknown=True)``. The stand-in holds a
  dropped answer back for ``stall_s`` and the adapter gives up at its timeout;
  the fake raises at once, since only the outcome matters to the caller.
- ``latency_ms`` and ``jitter_ms`` delay every call.
"""

from __future__ import annotations

import abc
import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, ClassVar, TypeVar

from adapters.standin.sim import Faults
from gateway.domain.model import EmployerBinding, EmployerProfile, System
from gateway.systems import Unavailable

T = TypeVar("T")


class FakeSystem(abc.ABC):
    """Faults, counts and the calling convention of one in-memory system."""

    system: System
    #: Whether the real adapter reports a write refused by a 503 as of unknown outcome.
    UNAVAILABLE_IS_UNKNOWN: ClassVar[bool] = True
    #: The stand-in's operation the adapter's ``ping`` calls.
    PING: ClassVar[str]

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self._faults = Faults()
        self._stats: Counter[str] = Counter()
        self._rng = rng or random.Random()
        self._serial = 0
        self.closed = False

    # ------------------------------------------- the stand-ins' /__sim/ surface

    def faults(self, **settings: Any) -> dict[str, Any]:
        """Change some fault settings (``POST /__sim/faults``); answer them all."""
        self._faults.update(settings)
        return asdict(self._faults)

    def reset(self) -> None:
        """Clear the faults and the counts; the data stays (``POST /__sim/reset``)."""
        self._faults = Faults()
        self._stats.clear()

    def stats(self) -> dict[str, int]:
        """Requests per operation since the last reset."""
        return dict(self._stats)

    # ------------------------------------------------------------- the calls

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    async def _call(self, operation: str, act: Callable[[], T], *, write: bool = False) -> T:
        """Count the call, apply the faults around ``act`` as the stand-in does."""
        self._stats[operation] += 1
        f = self._faults
        unknown_if_refused = write and self.UNAVAILABLE_IS_UNKNOWN
        if f.down:
            raise Unavailable(
                self.system, f"{operation}: the system is down", outcome_unknown=unknown_if_refused
            )
        if f.maintenance:
            raise Unavailable(
                self.system,
                f"{operation}: the system is in maintenance",
                retry_after=float(f.retry_after_s),
                outcome_unknown=unknown_if_refused,
            )
        delay_ms = f.latency_ms + (self._rng.uniform(0, f.jitter_ms) if f.jitter_ms else 0)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if f.error_rate and self._rng.random() < f.error_rate:
            raise Unavailable(self.system, f"{operation}: server error", outcome_unknown=write)
        # A refusal raises here: nothing was committed, so no after-commit fault applies.
        result = act()
        if write:
            if f.commit_then_drop and self._rng.random() < f.commit_then_drop:
                raise Unavailable(
                    self.system, f"{operation}: no answer in time", outcome_unknown=True
                )
            if f.error_after_commit and self._rng.random() < f.error_after_commit:
                raise Unavailable(
                    self.system, f"{operation}: server error after commit", outcome_unknown=True
                )
        return result

    @abc.abstractmethod
    async def find_employer(self, credit_code: str) -> EmployerBinding | None: ...

    @abc.abstractmethod
    async def ensure_employer(self, profile: EmployerProfile) -> EmployerBinding: ...

    async def ping(self) -> None:
        await self._call(self.PING, lambda: None)

    async def aclose(self) -> None:
        self.closed = True
