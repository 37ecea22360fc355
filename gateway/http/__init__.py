"""The HTTP layer of the GraphQL endpoint: the GraphQL-over-HTTP view, offline
GraphiQL, and the guards in front of them (CSRF, body size).

Its names are loaded when first asked for: a worker imports
``gateway.http.ratelimit`` (the sign-in throttle its gateway holds) and needs
neither the view nor Strawberry, which the view brings along."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.http.graphiql import GRAPHIQL_ASSETS_PATH, graphiql_assets_app
    from gateway.http.guards import BodySizeLimit, CSRFGuard
    from gateway.http.view import GatewayGraphQL

#: Each name, by the module that defines it.
_WHERE = {
    "GRAPHIQL_ASSETS_PATH": "gateway.http.graphiql",
    "graphiql_assets_app": "gateway.http.graphiql",
    "BodySizeLimit": "gateway.http.guards",
    "CSRFGuard": "gateway.http.guards",
    "GatewayGraphQL": "gateway.http.view",
}

__all__ = [
    "GRAPHIQL_ASSETS_PATH",
    "BodySizeLimit",
    "CSRFGuard",
    "GatewayGraphQL",
    "graphiql_assets_app",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
