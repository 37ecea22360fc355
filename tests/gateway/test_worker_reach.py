"""Whose worker a person is, and what of their other units a caller sees, through the graph.

The audit's findings:

1. A refused hire gave an employer read access to another employer's worker. Employer A
   hired employer B's worker (whose ID it knew); the employment system refused (E3002,
   registered at another unit) and the gateway revoked the contract it had filed at A.
   Before, A's ``employer { worker }`` was null; after, it was the whole worker, with
   the revoked contract, ``INSURED_ELSEWHERE`` and B's unit insurance number and the
   worker's start there. A record at the unit that was undone (a revoked employment
   registration or contract filing, a cancelled unemployment registration) makes
   nobody the unit's worker; one that ended (dismissed, a contract ended) does: a
   former worker is the unit's own history.
2. A former employer saw where its ex-worker works now: B's ``worker`` showed the
   spell at A who hired them after B, with A's number and dates. The spells shown
   are those at units the caller reaches (an employer: its own); of any other, at most
   whether the worker is insured elsewhere now (``insuranceStatus``).
3. ``Employer.workers`` cursors, forged (``w:99999999999999999999999``), came back as
   the employment system's refusal naming its field ``page`` in its own words: a
   cursor that is not one the list gave out is ``BAD_INPUT`` on ``after``.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

import pytest

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS
from gateway.auth import Role
from gateway.services import Gateway
from tests.gateway.conftest import DEMO_PASSWORD, GraphQLClient, error_codes
from tests.gateway.test_registrations_api import HIRE, hire_input, key, settled

JINAN, _, JINAN_2 = (e.profile.credit_code for e in EMPLOYERS)

END = """mutation($w: [EndInput!]!, $k: String!, $c: String) {
  endEmployment(workers: $w, idempotencyKey: $k, creditCode: $c) {
    accepted problems { code } registrations { id } } }"""
STEPS = """query($id: ID!) { registration(id: $id) {
  state steps { system operation state } } }"""
FIELDS = """name status insuranceStatus
  employmentRecords { state startDate } labourContracts { state startDate }
  unemploymentRegistrations { state }
  insuranceSpells { unitInsuranceNumber atThisEmployer startDate stopDate state }"""
WORKER = (
    "query($n: String!, $c: String) { employer(creditCode: $c) { "
    "systemIds { socialInsurance } worker(idType: RESIDENT_ID, idNumber: $n) { " + FIELDS + " } } }"
)
LIST = (
    "query($c: String, $a: String) { employer(creditCode: $c) { "
    "workers(first: 100, after: $a) { pageInfo { hasNextPage endCursor } "
    "edges { node { " + FIELDS + " } } } } }"
)
ROOT = "query($n: String!) { worker(idType: RESIDENT_ID, idNumber: $n) { name } }"
ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Worker { name insuranceSpells { unitInsuranceNumber } } } }"""


@pytest.fixture
def gateway_settings(social_insurance_standin: RunningStandin) -> dict[str, Any]:
    social_insurance_standin.faults(review_delay_s=0)  # declarations decided at once
    return {
        "environ": {
            "HRSS_SOCIAL_INSURANCE_ENABLED": "true",
            "HRSS_SOCIAL_INSURANCE_URL": social_insurance_standin.url,
            "HRSS_SOCIAL_INSURANCE_TIMEOUT": "3",
            "HRSS_STEP_BACKOFF_BASE_S": "0.2",
            "HRSS_STEP_BACKOFF_CAP_S": "0.5",
        }
    }


def insured_hire(start: dt.date, name: str, **changes: Any) -> dict[str, Any]:
    return {**hire_input(start, name=name), "monthlyWage": "6500.00", **changes}


async def done(client: GraphQLClient, body: dict[str, Any], field: str) -> str:
    """The one registration ``body`` submitted, once final: its state."""
    result = body["data"][field]
    assert result["problems"] == [], result
    [registration] = result["registrations"]
    return str((await settled(client, registration["id"]))["state"])


async def employer_of(client: GraphQLClient, gateway: Gateway, credit_code: str) -> GraphQLClient:
    username = f"employer-{uuid.uuid4().hex[:8]}"
    await gateway.store.accounts.create(
        username, DEMO_PASSWORD, Role.EMPLOYER, credit_code=credit_code
    )
    return await client.login(username)


async def listed(client: GraphQLClient, name: str, credit_code: str | None = None) -> list[Any]:
    """The rows of the unit's whole list that are ``name``."""
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        body = await client.post(LIST, {"c": credit_code, "a": after})
        assert "errors" not in body, body
        conn = body["data"]["employer"]["workers"]
        rows += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            return [r for r in rows if r["name"] == name]
        after = conn["pageInfo"]["endCursor"]


