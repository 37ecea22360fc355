"""A small app behind :class:`RateLimitMiddleware`, for tests that run it as a real process.

Configured from the environment, so that
``python -m uvicorn --factory tests.ratelimit.app:create_app`` starts it:
``HRSS_RATE_LIMIT_*`` (see ``RateLimits.from_env``), ``RATELIMIT_TEST_STORAGE_URL``
and ``RATELIMIT_TEST_TOKEN_SECRET``. Each answer names the process that gave it,
so that a test can see that its requests were spread.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.http.ratelimit import RateLimitMiddleware, RateLimits, bearer_account_key


async def graphql(request: Request) -> Response:
    return JSONResponse({"data": {"pid": os.getpid()}})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "alive", "pid": os.getpid()})


def create_app() -> RateLimitMiddleware:
    inner = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
    return RateLimitMiddleware(
        inner,
        RateLimits.from_env(),
        os.environ.get("RATELIMIT_TEST_STORAGE_URL", "memory://"),
        account_of=bearer_account_key(os.environ["RATELIMIT_TEST_TOKEN_SECRET"]),
    )
