"""Observable operation: ``/metrics``, JSON logs, the request id (issue 5).

Each piece composes on its own: an ASGI middleware, a Strawberry extension, a
Starlette route, a logging set-up, an httpx event hook.
"""

from gateway.observability.logging import (
    QUIET,
    RedactionFilter,
    RequestIdFilter,
    configure_logging,
)
from gateway.observability.metrics import GatewayMetrics, GraphQLMetrics, HttpMetricsMiddleware
from gateway.observability.registrations import count_registrations, refresh_registrations
from gateway.observability.request_id import (
    REQUEST_ID_HEADER,
    RequestIdMiddleware,
    add_request_id_header,
    bind_request_id,
    current_request_id,
    with_request_id,
)
from gateway.observability.settings import ObservabilitySettings

__all__ = [
    "QUIET",
    "REQUEST_ID_HEADER",
    "GatewayMetrics",
    "GraphQLMetrics",
    "HttpMetricsMiddleware",
    "ObservabilitySettings",
    "RedactionFilter",
    "RequestIdFilter",
    "RequestIdMiddleware",
    "add_request_id_header",
    "bind_request_id",
    "configure_logging",
    "count_registrations",
    "current_request_id",
    "refresh_registrations",
    "with_request_id",
]
