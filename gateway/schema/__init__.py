"""Strawberry types and thin resolvers over the unified domain."""
