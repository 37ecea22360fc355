"""The policy as the deployment applies it: what a front end reads to know whether
the per-system mutations are still accepted and which extra columns the form has."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gateway.registrations.policy import CHINA
from gateway.schema import build_schema
from tests.gateway.conftest import GraphQLClient

POLICY = """{ policy { today transitionStart mandatoryFrom separateHandlingOpen
  systems { system nameZh nameEn formFields } idempotencyKeyHours sessionHours
  personalDataKeptDays } }"""
#: A mandatory date a year ahead: separate handling is still open.
LATER = dt.datetime.now(CHINA).date() + dt.timedelta(days=365)


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    return {
        "environ": {
            "HRSS_MANDATORY_FROM": LATER.isoformat(),
            "HRSS_IDEMPOTENCY_TTL_S": str(30 * 3600),
            # Switched on; never called here.
            "HRSS_SOCIAL_INSURANCE_ENABLED": "true",
            "HRSS_SOCIAL_INSURANCE_URL": "http://127.0.0.1:9",
        }
    }


async def test_the_policy_is_read_without_signing_in_as_the_gateway_applies_it(
    client: GraphQLClient,
) -> None:
    body = await client.post(POLICY)
    assert "errors" not in body, body
    policy = body["data"]["policy"]
    assert policy["today"] == dt.datetime.now(CHINA).date().isoformat()
    assert policy["mandatoryFrom"] == LATER.isoformat()
    assert policy["separateHandlingOpen"] is True
    assert policy["idempotencyKeyHours"] == 30
    assert policy["sessionHours"] == 8
    assert policy["personalDataKeptDays"] == 183
    systems = {s["system"]: s for s in policy["systems"]}
    assert list(systems) == ["EMPLOYMENT", "LABOUR", "UNEMPLOYMENT", "SOCIAL_INSURANCE"]
    assert systems["SOCIAL_INSURANCE"]["nameZh"] == "社会保险登记系统"
    assert systems["EMPLOYMENT"]["formFields"] == []
    # Each field a system adds is one a hire takes, under the name given here.
    wanted = systems["SOCIAL_INSURANCE"]["formFields"]
    assert "monthlyWage" in wanted
    hire_input = build_schema()._schema.type_map["HireInput"]
    assert set(wanted) <= set(hire_input.fields)
