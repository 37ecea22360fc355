"""Calls to the existing systems that a slow or dead system cannot drag down.

``Resilient`` wraps any system's adapter and offers the same methods, so it
stands wherever the adapter does (``gateway.systems``'s Protocols, or a
system's own). Which methods are reads and which are writes, each system's
package declares (``SystemSpec.reads`` / ``writes``, ``gateway.registry``); a
method declared as neither goes through as a write. Around every call to one
system it adds:

- a bulkhead: at most ``max_in_flight`` calls at once; a caller that gets no
  slot within the call's deadline gets ``Saturated`` (an ``Unavailable``);
- a circuit breaker (purgatory): after ``breaker_threshold`` consecutive
  infrastructure failures (``Unavailable``; never a business refusal) calls fail
  at once with ``CircuitOpen`` until ``breaker_recovery_s`` has passed; then
  one call tries the system, and its outcome closes or reopens the circuit;
- retries of reads only (tenacity: exponential backoff with jitter), all
  within the call's deadline: a retry that could not finish in time is not
  started, so a field never waits longer than the system's timeout.

Writes go through the breaker and the bulkhead once and are never retried
here: the registration engine reconciles a write whose outcome is unknown.

``on_call(system, operation, outcome, seconds)`` hears of every call once it is
over, and ``breaker_state`` tells the breaker's state, for metrics.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import HALF_OPENED, OPENED, Context, HalfOpenedState, OpenedState
from purgatory.service._async.circuitbreaker import AsyncCircuitBreaker
from tenacity import AsyncRetrying, RetryCallState

from gateway.domain.model import EmployerBinding, EmployerProfile, System
from gateway.systems import Rejected, SystemAdapter, Unavailable

if TYPE_CHECKING:
    from gateway.registry import SettingsLike

__all__ = [
    "BreakerState",
    "CircuitOpen",
    "DeadlineExceeded",
    "OnCall",
    "Outcome",
    "ResiliencePolicy",
    "Resilient",
    "Saturated",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
A = TypeVar("A", bound=SystemAdapter)

#: How one call ended: answered (``ok``), refused by the system (``rejected``),
#: failed in the system or on the way (``unavailable``), out of time
#: (``timeout``), refused by the open breaker (``open``), no slot in time
#: (``full``), abandoned by its caller (``cancelled``), or an unexpected error.
Outcome = Literal["ok", "rejected", "unavailable", "timeout", "open", "full", "cancelled", "error"]
BreakerState = Literal["closed", "open", "half-open"]
OnCall = Callable[[System, str, Outcome, float], None]


@dataclass(frozen=True, slots=True)
class ResiliencePolicy:
    """How hard to try one system. ``for_system`` takes the deadline and the
    bulkhead from the system's settings; the rest is gateway-wide."""

    deadline_s: float = 10.0  # one call, slot wait and retries included
    max_in_flight: int = 8
    breaker_threshold: int = 5  # consecutive infrastructure failures that open it
    breaker_recovery_s: float = 30.0  # open this long before one call may try
    read_attempts: int = 3  # a read's tries in all, the first included
    backoff_base_s: float = 0.1  # before the first retry; doubled for each after
    backoff_cap_s: float = 2.0

    def __post_init__(self) -> None:
        if self.deadline_s <= 0 or self.breaker_recovery_s <= 0:
            raise ValueError("deadline_s and breaker_recovery_s must be positive")
        if self.max_in_flight < 1 or self.breaker_threshold < 1 or self.read_attempts < 1:
            raise ValueError("max_in_flight, breaker_threshold and read_attempts must be >= 1")
        if self.backoff_base_s < 0 or self.backoff_cap_s < self.backoff_base_s:
            raise ValueError("backoff_base_s must be >= 0 and backoff_cap_s >= backoff_base_s")

    @classmethod
    def for_system(cls, settings: SettingsLike, **overrides: Any) -> ResiliencePolicy:
        """The system's timeout as the deadline and its ``max_in_flight`` as the bulkhead."""
        policy = cls(deadline_s=settings.timeout, max_in_flight=settings.max_in_flight)
        return replace(policy, **overrides)

    def backoff(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (from 1): exponential, capped, with
        jitter of up to one base on top, so that callers that failed together do
        not come back together."""
        exponential = self.backoff_base_s * 2 ** (retry - 1)
        jitter = random.uniform(0, self.backoff_base_s)
        return min(self.backoff_cap_s, exponential + jitter)


class CircuitOpen(Unavailable):
    """The breaker is open: the system was not called. ``retry_after`` is the time
    left before it lets one call try."""

    reached_system = False


class Saturated(Unavailable):
    """The system's calls in flight were at their cap for the whole deadline:
    the system was not called."""

    reached_system = False


class DeadlineExceeded(Unavailable):
    """The system did not answer within the call's deadline."""


class Resilient(Generic[A]):
    """The bulkhead, breaker and read retries of one system, around every method
    of its adapter. Use ``isinstance(adapter, Resilient)`` to find the wrappers
    (for metrics)."""

    def __init__(
        self,
        adapter: A,
        policy: ResiliencePolicy | None = None,
        *,
        on_call: OnCall | None = None,
        breakers: AsyncCircuitBreakerFactory | None = None,
        reads: Collection[str] | None = None,
        writes: Collection[str] | None = None,
    ) -> None:
        """``breakers`` may be shared between systems (each has its own circuit in
        it); by default each wrapper has its own, held in this process.
        ``reads`` and ``writes`` name the adapter's methods beyond the common
        ones; by default, as the system's registration declares them."""
        if reads is None or writes is None:
            from gateway.registry import registry

            spec = registry().get(adapter.system)
            reads = spec.reads if reads is None else reads
            writes = spec.writes if writes is None else writes
        self._reads = frozenset(reads)
        self._writes = frozenset(writes)
        self._adapter = adapter
        self.system: System = adapter.system
        self.policy = policy or ResiliencePolicy()
        self._on_call = on_call
        self._slots = asyncio.Semaphore(self.policy.max_in_flight)
        self._breakers = breakers or AsyncCircuitBreakerFactory()
        self._circuit = f"system:{self.system.value}"
        self._context: Context | None = None
        self._probing = False
        #: The last failure that counted toward opening the breaker (None once a call
        #: succeeds): what a call held back by the open breaker was held back after.
        self._last_failure: Unavailable | None = None

    @property
    def wrapped(self) -> A:
        return self._adapter

    @property
    def breaker_state(self) -> BreakerState:
        """``half-open`` once the recovery time is over, though the breaker only
        moves when the next call comes: that call will be the one that tries."""
        context = self._context
        if context is None:
            return "closed"
        if context.state == OPENED:
            if _remaining(context) > 0:
                return "open"
            return "half-open"
        if context.state == HALF_OPENED:
            return "half-open"
        return "closed"

    # ------------------------------------------------------------ Protocol

    async def find_employer(self, credit_code: str) -> EmployerBinding | None:
        return await self._read("find_employer", lambda: self._adapter.find_employer(credit_code))

    async def ensure_employer(self, profile: EmployerProfile) -> EmployerBinding:
        return await self._write("ensure_employer", lambda: self._adapter.ensure_employer(profile))

    async def ping(self) -> None:
        await self._read("ping", self._adapter.ping)

    async def aclose(self) -> None:
        await self._adapter.aclose()

    async def probe(self) -> bool:
        """Whether the system answers now, asked even while the breaker is open.

        The probe is the one call a half-open breaker lets through, taken before
        the recovery time is over: an answer closes the breaker at once, a
        failure keeps it open (its recovery time starts again). A worker probes
        a system that failed, so that the steps waiting for it are taken as
        soon as it is back rather than at their backoff or at the breaker's
        recovery time. False also when another call is trying already.
        """
        breaker = await self._breakers.get_breaker(
            self._circuit,
            threshold=self.policy.breaker_threshold,
            ttl=self.policy.breaker_recovery_s,
        )
        self._context = context = breaker.context
        if context.state == OPENED and not self._probing:
            # Nothing awaits between the check and the change: no other probe
            # can slip in between.
            context.set_state(HalfOpenedState())
        started = asyncio.get_running_loop().time()
        deadline = started + self.policy.deadline_s
        try:
            await self._observed(
                "ping",
                started,
                self._attempt("ping", self._adapter.ping, deadline, bounded=True),
            )
        except Unavailable:
            return False
        return True

    def __getattr__(self, name: str) -> Any:
        """The adapter's own methods, each call through the bulkhead and the breaker:
        a declared read is retried, anything else goes once, as a write.

        A wrapper is made once per name and kept: ``isinstance`` against a
        system's Protocol asks for every method, at every step sent. The method
        itself is looked up at each call."""
        if name.startswith("_"):
            raise AttributeError(name)
        target = getattr(self._adapter, name)
        if not callable(target):
            return target
        if name not in self._reads and (
            name not in self._writes and not inspect.iscoroutinefunction(target)
        ):
            return target  # not a call to the system (a helper, a property's method)
        wrappers = self.__dict__.setdefault("_wrappers", {})
        wrapper = wrappers.get(name)
        if wrapper is None:
            wrapper = wrappers[name] = self._wrap(name, target)
        return wrapper

    def _wrap(self, name: str, target: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        if name in self._reads:

            @functools.wraps(target)
            async def read(*args: Any, **kwargs: Any) -> Any:
                return await self._read(name, lambda: getattr(self._adapter, name)(*args, **kwargs))

            return read

        @functools.wraps(target)
        async def write(*args: Any, **kwargs: Any) -> Any:
            return await self._write(name, lambda: getattr(self._adapter, name)(*args, **kwargs))

        return write

    # ------------------------------------------------------------ machinery

    async def _read(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.policy.deadline_s

        def wait(state: RetryCallState) -> float:
            pause = self.policy.backoff(state.attempt_number)
            failure = state.outcome.exception() if state.outcome else None
            if isinstance(failure, Unavailable) and failure.retry_after:
                # The system said when to come back: sooner is pointless.
                pause = max(pause, failure.retry_after)
            return pause

        def stop(state: RetryCallState) -> bool:
            # A retry whose pause alone reaches the deadline could never be
            # answered in time: give up now rather than at the deadline.
            return (
                state.attempt_number >= self.policy.read_attempts
                or loop.time() + state.upcoming_sleep >= deadline
            )

        def retryable(state: RetryCallState) -> bool:
            failure = state.outcome.exception() if state.outcome else None
            return isinstance(failure, Unavailable) and not isinstance(
                failure, CircuitOpen | Saturated
            )

        async def attempts() -> T:
            result: T
            async for attempt in AsyncRetrying(stop=stop, wait=wait, retry=retryable, reraise=True):
                with attempt:
                    result = await self._attempt(operation, call, deadline, bounded=True)
            return result

        return await self._observed(operation, started, attempts())

    async def _write(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        started = loop.time()
        # Only the wait for a slot is bounded here: cutting a write short once
        # sent would turn an answer into an unknown outcome. The adapter's own
        # deadline bounds the exchange.
        deadline = started + self.policy.deadline_s
        return await self._observed(
            operation, started, self._attempt(operation, call, deadline, bounded=False)
        )

    async def _attempt(
        self,
        operation: str,
        call: Callable[[], Awaitable[T]],
        deadline: float,
        *,
        bounded: bool,
    ) -> T:
        """One call to the system, through the breaker and the bulkhead."""
        breaker = await self._admit(operation)
        probe = breaker.context.state == HALF_OPENED
        if probe:
            self._probing = True
        # None: no verdict (the call never reached the system, or its caller left).
        verdict: BaseException | bool | None = None
        cut_short = False
        try:
            await self._acquire(operation, deadline)
            try:
                if bounded:
                    given = deadline - asyncio.get_running_loop().time()
                    try:
                        async with asyncio.timeout_at(deadline):
                            result = await call()
                    except TimeoutError:
                        # A call that waited for a slot most of its deadline and was
                        # then cut short says nothing of the system (the calls that
                        # held the slots said it). Counted, a burst of reads queued
                        # behind the bulkhead opened the breaker on a system that
                        # answered every call it got in time.
                        cut_short = given < self.policy.deadline_s / 2
                        raise DeadlineExceeded(
                            self.system, f"{operation}: no answer within the deadline"
                        ) from None
                else:
                    result = await call()
            finally:
                self._slots.release()
        except Unavailable as exc:
            if not isinstance(exc, Saturated) and not cut_short:
                verdict = exc
            raise
        except Rejected:
            # A refusal is an answer: the system is up.
            verdict = True
            raise
        else:
            verdict = True
            return result
        finally:
            if probe:
                self._probing = False
            if verdict is not None:
                await self._settle(breaker, verdict)

    async def _admit(self, operation: str) -> AsyncCircuitBreaker:
        """The breaker, entered; ``CircuitOpen`` when it lets no call through."""
        breaker = await self._breakers.get_breaker(
            self._circuit,
            threshold=self.policy.breaker_threshold,
            ttl=self.policy.breaker_recovery_s,
        )
        self._context = context = breaker.context
        # From here to the breaker's answer nothing awaits, so that two callers
        # cannot both become the one call a half-open breaker lets through.
        if self._probing and context.state != "closed":
            raise CircuitOpen(self.system, f"{operation}: the circuit is open (a call is trying)")
        try:
            # purgatory's context manager counts every exception as a failure; entering
            # and leaving by hand lets a cancelled call or a full bulkhead count as neither.
            await breaker.__aenter__()
        except OpenedState:
            raise CircuitOpen(
                self.system,
                f"{operation}: the circuit is open",
                retry_after=max(0.0, _remaining(context)),
                held_back_after=self._last_failure,
            ) from None
        return breaker

    async def _settle(self, breaker: AsyncCircuitBreaker, verdict: BaseException | bool) -> None:
        before = breaker.context.state
        self._last_failure = verdict if isinstance(verdict, Unavailable) else None
        if isinstance(verdict, BaseException):
            await breaker.__aexit__(type(verdict), verdict, verdict.__traceback__)
        else:
            await breaker.__aexit__(None, None, None)
        after = breaker.context.state
        if after != before:
            state = self.breaker_state
            level = logging.INFO if state == "closed" else logging.WARNING
            log.log(level, "the %s system's circuit breaker is %s", self.system.value, state)

    async def _acquire(self, operation: str, deadline: float) -> None:
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            raise Saturated(
                self.system,
                f"{operation}: too many calls in flight "
                f"(at most {self.policy.max_in_flight}) for the whole deadline",
            ) from None

    async def _observed(self, operation: str, started: float, call: Awaitable[T]) -> T:
        outcome: Outcome = "error"
        try:
            result = await call
            outcome = "ok"
            return result
        except CircuitOpen:
            outcome = "open"
            raise
        except Saturated:
            outcome = "full"
            raise
        except DeadlineExceeded:
            outcome = "timeout"
            raise
        except Unavailable:
            outcome = "unavailable"
            raise
        except Rejected:
            outcome = "rejected"
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            if self._on_call is not None:
                seconds = asyncio.get_running_loop().time() - started
                try:
                    self._on_call(self.system, operation, outcome, seconds)
                except Exception:
                    # Observing must never fail the call it observes.
                    log.exception("the on_call hook failed")


def _remaining(context: Context) -> float:
    """Seconds before an open breaker lets one call try (purgatory keeps wall-clock time)."""
    opened_at = context.opened_at or 0.0
    return opened_at + float(context.ttl) - time.time()
