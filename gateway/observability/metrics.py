"""``/metrics``: the gateway's own Prometheus registry and what feeds it.

Everything hangs off one ``GatewayMetrics`` object, whose registry is its own
(not prometheus-client's global one), so that several apps in one process, as
in the tests, do not collide:

- ``GraphQLMetrics`` (``gateway.observability.graphql``), a Strawberry
  extension: operations by name, type and outcome, and their latency, counted
  in the metrics of the gateway serving the operation (its context's
  ``gateway.metrics``), so that one schema serves any app, or in the
  ``GatewayMetrics`` it is given (``graphql_extension()``);
- ``HttpMetricsMiddleware``, ASGI: HTTP requests by method, route and status,
  and their latency;
- ``on_call(system, operation, outcome, seconds)``: called by the resilience
  layer for every call to a system; ``watch_breaker(system, state_getter)``
  reports each circuit breaker's state at scrape time;
- ``watch_cache(cache)``: the cache's hit and miss counters, read at scrape time;
- ``set_registrations`` (fed by ``registrations.refresh_registrations``):
  registrations by state and the age of the oldest unfinished one;
- ``route()``: the Starlette route serving the text format.

Every label value comes from a set the gateway controls, never from what a
client sent: an operation name is a label only when the operators declared it
(``ObservabilitySettings.operation_names``), otherwise ``other`` (a name is the
caller's free choice, and may hold an ID number); ``anonymous`` when there is
none. HTTP methods outside the standard ones are ``other``, routes are the
routes' templates (``unmatched`` otherwise), outcomes are ``ok``, ``refused``
or one of the gateway's error codes, and the system labels are the systems'
and their adapters' operation names.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.observability.registrations import UNFINISHED, RegistrationCounts
from gateway.observability.settings import ObservabilitySettings

if TYPE_CHECKING:
    from strawberry.extensions import SchemaExtension

    from gateway.cache import GatewayCache

logger = logging.getLogger(__name__)

#: Outcomes of a GraphQL operation besides an error code.
OK = "ok"
REFUSED = "refused"  # not executed: parse, validation, a limit, a wrong method
INTERNAL = "INTERNAL"  # an unexpected error (masked for the client)
CANCELLED = "cancelled"  # the caller left before it ended (a stream closed, a hang-up)

#: Circuit breaker states (purgatory's names), reported even when not current.
#: As ``gateway.resilience`` names them (``BreakerState``), which the alerting rules
#: match (``docker/prometheus/alerts.yml``).
BREAKER_STATES = ("closed", "open", "half-open")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class GatewayMetrics:
    def __init__(
        self,
        settings: ObservabilitySettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or ObservabilitySettings()
        self._clock = clock
        self.registry = CollectorRegistry()
        r = self.registry
        self.graphql_requests = Counter(
            "hrss_graphql_requests",
            "GraphQL operations by name, type and outcome (ok, refused, or the error code).",
            ["operation", "type", "outcome"],
            registry=r,
        )
        self.graphql_seconds = Histogram(
            "hrss_graphql_request_duration_seconds",
            "Time to answer a GraphQL query or mutation.",
            ["operation", "type"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.http_requests = Counter(
            "hrss_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "hrss_http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.system_calls = Counter(
            "hrss_system_calls",
            "Calls to the systems by operation and outcome.",
            ["system", "operation", "outcome"],
            registry=r,
        )
        self.system_seconds = Histogram(
            "hrss_system_call_duration_seconds",
            "Duration of calls to the systems.",
            ["system", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.system_errors = Counter(
            "hrss_system_call_errors",
            "Failed calls to the systems, by kind (every outcome other than ok).",
            ["system", "kind"],
            registry=r,
        )
        self.events = Counter(
            "hrss_events",
            "Wake-ups between processes (gateway/events.py), by direction (sent, received) "
            "and kind (work, changed).",
            ["direction", "kind"],
            registry=r,
        )
        self._events_listening: tuple[str, Callable[[], bool]] | None = None
        self._subscriptions: Callable[[], int] | None = None
        self._operation_names = frozenset(self.settings.operation_names)
        self._breakers: dict[str, Callable[[], str]] = {}
        self._cache: GatewayCache | None = None
        self._registrations: RegistrationCounts | None = None
        self._registrations_at: float | None = None
        r.register(_ScrapeTimeCollector(self))

    # ------------------------------------------------------------ systems

    def on_call(self, system: str, operation: str, outcome: str, seconds: float) -> None:
        """One call to a system ended: ``outcome`` is ``"ok"`` or the kind of failure
        (``"timeout"``, ``"unavailable"``, ``"breaker_open"``...), as the caller names it."""
        self.system_calls.labels(system, operation, outcome).inc()
        self.system_seconds.labels(system, operation).observe(seconds)
        if outcome != OK:
            self.system_errors.labels(system, outcome).inc()

    def watch_breaker(self, system: str, breaker_state: Callable[[], str]) -> None:
        """Report ``breaker_state()`` (``closed``, ``open``, ``half-open``) at each scrape."""
        self._breakers[str(system)] = breaker_state

    def on_event(self, direction: str, kind: str) -> None:
        self.events.labels(direction, kind).inc()

    def watch_events(self, carrier: str, listening: Callable[[], bool]) -> None:
        """Report whether the events carrier (``postgresql``, ``redis``) is connected."""
        self._events_listening = (carrier, listening)

    def watch_subscriptions(self, running: Callable[[], int]) -> None:
        """Report ``running()``, the subscriptions this process runs, at each scrape."""
        self._subscriptions = running

    def watch_cache(self, cache: GatewayCache) -> None:
        self._cache = cache

    def set_registrations(self, counts: RegistrationCounts) -> None:
        self._registrations = counts
        self._registrations_at = self._clock()

    # ------------------------------------------------------------ GraphQL

    def graphql_extension(self) -> Callable[[], SchemaExtension]:
        """A factory for the schema's ``extensions`` list: one extension per operation."""
        # Here, not with the module: a worker keeps these metrics and serves no
        # GraphQL, and Strawberry costs a process about 70 ms of CPU to import.
        from gateway.observability.graphql import GraphQLMetrics

        return lambda: GraphQLMetrics(self)

    def operation_label(self, name: str | None) -> str:
        if name is None:
            return "anonymous"
        return name if name in self._operation_names else "other"

    def observe_operation(
        self, operation_name: str | None, kind: str, outcome: str, seconds: float
    ) -> None:
        """One GraphQL operation (``GraphQLMetrics`` says what it was)."""
        name = self.operation_label(operation_name)
        self.graphql_requests.labels(name, kind, outcome).inc()
        # A subscription's "operation" lasts as long as the client follows it.
        if kind != "subscription":
            self.graphql_seconds.labels(name, kind).observe(seconds)

    # --------------------------------------------------------------- HTTP

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "other"
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_seconds.labels(route).observe(seconds)

    def route(self) -> Route:
        """``GET /metrics`` (``settings.metrics_path``) in Prometheus text format."""
        return Route(self.settings.metrics_path, self.endpoint, methods=["GET"])

    async def endpoint(self, request: Request) -> Response:
        token = self.settings.metrics_token
        if token:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return Response(
                    "Unauthorized\n",
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                    media_type="text/plain",
                )
        body = generate_latest(self.registry)
        return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def exposition(self) -> str:
        return generate_latest(self.registry).decode()


