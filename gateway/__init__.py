"""hrss-gateway: one GraphQL endpoint over the province's three HR systems."""

__version__ = "0.1.0"
