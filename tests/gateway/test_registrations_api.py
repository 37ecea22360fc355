"""Registrations through the graph: checks, idempotency, policy, progress, rights."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
import websockets

from adapters.standin.process import free_port
from adapters.standin.seed import EMPLOYERS
from gateway.app import create_app
from gateway.auth import Role
from gateway.services import Gateway
from tests.factories import credit_code, mobile, resident_id
from tests.gateway.conftest import DEMO_PASSWORD, GraphQLClient, erased, error_codes

JINAN = EMPLOYERS[0].profile.credit_code
QINGDAO = EMPLOYERS[1].profile.credit_code

HIRE = """mutation($w: [HireInput!]!, $k: String!, $c: String, $v: Boolean! = false) {
  hire(workers: $w, idempotencyKey: $k, creditCode: $c, validOnly: $v) {
    accepted replayed
    registrations { id state business workerIdNumber steps { system operation state } }
    problems { row field code messageZh messageEn }
    warnings { row code }
  } }"""
REGISTRATION = """query($id: ID!) { registration(id: $id) {
  id state failure { code }
  steps { system operation state reference attempts nextAttemptAt } } }"""


def person(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "测试工人",
        "gender": "MALE",
        "ethnicity": "01",
        "idType": "RESIDENT_ID",
        "idNumber": resident_id(),
        "mobile": mobile(),
        "householdAddress": "山东省济南市历下区泉城路1号",
        "currentAddress": "山东省济南市历下区泉城路1号",
        "education": "BACHELOR",
    }
    data.update(overrides)
    return data


def hire_input(start: dt.date | None = None, **person_overrides: Any) -> dict[str, Any]:
    start = start or dt.date.today()
    return {
        "person": person(**person_overrides),
        "contract": {
            "contractType": "FIXED_TERM",
            "startDate": start.isoformat(),
            "endDate": (start + dt.timedelta(days=3 * 365)).isoformat(),
            "filingPersonCategory": "URBAN_EMPLOYEE",
            "employmentForm": "FULL_TIME",
            "post": "装配工",
            "labourFilingLocality": "370102",
        },
        "employmentPersonCategory": "NEW_URBAN_ENTRANT",
        "employmentLocality": "370102",
    }


def key() -> str:
    return uuid.uuid4().hex


async def hired(
    client: GraphQLClient,
) -> tuple[GraphQLClient, dict[str, Any], dict[str, Any]]:
    """The demo employer signed in, a hire's input it sent, and the registration it got."""
    employer = await client.login("demo-employer")
    hire = hire_input()
    body = await employer.post(HIRE, {"w": [hire], "k": key()})
    [registration] = body["data"]["hire"]["registrations"]
    return employer, hire, registration


async def settled(client: GraphQLClient, registration_id: str) -> dict[str, Any]:
    """The registration once it is final (or needs attention)."""
    async with asyncio.timeout(30):
        while True:
            body = await client.post(REGISTRATION, {"id": registration_id})
            reg = body["data"]["registration"]
            if reg["state"] in ("COMPLETED", "COMPENSATED", "CANCELLED", "NEEDS_ATTENTION"):
                return dict(reg)
            await asyncio.sleep(0.1)


