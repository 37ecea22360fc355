"""What no check expected, each of which passed every check and was refused after
them by a store, the password hash or a sum of dates, as INTERNAL:

- characters no text may hold, in any string a caller sends: NUL, which
  PostgreSQL's text refuses, and half a character (a lone surrogate's ``\\u``
  escape), which no UTF-8 encoder takes (at sign-in, in a filter, a search, a
  lookup by id, a clerk's name): now INVALID_CHARACTER naming where it is;
- times and dates at the ends of the calendar: a filter's time that lies before
  year 1 or after 9999 once in UTC, a contract starting on 9999-12-31: now
  BAD_INPUT naming the filter, DATE_OUT_OF_RANGE naming the row's field.

On both stores, before anything runs or is stored."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from gateway.registrations.ports import RegistrationFilter
from gateway.services import Gateway
from tests.gateway.conftest import GraphQLClient
from tests.gateway.test_registrations_api import HIRE, hire_input, key


@pytest.fixture
def gateway_settings(store_url: str) -> dict[str, Any]:
    return {"store_url": store_url}


#: The two characters, as a JSON body spells them.
SPELT = {"nul": "\\u0000", "half": "\\ud800"}
#: Each string a caller sends that reached the store (or the hash): who sends it, the
#: operation, its variables with ``{c}`` where the character goes, and where it is.
REQUESTS: dict[str, tuple[str | None, str, str, str]] = {
    "sign-in user name": (
        None,
        'mutation($u: String!) { login(username: $u, password: "demo-password") { token } }',
        '{{"u": "demo-clerk{c}"}}',
        "variables.u",
    ),
    "sign-in password": (
        None,
        'mutation($p: String!) { login(username: "demo-clerk", password: $p) { token } }',
        '{{"p": "lantern{c}orchid"}}',
        "variables.p",
    ),
    "a clerk's display name": (
        "demo-admin",
        "mutation($i: NewClerkInput!) { createClerk(input: $i) { username } }",
        '{{"i": {{"username": "w9", "divisions": ["370100"], "password": "lantern-orchid-7", '
        '"displayName": "窗{c}"}}}}',
        "variables.i.displayName",
    ),
    "a search for units": (
        "demo-admin",
        "query($s: String) { employers(search: $s) { totalCount } }",
        '{{"s": "泉城{c}"}}',
        "variables.s",
    ),
    "registrations by actor": (
        "demo-admin",
        "query($f: RegistrationFilterInput) { registrations(filter: $f) { totalCount } }",
        '{{"f": {{"actor": "demo{c}"}}}}',
        "variables.f.actor",
    ),
    "registrations by unit": (
        "demo-admin",
        "query($f: RegistrationFilterInput) { registrations(filter: $f) { totalCount } }",
        '{{"f": {{"creditCode": "9137{c}"}}}}',
        "variables.f.creditCode",
    ),
    "a registration by id": (
        "demo-clerk",
        "query($i: ID!) { registration(id: $i) { state } }",
        '{{"i": "r{c}"}}',
        "variables.i",
    ),
    "a retry by id": (
        "demo-clerk",
        "mutation($i: ID!) { retryRegistration(id: $i) { state } }",
        '{{"i": "r{c}"}}',
        "variables.i",
    ),
    "a person by ID number": (
        "demo-clerk",
        "query($n: String!) { worker(idType: RESIDENT_ID, idNumber: $n) { name } }",
        '{{"n": "370102{c}"}}',
        "variables.n",
    ),
    "the audit log by actor": (
        "demo-admin",
        "query($f: AuditLogFilter) { auditLog(filter: $f) { nodes { position } } }",
        '{{"f": {{"actor": "demo{c}"}}}}',
        "variables.f.actor",
    ),
    "a clerk by user name": (
        "demo-admin",
        "mutation($u: String!) { disableClerk(username: $u) { username } }",
        '{{"u": "demo-clerk{c}"}}',
        "variables.u",
    ),
}


@pytest.mark.parametrize("character", list(SPELT))
async def test_a_character_no_text_may_hold_is_refused_where_it_is(
    client: GraphQLClient, character: str
) -> None:
    callers = {name: await client.login(name) for name in ("demo-admin", "demo-clerk")}
    for what, (who, query, variables, where) in REQUESTS.items():
        headers = {"Content-Type": "application/json"}
        if who is not None:
            headers["Authorization"] = f"Bearer {callers[who].token}"
        spelt = variables.format(c=SPELT[character])
        body = json.dumps({"query": query})[:-1] + f', "variables": {spelt}}}'
        response = await client.http.post("/graphql", content=body, headers=headers)
        assert response.status_code == 400, (what, response.text)
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "INVALID_CHARACTER", (what, error)
        assert error["extensions"]["field"] == where, what
    clerks = await callers["demo-admin"].post("{ clerks { username disabled } }")
    assert "errors" not in clerks
    assert {(c["username"], c["disabled"]) for c in clerks["data"]["clerks"]} == {
        ("demo-clerk", False)
    }  # nothing made, nothing disabled


async def test_nul_in_the_document_is_refused_naming_its_argument(client: GraphQLClient) -> None:
    admin = await client.login("demo-admin")
    for query, where in [
        ('{ registrations(filter: {actor: "demo\\u0000"}) { totalCount } }', "filter.actor"),
        ('{ employers(search: "泉城\\u0000") { totalCount } }', "search"),
    ]:
        body = await admin.post(query)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "INVALID_CHARACTER", body
        assert error["extensions"]["field"] == where
        assert "data" not in body
    # NUL itself in the document, not its escape: the request's JSON holds it.
    raw = await client.http.post(
        "/graphql",
        json={"query": '{ employers(search: "泉城\u0000") { totalCount } }'},
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert raw.status_code == 400
    assert raw.json()["errors"][0]["extensions"]["field"] == "query"
    # Half a character in the document never parses.
    half = await admin.post('{ employers(search: "\\ud800") { totalCount } }')
    assert [e["extensions"]["code"] for e in half["errors"]] == ["GRAPHQL_PARSE_FAILED"]


async def test_the_forms_files_refuse_what_no_text_may_hold(client: GraphQLClient) -> None:
    admin = await client.login("demo-admin")
    headers = {"Authorization": f"Bearer {admin.token}"}
    for url, status, field in [
        ("/forms/registrations.xlsx?creditCode=%00", 400, "creditCode"),  # was a 500
        ("/forms/registrations.xlsx?creditCode=not-a-code", 400, "creditCode"),
        ("/forms/registrations.xlsx?actor=demo%00", 400, None),
        ("/forms/registrations/r%00/print.xlsx", 404, None),
    ]:
        response = await client.http.get(url, headers=headers)
        assert response.status_code == status, (url, response.text)
        [error] = response.json()["errors"]
        assert error["extensions"].get("field") == field, url
    # The code as any case and spacing of a real one still exports its registrations.
    fine = await client.http.get(
        "/forms/registrations.xlsx?creditCode=%2091370102ma3c4tlq2n", headers=headers
    )
    assert fine.status_code == 200


async def test_a_batch_with_one_such_character_is_refused_whole_and_nothing_is_stored(
    client: GraphQLClient, gateway: Gateway
) -> None:
    """A hire batch reports each row's problems (a control character is one, by row and
    field); NUL is not a row's problem but a broken request: refused whole, naming the
    row's field, nothing stored."""
    employer = await client.login("demo-employer")
    rows = [hire_input(), hire_input(name="张\x00三")]
    response = await client.http.post(
        "/graphql",
        json={"query": HIRE, "variables": {"w": rows, "k": key()}},
        headers={"Authorization": f"Bearer {employer.token}"},
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "INVALID_CHARACTER"
    assert error["extensions"]["field"] == "variables.w[1].person.name"
    page = await gateway.store.registrations.list(RegistrationFilter(), first=10)
    assert page.items == []


@pytest.mark.parametrize(
    ("field", "time"),
    [("since", "9999-12-31T23:59:59-12:00"), ("until", "0001-01-01T00:00:00+14:00")],
)
async def test_a_filter_time_beyond_the_calendar_in_utc_is_refused_naming_it(
    client: GraphQLClient, field: str, time: str
) -> None:
    admin = await client.login("demo-admin")
    for query in (
        "query($f: RegistrationFilterInput) { registrations(filter: $f) { totalCount } }",
        "query($f: AuditLogFilter) { auditLog(filter: $f) { nodes { position } } }",
    ):
        body = await admin.post(query, {"f": {field: time}})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_INPUT", body
        assert error["extensions"]["field"] == field
    # The ends themselves, in UTC, are times like any other.
    edge = "9999-12-31T23:59:59Z" if field == "since" else "0001-01-01T00:00:00Z"
    fine = await admin.post(
        "query($f: RegistrationFilterInput) { registrations(filter: $f) { totalCount } }",
        {"f": {field: edge}},
    )
    assert "errors" not in fine, fine


async def test_a_contract_dated_beyond_working_lives_is_a_problem_of_its_row(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    last_day = hire_input()
    last_day["contract"]["startDate"] = last_day["contract"]["endDate"] = "9999-12-31"
    long_end = hire_input()
    long_end["contract"]["endDate"] = "2100-01-01"
    body = await employer.post(HIRE, {"w": [last_day, long_end], "k": key()})
    assert "errors" not in body, body
    result = body["data"]["hire"]
    assert {(p["row"], p["field"], p["code"]) for p in result["problems"]} == {
        (0, "start_date", "DATE_OUT_OF_RANGE"),
        (0, "contract_end_date", "DATE_OUT_OF_RANGE"),
        (1, "contract_end_date", "DATE_OUT_OF_RANGE"),
    }
    assert result["registrations"] == []
    page = await gateway.store.registrations.list(RegistrationFilter(), first=10)
    assert page.items == []


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def test_a_cursor_no_list_gave_out_is_bad_input_whatever_it_holds(
    client: GraphQLClient,
) -> None:
    """Cursors are opaque to a client, not to one who decodes them: a position past
    64 bits (an OverflowError in SQLite, out of range in PostgreSQL), NUL in a key, a
    time beyond the calendar once in UTC (an OverflowError binding it)."""
    admin = await client.login("demo-admin")
    for query, cursor in [
        ("{ auditLog(after: $a) { nodes { position } } }", _cursor("audit:" + "9" * 30)),
        ("{ auditLog(after: $a) { nodes { position } } }", _cursor("audit:" + "9" * 5000)),
        ("{ auditLog(after: $a) { nodes { position } } }", _cursor("audit:\u0661\u0662")),
        ("{ employers(after: $a) { totalCount } }", _cursor("employer:9137\x00")),
        (
            "{ registrations(after: $a) { totalCount } }",
            _cursor("registration:2026-01-01T00:00:00+00:00|r\x00"),
        ),
        # A time before year 1 or after 9999 once in UTC (an OverflowError converting it).
        (
            "{ registrations(first: 5, after: $a) { nodes { id } } }",
            _cursor("registration:0001-01-01T00:00:00+08:00|x"),
        ),
        (
            "{ registrations(first: 5, after: $a) { nodes { id } } }",
            _cursor("registration:9999-12-31T23:59:59-08:00|x"),
        ),
    ]:
        body = await admin.post(f"query($a: String) {query}", {"a": cursor})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_INPUT", body
        assert error["extensions"]["field"] == "after"
    # The ends themselves, in UTC, are times like any other.
    for at in ("0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59.999999+00:00"):
        fine = await admin.post(
            "query($a: String) { registrations(first: 5, after: $a) { nodes { id } } }",
            {"a": _cursor(f"registration:{at}|x")},
        )
        assert "errors" not in fine, fine


async def test_an_id_number_longer_than_any_is_bad_input_before_a_system_or_the_log(
    client: GraphQLClient, gateway: Gateway
) -> None:
    """Looked up, it was audited as a worker not found, and PostgreSQL refused its
    masked form, longer than the log's column: INTERNAL."""
    clerk = await client.login("demo-clerk")
    employer = await client.login("demo-employer")
    long = "370102" + "1" * 40
    for caller, query in [
        (clerk, "query($n: String!) { worker(idType: RESIDENT_ID, idNumber: $n) { name } }"),
        (
            employer,
            "query($n: String!) { employer { worker(idType: RESIDENT_ID, idNumber: $n) "
            "{ name } } }",
        ),
    ]:
        body = await caller.post(query, {"n": long})
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_INPUT", body
        assert error["extensions"]["field"] == "idNumber"
    assert (await gateway.store.audit.query(first=10)).items == []
