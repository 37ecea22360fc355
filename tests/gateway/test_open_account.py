"""Opening an employer's account takes proof of who acts for it (DESIGN.md,
"People and rights"), tried as an attacker would.

Each refused attempt leaves nothing behind: no account, no employer record
changed, no write at any stand-in.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS
from gateway.domain.model import EmployerProfile, System
from gateway.services import Gateway
from tests.factories import credit_code
from tests.gateway.conftest import (
    GraphQLClient,
    error_codes,
    known_only_to_the_systems,
    sent_since,
    writes,
)

JINAN = EMPLOYERS[0].profile  # the demo employer, division 370102 (demo-clerk's city)
QINGDAO = EMPLOYERS[1].profile  # division 370202, outside demo-clerk's city

OPEN = """mutation($i: OpenAccountInput!, $k: String!) {
  openAccount(input: $i, idempotencyKey: $k) {
    account { username role creditCode }
    result { accepted problems { field code } warnings { field code }
             registrations { id business actor channel } } } }"""


def opening(code: str, division: str = "370102", **overrides: Any) -> dict[str, Any]:
    data = {
        "creditCode": code,
        "name": "济南新开户科技有限公司",
        "division": division,
        "contact": "钱经理",
        "phone": "0531-81234567",
    }
    data.update(overrides)
    return data


def key() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def gateway_settings(store_url: str) -> dict[str, Any]:
    return {"store_url": store_url}


async def employer_record(gateway: Gateway, code: str) -> tuple[str, str] | None:
    record = await gateway.store.employers.get(code)
    return None if record is None else (record.name, record.division)


async def test_an_anonymous_caller_cannot_take_an_employer_over(
    client: GraphQLClient, gateway: Gateway, standins: dict[System, RunningStandin]
) -> None:
    """The finding: an anonymous opening naming a known employer, another division and
    any password renamed and moved it, and opened its workers to that division."""
    before = await employer_record(gateway, JINAN.credit_code)
    body = await client.post(
        OPEN,
        {
            "i": opening(JINAN.credit_code, "370202", name="冒名公司", password="x-long-password"),
            "k": key(),
        },
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert await employer_record(gateway, JINAN.credit_code) == before
    assert not any(writes(standins).values())


async def test_an_anonymous_caller_cannot_claim_an_employer_with_no_account(
    client: GraphQLClient, gateway: Gateway, standins: dict[System, RunningStandin]
) -> None:
    code = credit_code()
    body = await client.post(OPEN, {"i": opening(code), "k": key()})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert await gateway.store.employers.get(code) is None
    assert await gateway.store.accounts.for_employer(code) == []
    assert not any(writes(standins).values())


async def test_a_clerk_opens_an_account_at_the_window_of_its_division(
    client: GraphQLClient, gateway: Gateway, standins: dict[System, RunningStandin]
) -> None:
    clerk = await client.login("demo-clerk")
    code = credit_code()
    k = key()
    body = await clerk.post(OPEN, {"i": opening(code), "k": k})
    opened = body["data"]["openAccount"]
    # The account is named by the unit's code: nobody picks a name, so no answer
    # can tell whether a picked name is taken.
    assert opened["account"] == {
        "username": code.lower(),
        "role": "employer",
        "creditCode": code,
    }
    [registration] = opened["result"]["registrations"]
    assert registration["actor"] == "demo-clerk"
    assert registration["channel"] == "SERVICE_WINDOW"
    assert await employer_record(gateway, code) == ("济南新开户科技有限公司", "370102")
    # Retried with the same key: the same registration, nothing more.
    again = (await clerk.post(OPEN, {"i": opening(code), "k": k}))["data"]["openAccount"]
    assert again["account"]["username"] == code.lower()
    assert [r["id"] for r in again["result"]["registrations"]] == [registration["id"]]
    assert len(await gateway.store.accounts.for_employer(code)) == 1


async def test_a_clerk_cannot_reach_outside_its_divisions_by_naming_its_own(
    client: GraphQLClient, gateway: Gateway, standins: dict[System, RunningStandin]
) -> None:
    """A known unit's division is the one on record: typing the clerk's own division
    does not bring a Qingdao employer into a Jinan window's reach."""
    clerk = await client.login("demo-clerk")
    before = await employer_record(gateway, QINGDAO.credit_code)
    body = await clerk.post(OPEN, {"i": opening(QINGDAO.credit_code, "370102"), "k": key()})
    assert error_codes(body) == ["FORBIDDEN"]
    assert await employer_record(gateway, QINGDAO.credit_code) == before
    assert not any(writes(standins).values())
    unknown = credit_code()
    body = await clerk.post(OPEN, {"i": opening(unknown, "370202"), "k": key()})
    assert error_codes(body) == ["FORBIDDEN"]
    assert await gateway.store.employers.get(unknown) is None
    assert not any(writes(standins).values())


