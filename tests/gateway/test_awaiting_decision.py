"""A hire whose social insurance addition is under the agency's review, through the graph:
what a person is told who tries to act on it, or to register the worker again.

The audit's findings: retrying or cancelling the addition answered CORE_NOT_COMPLETE
(its Chinese text naming the state ``IN_PROGRESS``) though the core was complete and
only the agency's decision was awaited; and a clerk hiring the worker at another unit of
its divisions was told only that "a registration is under way", neither which nor that
it waits for the agency.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import pytest

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS
from gateway.auth import Role
from gateway.services import Gateway
from tests.gateway.conftest import DEMO_PASSWORD, GraphQLClient, error_codes
from tests.gateway.test_registrations_api import HIRE, hire_input, key

JINAN, _, JINAN_2 = (e.profile.credit_code for e in EMPLOYERS)

STEPS = """query($id: ID!) { registration(id: $id) { state coreComplete
  steps { system operation state reference lastError { code } } } }"""
RETRY = """mutation($id: ID!) { retryFollowUp(id: $id, operation: DECLARE_ADDITION) {
  accepted } }"""
CANCEL = """mutation($id: ID!) { cancelFollowUp(id: $id, operation: DECLARE_ADDITION) {
  accepted } }"""


@pytest.fixture
def gateway_settings(social_insurance_standin: RunningStandin) -> dict[str, Any]:
    social_insurance_standin.faults(review_delay_s=3600)  # under review throughout
    return {
        "environ": {
            "HRSS_SOCIAL_INSURANCE_ENABLED": "true",
            "HRSS_SOCIAL_INSURANCE_URL": social_insurance_standin.url,
            "HRSS_SOCIAL_INSURANCE_TIMEOUT": "3",
        }
    }


def insured_hire(**changes: Any) -> dict[str, Any]:
    return {
        **hire_input(dt.date.today() - dt.timedelta(days=3)),
        "monthlyWage": "6500.00",
        **changes,
    }


async def under_review(client: GraphQLClient, registration_id: str) -> dict[str, Any]:
    """The registration once its core is done and its addition awaits the agency."""
    async with asyncio.timeout(30):
        while True:
            body = await client.post(STEPS, {"id": registration_id})
            registration = body["data"]["registration"]
            addition = next(
                s for s in registration["steps"] if s["operation"] == "DECLARE_ADDITION"
            )
            error = addition["lastError"]
            if error and error["code"] == "AWAITING_DECISION":
                return dict(registration)
            await asyncio.sleep(0.1)


async def hired_under_review(
    client: GraphQLClient, credit_code: str | None
) -> tuple[dict[str, Any], str, str]:
    """(the hire's input, its registration's id, the addition's acceptance number)."""
    hire = insured_hire()
    body = await client.post(HIRE, {"w": [hire], "k": key(), "c": credit_code})
    assert body["data"]["hire"]["problems"] == [], body
    [registration] = body["data"]["hire"]["registrations"]
    shown = await under_review(client, registration["id"])
    assert shown["state"] == "IN_PROGRESS"
    assert shown["coreComplete"] is True
    [addition] = [s for s in shown["steps"] if s["operation"] == "DECLARE_ADDITION"]
    assert addition["state"] == "UNKNOWN"
    return hire, registration["id"], addition["reference"]


def assert_in_chinese(message_zh: str) -> None:
    assert not re.search(r"[A-Z]{3,}_?[A-Z]*", re.sub(r"SL\w+|[0-9A-Z]{18}", "", message_zh)), (
        message_zh
    )


async def test_acting_on_an_addition_under_review_says_it_awaits_the_agency(
    client: GraphQLClient, worker: None
) -> None:
    employer = await client.login("demo-employer")
    _, registration_id, number = await hired_under_review(employer, None)
    for mutation in (RETRY, CANCEL):
        body = await employer.post(mutation, {"id": registration_id})
        assert error_codes(body) == ["FOLLOW_UP_NOT_WAITING"], body
        [error] = body["errors"]
        zh, en = error["extensions"]["message_zh"], error["extensions"]["message_en"]
        assert "审核" in zh
        assert number in zh
        assert "review" in en
        assert "until it decides" in en
        assert "CORE" not in zh
        assert "IN_PROGRESS" not in zh
        assert_in_chinese(zh)


async def test_hiring_the_worker_at_another_unit_names_the_registration_under_review(
    client: GraphQLClient, gateway: Gateway, worker: None
) -> None:
    clerk = await client.login("demo-clerk")  # Jinan: both units are within its reach
    hire, registration_id, number = await hired_under_review(clerk, JINAN)

    again = {**insured_hire(), "person": hire["person"]}
    body = await clerk.post(HIRE, {"w": [again], "k": key(), "c": JINAN_2})
    result = body["data"]["hire"]
    assert result["accepted"] is False
    [problem] = result["problems"]
    assert (problem["field"], problem["code"]) == ("id_number", "REGISTRATION_IN_PROGRESS")
    for said in (problem["messageZh"], problem["messageEn"]):
        assert registration_id in said
        assert number in said
    assert "审核" in problem["messageZh"]
    assert "review" in problem["messageEn"]

    # An employer of the other unit does not reach the first: neither named nor described.
    await gateway.store.accounts.create(
        "jinan2-employer", DEMO_PASSWORD, Role.EMPLOYER, credit_code=JINAN_2
    )
    other = await client.login("jinan2-employer")
    body = await other.post(HIRE, {"w": [again], "k": key()})
    [problem] = body["data"]["hire"]["problems"]
    assert problem["code"] == "REGISTRATION_IN_PROGRESS"
    for said in (problem["messageZh"], problem["messageEn"]):
        assert registration_id not in said
        assert number not in said
        assert "审核" not in said
        assert "review" not in said
