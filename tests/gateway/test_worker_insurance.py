"""The worker view's social insurance, through the graph, with the system switched on
and its stand-in running: the status with this employer's unit, the spells, the
inconsistencies between employment and insurance, and, when the system is down,
the view says so as for the other systems."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.social_insurance.model import SYSTEM as INSURANCE
from adapters.standin.process import RunningStandin
from adapters.standin.seed import WORKERS
from gateway.services import Gateway
from tests.gateway.conftest import GraphQLClient

#: Seed workers the stand-ins hold: employed with the demo employer (the social
#: insurance seed insures every hire from its start date), and dismissed there.
EMPLOYED = next(
    w for w in WORKERS if w.employer == 0 and w.employment and not w.employment.dismissed_on
)
DISMISSED = next(
    w for w in WORKERS if w.employer == 0 and w.employment and w.employment.dismissed_on
)

QUERY = """query($t: IdType!, $n: String!) { employer { worker(idType: $t, idNumber: $n) {
  status inconsistencies unavailableSystems insuranceStatus
  insuranceSpells { unitInsuranceNumber atThisEmployer startDate stopDate state } } } }"""
BRIEF = """query($t: IdType!, $n: String!) { employer { worker(idType: $t, idNumber: $n) {
  status insuranceStatus unavailableSystems } } }"""


@pytest.fixture
def gateway_settings(social_insurance_standin: RunningStandin) -> dict[str, Any]:
    return {
        "environ": {
            "HRSS_SOCIAL_INSURANCE_ENABLED": "true",
            "HRSS_SOCIAL_INSURANCE_URL": social_insurance_standin.url,
            "HRSS_SOCIAL_INSURANCE_TIMEOUT": "3",
        }
    }


def of(worker: Any) -> dict[str, str]:
    return {"t": worker.person.id_type.name, "n": worker.person.id_number}


async def test_an_employed_worker_insured_with_this_unit(
    client: GraphQLClient, gateway: Gateway
) -> None:
    assert INSURANCE in gateway.config.systems
    employer = await client.login("demo-employer")
    body = await employer.post(QUERY, of(EMPLOYED))
    assert "errors" not in body, body
    worker = body["data"]["employer"]["worker"]
    assert worker["insuranceStatus"] == "INSURED"
    (spell,) = worker["insuranceSpells"]
    assert spell["atThisEmployer"] is True
    assert spell["state"] == "INSURED"
    assert EMPLOYED.employment is not None
    assert spell["startDate"] == EMPLOYED.employment.start_date.isoformat()
    assert "EMPLOYED_WITHOUT_INSURANCE" not in worker["inconsistencies"]
    assert worker["unavailableSystems"] == []


async def test_a_dismissed_worker_stopped_the_day_after(client: GraphQLClient) -> None:
    employer = await client.login("demo-employer")
    body = await employer.post(QUERY, of(DISMISSED))
    worker = body["data"]["employer"]["worker"]
    assert worker["insuranceStatus"] == "STOPPED"
    (spell,) = worker["insuranceSpells"]
    assert (spell["state"], spell["atThisEmployer"]) == ("STOPPED", True)
    assert DISMISSED.employment is not None
    assert DISMISSED.employment.dismissed_on is not None
    assert spell["stopDate"] > DISMISSED.employment.dismissed_on.isoformat()
    assert not {"EMPLOYED_WITHOUT_INSURANCE", "INSURED_WITHOUT_EMPLOYMENT"} & set(
        worker["inconsistencies"]
    )


async def test_when_insurance_is_down_the_view_says_so_and_the_rest_stands(
    client: GraphQLClient, social_insurance_standin: RunningStandin
) -> None:
    employer = await client.login("demo-employer")
    social_insurance_standin.faults(down=True)
    try:
        brief = await employer.post(BRIEF, of(EMPLOYED))
        full = await employer.post(QUERY, of(EMPLOYED))
    finally:
        social_insurance_standin.reset()
        social_insurance_standin.faults(quota_per_s=0)
    worker = brief["data"]["employer"]["worker"]
    assert worker["insuranceStatus"] == "UNKNOWN"
    assert worker["status"] == "EMPLOYED_WITH_CONTRACT"  # the three still tell
    assert worker["unavailableSystems"] == [INSURANCE.name]
    # No field of insurance failed, yet the failure is reported, once.
    [error] = brief["errors"]
    assert error["extensions"]["code"] == "SYSTEM_UNAVAILABLE"
    assert error["extensions"]["system"] == INSURANCE.value
    assert full["data"]["employer"]["worker"]["insuranceSpells"] is None
    [error] = full["errors"]
    assert error["path"][-1] == "insuranceSpells"
    assert error["extensions"]["system"] == INSURANCE.value


async def test_the_employer_shows_its_unit_insurance_number_beside_the_other_ids(
    client: GraphQLClient,
) -> None:
    """``systemIds`` has a field for every registered system, social insurance's
    included, without that system being named by the schema's code."""
    employer = await client.login("demo-employer")
    body = await employer.post(
        "{ employer { systemIds { employment labour unemployment socialInsurance } } }"
    )
    assert "errors" not in body, body
    ids = body["data"]["employer"]["systemIds"]
    assert all(ids[k] for k in ("employment", "labour", "unemployment")), ids
    spells = (await employer.post(QUERY, of(EMPLOYED)))["data"]["employer"]["worker"]
    (spell,) = spells["insuranceSpells"]
    assert ids["socialInsurance"] == spell["unitInsuranceNumber"]


LIST = """{ employer { workers(first: 30) { edges { node { name insuranceStatus } } } } }"""


async def test_a_quota_hit_while_listing_says_so_and_names_the_system(
    client: GraphQLClient, social_insurance_standin: RunningStandin
) -> None:
    """The audit's finding: the system's request quota, hit by a list asking it once per
    worker, was reported as "The social_insurance system is not answering": its
    configuration key for its name, and silence for what was a rate limit."""
    employer = await client.login("demo-employer")
    social_insurance_standin.faults(quota_per_s=1)
    try:
        body = await employer.post(LIST)
    finally:
        social_insurance_standin.faults(quota_per_s=0)
    errors = [e for e in body["errors"] if e["extensions"]["system"] == INSURANCE.value]
    assert errors, body
    for error in errors:
        ext = error["extensions"]
        assert ext["code"] == "SYSTEM_UNAVAILABLE"
        assert "social_insurance" not in ext["message_en"]
        assert "social insurance system" in ext["message_en"]
        assert "quota" in ext["message_en"]
        assert "not answering" not in ext["message_en"]
        assert "社会保险" in ext["message_zh"]
        assert "请求过于频繁" in ext["message_zh"]
        assert ext["retry_after"] >= 1
