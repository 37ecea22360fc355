"""The monthly contribution wage through the graph, with the social insurance system on.

A hire needs it then, within the province's floor and ceiling (configured here
to other values than the defaults, to see that the setting is what counts);
every problem comes back per row and field with the others, and nothing is
stored.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from adapters.social_insurance.model import SYSTEM as INSURANCE
from gateway.services import Gateway
from tests.gateway.conftest import GraphQLClient
from tests.gateway.test_registrations_api import HIRE, _all, hire_input, key


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    return {
        # Switched on; never called here (every row is refused before any system is).
        "environ": {
            "HRSS_SOCIAL_INSURANCE_ENABLED": "true",
            "HRSS_SOCIAL_INSURANCE_URL": "http://127.0.0.1:9",
            # The system's own settings (the older HRSS_CONTRIBUTION_WAGE_* still work).
            "HRSS_SOCIAL_INSURANCE_WAGE_FLOOR": "4000.00",
            "HRSS_SOCIAL_INSURANCE_WAGE_CEILING": "24000.00",
        },
    }


def wage(value: object) -> dict[str, Any]:
    return {**hire_input(), "monthlyWage": value}


async def test_a_hire_without_its_wage_or_outside_the_range_is_refused_and_nothing_stored(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    rows = [hire_input(), wage("3999.99"), wage("24000.01"), wage("5200.555"), wage(None)]
    # More digits than cents can be counted in: INTERNAL before, a row's problem now.
    rows += [wage("9" * 32), wage("1e999999999")]
    body = await employer.post(HIRE, {"w": rows, "k": key()})
    result = body["data"]["hire"]
    assert result["accepted"] is False
    found = {(p["row"], p["field"], p["code"]) for p in result["problems"]}
    assert found == {
        (0, "monthly_wage", "REQUIRED"),
        (1, "monthly_wage", "WAGE_OUT_OF_RANGE"),
        (2, "monthly_wage", "WAGE_OUT_OF_RANGE"),
        (3, "monthly_wage", "WAGE_FORMAT"),
        (4, "monthly_wage", "REQUIRED"),
        (5, "monthly_wage", "WAGE_FORMAT"),
        (6, "monthly_wage", "WAGE_FORMAT"),
    }
    out_of_range = next(p for p in result["problems"] if p["row"] == 1)
    assert "4,000.00" in out_of_range["messageZh"]
    assert "24,000.00" in out_of_range["messageEn"]
    assert "3999.99" not in out_of_range["messageZh"] + out_of_range["messageEn"]
    assert (await gateway.store.registrations.list(_all(), first=10)).items == []


async def test_a_wage_that_is_no_number_is_refused_by_the_graph(client: GraphQLClient) -> None:
    employer = await client.login("demo-employer")
    body = await employer.post(HIRE, {"w": [wage("很多")], "k": key()})
    assert body.get("data") is None  # refused before any resolver ran
    assert "monthlyWage" in body["errors"][0]["message"]


async def test_the_gateway_says_the_wage_column_is_on(gateway: Gateway) -> None:
    assert "social_insurance" in gateway.config.forms.systems
    settings = gateway.config.system(INSURANCE)
    assert (settings.wage_floor, settings.wage_ceiling) == (
        Decimal("4000.00"),
        Decimal("24000.00"),
    )


async def test_a_passport_holders_hire_needs_a_date_of_birth_named_in_both_languages(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    passport = {
        **hire_input(idType="FOREIGN_PASSPORT", idNumber="E76543210"),
        "monthlyWage": "6000.00",
    }
    body = await employer.post(HIRE, {"w": [passport], "k": key()})
    result = body["data"]["hire"]
    assert result["accepted"] is False
    (problem,) = result["problems"]
    assert (problem["row"], problem["field"], problem["code"]) == (0, "birth_date", "REQUIRED")
    assert "出生日期" in problem["messageZh"]
    assert "Date of birth" in problem["messageEn"]
    assert "E76543210" not in problem["messageZh"] + problem["messageEn"]
    assert (await gateway.store.registrations.list(_all(), first=10)).items == []


async def test_a_passport_holder_under_16_by_the_row_s_date_of_birth_is_refused(
    client: GraphQLClient, gateway: Gateway
) -> None:
    """The audit's finding: a passport holder born in 2015 was hired, the date of birth the
    row gives for a document that carries none never read for the age (Labour Law art. 15).
    """
    employer = await client.login("demo-employer")
    child = {
        **hire_input(idType="FOREIGN_PASSPORT", idNumber="E76543210"),
        "monthlyWage": "6000.00",
        "birthDate": "2015-04-02",
    }
    body = await employer.post(HIRE, {"w": [child], "k": key()})
    result = body["data"]["hire"]
    assert result["accepted"] is False
    assert [(p["row"], p["field"], p["code"]) for p in result["problems"]] == [
        (0, "start_date", "UNDER_MINIMUM_AGE")
    ]
    assert (await gateway.store.registrations.list(_all(), first=10)).items == []
