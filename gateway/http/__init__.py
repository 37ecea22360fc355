"""The HTTP layer of the GraphQL endpoint: the GraphQL-over-HTTP view and offline GraphiQL."""

from gateway.http.graphiql import GRAPHIQL_ASSETS_PATH, graphiql_assets_app
from gateway.http.view import GatewayGraphQL

__all__ = ["GRAPHIQL_ASSETS_PATH", "GatewayGraphQL", "graphiql_assets_app"]
