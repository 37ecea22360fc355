"""Logging for the gateway's processes (serve, worker, the stand-ins, commands).

The work is done by :mod:`gateway.observability.logging`: JSON lines with the
request id, every record masked on creation, and the loggers that would write
personal data (HTTP clients' URLs, aiosqlite's statement parameters, aiocache's
keys) held at WARNING.
"""

from __future__ import annotations

import logging

from gateway.observability.logging import QUIET, configure_logging

__all__ = ["QUIET", "configure"]


def configure(level: int | str = logging.INFO, *, json: bool = False) -> None:
    """Text for commands and the demo's terminal; JSON for the services (``serve``,
    ``worker``), which call it again once their configuration is read."""
    configure_logging(json=json, level=level)
