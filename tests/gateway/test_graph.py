"""The unified graph over the three stand-ins: roles, masking, audit, status."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from adapters.standin.seed import EMPLOYERS, WORKERS
from gateway.auth import issue_token
from gateway.services import Gateway
from tests.gateway.conftest import GraphQLClient, error_codes

JINAN, QINGDAO, JINAN_2 = (e.profile.credit_code for e in EMPLOYERS)
UNEMPLOYED = next(w for w in WORKERS if w.label == "unemployment registered" and w.employer == 0)
NO_CONTRACT = next(w for w in WORKERS if w.label == "employed without a filed contract")
QINGDAO_WORKER = next(w for w in WORKERS if w.employer == 1)

WORKER_FIELDS = """
  idType idNumber name gender ethnicity education mobile householdAddress currentAddress
  status inconsistencies unavailableSystems
  employmentRecords { reference state startDate dismissalDate personCategory }
  labourContracts { reference contractType state startDate endDate endReason }
  unemploymentRegistrations { reference state reason relationEndedOn }
"""

ONE_WORKER = (
    "query($c: String, $t: IdType!, $n: String!) { employer(creditCode: $c) {"
    " worker(idType: $t, idNumber: $n) {" + WORKER_FIELDS + "} } }"
)


def worker_vars(credit_code: str | None, worker: Any) -> dict[str, Any]:
    return {
        "c": credit_code,
        "t": worker.person.id_type.name,
        "n": worker.person.id_number,
    }


async def test_code_tables_need_no_sign_in(client: GraphQLClient) -> None:
    body = await client.post(
        '{ codeTables { name } codeTable(name: "gender") {'
        " titleZh codes { code labelZh labelEn enumValue } } }"
    )
    assert "errors" not in body
    names = {t["name"] for t in body["data"]["codeTables"]}
    assert {"gender", "ethnicity", "id_type", "education", "end_reason"} <= names
    male = body["data"]["codeTable"]["codes"][0]
    assert male == {"code": "1", "labelZh": "男", "labelEn": "Male", "enumValue": "MALE"}
    ethnicity = await client.post('{ codeTable(name: "ethnicity") { codes { code } } }')
    assert len(ethnicity["data"]["codeTable"]["codes"]) == 58
    assert (await client.post('{ codeTable(name: "nope") { name } }'))["data"] == {
        "codeTable": None
    }


async def test_everything_else_needs_a_session(client: GraphQLClient) -> None:
    for query in ("{ me { username } }", f'{{ employer(creditCode: "{JINAN}") {{ name }} }}'):
        assert error_codes(await client.post(query)) == ["UNAUTHENTICATED"]


async def test_wrong_credentials_all_read_the_same(client: GraphQLClient, gateway: Gateway) -> None:
    await gateway.store.accounts.set_disabled("demo-admin")
    answers = []
    for user, password in (
        ("demo-clerk", "wrong-password"),
        ("nobody-at-all", "demo-password"),
        ("demo-admin", "demo-password"),  # disabled
    ):
        body = await client.post(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
            {"u": user, "p": password},
        )
        answers.append((body["data"], [e["message"] for e in body["errors"]], error_codes(body)))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][2] == ["INVALID_CREDENTIALS"]


async def test_expired_forged_and_malformed_tokens_read_the_same(
    client: GraphQLClient, gateway: Gateway
) -> None:
    account = await gateway.store.accounts.get("demo-clerk")
    assert account is not None
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    expired = issue_token(
        account, secret=gateway.token_secret, ttl=dt.timedelta(hours=1), now=long_ago
    )
    forged = issue_token(account, secret=b"f" * 32, ttl=dt.timedelta(hours=1))
    bodies = [
        await GraphQLClient(client.http, token).post("{ me { username } }")
        for token in (expired, forged, "not-a-token")
    ]
    assert len({str(b["errors"]) for b in bodies}) == 1
    assert error_codes(bodies[0]) == ["UNAUTHENTICATED"]


async def test_me_for_each_role(client: GraphQLClient) -> None:
    query = "{ me { username role creditCode divisions } }"
    me = [
        (await (await client.login(u)).post(query))["data"]["me"]
        for u in ("demo-employer", "demo-clerk", "demo-admin")
    ]
    assert me[0] == {
        "username": "demo-employer",
        "role": "employer",
        "creditCode": JINAN,
        "divisions": [],
    }
    assert me[1]["divisions"] == ["370100"]
    assert me[2]["role"] == "admin"


async def test_an_employer_reaches_its_own_employer_only(client: GraphQLClient) -> None:
    employer = await client.login("demo-employer")
    own = await employer.post(
        "{ employer { creditCode systemIds { employment labour unemployment } } }"
    )
    assert own["data"]["employer"] == {
        "creditCode": JINAN,
        "systemIds": {
            "employment": EMPLOYERS[0].employment_id,
            "labour": EMPLOYERS[0].labour_id,
            "unemployment": EMPLOYERS[0].unemployment_id,
        },
    }
    other = await employer.post(f'{{ employer(creditCode: "{QINGDAO}") {{ name }} }}')
    missing = await employer.post('{ employer(creditCode: "91370102MA3C4TLQ20") { name } }')
    assert other == missing
    assert error_codes(other) == ["NOT_FOUND"]


async def test_a_clerk_reaches_the_employers_of_its_divisions(client: GraphQLClient) -> None:
    clerk = await client.login("demo-clerk")  # Jinan city, 370100
    for code in (JINAN, JINAN_2):
        body = await clerk.post(f'{{ employer(creditCode: "{code}") {{ name division }} }}')
        assert body["data"]["employer"]["division"].startswith("3701")
    refused = await clerk.post(f'{{ employer(creditCode: "{QINGDAO}") {{ name }} }}')
    assert error_codes(refused) == ["NOT_FOUND"]
    assert error_codes(await clerk.post("{ employer { name } }")) == ["BAD_INPUT"]


async def test_an_administrator_reaches_every_employer(client: GraphQLClient) -> None:
    admin = await client.login("demo-admin")
    for code in (JINAN, QINGDAO, JINAN_2):
        body = await admin.post(f'{{ employer(creditCode: "{code}") {{ creditCode }} }}')
        assert body["data"]["employer"]["creditCode"] == code


async def test_lists_mask_numbers_and_hide_addresses(client: GraphQLClient) -> None:
    employer = await client.login("demo-employer")
    page = (
        "query($a: String) { employer { workers(first: 100, after: $a) { totalCount"
        " pageInfo { hasNextPage endCursor }"
        " edges { node { idNumber mobile householdAddress currentAddress } } } } }"
    )
    # Every page: the worker's shared stand-ins also hold what other tests and the
    # proofs hired for this employer, which may be more than one page.
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        workers = (await employer.post(page, {"a": after}))["data"]["employer"]["workers"]
        nodes += [e["node"] for e in workers["edges"]]
        if not workers["pageInfo"]["hasNextPage"]:
            break
        after = workers["pageInfo"]["endCursor"]
    assert len(nodes) == workers["totalCount"] >= 5
    clear = {w.person.id_number for w in WORKERS} | {w.person.mobile for w in WORKERS}
    for node in nodes:
        assert node["idNumber"] not in clear
        assert "*" in node["idNumber"]
        assert node["mobile"] not in clear
        assert "*" in node["mobile"]
        assert node["householdAddress"] is None
        assert node["currentAddress"] is None


@pytest.mark.parametrize(
    ("username", "credit_code"), [("demo-employer", None), ("demo-clerk", JINAN)]
)
async def test_one_worker_in_full_for_entitled_roles_and_audited(
    client: GraphQLClient, gateway: Gateway, username: str, credit_code: str | None
) -> None:
    session = await client.login(username)
    body = await session.post(ONE_WORKER, worker_vars(credit_code, UNEMPLOYED))
    worker = body["data"]["employer"]["worker"]
    assert worker["idNumber"] == UNEMPLOYED.person.id_number
    assert worker["mobile"] == UNEMPLOYED.person.mobile
    assert worker["householdAddress"] == UNEMPLOYED.person.household_address
    assert worker["status"] == "REGISTERED_UNEMPLOYED"
    assert [u["state"] for u in worker["unemploymentRegistrations"]] == ["REGISTERED"]
    assert worker["labourContracts"][0]["state"] == "TERMINATED"
    records = (await gateway.store.audit.query(first=10)).items
    assert [(r.actor_username, r.action, r.result, r.credit_code) for r in records] == [
        (username, "read_worker", "allowed", JINAN)
    ]
    assert records[0].worker_masked == "370103********0031"
    assert records[0].channel == (
        "service_window" if username == "demo-clerk" else "government_portal"
    )


async def test_an_administrator_sees_one_worker_masked(client: GraphQLClient) -> None:
    admin = await client.login("demo-admin")
    body = await admin.post(ONE_WORKER, worker_vars(JINAN, UNEMPLOYED))
    worker = body["data"]["employer"]["worker"]
    assert worker["idNumber"] == "370103********0031"
    assert worker["householdAddress"] is None


async def test_another_employers_worker_reads_as_no_worker(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    theirs = await employer.post(ONE_WORKER, worker_vars(None, QINGDAO_WORKER))
    nobody = await employer.post(
        ONE_WORKER, {"c": None, "t": "RESIDENT_ID", "n": "110105194912310029"}
    )
    assert theirs == nobody == {"data": {"employer": {"worker": None}}}
    results = [r.result for r in (await gateway.store.audit.query(first=10)).items]
    assert results == ["not_found", "not_found"]


async def test_status_and_inconsistencies_come_from_all_three_systems(
    client: GraphQLClient,
) -> None:
    admin = await client.login("demo-admin")
    body = await admin.post(ONE_WORKER, worker_vars(QINGDAO, NO_CONTRACT))
    worker = body["data"]["employer"]["worker"]
    assert worker["status"] == "EMPLOYED_WITHOUT_CONTRACT"
    assert worker["inconsistencies"] == ["EMPLOYED_WITHOUT_FILED_CONTRACT"]
    assert worker["labourContracts"] == []
    assert worker["unavailableSystems"] == []


async def test_cursor_pagination(client: GraphQLClient) -> None:
    employer = await client.login("demo-employer")
    page = (
        "query($n: Int!, $a: String) { employer { workers(first: $n, after: $a) { totalCount "
        "pageInfo { hasNextPage endCursor } edges { node { name idNumber } } } } }"
    )

    async def walk(size: int) -> tuple[list[tuple[str, str]], int]:
        seen: list[tuple[str, str]] = []
        after = None
        while True:
            answer = await employer.post(page, {"n": size, "a": after})
            conn = answer["data"]["employer"]["workers"]
            seen += [(e["node"]["name"], e["node"]["idNumber"]) for e in conn["edges"]]
            if not conn["pageInfo"]["hasNextPage"]:
                return seen, conn["totalCount"]
            after = conn["pageInfo"]["endCursor"]

    # Pages of two and pages of five give the same workers in the same order, each
    # once: other tests on the shared stand-ins hire workers of the same name, so
    # names alone may repeat.
    by_two, total = await walk(2)
    by_five, _ = await walk(5)
    assert by_two == by_five
    assert len(by_two) == total > 2
    too_many = await employer.post("{ employer { workers(first: 101) { totalCount } } }")
    bad_cursor = await employer.post('{ employer { workers(after: "zzz") { totalCount } } }')
    assert error_codes(too_many) == ["PAGE_TOO_LARGE"]
    assert error_codes(bad_cursor) == ["BAD_INPUT"]


async def signed_in_a_minute_ago(
    client: GraphQLClient, gateway: Gateway, username: str
) -> GraphQLClient:
    """A client with a token issued a minute ago (a token's time is in whole seconds:
    one issued in the second of a password change is kept)."""
    account = await gateway.store.accounts.get(username)
    assert account is not None
    token = issue_token(
        account,
        secret=gateway.token_secret,
        ttl=dt.timedelta(hours=8),
        now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
    )
    return GraphQLClient(client.http, token)


async def test_a_password_reset_ends_the_sessions_of_the_old_one(
    client: GraphQLClient, gateway: Gateway
) -> None:
    # Signed in a minute ago, with the password that then leaked.
    stolen = await signed_in_a_minute_ago(client, gateway, "demo-clerk")
    assert (await stolen.post("{ me { username } }"))["data"]["me"]["username"] == "demo-clerk"
    await gateway.store.accounts.set_password("demo-clerk", "meadow-violin-2")
    await gateway.cache.clear()  # as after account_cache_ttl_s
    assert error_codes(await stolen.post("{ me { username } }")) == ["UNAUTHENTICATED"]
    # The clerk signs in again at once with the new one; the old one is refused.
    again = await client.login("demo-clerk", "meadow-violin-2")
    assert (await again.post("{ me { username } }"))["data"]["me"]["username"] == "demo-clerk"
    refused = await client.post(
        'mutation { login(username: "demo-clerk", password: "demo-password") { token } }'
    )
    assert error_codes(refused) == ["INVALID_CREDENTIALS"]


CHANGE = """mutation($c: String!, $n: String!) {
  changePassword(currentPassword: $c, newPassword: $n) { token account { username } } }"""


async def test_a_clerk_changes_its_own_password_and_its_other_sessions_end(
    client: GraphQLClient, gateway: Gateway
) -> None:
    earlier = await signed_in_a_minute_ago(client, gateway, "demo-clerk")
    wrong = await earlier.post(CHANGE, {"c": "not-the-password", "n": "meadow-violin-2"})
    assert error_codes(wrong) == ["INVALID_CREDENTIALS"]
    weak = await earlier.post(CHANGE, {"c": "demo-password", "n": "short"})
    assert error_codes(weak) == ["PASSWORD_TOO_SHORT"]
    assert weak["errors"][0]["extensions"]["field"] == "newPassword"
    assert "short" not in weak["errors"][0]["message"]
    changed = await earlier.post(CHANGE, {"c": "demo-password", "n": "meadow-violin-2"})
    session = changed["data"]["changePassword"]
    assert session["account"] == {"username": "demo-clerk"}
    # The session it was asked from has ended, in this process at once; the new one works.
    assert error_codes(await earlier.post("{ me { username } }")) == ["UNAUTHENTICATED"]
    fresh = GraphQLClient(client.http, session["token"])
    assert (await fresh.post("{ me { username } }"))["data"]["me"]["username"] == "demo-clerk"
    assert (await client.login("demo-clerk", "meadow-violin-2")).token
    # Not for those without a gateway password, nor for anyone not signed in.
    employer = await client.login("demo-employer")  # the demo's password
    assert error_codes(
        await employer.post(CHANGE, {"c": "demo-password", "n": "meadow-violin-3"})
    ) == ["FORBIDDEN"]
    assert error_codes(await client.post(CHANGE, {"c": "x", "n": "meadow-violin-3"})) == [
        "UNAUTHENTICATED"
    ]


async def test_a_disabled_accounts_token_is_refused_once_its_cache_entry_lapses(
    client: GraphQLClient, gateway: Gateway
) -> None:
    clerk = await client.login("demo-clerk")
    assert (await clerk.post("{ me { username } }"))["data"]["me"]["username"] == "demo-clerk"
    await gateway.store.accounts.set_disabled("demo-clerk")
    await gateway.cache.clear()  # as after account_cache_ttl_s
    assert error_codes(await clerk.post("{ me { username } }")) == ["UNAUTHENTICATED"]


async def test_signing_out_ends_every_session_of_the_account_at_once(
    client: GraphQLClient, gateway: Gateway
) -> None:
    # Two sessions, one left open at another window; both from this very second.
    here, elsewhere = await client.login("demo-clerk"), await client.login("demo-clerk")
    assert (await here.post("mutation { signOut }"))["data"]["signOut"] is True
    for ended in (here, elsewhere):
        assert error_codes(await ended.post("{ me { username } }")) == ["UNAUTHENTICATED"]
    # Signing in again at once works: that session is not taken for an ended one.
    again = await client.login("demo-clerk")
    assert (await again.post("{ me { username } }"))["data"]["me"]["username"] == "demo-clerk"
    assert error_codes(await client.post("mutation { signOut }")) == ["UNAUTHENTICATED"]


async def test_a_token_of_the_second_of_a_password_reset_is_refused_and_the_next_kept(
    client: GraphQLClient, gateway: Gateway
) -> None:
    stolen = await client.login("demo-clerk")
    await gateway.store.accounts.set_password("demo-clerk", "meadow-violin-2")
    await gateway.cache.clear()  # as after account_cache_ttl_s
    assert error_codes(await stolen.post("{ me { username } }")) == ["UNAUTHENTICATED"]
    fresh = await client.login("demo-clerk", "meadow-violin-2")
    assert (await fresh.post("{ me { username } }"))["data"]["me"]["username"] == "demo-clerk"
