"""The real Redis, one key prefix per test."""

from tests.services import redis_namespace

__all__ = ["redis_namespace"]
