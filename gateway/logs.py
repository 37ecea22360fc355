"""Logging for the gateway's processes (serve, worker, the stand-ins).

HTTP client libraries log every request's full URL at INFO, and some of the
systems' URLs carry ID numbers (the unemployment system's per-person query):
those loggers are kept at WARNING, so that no ID number reaches a log.
"""

from __future__ import annotations

import logging

#: Loggers that would write URLs or bodies holding personal data at INFO or DEBUG.
QUIET = ("httpx", "httpcore", "zeep", "zeep.transports", "urllib3", "spyne")


def configure(level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
