"""The ``/__sim/`` surface every stand-in offers besides its contract.

Faults (latency, jitter, error rate, down, commit-then-drop, maintenance) are
applied around each contract operation by ``Simulator.run``; each system says
how its own infrastructure errors look (``SystemAnswers``), since they differ:
an HTML page, a SOAP fault, a GBK JSON error. Requests are counted per
operation so that tests and benchmarks can see how many calls the gateway made.

Two settings go beyond the list in ``shared/legacy/README.md`` and are
documented as extensions: ``error_after_commit`` (commit a write, then answer
with the infrastructure error: the "error after commit" fault point) and
``stall_s`` (how long ``commit_then_drop`` holds the response back, 600 s by
default). ``retry_after_s`` is the ``Retry-After`` a maintenance answer gives.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass(slots=True)
class Faults:
    latency_ms: int = 0
    jitter_ms: int = 0
    error_rate: float = 0.0
    down: bool = False
    commit_then_drop: float = 0.0
    maintenance: bool = False
    error_after_commit: float = 0.0
    retry_after_s: int = 60
    stall_s: float = 600.0

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update; raise ValueError naming the first bad field."""
        known = {f.name: f.type for f in fields(self)}
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            kind = known.get(name)
            if kind is None:
                raise ValueError(f"unknown fault setting: {name}")
            if kind == "bool":
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number")
            elif value < 0 or (
                name in ("error_rate", "commit_then_drop", "error_after_commit") and value > 1
            ):
                raise ValueError(f"{name} is out of range")
            checked[name] = int(value) if kind == "int" else value
        for name, value in checked.items():
            setattr(self, name, value)


class SystemAnswers(Protocol):
    """How one system answers when it is in trouble."""

    def infra_error(self) -> Response: ...
    def down(self) -> Response: ...
    def maintenance(self, retry_after_s: int) -> Response: ...


@dataclass(slots=True)
class Outcome:
    response: Response
    committed: bool = False


class Simulator:
    def __init__(self, answers: SystemAnswers, *, rng: random.Random | None = None) -> None:
        self.answers = answers
        self.faults = Faults()
        self.stats: Counter[str] = Counter()
        #: Requests in flight that began since the last reset: one still held by a
        #: fault set before it (a long latency) is not the next test's concurrency.
        self._in_flight: Counter[str] = Counter()
        self._era = 0
        self.peak_in_flight: Counter[str] = Counter()
        self._rng = rng or random.Random()

    # ------------------------------------------------------------ the guard

    async def run(
        self, operation: str, write: bool, call: Callable[[], Awaitable[Outcome]]
    ) -> Response:
        """Count the request, apply the faults, and carry out ``call``."""
        self.stats[operation] += 1
        era = self._era
        self._in_flight[operation] += 1
        self.peak_in_flight[operation] = max(
            self.peak_in_flight[operation], self._in_flight[operation]
        )
        try:
            return await self._run(operation, write, call)
        finally:
            if era == self._era:
                self._in_flight[operation] -= 1

    async def _run(
        self, operation: str, write: bool, call: Callable[[], Awaitable[Outcome]]
    ) -> Response:
        f = self.faults
        if f.down:
            return self.answers.down()
        if f.maintenance:
            return self.answers.maintenance(f.retry_after_s)
        delay_ms = f.latency_ms + (self._rng.uniform(0, f.jitter_ms) if f.jitter_ms else 0)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if f.error_rate and self._rng.random() < f.error_rate:
            return self.answers.infra_error()
        outcome = await call()
        if write and outcome.committed:
            if f.commit_then_drop and self._rng.random() < f.commit_then_drop:
                await asyncio.sleep(f.stall_s)
                return self.answers.infra_error()
            if f.error_after_commit and self._rng.random() < f.error_after_commit:
                return self.answers.infra_error()
        return outcome.response

    def operation(
        self, name: str, *, write: bool = False
    ) -> Callable[
        [Callable[[Request], Awaitable[Response]]], Callable[[Request], Awaitable[Response]]
    ]:
        """Decorate a Starlette endpoint as one contract operation.

        A write endpoint calls ``mark_committed(request)`` once its transaction
        has committed, so that the after-commit faults apply to it only then.
        """

        def decorate(
            endpoint: Callable[[Request], Awaitable[Response]],
        ) -> Callable[[Request], Awaitable[Response]]:
            async def guarded(request: Request) -> Response:
                async def call() -> Outcome:
                    request.state.committed = False
                    response = await endpoint(request)
                    return Outcome(response, bool(request.state.committed))

                return await self.run(name, write, call)

            guarded.__name__ = endpoint.__name__
            guarded.__doc__ = endpoint.__doc__
            return guarded

        return decorate

    # --------------------------------------------------------- the surface

    def routes(self) -> list[Route]:
        return [
            Route("/__sim/faults", self._get_faults, methods=["GET"]),
            Route("/__sim/faults", self._set_faults, methods=["POST"]),
            Route("/__sim/reset", self._reset, methods=["POST"]),
            Route("/__sim/stats", self._get_stats, methods=["GET"]),
        ]

    async def _get_faults(self, request: Request) -> Response:
        return JSONResponse(asdict(self.faults))

    async def _set_faults(self, request: Request) -> Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            self.faults.update(body)
        except ValueError as exc:  # includes JSONDecodeError
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(asdict(self.faults))

    async def _reset(self, request: Request) -> Response:
        """Clear the faults and the request counts; the data stays."""
        self.faults = Faults()
        self.stats.clear()
        self._era += 1
        self._in_flight.clear()
        self.peak_in_flight.clear()
        return JSONResponse(asdict(self.faults))

    async def _get_stats(self, request: Request) -> Response:
        """Requests per operation since the last reset, and the most that were in
        flight at once per operation (to check a client's concurrency bound)."""
        return JSONResponse(
            {
                "total": sum(self.stats.values()),
                "operations": dict(self.stats),
                "peak_in_flight": dict(self.peak_in_flight),
            }
        )


def mark_committed(request: Request) -> None:
    """Tell the simulator that this request's write has been committed."""
    request.state.committed = True
