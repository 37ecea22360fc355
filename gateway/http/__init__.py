"""The HTTP layer of the GraphQL endpoint: the GraphQL-over-HTTP view, offline
GraphiQL, and the guards in front of them (CSRF, body size)."""

from gateway.http.graphiql import GRAPHIQL_ASSETS_PATH, graphiql_assets_app
from gateway.http.guards import BodySizeLimit, CSRFGuard
from gateway.http.view import GatewayGraphQL

__all__ = [
    "GRAPHIQL_ASSETS_PATH",
    "BodySizeLimit",
    "CSRFGuard",
    "GatewayGraphQL",
    "graphiql_assets_app",
]