async def test_every_problem_of_every_row_at_once_and_nothing_stored(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    valid = resident_id()
    bad_id = hire_input(idNumber=valid[:-1] + ("1" if valid[-1] != "1" else "2"))
    bad_mobile = hire_input(mobile="12345")
    good = hire_input()
    body = await employer.post(HIRE, {"w": [bad_id, good, bad_mobile], "k": key()})
    result = body["data"]["hire"]
    assert result["accepted"] is False
    assert result["registrations"] == []
    assert {(p["row"], p["field"], p["code"]) for p in result["problems"]} >= {
        (0, "id_number", "ID_NUMBER_CHECKSUM"),
        (2, "mobile", "MOBILE_FORMAT"),
    }
    assert all(p["messageZh"] and p["messageEn"] for p in result["problems"])
    page = await gateway.store.registrations.list(_all(), first=10)
    assert page.items == []


def _all() -> Any:
    from gateway.registrations.ports import RegistrationFilter

    return RegistrationFilter()


async def test_valid_only_stores_the_valid_rows(client: GraphQLClient) -> None:
    employer = await client.login("demo-employer")
    body = await employer.post(
        HIRE, {"w": [hire_input(mobile="123"), hire_input()], "k": key(), "v": True}
    )
    result = body["data"]["hire"]
    assert result["accepted"] is True
    assert len(result["registrations"]) == 1
    assert [p["row"] for p in result["problems"]] == [0]


async def test_hire_completes_in_both_systems_and_the_worker_view_follows(
    client: GraphQLClient, gateway: Gateway, worker: None
) -> None:
    employer, hire, registration = await hired(client)
    number = hire["person"]["idNumber"]
    assert registration["business"] == "HIRE"
    assert registration["workerIdNumber"] != number  # masked
    assert {(s["system"], s["operation"]) for s in registration["steps"]} == {
        ("EMPLOYMENT", "REGISTER_EMPLOYMENT"),
        ("LABOUR", "FILE_CONTRACT"),
    }
    done = await settled(employer, registration["id"])
    assert done["state"] == "COMPLETED"
    assert all(s["state"] == "DONE" and s["reference"] for s in done["steps"])
    # Nothing is tried again: no time is shown for it.
    assert [s["nextAttemptAt"] for s in done["steps"]] == [None, None]
    view = await employer.post(
        "query($n: String!) { employer { worker(idType: RESIDENT_ID, idNumber: $n) { status } } }",
        {"n": number},
    )
    assert view["data"]["employer"]["worker"]["status"] == "EMPLOYED_WITH_CONTRACT"


async def test_same_key_same_content_returns_the_same_registrations(client: GraphQLClient) -> None:
    employer = await client.login("demo-employer")
    variables = {"w": [hire_input()], "k": key()}
    first = (await employer.post(HIRE, variables))["data"]["hire"]
    again = (await employer.post(HIRE, variables))["data"]["hire"]
    assert again["replayed"] is True
    assert [r["id"] for r in again["registrations"]] == [r["id"] for r in first["registrations"]]
    other = await employer.post(HIRE, {"w": [hire_input()], "k": variables["k"]})
    assert error_codes(other) == ["IDEMPOTENCY_KEY_REUSED"]


async def test_a_second_registration_of_a_busy_worker_is_refused(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    hire = hire_input()
    # No worker runs: it stays unfinished.
    first = (await employer.post(HIRE, {"w": [hire], "k": key()}))["data"]["hire"]
    [under_way] = first["registrations"]
    body = await employer.post(HIRE, {"w": [hire], "k": key()})
    [problem] = body["data"]["hire"]["problems"]
    assert problem["code"] == "REGISTRATION_IN_PROGRESS"
    # The registration under way is named, for a front end to link to; nothing personal.
    assert under_way["id"] in problem["messageZh"]
    assert under_way["id"] in problem["messageEn"]
    person_ = hire["person"]
    for said in (problem["messageZh"], problem["messageEn"]):
        assert person_["idNumber"] not in said
        assert person_["mobile"] not in said
        assert person_["name"] not in said
    # A clerk hiring the same worker for another unit of its divisions reaches the first
    # unit too: named to it (the audit's finding: it was not, the clerk left guessing).
    clerk = await client.login("demo-clerk")
    other_unit = await clerk.post(
        HIRE, {"w": [hire], "k": key(), "c": EMPLOYERS[2].profile.credit_code}
    )
    [problem] = other_unit["data"]["hire"]["problems"]
    assert problem["code"] == "REGISTRATION_IN_PROGRESS"
    assert under_way["id"] in problem["messageZh"]
    assert under_way["id"] in problem["messageEn"]
    # The other unit itself does not reach the first: it learns of no registration there.
    await gateway.store.accounts.create(
        "jinan2-employer",
        DEMO_PASSWORD,
        Role.EMPLOYER,
        credit_code=EMPLOYERS[2].profile.credit_code,
    )
    other_employer = await client.login("jinan2-employer")
    elsewhere = await other_employer.post(HIRE, {"w": [hire], "k": key()})
    [problem] = elsewhere["data"]["hire"]["problems"]
    assert problem["code"] == "REGISTRATION_IN_PROGRESS"
    assert under_way["id"] not in problem["messageZh"] + problem["messageEn"]


async def test_a_duplicate_in_a_request_names_the_first_row_counted_from_one(
    client: GraphQLClient,
) -> None:
    from gateway.schema.registrations import RowIssue

    employer = await client.login("demo-employer")
    twice = hire_input()
    body = await employer.post(HIRE, {"w": [twice, hire_input(), twice], "k": key()})
    [problem] = body["data"]["hire"]["problems"]
    assert (problem["row"], problem["code"]) == (2, "DUPLICATE_IN_FORM")
    assert "本表第1行" in problem["messageZh"]
    assert "Row 1 of this form" in problem["messageEn"]
    # ``row`` counts from 0, the messages from 1: the schema says so.
    [row] = [f for f in RowIssue.__strawberry_definition__.fields if f.python_name == "row"]
    assert row.description is not None
    assert "0-based" in row.description
    assert "1-based" in row.description


async def test_a_mobile_typed_with_spaces_hyphens_or_full_width_digits_is_stored_normalised(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    typed = ["138 1234 5678", "138-1234-5678", "１３８１２３４５６７８"]
    body = await employer.post(HIRE, {"w": [hire_input(mobile=m) for m in typed], "k": key()})
    result = body["data"]["hire"]
    assert result["problems"] == []
    assert len(result["registrations"]) == 3
    for registration in result["registrations"]:
        found = await gateway.store.registrations.get(registration["id"])
        assert found is not None
        assert found.payload["mobile"] == "13812345678"
        sent = json.dumps([s.payload for s in found.steps], ensure_ascii=False)
        assert "13812345678" in sent
        assert not any(m in sent for m in typed)
    # What is still no mobile once normalised is refused as before.
    bad = await employer.post(HIRE, {"w": [hire_input(mobile="138 1234 567")], "k": key()})
    assert [p["code"] for p in bad["data"]["hire"]["problems"]] == ["MOBILE_FORMAT"]


EMPLOYER = "query($c: String) { employer(creditCode: $c) { creditCode } }"


@pytest.mark.parametrize(
    "typed", ["９１３７０１０２ＭＡ３Ｃ４ＴＬＱ２Ｎ", " 91370102ma3c4tlq2n ", "91370102MA3C4TLQ2N"]
)
async def test_a_credit_code_in_full_width_lower_case_or_with_spaces_finds_the_employer(
    client: GraphQLClient, typed: str
) -> None:
    assert JINAN == "91370102MA3C4TLQ2N"
    clerk = await client.login("demo-clerk")
    found = await clerk.post(EMPLOYER, {"c": typed})
    assert found.get("errors") is None, found
    assert found["data"]["employer"]["creditCode"] == JINAN
    body = await clerk.post(HIRE, {"w": [hire_input()], "k": key(), "c": typed})
    assert body.get("errors") is None, body
    assert body["data"]["hire"]["accepted"] is True
    # The lists' filters read it alike: the hire just made is among the unit's.
    [made] = body["data"]["hire"]["registrations"]
    listed = await clerk.post(
        "query($c: String) {"
        " registrations(filter: {creditCode: $c}, first: 100) { nodes { id } } }",
        {"c": typed},
    )
    assert made["id"] in {n["id"] for n in listed["data"]["registrations"]["nodes"]}, listed


async def test_late_registration_is_accepted_with_a_warning(client: GraphQLClient) -> None:
    employer = await client.login("demo-employer")
    late = hire_input(start=dt.date.today() - dt.timedelta(days=60))
    result = (await employer.post(HIRE, {"w": [late], "k": key()}))["data"]["hire"]
    assert result["accepted"] is True
    assert {w["code"] for w in result["warnings"]} == {
        "LATE_EMPLOYMENT_REGISTRATION",
        "LATE_CONTRACT_FILING",
    }


FORM = """mutation($f: RegistrationFormInput!, $k: String!) {
  submitRegistrationForm(form: $f, idempotencyKey: $k) {
    accepted registrations { id creditCode warnings { field code } }
    problems { row field code }
    warnings { row field code messageZh messageEn } } }"""


def form_row(hire: dict[str, Any]) -> dict[str, Any]:
    """A hire as a row of ``submitRegistrationForm``'s form."""
    contract = dict(hire["contract"])
    return {
        "business": "HIRE",
        "person": hire["person"],
        **{k: v for k, v in contract.items() if k != "endDate"},
        "contractEndDate": contract["endDate"],
        "employmentPersonCategory": hire["employmentPersonCategory"],
        "employmentLocality": hire["employmentLocality"],
    }


async def test_a_unit_name_that_is_not_the_credit_codes_unit_is_accepted_with_a_warning(
    client: GraphQLClient,
) -> None:
    """The finding: a clerk who mixed up two units' papers (济南历下家政's header with
    泉城's credit code) got no hint; the typed name never reached the checks. The
    credit code names the unit, so the rows are filed there, with a warning naming
    the name on record."""
    assert EMPLOYERS[2].profile.name == "济南历下家政服务有限公司"
    on_record = EMPLOYERS[0].profile.name
    clerk = await client.login("demo-clerk")
    form = {
        "unitName": EMPLOYERS[2].profile.name,
        "creditCode": JINAN,
        "rows": [form_row(hire_input())],
    }
    body = await clerk.post(FORM, {"f": form, "k": key()})
    result = body["data"]["submitRegistrationForm"]
    assert result["accepted"] is True, body
    assert result["problems"] == []
    [warning] = result["warnings"]
    assert (warning["row"], warning["field"], warning["code"]) == (
        None,
        "unit_name",
        "UNIT_NAME_DIFFERS",
    )
    assert on_record in warning["messageZh"]
    assert on_record in warning["messageEn"]
    [registration] = result["registrations"]
    assert registration["creditCode"] == JINAN
    # The registration keeps it: whoever looks at it later sees the header named another.
    assert registration["warnings"] == [{"field": "unit_name", "code": "UNIT_NAME_DIFFERS"}]
    # The name on record, typed with spaces (full-width too), or none typed: no warning.
    spaced = f" {on_record[:2]} {on_record[2:]}\u3000"
    for typed in (on_record, spaced, ""):
        form = {"unitName": typed, "creditCode": JINAN, "rows": [form_row(hire_input())]}
        same = (await clerk.post(FORM, {"f": form, "k": key()}))["data"]["submitRegistrationForm"]
        assert same["accepted"] is True, same
        assert same["warnings"] == [], typed


def test_unit_names_are_compared_without_spaces_and_with_brackets_of_either_width() -> None:
    from gateway.registrations.outcomes import unit_name_differs

    on_record = "山东泉城（集团）机械制造有限公司"
    for same in (
        "山东泉城(集团)机械制造有限公司",
        " 山东泉城 （集团） 机械制造有限公司 ",
        None,
        " ",
    ):
        assert unit_name_differs(same, on_record) is None, same
    differs = unit_name_differs("山东泉城（控股）机械制造有限公司", on_record)
    assert differs is not None
    assert (differs.field, differs.code) == ("unit_name", "UNIT_NAME_DIFFERS")
    assert on_record in differs.message_zh
    assert on_record in differs.message_en


SEPARATE = """mutation($w: HireInput!, $k: String!) {
  fileEmploymentRegistration(worker: $w, idempotencyKey: $k) {
    accepted registrations { business steps { operation } } } }"""


POLICY = "{ policy { today separateHandlingOpen } }"


async def test_separate_handling_follows_the_policy_dates(
    client: GraphQLClient, gateway: Gateway
) -> None:
    # ``policy`` says so beforehand, at every moment, as the refusals show it.
    employer = await client.login("demo-employer")
    closed = await employer.post(SEPARATE, {"w": hire_input(), "k": key()})
    assert error_codes(closed) == ["SEPARATE_HANDLING_CLOSED"]
    assert (await client.post(POLICY))["data"]["policy"]["separateHandlingOpen"] is False
    gateway.clock = lambda: dt.datetime(2021, 3, 1, 2, 0, tzinfo=dt.UTC)  # the transition
    start = dt.date(2021, 3, 1)
    opened = await employer.post(SEPARATE, {"w": hire_input(start=start), "k": key()})
    [registration] = opened["data"]["fileEmploymentRegistration"]["registrations"]
    assert registration["business"] == "SEPARATE"
    assert registration["steps"] == [{"operation": "REGISTER_EMPLOYMENT"}]
    gateway.clock = lambda: dt.datetime(2021, 4, 30, 15, 59, tzinfo=dt.UTC)  # 23:59 in Jinan
    assert (await client.post(POLICY))["data"]["policy"] == {
        "today": "2021-04-30",
        "separateHandlingOpen": True,
    }
    assert (await employer.post(SEPARATE, {"w": hire_input(start=start), "k": key()}))["data"]
    gateway.clock = lambda: dt.datetime(2021, 4, 30, 16, 0, tzinfo=dt.UTC)  # 05-01 00:00 there
    assert (await client.post(POLICY))["data"]["policy"] == {
        "today": "2021-05-01",
        "separateHandlingOpen": False,
    }
    late = await employer.post(SEPARATE, {"w": hire_input(start=start), "k": key()})
    assert error_codes(late) == ["SEPARATE_HANDLING_CLOSED"]


async def test_an_unemployment_registration_asked_alone_is_told_the_way_through(
    client: GraphQLClient,
) -> None:
    """A worker dismissed earlier comes back for the unemployment registration: asked
    alone it is closed, and the refusal says how to ask for it (the ending again as
    filed, with it), not only "the integrated registration"."""
    clerk = await client.login("demo-clerk")
    body = await clerk.post(
        """mutation($w: EndInput!, $k: String!, $c: String) {
          fileUnemploymentRegistration(worker: $w, idempotencyKey: $k, creditCode: $c) {
            accepted } }""",
        {
            "w": {
                "person": person(),
                "reason": "AGREEMENT",
                "date": (dt.date.today() - dt.timedelta(days=3)).isoformat(),
            },
            "k": key(),
            "c": JINAN,
        },
    )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "SEPARATE_HANDLING_CLOSED"
    assert "submit the ending again as filed" in error["extensions"]["message_en"]
    assert "按原日期再次提交解除（终止）并同时申请失业登记" in error["extensions"]["message_zh"]


async def test_registrations_are_seen_by_their_employer_and_clerks_only(
    client: GraphQLClient,
) -> None:
    employer = await client.login("demo-employer")
    [registration] = (await employer.post(HIRE, {"w": [hire_input()], "k": key()}))["data"]["hire"][
        "registrations"
    ]
    clerk = await client.login("demo-clerk")  # Jinan (370100) covers the employer's 370102
    seen = await clerk.post(REGISTRATION, {"id": registration["id"]})
    assert seen["data"]["registration"]["id"] == registration["id"]
    listed = await clerk.post("{ registrations(first: 50) { nodes { id channel } } }")
    assert registration["id"] in {n["id"] for n in listed["data"]["registrations"]["nodes"]}
    admin = await client.login("demo-admin")
    assert (await admin.post(REGISTRATION, {"id": registration["id"]}))["data"]
    hired_for_qingdao = await clerk.post(HIRE, {"w": [hire_input()], "k": key(), "c": QINGDAO})
    assert error_codes(hired_for_qingdao) == ["NOT_FOUND"]


SEARCH = """query($f: RegistrationFilterInput) {
  registrations(filter: $f, first: 50) { nodes { id workerIdNumber } } }"""


async def test_a_window_finds_one_persons_registrations_and_the_search_is_recorded(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    sought, other = hire_input(), hire_input()
    number = sought["person"]["idNumber"]
    body = await employer.post(HIRE, {"w": [sought, other], "k": key()})
    ids = [r["id"] for r in body["data"]["hire"]["registrations"]]
    # As a clerk types it: a lower-case check character, full-width digits, spaces.
    typed = (
        " ".join(number[:6])
        + number[6:-1].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        + number[-1].lower()
    )
    worker = {"workerIdType": "RESIDENT_ID", "workerIdNumber": typed}
    clerk = await client.login("demo-clerk")
    for caller in (employer, clerk, await client.login("demo-admin")):
        found = (await caller.post(SEARCH, {"f": worker}))["data"]["registrations"]["nodes"]
        assert [n["id"] for n in found] == [ids[0]]
        assert found[0]["workerIdNumber"] != number  # masked, as in every list
    # Within what the caller may see: an employer out of the clerk's reach has none.
    elsewhere = await clerk.post(SEARCH, {"f": {**worker, "creditCode": QINGDAO}})
    assert elsewhere["data"]["registrations"]["nodes"] == []
    # Half a worker is a mistake, named.
    for half, field in (
        ({"workerIdNumber": number}, "workerIdType"),
        ({"workerIdType": "RESIDENT_ID"}, "workerIdNumber"),
        ({"workerIdType": "RESIDENT_ID", "workerIdNumber": "9" * 40}, "workerIdNumber"),
    ):
        refused = await clerk.post(SEARCH, {"f": half})
        assert error_codes(refused) == ["BAD_INPUT"]
        assert refused["errors"][0]["extensions"]["field"] == field
    # Each search is a read of the person's data: who asked, for whom, through where.
    audit = gateway.store.audit
    page = await audit.query(
        worker_key=audit.worker_key("RESIDENT_ID", number),
        action="search_registrations",
        first=10,
    )
    assert [(r.actor_username, r.credit_code, r.channel) for r in reversed(page.items)] == [
        ("demo-employer", None, "government_portal"),
        ("demo-clerk", None, "service_window"),
        ("demo-admin", None, "government_portal"),
        ("demo-clerk", QINGDAO, "service_window"),
    ]


async def test_an_erased_registration_shows_masked_data_and_is_still_found_by_number(
    client: GraphQLClient, gateway: Gateway
) -> None:
    _, hire, registration = await hired(client)
    number = hire["person"]["idNumber"]
    await erased(gateway, registration["id"])
    clerk = await client.login("demo-clerk")
    worker = {"workerIdType": "RESIDENT_ID", "workerIdNumber": number}
    found = await clerk.post(
        """query($f: RegistrationFilterInput) { registrations(filter: $f, first: 5) {
          nodes { id workerIdType workerIdNumber workerName personalDataErasedAt } } }""",
        {"f": worker},
    )
    [node] = found["data"]["registrations"]["nodes"]
    assert node["id"] == registration["id"]
    assert node["workerIdType"] == "RESIDENT_ID"
    assert node["workerIdNumber"] == number[:6] + "*" * 8 + number[-4:]
    assert node["workerName"] == hire["person"]["name"]
    assert node["personalDataErasedAt"] is not None


async def test_a_window_lists_what_it_did_today(client: GraphQLClient, gateway: Gateway) -> None:
    employer = await client.login("demo-employer")
    clerk = await client.login("demo-clerk")
    began = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    online = (await employer.post(HIRE, {"w": [hire_input()], "k": key()}))["data"]["hire"]
    at_window = (await clerk.post(HIRE, {"w": [hire_input()], "k": key(), "c": JINAN}))["data"][
        "hire"
    ]
    ended = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)

    async def listed(**f: Any) -> list[str]:
        body = await clerk.post(SEARCH, {"f": f})
        return [n["id"] for n in body["data"]["registrations"]["nodes"]]

    mine, theirs = (r["registrations"][0]["id"] for r in (at_window, online))
    assert await listed(actor="demo-clerk") == [mine] == await listed(actor=" Demo-Clerk ")
    assert await listed(channel="GOVERNMENT_PORTAL") == [theirs]
    day = {"since": began.isoformat(), "until": ended.isoformat()}
    assert await listed(**day) == [mine, theirs]  # newest first
    assert await listed(**day, channel="SERVICE_WINDOW", actor="demo-clerk") == [mine]
    assert await listed(since=ended.isoformat()) == []
    # How many in all, whatever the page: what a list shows beside its title.
    counted = await clerk.post(
        "query($f: RegistrationFilterInput) { registrations(filter: $f, first: 1) {"
        " totalCount hasNextPage nodes { id } } }",
        {"f": day},
    )
    assert counted["data"]["registrations"] == {
        "totalCount": 2,
        "hasNextPage": True,
        "nodes": [{"id": mine}],
    }
    elsewhere = await clerk.post(
        '{ registrations(filter: {creditCode: "91370202MA3BQ6YK01"}) { totalCount } }'
    )
    assert elsewhere["data"]["registrations"]["totalCount"] == 0
    # A time without its zone is read differently by every client: refused, named.
    naive = await clerk.post(SEARCH, {"f": {"since": "2026-12-03T08:00:00"}})
    assert error_codes(naive) == ["BAD_INPUT"]
    assert naive["errors"][0]["extensions"]["field"] == "since"


async def test_a_clerk_acts_at_the_window(client: GraphQLClient) -> None:
    clerk = await client.login("demo-clerk")
    body = await clerk.post(HIRE, {"w": [hire_input()], "k": key(), "c": JINAN})
    [registration] = body["data"]["hire"]["registrations"]
    details = await clerk.post(
        "query($id: ID!) { registration(id: $id) { channel actor } }", {"id": registration["id"]}
    )
    assert details["data"]["registration"] == {"channel": "SERVICE_WINDOW", "actor": "demo-clerk"}


OPEN = """mutation($i: OpenAccountInput!, $k: String!) {
  openAccount(input: $i, idempotencyKey: $k) {
  account { username creditCode } result { accepted problems { field code }
  registrations { id business steps { system state } } } } }"""


async def test_a_clerk_opens_an_employers_account_and_the_unit_everywhere(
    client: GraphQLClient, gateway: Gateway, worker: None
) -> None:
    clerk = await client.login("demo-clerk")
    code = credit_code()
    account = {
        "creditCode": code,
        "name": "济南新开户科技有限公司",
        "division": "370102",
        "contact": "钱经理",
        "phone": "0531-81234567",
        "password": "a-long-password",
    }
    variables = {"i": account, "k": key()}
    body = await clerk.post(OPEN, variables)
    opened = body["data"]["openAccount"]
    # The account is named by its unit's code (employer passwords are on in these tests).
    assert opened["account"] == {"username": code.lower(), "creditCode": code}
    [registration] = opened["result"]["registrations"]
    assert registration["business"] == "OPEN_ACCOUNT"
    me = await client.login(code, account["password"])
    done = await settled(me, registration["id"])
    assert done["state"] == "COMPLETED"
    ids = (await me.post("{ employer { systemIds { employment labour unemployment } } }"))["data"][
        "employer"
    ]["systemIds"]
    assert all(ids.values())
    again = await clerk.post(OPEN, variables)
    assert again["data"]["openAccount"]["result"]["registrations"][0]["id"] == registration["id"]
    # Opened again under another key: the same one account, its password unchanged.
    second = await clerk.post(OPEN, {"i": {**account, "password": "another-long-pw-9"}, "k": key()})
    assert second["data"]["openAccount"]["account"] == {
        "username": code.lower(),
        "creditCode": code,
    }
    await client.login(code, account["password"])
    assert len(await gateway.store.accounts.for_employer(code)) == 1


OPEN_REFUSED = """mutation($i: OpenAccountInput!, $k: String!) {
  openAccount(input: $i, idempotencyKey: $k) {
  account { username } result { accepted registrations { id }
  problems { field code messageZh messageEn } } } }"""

#: The unit whose account the weak passwords are tried for (its code is its user name).
WEAK_UNIT = credit_code()


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("12345678", "PASSWORD_BREACHED"),
        ("password", "PASSWORD_BREACHED"),
        ("abcdefghij", "PASSWORD_TOO_COMMON"),
        (f"my-{WEAK_UNIT}-lantern", "PASSWORD_CONTAINS_USERNAME"),
        ("seven77", "PASSWORD_TOO_SHORT"),
    ],
)
async def test_open_account_refuses_a_weak_password(
    client: GraphQLClient, gateway: Gateway, password: str, code: str
) -> None:
    clerk = await client.login("demo-clerk")
    account = {
        "creditCode": WEAK_UNIT,
        "name": "济南弱密码科技有限公司",
        "division": "370102",
        "contact": "钱经理",
        "phone": "0531-81234567",
        "password": password,
    }
    body = await clerk.post(OPEN_REFUSED, {"i": account, "k": key()})
    opened = body["data"]["openAccount"]
    assert opened["account"] is None
    assert opened["result"]["accepted"] is False
    assert opened["result"]["registrations"] == []
    [problem] = [p for p in opened["result"]["problems"] if p["field"] == "password"]
    assert problem["code"] == code
    assert "密码" in problem["messageZh"]
    assert problem["messageEn"]
    if password != "password":  # that one is also a word of the message
        assert password not in problem["messageZh"] + problem["messageEn"]
    assert await gateway.store.accounts.for_employer(WEAK_UNIT) == []
    assert await gateway.store.employers.get(WEAK_UNIT) is None


SUBSCRIBE = "subscription($id: ID!) { registrationUpdates(id: $id) { state version } }"


async def follow_states(
    port: int,
    registration_id: str,
    *,
    header: str | None = None,
    init: dict[str, Any] | None = None,
) -> list[str]:
    states: list[str] = []
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/graphql",
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        additional_headers={"Authorization": header} if header else None,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": init or {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": {"id": registration_id}},
                }
            )
        )
        async with asyncio.timeout(30):
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "complete":
                    return states
                states.append(message["payload"]["data"]["registrationUpdates"]["state"])


