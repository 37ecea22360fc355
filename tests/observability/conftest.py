"""Fixtures borrowed from the gateway's and the store's tests, and a clean logging set-up."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from gateway.observability.logging import QUIET
from tests.gateway.conftest import _cheap_password_hashes as _cheap_password_hashes
from tests.gateway.conftest import gateway as gateway
from tests.store.conftest import postgres_database as postgres_database
from tests.store.conftest import store as store
from tests.store.conftest import store_url as store_url


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger, the quiet loggers and the record factory back as they
    were after the test."""
    factory = logging.getLogRecordFactory()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in QUIET}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, quiet_level in levels.items():
        logging.getLogger(name).setLevel(quiet_level)
    logging.setLogRecordFactory(factory)