@pytest.mark.parametrize("holders", ["every-system", "one-system"])
async def test_a_clerk_cannot_bring_a_unit_into_reach_while_a_system_cannot_be_asked(
    client: GraphQLClient,
    gateway: Gateway,
    standins: dict[System, RunningStandin],
    holders: str,
) -> None:
    """The finding: a Qingdao unit the systems knew and the gateway had not met yet
    was opened by a Jinan clerk under the clerk's own division while no system could
    be asked (put down, or made to time out and open its breaker by a flood of
    lookups): the division typed was taken for the one on record, and the unit, its
    workers and their registrations came within the clerk's reach for good."""
    code = credit_code(division="370202")
    qingdao = EmployerProfile(code, "青岛海湾贸易有限公司", "370202", "赵六", "0532-80000000")
    holding = await known_only_to_the_systems(gateway, standins, qingdao, holders)
    before = writes(standins)
    clerk = await client.login("demo-clerk")
    body = await clerk.post(OPEN, {"i": opening(code, "370102"), "k": key()})
    assert error_codes(body) == ["SYSTEM_UNAVAILABLE"]
    [error] = body["errors"]
    assert error["extensions"]["system"] in {s.value for s in holding}
    assert await gateway.store.employers.get(code) is None
    assert await gateway.store.accounts.for_employer(code) == []
    assert sent_since(before, writes(standins)) == {}


async def test_a_known_unit_keeps_its_name_and_division_and_the_clerk_is_warned(
    client: GraphQLClient, gateway: Gateway, standins: dict[System, RunningStandin]
) -> None:
    """The third seed employer is known to the systems but has no account: opening it
    with another name binds it, keeps the systems' name, and warns."""
    third = EMPLOYERS[2].profile
    clerk = await client.login("demo-clerk")
    body = await clerk.post(
        OPEN, {"i": opening(third.credit_code, "370102", name="改名公司"), "k": key()}
    )
    result = body["data"]["openAccount"]["result"]
    assert result["accepted"], body
    assert {"field": "name", "code": "EMPLOYER_PROFILE_KEPT"} in result["warnings"]
    assert await employer_record(gateway, third.credit_code) == (third.name, third.division)
    # Nothing was opened anew: the unit exists in every system.
    assert {op.split(":")[1] for op, n in writes(standins).items() if n} <= {
        "unit.open",
        "RegisterEmployer",
        "dw.create",
    }


async def test_an_employer_opens_again_only_its_own_unit_and_changes_nothing(
    client: GraphQLClient, gateway: Gateway, standins: dict[System, RunningStandin]
) -> None:
    employer = await client.login("demo-employer")
    other = await employer.post(OPEN, {"i": opening(QINGDAO.credit_code, "370202"), "k": key()})
    assert error_codes(other) == ["FORBIDDEN"]
    own = await employer.post(
        OPEN, {"i": opening(JINAN.credit_code, password="a-new-long-password-1"), "k": key()}
    )
    result = own["data"]["openAccount"]
    assert result["account"]["username"] == "demo-employer"
    assert {"field": "password", "code": "PASSWORD_NOT_CHANGED"} in result["result"]["warnings"]
    await client.login("demo-employer")  # the old password still works
    assert not any(writes(standins).values())  # the unit is open everywhere already


async def test_an_administrator_does_not_open_employer_accounts(
    client: GraphQLClient, gateway: Gateway, standins: dict[System, RunningStandin]
) -> None:
    admin = await client.login("demo-admin")
    code = credit_code()
    body = await admin.post(OPEN, {"i": opening(code), "k": key()})
    assert error_codes(body) == ["FORBIDDEN"]
    assert await gateway.store.employers.get(code) is None
    assert not any(writes(standins).values())


async def test_bad_input_is_refused_before_anything_is_looked_up_or_stored(
    client: GraphQLClient, gateway: Gateway, standins: dict[System, RunningStandin]
) -> None:
    clerk = await client.login("demo-clerk")
    body = await clerk.post(OPEN, {"i": opening("91370102MA3C4TLQ2X", name=""), "k": key()})
    result = body["data"]["openAccount"]["result"]
    assert not result["accepted"]
    assert {p["field"] for p in result["problems"]} >= {"credit_code", "name"}
    # Not even a read: nothing is looked up for input that cannot stand.
    assert all(s.stats() == {} for s in standins.values())