async def test_a_refused_hire_gives_no_sight_of_another_units_worker(
    client: GraphQLClient, gateway: Gateway, worker: None
) -> None:
    today = dt.date.today()
    name = "他人" + uuid.uuid4().hex[:6]
    clerk = await client.login("demo-clerk")  # Jinan: both units within its reach
    theirs = insured_hire(today - dt.timedelta(days=20), name)
    body = await clerk.post(HIRE, {"w": [theirs], "k": key(), "c": JINAN_2})
    assert await done(clerk, body, "hire") == "COMPLETED"
    number = theirs["person"]["idNumber"]

    employer = await client.login("demo-employer")
    stranger = {"n": hire_input()["person"]["idNumber"]}  # a number nobody holds
    nobody = await employer.post(WORKER, stranger)
    assert nobody["data"]["employer"]["worker"] is None, nobody
    before = await employer.post(WORKER, {"n": number})
    assert before == nobody, before

    # The probe: a hire of the other unit's worker, refused and undone.
    probe = {**insured_hire(today - dt.timedelta(days=2), name), "person": theirs["person"]}
    body = await employer.post(HIRE, {"w": [probe], "k": key()})
    [registration] = body["data"]["hire"]["registrations"]
    await settled(employer, registration["id"])
    steps = (await employer.post(STEPS, {"id": registration["id"]}))["data"]["registration"]
    assert steps["state"] == "COMPENSATED", steps
    states = {s["system"]: s["state"] for s in steps["steps"]}
    assert states["EMPLOYMENT"] == "REFUSED", steps
    assert states["LABOUR"] == "UNDONE", steps  # filed at this unit, then revoked

    # The worker is answered as one nobody holds, through every way in.
    after = await employer.post(WORKER, {"n": number})
    assert after == nobody, after
    assert await listed(employer, name) == []
    root = await employer.post(ROOT, {"n": number})
    assert root == {"data": {"worker": None}}, root
    representation = {"__typename": "Worker", "idType": "RESIDENT_ID", "idNumber": number}
    entities = await employer.post(ENTITIES, {"r": [representation]})
    assert entities == {"data": {"_entities": [None]}}, entities

    # The other unit still has its worker, and sees nothing of the probe's unit.
    other = await employer_of(client, gateway, JINAN_2)
    body = await other.post(WORKER, {"n": number})
    seen = body["data"]["employer"]
    assert seen["worker"]["name"] == name, body
    [spell] = seen["worker"]["insuranceSpells"]
    assert spell["unitInsuranceNumber"] == seen["systemIds"]["socialInsurance"]


