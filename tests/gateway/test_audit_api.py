"""The audit log through the graph: administrators only, workers masked, searches
recorded, and the chain's state.

The app is made of the gateway's own parts (its root types, view,
authentication and error masking) with ``auditLog`` and ``auditChain`` added to
the root query as the schema wires them. No system is called: the records are written to the store
directly, so no stand-in runs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.extensions import MaskErrors

from gateway.app import authenticate
from gateway.config import GatewayConfig
from gateway.demo import prepare_store
from gateway.http.view import GatewayGraphQL
from gateway.schema import Employer, Mutation, Query, Worker, _should_mask
from gateway.schema.audit import (
    AuditChain,
    AuditLogConnection,
    AuditLogFilter,
    audit_chain,
    audit_log,
)
from gateway.schema.context import Context, Info, build_context
from gateway.services import Gateway
from gateway.store import Account
from gateway.store import tables as t
from gateway.store.audit import Write
from tests.factories import resident_id
from tests.gateway.conftest import GraphQLClient, error_codes

CODE = "91370102MA3C4TLQ2N"  # the demo employer's


@strawberry.type
class AuditQuery(Query):
    @strawberry.field(description="审计日志 (administrators).")
    async def audit_log(
        self,
        info: Info,
        filter: AuditLogFilter | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> AuditLogConnection:
        return await audit_log(info.context, filter, first, after)

    @strawberry.field(description="审计链校验 (administrators).")
    async def audit_chain(self, info: Info) -> AuditChain:
        return await audit_chain(info.context)


def _app(gateway: Gateway) -> Starlette:
    schema = strawberry.federation.Schema(
        query=AuditQuery,
        mutation=Mutation,
        types=[Employer, Worker],
        federation_version="2.5",
        extensions=[lambda: MaskErrors(should_mask_error=_should_mask)],
    )

    async def context_getter(
        request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        caller = await authenticate(gateway, request.headers.get("authorization"))
        return build_context(
            gateway, caller.account, request=request, response=response, **caller.context_args()
        )

    app = Starlette(
        routes=[Route("/graphql", GatewayGraphQL(schema, context_getter=context_getter))]
    )
    app.state.gateway = gateway
    return app


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRSS_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("HRSS_ARGON2_MEMORY_KIB", "8")
    monkeypatch.setenv("HRSS_ARGON2_PARALLELISM", "1")


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    config = GatewayConfig.load(
        environ={},
        store_url=f"sqlite+aiosqlite:///{tmp_path}/gateway.db",
        token_secret="t" * 32,
        audit_key="a" * 32,
        data_dir=str(tmp_path),
        employer_passwords=True,
    )
    gw = await Gateway.start(config)
    await prepare_store(gw.store)
    yield gw
    await gw.close()


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app(gateway)), base_url="http://gateway"
    ) as http:
        yield GraphQLClient(http)


async def _account(gateway: Gateway, username: str) -> Account:
    account = await gateway.store.accounts.get(username)
    assert account is not None
    return account


LOG = """
query($f: AuditLogFilter, $first: Int, $after: String) {
  auditLog(filter: $f, first: $first, after: $after) {
    nodes { position at actor role action workerIdType worker creditCode channel result
            registrationId detail hash prevHash }
    endCursor hasNextPage
  }
}
"""
CHAIN = """{ auditChain { ok checked firstBrokenPosition checkpoint lastPosition
  firstBroken { position action worker } } }"""


async def _history(gateway: Gateway) -> tuple[str, str]:
    """Reads and writes of two workers, by the demo employer and clerk."""
    alice, bob = resident_id(), resident_id()
    employer = await _account(gateway, "demo-employer")
    clerk = await _account(gateway, "demo-clerk")
    audit = gateway.store.audit
    t0 = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    for actor, number, hours in ((employer, alice, 0), (clerk, bob, 1), (clerk, alice, 2)):
        await audit.record(
            actor=actor,
            action="read_worker",
            id_type="RESIDENT_ID",
            id_number=number,
            credit_code=CODE,
            channel="service_window" if actor is clerk else "government_portal",
            result="allowed",
            at=t0 + dt.timedelta(hours=hours),
        )
    await audit.record_writes(
        actor=employer,
        channel="government_portal",
        credit_code=CODE,
        writes=[Write("submit_hire", "RESIDENT_ID", alice, reference="reg-1")],
        at=t0 + dt.timedelta(hours=3),
    )
    return alice, bob


async def test_an_administrator_finds_a_workers_records_masked(
    client: GraphQLClient, gateway: Gateway
) -> None:
    alice, bob = await _history(gateway)
    admin = await client.login("demo-admin")
    body = await admin.post(LOG, {"f": {"workerIdType": "RESIDENT_ID", "workerIdNumber": alice}})
    assert "errors" not in body, body
    nodes = body["data"]["auditLog"]["nodes"]
    assert [(n["position"], n["actor"], n["action"]) for n in nodes] == [
        (4, "demo-employer", "submit_hire"),
        (3, "demo-clerk", "read_worker"),
        (1, "demo-employer", "read_worker"),
    ]
    masked = alice[:6] + "*" * 8 + alice[-4:]
    assert {n["worker"] for n in nodes} == {masked}
    assert nodes[0] | {"at": None, "hash": None, "prevHash": None} == {
        "position": 4,
        "at": None,
        "actor": "demo-employer",
        "role": "employer",
        "action": "submit_hire",
        "workerIdType": "RESIDENT_ID",
        "worker": masked,
        "creditCode": CODE,
        "channel": "GOVERNMENT_PORTAL",
        "result": "ALLOWED",
        "registrationId": "reg-1",
        "detail": None,
        "hash": None,
        "prevHash": None,
    }
    assert nodes[0]["at"].startswith("2024-06-01T03:00:00")
    assert nodes[0]["prevHash"] == (await gateway.store.audit.get(3)).hash  # type: ignore[union-attr]
    assert len(nodes[0]["hash"]) == 64
    text = json.dumps(body)
    assert alice not in text
    assert bob not in text
    # Lower-case x and spaces find the same worker (and the search just made).
    again = await admin.post(
        LOG, {"f": {"workerIdType": "RESIDENT_ID", "workerIdNumber": f" {alice.lower()} "}}
    )
    assert [n["position"] for n in again["data"]["auditLog"]["nodes"]] == [5, 4, 3, 1]


async def test_a_search_for_a_worker_is_itself_recorded(
    client: GraphQLClient, gateway: Gateway
) -> None:
    alice, _ = await _history(gateway)
    admin = await client.login("demo-admin")
    await admin.post(LOG, {"f": {"workerIdType": "RESIDENT_ID", "workerIdNumber": alice}})
    await admin.post(LOG, {"f": {"action": "read_worker"}})  # no worker: not recorded
    records = (await gateway.store.audit.query(action="search_audit_log", first=5)).items
    assert [(r.actor_username, r.result, r.credit_code) for r in records] == [
        ("demo-admin", "allowed", None)
    ]
    assert records[0].worker_key == gateway.store.audit.worker_key("RESIDENT_ID", alice)
    # The search did not find itself, the next one does.
    body = await admin.post(LOG, {"f": {"workerIdType": "RESIDENT_ID", "workerIdNumber": alice}})
    assert body["data"]["auditLog"]["nodes"][0]["action"] == "search_audit_log"


@pytest.mark.parametrize("username", ["demo-employer", "demo-clerk"])
async def test_others_are_forbidden_and_their_attempts_recorded(
    client: GraphQLClient, gateway: Gateway, username: str
) -> None:
    alice, _ = await _history(gateway)
    session = await client.login(username)
    for query, variables in (
        (LOG, {}),
        (LOG, {"f": {"workerIdType": "RESIDENT_ID", "workerIdNumber": alice}}),
        (CHAIN, {}),
    ):
        body = await session.post(query, variables)
        assert error_codes(body) == ["FORBIDDEN"]
        assert body["data"] is None
        assert alice not in json.dumps(body)
    refused = (await gateway.store.audit.query(action="search_audit_log", first=5)).items
    assert [(r.actor_username, r.result) for r in refused] == [(username, "refused")]


async def test_without_a_session_nothing_is_said(client: GraphQLClient) -> None:
    for query in (LOG, CHAIN):
        assert error_codes(await client.post(query)) == ["UNAUTHENTICATED"]


async def test_filters_and_pages(client: GraphQLClient, gateway: Gateway) -> None:
    await _history(gateway)
    admin = await client.login("demo-admin")

    async def positions(f: dict[str, Any]) -> list[int]:
        body = await admin.post(LOG, {"f": f})
        assert "errors" not in body, body
        return [n["position"] for n in body["data"]["auditLog"]["nodes"]]

    assert await positions({"actor": "demo-clerk"}) == [3, 2]
    assert await positions({"actor": "nobody"}) == []
    assert await positions({"creditCode": CODE.lower()}) == [4, 3, 2, 1]
    assert await positions({"creditCode": "91370200MA3C4TLQ2N"}) == []
    assert await positions({"action": "submit_hire"}) == [4]
    assert await positions({"since": "2024-06-01T09:00:00+08:00"}) == [4, 3, 2]
    assert await positions({"until": "2024-06-01T02:00:00Z", "actor": "demo-clerk"}) == [2]
    assert await positions({"workerIdType": "HK_MACAO_PERMIT"}) == []

    pages: list[int] = []
    after = None
    while True:
        body = await admin.post(LOG, {"first": 3, "after": after})
        page = body["data"]["auditLog"]
        pages += [n["position"] for n in page["nodes"]]
        if not page["hasNextPage"]:
            break
        after = page["endCursor"]
    assert pages == [4, 3, 2, 1]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"first": 101}, "first"),
        ({"first": 0}, "first"),
        ({"after": "bm90LWEtY3Vyc29y"}, "after"),
        ({"f": {"since": "2024-06-01T09:00:00"}}, "since"),
        ({"f": {"workerIdNumber": "370102199001011234"}}, "workerIdType"),
        ({"f": {"workerIdType": "RESIDENT_ID", "workerIdNumber": "9" * 33}}, "workerIdNumber"),
    ],
)
async def test_bad_input_is_named(
    client: GraphQLClient, variables: dict[str, Any], field: str
) -> None:
    admin = await client.login("demo-admin")
    body = await admin.post(LOG, variables)
    assert error_codes(body) == ["BAD_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field


async def test_the_chain_state_and_its_first_broken_record(
    client: GraphQLClient, gateway: Gateway
) -> None:
    alice, _ = await _history(gateway)
    admin = await client.login("demo-admin")
    body = await admin.post(CHAIN)
    assert body["data"]["auditChain"] == {
        "ok": True,
        "checked": 4,
        "firstBrokenPosition": None,
        "checkpoint": 0,
        "lastPosition": 4,
        "firstBroken": None,
    }
    async with gateway.store.db.write() as conn:
        await conn.execute(
            sa.update(t.audit_records).where(t.audit_records.c.id == 3).values(actor_id=999)
        )
    body = await admin.post(CHAIN)
    assert body["data"]["auditChain"] == {
        "ok": False,
        "checked": 2,
        "firstBrokenPosition": 3,
        "checkpoint": 0,
        "lastPosition": 4,
        "firstBroken": {
            "position": 3,
            "action": "read_worker",
            "worker": alice[:6] + "*" * 8 + alice[-4:],
        },
    }
    async with gateway.store.db.write() as conn:
        await conn.execute(sa.delete(t.audit_records).where(t.audit_records.c.id == 3))
    body = await admin.post(CHAIN)
    assert body["data"]["auditChain"]["firstBrokenPosition"] == 3
    assert body["data"]["auditChain"]["firstBroken"] is None  # gone


async def test_a_purge_shows_in_the_log_and_the_chain(
    client: GraphQLClient, gateway: Gateway
) -> None:
    await _history(gateway)  # June 2024: long past six months
    result = await gateway.store.audit.purge()
    assert result.removed == 4
    admin = await client.login("demo-admin")
    body = await admin.post(LOG, {"f": {"action": "purge_audit_log"}})
    (node,) = body["data"]["auditLog"]["nodes"]
    assert (node["position"], node["actor"], node["role"], node["worker"]) == (5, None, None, None)
    assert node["detail"]["removed"] == 4
    assert node["detail"]["through_id"] == 4
    chain = (await admin.post(CHAIN))["data"]["auditChain"]
    assert (chain["ok"], chain["checkpoint"], chain["checked"]) == (True, 4, 1)