async def test_progress_streams_over_a_subscription(
    worker: None, client: GraphQLClient, server: int
) -> None:
    employer = await client.login("demo-employer")
    for way in ("header", "connection_init"):
        [registration] = (await employer.post(HIRE, {"w": [hire_input()], "k": key()}))["data"][
            "hire"
        ]["registrations"]
        if way == "header":
            states = await follow_states(
                server, registration["id"], header=f"Bearer {employer.token}"
            )
        else:  # as a browser does: no headers on a WebSocket, the token in the payload
            states = await follow_states(
                server, registration["id"], init={"Authorization": f"Bearer {employer.token}"}
            )
        assert states[-1] == "COMPLETED"
        assert len(states) >= 2


async def test_a_subscription_with_a_bad_token_is_refused(server: int) -> None:
    async with websockets.connect(
        f"ws://127.0.0.1:{server}/graphql",
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": "forged"}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_a_socket_outlives_no_account_it_was_opened_for(
    client: GraphQLClient, gateway: Gateway, server: int
) -> None:
    """A token taken, a socket opened with it, the account disabled (or its password
    set again): the socket ran queries and mutations as that account for as long as
    it stayed open. Now each operation asks again, and a subscription that is
    running ends at its next turn."""
    clerk = await client.login("demo-clerk")
    [held] = (await clerk.post(HIRE, {"w": [hire_input()], "k": key(), "c": JINAN}))["data"][
        "hire"
    ]["registrations"]  # no worker: it stays ACCEPTED, and its subscription open
    async with socket(server, clerk.token) as ws:
        await start(ws, "me", "{ me { username } }")
        answer = json.loads(await ws.recv())
        assert answer["payload"]["data"]["me"]["username"] == "demo-clerk"
        assert json.loads(await ws.recv())["type"] == "complete"
        await start(ws, "follow", SUBSCRIBE, {"id": held["id"]})
        first = json.loads(await ws.recv())
        assert first["payload"]["data"]["registrationUpdates"]["state"] == "ACCEPTED"

        await gateway.store.accounts.set_disabled("demo-clerk")
        await gateway.cache.clear()  # as after account_cache_ttl_s
        gateway.events.changed([held["id"]])  # the subscription's next turn, now
        async with asyncio.timeout(10):
            ended = json.loads(await ws.recv())
        assert ended["id"] == "follow"
        assert [e["extensions"]["code"] for e in ended["payload"]["errors"]] == ["UNAUTHENTICATED"]
        await start(ws, "again", 'mutation { cancelRegistration(id: "x") { id } }')
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(_drained(ws), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


async def _drained(ws: Any) -> None:
    """Every message until the socket closes (``ConnectionClosed``)."""
    while True:
        await ws.recv()


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[int]:
    """``app`` on a real loopback port (WebSockets need a real server)."""
    port = free_port()
    served = uvicorn.Server(uvicorn.Config(app, port=port, log_level="error"))
    task = asyncio.create_task(served.serve())
    try:
        while not served.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.05)
        yield port
    finally:
        served.should_exit = True
        await task