async def test_a_former_employer_sees_only_its_own_spells_not_where_they_work_now(
    client: GraphQLClient, gateway: Gateway, worker: None
) -> None:
    today = dt.date.today()
    name = "前员" + uuid.uuid4().hex[:6]
    clerk = await client.login("demo-clerk")
    hired_there = today - dt.timedelta(days=90)
    first = insured_hire(hired_there, name)
    body = await clerk.post(HIRE, {"w": [first], "k": key(), "c": JINAN_2})
    assert await done(clerk, body, "hire") == "COMPLETED"
    ending = {
        "person": first["person"],
        "reason": "AGREEMENT",
        "date": (today - dt.timedelta(days=40)).isoformat(),
        "registerUnemployment": False,
    }
    body = await clerk.post(END, {"w": [ending], "k": key(), "c": JINAN_2})
    assert await done(clerk, body, "endEmployment") == "COMPLETED"

    employer = await client.login("demo-employer")
    hired_here = today - dt.timedelta(days=10)
    again = {**insured_hire(hired_here, name), "person": first["person"]}
    body = await employer.post(HIRE, {"w": [again], "k": key()})
    assert await done(employer, body, "hire") == "COMPLETED"
    number = first["person"]["idNumber"]

    # The new employer: its own spell only, nothing of the unit before it.
    body = await employer.post(WORKER, {"n": number})
    assert "errors" not in body, body
    here = body["data"]["employer"]
    unit_here = here["systemIds"]["socialInsurance"]
    assert here["worker"]["insuranceStatus"] == "INSURED"
    [spell] = here["worker"]["insuranceSpells"]
    assert (spell["unitInsuranceNumber"], spell["atThisEmployer"]) == (unit_here, True)
    assert spell["startDate"] == hired_here.isoformat()

    # The former employer: its worker still (its own history), its own spell only;
    # that the worker is insured elsewhere now, as a yes or no, and nothing more.
    former = await employer_of(client, gateway, JINAN_2)
    body = await former.post(WORKER, {"n": number})
    assert "errors" not in body, body
    there = body["data"]["employer"]
    unit_there = there["systemIds"]["socialInsurance"]
    shown = there["worker"]
    assert shown["status"] == "DISMISSED"
    assert shown["insuranceStatus"] == "INSURED_ELSEWHERE"
    [spell] = shown["insuranceSpells"]
    assert (spell["unitInsuranceNumber"], spell["atThisEmployer"]) == (unit_there, True)
    assert spell["state"] == "STOPPED"
    assert spell["startDate"] == hired_there.isoformat()
    assert unit_here not in str(body)
    assert hired_here.isoformat() not in str(body)
    [row] = await listed(former, name)
    assert [s["unitInsuranceNumber"] for s in row["insuranceSpells"]] == [unit_there]
    representation = {"__typename": "Worker", "idType": "RESIDENT_ID", "idNumber": number}
    entities = await employer.post(ENTITIES, {"r": [representation]})
    [entity] = entities["data"]["_entities"]
    assert [s["unitInsuranceNumber"] for s in entity["insuranceSpells"]] == [unit_here]

    # A clerk who reaches both units sees the spells of both, whichever it reads at.
    for unit, own in ((JINAN_2, unit_there), (JINAN, unit_here)):
        body = await clerk.post(WORKER, {"n": number, "c": unit})
        assert "errors" not in body, body
        spells = body["data"]["employer"]["worker"]["insuranceSpells"]
        assert {(s["unitInsuranceNumber"], s["atThisEmployer"]) for s in spells} == {
            (unit_here, own == unit_here),
            (unit_there, own == unit_there),
        }


# ------------------------------------------------------------------ cursors

PAGE = """query($a: String, $n: Int! = 2) { employer {
  workers(first: $n, after: $a) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { name } } } } }"""


def forged(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        forged("w:99999999999999999999999"),
        forged("w:" + "9" * 5000),
        forged("w:-1"),
        forged("w:\u0661\u0662"),  # Arabic-Indic digits, which int() reads
        forged("w:007"),
        forged("w: 1"),
        forged("w:1\x00"),
        forged("x:1"),
        forged("w:"),
        "w:1",
        "%%%",
        "",
    ],
)
async def test_a_forged_worker_cursor_is_bad_input_and_asks_no_system(
    client: GraphQLClient, employment_standin: RunningStandin, cursor: str
) -> None:
    employer = await client.login("demo-employer")
    listed_before = employment_standin.stats().get("employment.list", 0)
    body = await employer.post(PAGE, {"a": cursor})
    assert error_codes(body) == ["BAD_INPUT"], body
    [error] = body["errors"]
    assert error["extensions"]["field"] == "after"
    assert "page" not in str(error)
    assert body["data"] is None or body["data"]["employer"] is None
    assert employment_standin.stats().get("employment.list", 0) == listed_before


async def test_a_cursor_beyond_the_list_is_bad_input_and_those_given_out_page_on(
    client: GraphQLClient,
) -> None:
    employer = await client.login("demo-employer")
    first = await employer.post(PAGE)
    assert "errors" not in first, first
    conn = first["data"]["employer"]["workers"]
    total = conn["totalCount"]
    assert conn["pageInfo"]["hasNextPage"] is True
    # Beyond the list (a position it does not hold): refused, not an empty page.
    body = await employer.post(PAGE, {"a": forged(f"w:{total}")})
    assert error_codes(body) == ["BAD_INPUT"], body
    assert body["errors"][0]["extensions"]["field"] == "after"
    # The cursors the list gave out page on to the end, each row once.
    names = [e["node"]["name"] for e in conn["edges"]]
    after = last = conn["pageInfo"]["endCursor"]
    while after is not None:
        body = await employer.post(PAGE, {"a": after})
        assert "errors" not in body, body
        page = body["data"]["employer"]["workers"]
        names += [e["node"]["name"] for e in page["edges"]]
        last = page["pageInfo"]["endCursor"] or last
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    assert len(names) == total
    # The last row's cursor (the stand-ins, shared by a worker's tests, may hold more
    # than a page of this unit's workers): an empty page after it, not an error.
    body = await employer.post(PAGE, {"a": last})
    assert "errors" not in body, body
    assert body["data"]["employer"]["workers"]["edges"] == []