class HttpMetricsMiddleware:
    """ASGI middleware: counts and times HTTP requests by route template (never
    the path itself: paths are the client's to choose)."""

    def __init__(self, app: ASGIApp, *, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = _route_of(scope)
        status = 500  # what the server sends when the app fails before answering
        start = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe_http(scope["method"], route, status, time.perf_counter() - start)


def _route_of(scope: Scope) -> str:
    """The template of the route that will answer (``/graphql``), or ``unmatched``."""
    routes: Iterable[Any] = getattr(scope.get("app"), "routes", ())
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        if isinstance(route, Mount):
            path = path + "/{path:path}"
        if match is Match.FULL:
            return path
        if match is Match.PARTIAL and partial is None:
            partial = path  # the path matched, the method did not (405)
    return partial or "unmatched"


class _ScrapeTimeCollector(Collector):
    """What is read when Prometheus scrapes: breakers, cache counters, registrations."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._m = metrics

    def describe(self) -> Iterable[Metric]:
        # Families come and go with what is watched: let the registry not pre-describe.
        return []

    def collect(self) -> Iterable[Metric]:
        yield from self._breakers()
        yield from self._events()
        yield from self._subscriptions()
        yield from self._cache()
        yield from self._registrations()

    def _breakers(self) -> Iterator[Metric]:
        if not self._m._breakers:
            return
        family = GaugeMetricFamily(
            "hrss_system_breaker_state",
            "1 for the state each system's circuit breaker is in, 0 for the others.",
            labels=["system", "state"],
        )
        for system, getter in sorted(self._m._breakers.items()):
            try:
                current = str(getter())
            except Exception as exc:  # a broken getter must not fail the whole scrape
                logger.warning("breaker state of %s unreadable (%s)", system, type(exc).__name__)
                continue
            for state in dict.fromkeys((*BREAKER_STATES, current)):
                family.add_metric([system, state], 1.0 if state == current else 0.0)
        yield family

    def _events(self) -> Iterator[Metric]:
        if self._m._events_listening is None:
            return  # in-process events: nothing to be connected to
        carrier, listening = self._m._events_listening
        family = GaugeMetricFamily(
            "hrss_events_listening",
            "1 while the process hears the other processes' wake-ups, 0 while it polls only.",
            labels=["carrier"],
        )
        family.add_metric([carrier], 1.0 if listening() else 0.0)
        yield family

    def _subscriptions(self) -> Iterator[Metric]:
        if self._m._subscriptions is None:
            return
        yield GaugeMetricFamily(
            "hrss_subscriptions",
            "Subscriptions running in this process (each following one registration).",
            value=self._m._subscriptions(),
        )

    def _cache(self) -> Iterator[Metric]:
        cache = self._m._cache
        if cache is None:
            return
        family = CounterMetricFamily(
            "hrss_cache_lookups", "Cache lookups by result (hit, miss).", labels=["result"]
        )
        family.add_metric(["hit"], float(cache.hits))
        family.add_metric(["miss"], float(cache.misses))
        yield family

    def _registrations(self) -> Iterator[Metric]:
        counts, at = self._m._registrations, self._m._registrations_at
        if counts is None or at is None:
            return
        by_state = GaugeMetricFamily(
            "hrss_registrations", "Registrations in the store, by state.", labels=["state"]
        )
        for state, count in counts.counts.items():
            by_state.add_metric([state], float(count))
        yield by_state
        age = GaugeMetricFamily(
            "hrss_registration_oldest_age_seconds",
            "Age of the oldest registration in each unfinished state (0 when there is none).",
            labels=["state"],
        )
        now = self._m._clock()
        for state in UNFINISHED:
            oldest = counts.oldest.get(state)
            age.add_metric([state], max(0.0, now - oldest.timestamp()) if oldest else 0.0)
        yield age
        yield GaugeMetricFamily(
            "hrss_registrations_refreshed_timestamp_seconds",
            "When the registration gauges were last read from the store (Unix time).",
            value=at,
        )


__all__ = [
    "BREAKER_STATES",
    "GatewayMetrics",
    "HttpMetricsMiddleware",
]
