"""Observable operation: ``/metrics``, JSON logs, the request id (issue 5).

Each piece composes on its own: an ASGI middleware, a Strawberry extension, a
Starlette route, a logging set-up, an httpx event hook.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.observability.graphql import GraphQLMetrics
    from gateway.observability.logging import (
        QUIET,
        RedactionFilter,
        RequestIdFilter,
        configure_logging,
    )
    from gateway.observability.metrics import GatewayMetrics, HttpMetricsMiddleware
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

#: Where each name lives. Loaded on first use (PEP 562), so that a process that
#: only configures logging (a stand-in, a command) does not load Prometheus and
#: Strawberry through this package.
_HOMES = {
    "QUIET": "logging",
    "RedactionFilter": "logging",
    "RequestIdFilter": "logging",
    "configure_logging": "logging",
    "GatewayMetrics": "metrics",
    "GraphQLMetrics": "graphql",
    "HttpMetricsMiddleware": "metrics",
    "count_registrations": "registrations",
    "refresh_registrations": "registrations",
    "REQUEST_ID_HEADER": "request_id",
    "RequestIdMiddleware": "request_id",
    "add_request_id_header": "request_id",
    "bind_request_id": "request_id",
    "current_request_id": "request_id",
    "with_request_id": "request_id",
    "ObservabilitySettings": "settings",
}


def __getattr__(name: str) -> Any:
    import importlib

    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


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
