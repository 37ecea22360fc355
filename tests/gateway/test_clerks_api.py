"""Administrators manage clerks' accounts in the graph: made, listed, moved to other
divisions, a password set, disabled and enabled; nobody else may, and no
administrator is made or touched this way."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.services import Gateway
from tests.gateway.conftest import GraphQLClient, error_codes
from tests.gateway.test_graph import CHANGE, signed_in_a_minute_ago

CREATE = """mutation($i: NewClerkInput!) {
  createClerk(input: $i) {
    username displayName divisions disabled createdAt sessionsEndedAt mustChangePassword
    lastSignedInAt } }"""
CLERKS = """query($d: String, $x: Boolean) {
  clerks(division: $d, disabled: $x) { username divisions disabled } }"""
DISABLE = "mutation($u: String!) { disableClerk(username: $u) { username disabled } }"
ENABLE = "mutation($u: String!) { enableClerk(username: $u) { username disabled } }"
PASSWORD = """mutation($u: String!, $p: String!) {
  setClerkPassword(username: $u, newPassword: $p) {
    username sessionsEndedAt mustChangePassword } }"""
DIVISIONS = """mutation($u: String!, $d: [String!]!) {
  setClerkDivisions(username: $u, divisions: $d) { username divisions } }"""
ME = "{ me { username divisions mustChangePassword } }"
#: An employer of the seed in Jinan (370102), which a clerk of 370100 reaches.
JINAN_UNIT = "91370102MA3C4TLQ2N"
UNIT = '{ employer(creditCode: "' + JINAN_UNIT + '") { name } }'


def new_clerk(username: str = "window-7", **changes: Any) -> dict[str, Any]:
    return {
        "username": username,
        "divisions": ["370100"],
        "password": "lantern-orchid-7",
        "displayName": "历下区窗口",
        **changes,
    }


async def clerk_names(admin: GraphQLClient, **variables: Any) -> list[str]:
    body = await admin.post(CLERKS, variables)
    assert "errors" not in body, body
    return [c["username"] for c in body["data"]["clerks"]]


async def test_an_administrator_makes_a_clerk_who_signs_in_and_reaches_its_divisions(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="gateway.accounts")
    admin = await client.login("demo-admin")
    made = await admin.post(CREATE, {"i": new_clerk(" Window-7 ", divisions=["370100", "370100"])})
    assert "errors" not in made, made
    clerk = made["data"]["createClerk"]
    assert clerk["username"] == "window-7"
    assert clerk["displayName"] == "历下区窗口"
    assert clerk["divisions"] == ["370100"]
    assert clerk["disabled"] is False
    assert clerk["sessionsEndedAt"] is None
    assert clerk["mustChangePassword"] is True
    assert clerk["lastSignedInAt"] is None
    # The administrator knows that password: it opens nothing but its own change.
    given = await client.login("window-7", "lantern-orchid-7")
    assert (await given.post(ME))["data"]["me"] == {
        "username": "window-7",
        "divisions": ["370100"],
        "mustChangePassword": True,
    }
    assert error_codes(await given.post(UNIT)) == ["PASSWORD_CHANGE_REQUIRED"]
    export = await given.http.get(
        "/forms/registrations.xlsx", headers={"Authorization": f"Bearer {given.token}"}
    )
    assert export.status_code == 403
    assert export.json()["errors"][0]["extensions"]["code"] == "PASSWORD_CHANGE_REQUIRED"
    same = await given.post(CHANGE, {"c": "lantern-orchid-7", "n": "lantern-orchid-7"})
    assert error_codes(same) == ["PASSWORD_SAME"]
    changed = await given.post(CHANGE, {"c": "lantern-orchid-7", "n": "meadow-violin-7"})
    window = GraphQLClient(client.http, changed["data"]["changePassword"]["token"])
    assert (await window.post(ME))["data"]["me"]["mustChangePassword"] is False
    assert (await window.post(UNIT))["data"]["employer"]["name"] == "济南泉城机械制造有限公司"
    # The session of the given password ended with the change, in the same second too.
    assert error_codes(await given.post(ME)) == ["UNAUTHENTICATED"]
    # Its sign-ins are seen, to find the accounts nobody uses any more.
    listed = await admin.post("{ clerks { username lastSignedInAt mustChangePassword } }")
    seen = {c["username"]: c for c in listed["data"]["clerks"]}
    assert seen["window-7"]["lastSignedInAt"] is not None
    assert seen["window-7"]["mustChangePassword"] is False
    # Listed by name; by division: bound to it, under it or above it.
    assert await clerk_names(admin) == ["demo-clerk", "window-7"]
    assert await clerk_names(admin, d="370102") == ["demo-clerk", "window-7"]
    assert await clerk_names(admin, d="370000") == ["demo-clerk", "window-7"]
    assert await clerk_names(admin, d="370200") == []
    assert await clerk_names(admin, x=True) == []
    unknown = await admin.post(CLERKS, {"d": "3701"})
    assert error_codes(unknown) == ["DIVISION_FORMAT"]
    assert unknown["errors"][0]["extensions"]["field"] == "division"
    # Who made it is logged, never the password.
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.accounts"]
    assert "account window-7 created (clerk) by demo-admin" in lines
    assert "lantern-orchid-7" not in caplog.text


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"username": "demo-clerk"}, "USERNAME_TAKEN", "username"),
        ({"username": "DEMO-CLERK"}, "USERNAME_TAKEN", "username"),
        ({"username": "window 7"}, "BAD_INPUT", "username"),
        # A unit's credit code names that unit's own account, opened or not yet.
        ({"username": "91370102MA3D8R5H1H"}, "BAD_INPUT", "username"),
        ({"password": "short"}, "PASSWORD_TOO_SHORT", "password"),
        ({"password": "window-7-window-7"}, "PASSWORD_CONTAINS_USERNAME", "password"),
        ({"divisions": []}, "BAD_INPUT", "divisions"),
        # Longer than the store keeps (PostgreSQL refused it after the checks: INTERNAL).
        ({"displayName": "窗" * 201}, "BAD_INPUT", "displayName"),
        ({"displayName": "历下区\n窗口"}, "BAD_INPUT", "displayName"),
        ({"divisions": ["37"]}, "DIVISION_FORMAT", "divisions"),
        ({"divisions": ["370100", "379999"]}, "DIVISION_UNKNOWN", "divisions"),
    ],
)
async def test_a_clerk_refused_names_the_field_and_nothing_is_made(
    client: GraphQLClient, changes: dict[str, Any], code: str, field: str
) -> None:
    admin = await client.login("demo-admin")
    body = await admin.post(CREATE, {"i": new_clerk(**changes)})
    assert error_codes(body) == [code]
    error = body["errors"][0]
    assert error["extensions"]["field"] == field
    assert error["extensions"]["message_zh"]
    if "password" in changes:  # never echoed
        assert changes["password"] not in error["message"] + error["extensions"]["message_zh"]
    assert await clerk_names(admin) == ["demo-clerk"]


async def test_only_administrators_manage_clerks(client: GraphQLClient) -> None:
    operations: list[tuple[str, dict[str, Any]]] = [
        (CLERKS, {}),
        (CREATE, {"i": new_clerk()}),
        (DISABLE, {"u": "demo-clerk"}),
        (ENABLE, {"u": "demo-clerk"}),
        (PASSWORD, {"u": "demo-clerk", "p": "meadow-violin-2"}),
        (DIVISIONS, {"u": "demo-clerk", "d": ["370000"]}),
    ]
    clerk = await client.login("demo-clerk")
    employer = await client.login("demo-employer")
    for operation, variables in operations:
        assert error_codes(await clerk.post(operation, variables)) == ["FORBIDDEN"]
        assert error_codes(await employer.post(operation, variables)) == ["FORBIDDEN"]
        assert error_codes(await client.post(operation, variables)) == ["UNAUTHENTICATED"]
    # Nothing changed: the clerk still signs in with its password, at its own window.
    again = await client.login("demo-clerk")
    assert (await again.post(ME))["data"]["me"]["divisions"] == ["370100"]


async def test_administrators_and_employers_are_not_clerks_here(client: GraphQLClient) -> None:
    # A stolen administrator's token can neither lock the other administrators out
    # nor take over an employer's account: those are managed elsewhere.
    admin = await client.login("demo-admin")
    for username in ("demo-admin", "demo-employer", "nobody"):
        for operation, variables in (
            (DISABLE, {"u": username}),
            (PASSWORD, {"u": username, "p": "meadow-violin-2"}),
            (DIVISIONS, {"u": username, "d": ["370000"]}),
        ):
            body = await admin.post(operation, variables)
            assert error_codes(body) == ["NOT_FOUND"]
            assert body["errors"][0]["extensions"]["field"] == "username"
    assert (await client.login("demo-admin")).token
    assert (await client.login("demo-employer")).token


async def test_a_disabled_clerks_sessions_end_at_once_and_stay_ended(
    client: GraphQLClient, gateway: Gateway
) -> None:
    admin = await client.login("demo-admin")
    # A token taken from the clerk a minute ago: the reason it is disabled.
    stolen = await signed_in_a_minute_ago(client, gateway, "demo-clerk")
    assert (await stolen.post(ME))["data"]["me"]["username"] == "demo-clerk"
    disabled = await admin.post(DISABLE, {"u": "Demo-Clerk"})
    assert disabled["data"]["disableClerk"] == {"username": "demo-clerk", "disabled": True}
    # In this process at once, with no wait for the account cache.
    assert error_codes(await stolen.post(ME)) == ["UNAUTHENTICATED"]
    refused = await client.post(
        'mutation { login(username: "demo-clerk", password: "demo-password") { token } }'
    )
    assert error_codes(refused) == ["INVALID_CREDENTIALS"]
    assert await clerk_names(admin, x=True) == ["demo-clerk"]
    enabled = await admin.post(ENABLE, {"u": "demo-clerk"})
    assert enabled["data"]["enableClerk"] == {"username": "demo-clerk", "disabled": False}
    # The stolen token does not come back with the account; the clerk signs in anew.
    assert error_codes(await stolen.post(ME)) == ["UNAUTHENTICATED"]
    fresh = await client.login("demo-clerk")
    assert (await fresh.post(ME))["data"]["me"]["username"] == "demo-clerk"


async def test_an_administrator_sets_a_clerks_password_and_the_old_sessions_end(
    client: GraphQLClient, gateway: Gateway
) -> None:
    admin = await client.login("demo-admin")
    earlier = await signed_in_a_minute_ago(client, gateway, "demo-clerk")
    weak = await admin.post(PASSWORD, {"u": "demo-clerk", "p": "short"})
    assert error_codes(weak) == ["PASSWORD_TOO_SHORT"]
    assert weak["errors"][0]["extensions"]["field"] == "newPassword"
    assert (await earlier.post(ME))["data"]["me"]["username"] == "demo-clerk"
    reset = await admin.post(PASSWORD, {"u": "demo-clerk", "p": "meadow-violin-2"})
    assert reset["data"]["setClerkPassword"]["sessionsEndedAt"] is not None
    assert reset["data"]["setClerkPassword"]["mustChangePassword"] is True
    assert error_codes(await earlier.post(ME)) == ["UNAUTHENTICATED"]
    given = await client.login("demo-clerk", "meadow-violin-2")
    assert error_codes(await given.post(UNIT)) == ["PASSWORD_CHANGE_REQUIRED"]
    assert "errors" not in await given.post(CHANGE, {"c": "meadow-violin-2", "n": "lantern-oak-9"})
    old = await client.post(
        'mutation { login(username: "demo-clerk", password: "demo-password") { token } }'
    )
    assert error_codes(old) == ["INVALID_CREDENTIALS"]


async def test_a_clerk_moved_to_another_window_reaches_only_its_units_at_once(
    client: GraphQLClient,
) -> None:
    admin = await client.login("demo-admin")
    clerk = await client.login("demo-clerk")
    assert (await clerk.post(UNIT))["data"]["employer"]["name"] == "济南泉城机械制造有限公司"
    unknown = await admin.post(DIVISIONS, {"u": "demo-clerk", "d": ["379999"]})
    assert error_codes(unknown) == ["DIVISION_UNKNOWN"]
    moved = await admin.post(DIVISIONS, {"u": "demo-clerk", "d": ["370200", "370200"]})
    assert moved["data"]["setClerkDivisions"] == {"username": "demo-clerk", "divisions": ["370200"]}
    assert error_codes(await clerk.post(UNIT)) == ["NOT_FOUND"]
    assert (await clerk.post(ME))["data"]["me"]["divisions"] == ["370200"]


AUDIT = """query($a: String) { auditLog(filter: {actor: "demo-admin", action: $a}, first: 20) {
  nodes { actor role action channel detail worker } } }"""


async def test_every_change_to_a_clerk_is_in_the_audit_log_with_who_made_it(
    client: GraphQLClient, gateway: Gateway
) -> None:
    admin = await client.login("demo-admin")
    assert "errors" not in await admin.post(CREATE, {"i": new_clerk()})
    await admin.post(DIVISIONS, {"u": "window-7", "d": ["370000"]})
    await admin.post(PASSWORD, {"u": "window-7", "p": "meadow-violin-2"})
    await admin.post(DISABLE, {"u": "window-7"})
    await admin.post(ENABLE, {"u": "window-7"})
    # Refused changes change nothing, and record nothing.
    await admin.post(CREATE, {"i": new_clerk()})
    await admin.post(DIVISIONS, {"u": "window-7", "d": ["379999"]})
    body = await admin.post(AUDIT, {})
    nodes = [n for n in body["data"]["auditLog"]["nodes"] if n["action"] != "search_audit_log"]
    assert [(n["action"], n["detail"]) for n in reversed(nodes)] == [
        ("create_clerk", {"account": "window-7", "divisions": ["370100"]}),
        ("set_clerk_divisions", {"account": "window-7", "divisions": ["370000"]}),
        ("set_clerk_password", {"account": "window-7"}),
        ("disable_clerk", {"account": "window-7"}),
        ("enable_clerk", {"account": "window-7"}),
    ]
    assert {(n["actor"], n["role"], n["channel"], n["worker"]) for n in nodes} == {
        ("demo-admin", "admin", "GOVERNMENT_PORTAL", None)
    }
    assert "meadow-violin-2" not in str(body)
    assert "lantern-orchid-7" not in str(body)
    assert (await gateway.store.audit.verify_chain()).ok
