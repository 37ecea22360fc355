"""Alembic migrations of the gateway's store, run by ``Database.migrate``."""
