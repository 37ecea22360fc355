"""An employer's worker list: one row per person, however many registrations they have.

The audit's finding: a worker let go (and registered unemployed) then hired again at the
same unit was listed twice (totalCount 18 for 17 people), under both
``filter: {state: EMPLOYED}`` and ``{state: DISMISSED}``, and shown
``REGISTERED_UNEMPLOYED`` while employed, contracted and insured. A row is a person (ID
type and number) at the unit, built from their newest employment registration; the
current employment outranks an unemployment registration of the relation before it,
which stays an inconsistency for a clerk to see.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from adapters.standin.seed import EMPLOYERS
from gateway.domain.model import System
from gateway.registry import adapter_as
from gateway.services import Gateway
from gateway.systems import EmploymentSystem
from tests.factories import resident_id
from tests.gateway.conftest import GraphQLClient
from tests.gateway.test_registrations_api import HIRE, hire_input, key, settled

END = """mutation($w: [EndInput!]!, $k: String!) {
  endEmployment(workers: $w, idempotencyKey: $k) {
    accepted problems { code } registrations { id } } }"""
PAGE = """query($n: Int!, $a: String, $f: WorkerFilter) { employer {
  workers(first: $n, after: $a, filter: $f) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { name idType idNumber status inconsistencies
      employmentRecords { state } } } } } }"""


async def walk(
    client: GraphQLClient, size: int, state: str | None = None
) -> tuple[list[dict[str, Any]], set[int]]:
    """Every row of the list, a page of ``size`` at a time, and the totalCounts the pages gave."""
    rows: list[dict[str, Any]] = []
    totals: set[int] = set()
    after = None
    while True:
        variables = {"n": size, "a": after, "f": {"state": state} if state else None}
        body = await client.post(PAGE, variables)
        assert "errors" not in body, body
        conn = body["data"]["employer"]["workers"]
        rows += [e["node"] for e in conn["edges"]]
        totals.add(conn["totalCount"])
        if not conn["pageInfo"]["hasNextPage"]:
            return rows, totals
        after = conn["pageInfo"]["endCursor"]


async def settled_as(client: GraphQLClient, body: dict[str, Any], field: str) -> None:
    result = body["data"][field]
    assert result["problems"] == [], result
    [registration] = result["registrations"]
    assert (await settled(client, registration["id"]))["state"] == "COMPLETED"


async def test_a_worker_let_go_and_hired_again_is_one_employed_row(
    client: GraphQLClient, gateway: Gateway, worker: None
) -> None:
    employer = await client.login("demo-employer")
    name = "复聘" + uuid.uuid4().hex[:6]
    today = dt.date.today()
    first = hire_input(today - dt.timedelta(days=60), name=name, idNumber=resident_id())
    await settled_as(employer, await employer.post(HIRE, {"w": [first], "k": key()}), "hire")
    ending = {
        "person": first["person"],
        "reason": "AGREEMENT",
        "date": (today - dt.timedelta(days=30)).isoformat(),
        "registerUnemployment": True,
    }
    await settled_as(
        employer, await employer.post(END, {"w": [ending], "k": key()}), "endEmployment"
    )
    again = {**hire_input(today - dt.timedelta(days=10)), "person": first["person"]}
    await settled_as(employer, await employer.post(HIRE, {"w": [again], "k": key()}), "hire")

    everyone, totals = await walk(employer, 100)
    theirs = [row for row in everyone if row["name"] == name]
    assert len(theirs) == 1, theirs
    [row] = theirs
    assert row["status"] == "EMPLOYED_WITH_CONTRACT"
    assert "UNEMPLOYED_WHILE_EMPLOYED" in row["inconsistencies"]
    assert sorted(r["state"] for r in row["employmentRecords"]) == ["DISMISSED", "EMPLOYED"]

    # Counted as people: the unit's registrations, one per ID type and number.
    employment = adapter_as(gateway.adapters[System.EMPLOYMENT], EmploymentSystem)
    record = await gateway.store.employers.get(EMPLOYERS[0].profile.credit_code)
    assert record is not None
    assert record.employment_id is not None
    registrations, page = [], 1
    while True:
        found = await employment.list_by_employer(record.employment_id, page=page, size=100)
        registrations += found.items
        if page * 100 >= found.total:
            break
        page += 1
    people = {(r.person.id_type, r.person.id_number) for r in registrations}
    assert len(registrations) > len(people)  # this worker's two registrations at least
    assert totals == {len(everyone)} == {len(people)}

    # Pages of three give the same rows, in the same order.
    by_three, _ = await walk(employer, 3)
    assert [(r["name"], r["idNumber"]) for r in by_three] == [
        (r["name"], r["idNumber"]) for r in everyone
    ]

    # Under the state of their newest registration only; the filters part the list.
    employed, employed_totals = await walk(employer, 100, "EMPLOYED")
    dismissed, dismissed_totals = await walk(employer, 100, "DISMISSED")
    assert [r["name"] for r in employed].count(name) == 1
    assert name not in [r["name"] for r in dismissed]
    assert employed_totals == {len(employed)}
    assert dismissed_totals == {len(dismissed)}
    revoked, _ = await walk(employer, 100, "REVOKED")
    assert len(employed) + len(dismissed) + len(revoked) == len(everyone)
