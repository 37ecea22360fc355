"""``STORE_UNAVAILABLE``: the shape of the answer when the gateway's store cannot be
reached, in a resolver (a GraphQL error) and before execution (503, Retry-After),
without PostgreSQL: the store is a port where nothing listens. The whole path over
a real PostgreSQL cut off is ``tests/gateway/test_store_outage.py``."""

from __future__ import annotations

import json
import socket

import sqlalchemy as sa
from graphql import GraphQLError

from gateway.errors import client_error
from gateway.http.refusals import GRAPHQL_RESPONSE_JSON
from gateway.http.view import store_unavailable_response
from gateway.store.database import Database, StoreTimeouts, create_engine


async def refused() -> Exception:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+asyncpg://gateway:hunter2@127.0.0.1:{port}/gateway"
    db = Database(create_engine(url, StoreTimeouts(connect_s=1, statement_s=1, pool_s=1)))
    try:
        async with db.read() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        return exc
    finally:
        await db.close()
    raise AssertionError("nothing refused")


async def test_a_resolver_meeting_the_store_unreachable_answers_store_unavailable() -> None:
    error = GraphQLError("", path=["login"], original_error=await refused())
    shaped = client_error(error)
    assert shaped.path == ["login"]
    assert shaped.extensions == {
        "code": "STORE_UNAVAILABLE",
        "message_en": "The gateway's store cannot be reached just now; try again shortly.",
        "message_zh": "网关的数据存储暂时无法访问，请稍后再试。",
        "retry_after": 5,
    }
    assert shaped.message == shaped.extensions["message_en"]  # no host, port or password


async def test_other_errors_are_still_internal() -> None:
    shaped = client_error(GraphQLError("", path=["login"], original_error=KeyError("x")))
    assert (shaped.extensions or {})["code"] == "INTERNAL"


def test_a_refusal_before_execution_is_503_with_retry_after() -> None:
    response = store_unavailable_response(GRAPHQL_RESPONSE_JSON)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Content-Type"].startswith(GRAPHQL_RESPONSE_JSON)
    (error,) = json.loads(bytes(response.body))["errors"]
    assert error["extensions"]["code"] == "STORE_UNAVAILABLE"
    assert error["extensions"]["retry_after"] == 5
