"""Over-long and ill-charactered values, tried through the graph as an attacker would.

Each is refused per row and field with a stable code before anything is stored
or sent: no registration in the store, no write counted by any stand-in. The
worker runs throughout, and a valid row goes through beside the refused ones,
so that "nothing sent" is seen, not assumed. On SQLite and PostgreSQL (whose
varchar columns refuse what is too long, where SQLite does not).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from adapters.standin.process import RunningStandin
from gateway.domain.model import System
from gateway.registrations.ports import RegistrationFilter
from gateway.registrations.wiring import engine_for
from gateway.services import Gateway
from tests.factories import credit_code
from tests.gateway.conftest import GraphQLClient, sent_since, writes
from tests.gateway.test_registrations_api import HIRE, OPEN, hire_input, key, person, settled

HUGE = 10_000

END = """mutation($w: [EndInput!]!, $k: String!) {
  endEmployment(workers: $w, idempotencyKey: $k) {
    accepted registrations { id } problems { row field code messageZh messageEn } } }"""
RENEW = """mutation($w: [RenewInput!]!, $k: String!) {
  renewContract(workers: $w, idempotencyKey: $k) {
    accepted registrations { id } problems { row field code messageZh messageEn } } }"""
FORM = """mutation($f: RegistrationFormInput!, $k: String!) {
  submitRegistrationForm(form: $f, idempotencyKey: $k) {
    accepted registrations { id } problems { row field code messageZh messageEn } } }"""
SEPARATE = """mutation($w: HireInput!, $k: String!) {
  %s(worker: $w, idempotencyKey: $k) {
    accepted registrations { id } problems { row field code messageZh messageEn } } }"""


@pytest.fixture
def gateway_settings(store_url: str) -> dict[str, Any]:
    return {"store_url": store_url}


async def stored(gateway: Gateway) -> list[Any]:
    page = await gateway.store.registrations.list(RegistrationFilter(), first=50)
    return list(page.items)


def refusals(result: dict[str, Any]) -> set[tuple[int | None, str, str]]:
    return {(p["row"], p["field"], p["code"]) for p in result["problems"]}


def assert_clean(result: dict[str, Any], *values: str) -> None:
    """Each message in both languages, naming no value sent."""
    for p in result["problems"]:
        assert p["messageZh"]
        assert p["messageEn"]
        for value in values:
            assert value not in p["messageZh"] + p["messageEn"]


def with_post(hire: dict[str, Any], post: str) -> dict[str, Any]:
    return {**hire, "contract": {**hire["contract"], "post": post}}


def end_input(register_unemployment: bool = True, **person_overrides: Any) -> dict[str, Any]:
    return {
        "person": person(**person_overrides),
        "reason": "AGREEMENT",
        "date": (dt.date.today() - dt.timedelta(days=3)).isoformat(),
        "registerUnemployment": register_unemployment,
    }


async def test_hire_rows_over_a_limit_are_refused_and_nothing_of_them_is_sent(
    client: GraphQLClient,
    gateway: Gateway,
    worker: None,
    standins: dict[System, RunningStandin],
) -> None:
    employer = await client.login("demo-employer")
    before = writes(standins)
    rows = [
        hire_input(name="张" * HUGE),
        with_post(hire_input(), "岗" * HUGE),
        hire_input(householdAddress="路" * HUGE, currentAddress="街" * HUGE),
        hire_input(name="张\x1f三"),
        hire_input(name="张\x07三"),
        hire_input(name="a" * 41),  # employment takes 50; labour and unemployment 40
        hire_input(),
    ]
    body = await employer.post(HIRE, {"w": rows, "k": key(), "v": True})
    result = body["data"]["hire"]
    assert refusals(result) == {
        (0, "name", "TOO_LONG"),
        (1, "post", "TOO_LONG"),
        (2, "household_address", "TOO_LONG"),
        (2, "current_address", "TOO_LONG"),
        (3, "name", "CONTROL_CHARACTER"),
        (4, "name", "CONTROL_CHARACTER"),
        (5, "name", "TOO_LONG"),
    }
    named = {(p["row"], p["field"]): p for p in result["problems"]}
    assert named[5, "name"]["messageEn"] == (
        "The name is longer than the labour system takes: at most 40 characters"
    )
    assert named[1, "post"]["messageZh"] == "岗位（工种）超过就业系统的长度上限：最多50个字符"
    assert_clean(result, "张" * 10, "a" * 41)
    # Only the good row was stored and sent, once to each system.
    [good] = result["registrations"]
    assert [r.id for r in await stored(gateway)] == [good["id"]]
    assert (await settled(employer, good["id"]))["state"] == "COMPLETED"
    assert sent_since(before, writes(standins)) == {
        "employment:employment.register": 1,
        "labour:FileContract": 1,
    }


async def test_a_refused_submission_stores_and_sends_nothing(
    client: GraphQLClient,
    gateway: Gateway,
    worker: None,
    standins: dict[System, RunningStandin],
) -> None:
    employer = await client.login("demo-employer")
    before = writes(standins)
    body = await employer.post(HIRE, {"w": [hire_input(), hire_input(name="a" * 41)], "k": key()})
    result = body["data"]["hire"]
    assert result["accepted"] is False
    assert refusals(result) == {(1, "name", "TOO_LONG")}
    assert await engine_for(gateway).run_once() == 0  # a worker's pass finds nothing
    assert await stored(gateway) == []
    assert sent_since(before, writes(standins)) == {}


async def test_an_end_is_held_to_unemployment_only_when_it_goes_there(
    client: GraphQLClient, gateway: Gateway, standins: dict[System, RunningStandin]
) -> None:
    employer = await client.login("demo-employer")
    before = writes(standins)
    rows = [
        end_input(name="刘䶮"),  # outside GBK
        end_input(name="张" * 21),  # 21 characters, 42 GBK bytes
        end_input(register_unemployment=False, name="刘䶮"),
        end_input(register_unemployment=False, name="张" * 21),
        end_input(register_unemployment=False, name="张\x07三"),
    ]
    result = (await employer.post(END, {"w": rows, "k": key()}))["data"]["endEmployment"]
    assert refusals(result) == {
        (0, "name", "NOT_ENCODABLE"),
        (1, "name", "TOO_LONG"),
        (4, "name", "CONTROL_CHARACTER"),
    }
    named = {p["row"]: p for p in result["problems"]}
    assert "失业登记系统" in named[0]["messageZh"]
    assert "unemployment system" in named[1]["messageEn"]
    assert "40 bytes in GBK" in named[1]["messageEn"]
    assert_clean(result, "䶮")
    assert await stored(gateway) == []
    assert sent_since(before, writes(standins)) == {}


async def test_a_renewal_is_held_to_labour_alone(client: GraphQLClient, gateway: Gateway) -> None:
    employer = await client.login("demo-employer")

    def renewal(post: str = "装配工", **person_overrides: Any) -> dict[str, Any]:
        contract = hire_input()["contract"]
        return {"person": person(**person_overrides), "contract": {**contract, "post": post}}

    rows = [
        renewal("岗" * 55),  # over employment's 50, within labour's 60
        renewal("岗" * 61),
        renewal(name="a" * HUGE),
    ]
    result = (await employer.post(RENEW, {"w": rows, "k": key()}))["data"]["renewContract"]
    # A renewal sends the labour system the post, not the name: the store keeps
    # the row, and takes any length of name in its JSON.
    assert refusals(result) == {(1, "post", "TOO_LONG")}
    assert await stored(gateway) == []


async def test_the_registration_form_is_checked_row_by_row(
    client: GraphQLClient, gateway: Gateway, standins: dict[System, RunningStandin]
) -> None:
    employer = await client.login("demo-employer")
    before = writes(standins)
    hire = hire_input(name="张" * HUGE)
    hire_row = {
        "business": "HIRE",
        "person": hire["person"],
        **{k: v for k, v in hire["contract"].items() if k not in ("endDate",)},
        "contractEndDate": hire["contract"]["endDate"],
        "employmentPersonCategory": hire["employmentPersonCategory"],
        "employmentLocality": hire["employmentLocality"],
    }
    hire_row["contractType"] = hire_row.pop("contractType")
    end = end_input(name="刘䶮", householdAddress="\x1f")
    end_row = {
        "business": "END",
        "person": end["person"],
        "endReason": end["reason"],
        "endDate": end["date"],
        "registerUnemployment": True,
    }
    form = {"unitName": "x", "creditCode": "91370102MA3C4TLQ2N", "rows": [hire_row, end_row]}
    body = await employer.post(FORM, {"f": form, "k": key()})
    result = body["data"]["submitRegistrationForm"]
    assert {
        (0, "name", "TOO_LONG"),
        (1, "name", "NOT_ENCODABLE"),
        (1, "household_address", "CONTROL_CHARACTER"),
    } <= refusals(result)
    assert await stored(gateway) == []
    assert sent_since(before, writes(standins)) == {}


@pytest.mark.parametrize(
    ("mutation", "refused"),
    [
        ("fileEmploymentRegistration", set()),  # employment takes 45 characters
        ("fileLabourContract", {(0, "name", "TOO_LONG")}),  # labour takes 40
    ],
)
async def test_separate_handling_is_held_to_the_one_system_it_reaches(
    client: GraphQLClient, gateway: Gateway, mutation: str, refused: set[tuple[int, str, str]]
) -> None:
    gateway.clock = lambda: dt.datetime(2021, 3, 1, 2, 0, tzinfo=dt.UTC)  # the transition
    employer = await client.login("demo-employer")
    row = hire_input(start=dt.date(2021, 3, 1), name="a" * 45)
    result = (await employer.post(SEPARATE % mutation, {"w": row, "k": key()}))["data"][mutation]
    assert refusals(result) == refused
    assert result["accepted"] is not refused
    huge = hire_input(start=dt.date(2021, 3, 1), name="a" * HUGE)
    result = (await employer.post(SEPARATE % mutation, {"w": huge, "k": key()}))["data"][mutation]
    assert refusals(result) == {(0, "name", "TOO_LONG")}


async def test_an_account_with_a_huge_unit_name_is_refused_before_anything_is_stored(
    client: GraphQLClient,
    gateway: Gateway,
    worker: None,
    standins: dict[System, RunningStandin],
) -> None:
    before = writes(standins)
    code = credit_code()
    account = {
        "creditCode": code,
        "name": "公" * HUGE,
        "division": "370102",
        "contact": "钱\x1f经理",
        "phone": "0" * 21,
        "password": "a-long-password",
    }
    clerk = await client.login("demo-clerk")
    body = await clerk.post(OPEN, {"i": account, "k": key()})
    result = body["data"]["openAccount"]["result"]
    assert body["data"]["openAccount"]["account"] is None
    assert {(p["field"], p["code"]) for p in result["problems"]} >= {
        ("name", "TOO_LONG"),
        ("contact", "CONTROL_CHARACTER"),
        ("phone", "TOO_LONG"),
    }
    assert result["registrations"] == []
    assert await engine_for(gateway).run_once() == 0  # a worker's pass finds nothing
    assert await stored(gateway) == []
    assert await gateway.store.accounts.for_employer(code) == []
    assert await gateway.store.employers.get(code) is None
    assert sent_since(before, writes(standins)) == {}


async def test_an_account_at_every_limit_opens_everywhere(
    client: GraphQLClient, gateway: Gateway, worker: None
) -> None:
    """The strictest limits are also the loosest the gateway imposes: a unit
    name of 100 characters, a contact of 30 and a phone of 20 go through."""
    code = credit_code()
    account = {
        "creditCode": code,
        "name": "公" * 100,
        "division": "370102",
        "contact": "经" * 30,
        "phone": "0531-8123456-123456",
        "password": "a-long-password",
    }
    clerk = await client.login("demo-clerk")
    body = await clerk.post(OPEN, {"i": account, "k": key()})
    result = body["data"]["openAccount"]["result"]
    assert result["problems"] == []
    me = await client.login(code, account["password"])
    [registration] = result["registrations"]
    assert (await settled(me, registration["id"]))["state"] == "COMPLETED"