@contextlib.asynccontextmanager
async def socket(port: int, token: str | None) -> AsyncIterator[Any]:
    """A graphql-transport-ws socket, signed in with ``token`` as a browser does."""
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/graphql",
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
    ) as ws:
        init = {"Authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        yield ws


async def start(ws: Any, op: str, query: str, variables: dict[str, Any] | None = None) -> None:
    payload = {"query": query, "variables": variables or {}}
    await ws.send(json.dumps({"id": op, "type": "subscribe", "payload": payload}))


async def test_each_operation_on_a_socket_counts_as_a_request(
    client: GraphQLClient, gateway: Gateway
) -> None:
    """One socket carried as many operations as it was sent: the per-account limit of
    a request over HTTP held only for the handshake."""
    from gateway.http.ratelimit import RateLimits

    config = dataclasses.replace(gateway.config, rate_limits=RateLimits(per_account="3/minute"))
    clerk = await client.login("demo-clerk")
    async with (
        serving(create_app(config, gateway=gateway)) as port,
        socket(port, clerk.token) as ws,
    ):
        answers = []
        for op in range(5):
            await start(ws, str(op), "{ me { username } }")
            answer = json.loads(await ws.recv())
            if answer["type"] == "next":
                assert json.loads(await ws.recv())["type"] == "complete"
            answers.append(answer)
    assert [a["type"] for a in answers] == ["next", "next", "next", "error", "error"]
    [refused] = answers[3]["payload"]
    assert refused["extensions"]["code"] == "RATE_LIMITED"
    assert refused["extensions"]["retry_after"] >= 1


async def test_a_socket_holds_a_bounded_number_of_running_operations(
    client: GraphQLClient, gateway: Gateway
) -> None:
    """Each running subscription holds a task and reads the store at every turn: a
    socket may not open them without end."""
    limits = dataclasses.replace(gateway.config.limits, max_socket_operations=2)
    clerk = await client.login("demo-clerk")
    held = [
        r["id"]
        for r in (
            await clerk.post(HIRE, {"w": [hire_input(), hire_input()], "k": key(), "c": JINAN})
        )["data"]["hire"]["registrations"]
    ]  # no worker: they stay ACCEPTED, their subscriptions open
    async with (
        serving(create_app(gateway.config, gateway=gateway, limits=limits)) as port,
        socket(port, clerk.token) as ws,
    ):
        for op, registration in zip("ab", held, strict=True):
            await start(ws, op, SUBSCRIBE, {"id": registration})
            assert json.loads(await ws.recv())["type"] == "next"
        await start(ws, "c", "{ me { username } }")
        refused = json.loads(await ws.recv())
        assert (refused["id"], refused["type"]) == ("c", "error")
        assert refused["payload"][0]["extensions"]["code"] == "TOO_MANY_SOCKET_OPERATIONS"
        assert refused["payload"][0]["extensions"]["message_zh"]
        # One ended by the client: room for another.
        await ws.send(json.dumps({"id": "a", "type": "complete"}))
        await start(ws, "d", "{ me { username } }")
        async with asyncio.timeout(10):
            # The completion of "a" may come first: skipped, to "d"'s answer.
            while (answer := json.loads(await ws.recv()))["id"] != "d":
                continue
        assert answer["payload"]["data"]["me"]["username"] == "demo-clerk"
