"""Foreign workers' documents end to end: every system a registration reaches takes the
document the gateway's checks take.

The audit's finding: an old 15-character foreign permanent resident ID (three letters,
twelve digits: ``gateway/domain/checks.py::_OLD_FOREIGN_PR``) was accepted by the checks
and filed by the labour system, then refused by the employment stand-in, which held code
``07`` to the 18-character form, a rule its contract (``legacy/employment.md``: ``aac058``
``07``, ``aac147`` up to 32 characters) does not have; the labour filing was compensated.
Here such a worker is hired, with social insurance on, and then let go with the
unemployment registration: every step of both is done in its system.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from typing import Any

import pytest

from adapters.standin.process import RunningStandin
from gateway.domain.checks import check_id_number
from gateway.domain.model import IdType
from tests.gateway.conftest import GraphQLClient
from tests.gateway.test_registrations_api import HIRE, hire_input, key, settled

END = """mutation($w: [EndInput!]!, $k: String!) {
  endEmployment(workers: $w, idempotencyKey: $k) {
    accepted problems { row field code } registrations { id } } }"""
STEPS = """query($id: ID!) { registration(id: $id) {
  state failure { code messageEn } steps { system operation state lastError { code } } } }"""
WORKER = """query($t: IdType!, $n: String!) { employer { worker(idType: $t, idNumber: $n) {
  status unavailableSystems insuranceStatus
  employmentRecords { state startDate dismissalDate }
  labourContracts { state startDate }
  unemploymentRegistrations { state } } } }"""


@pytest.fixture
def gateway_settings(social_insurance_standin: RunningStandin) -> dict[str, Any]:
    social_insurance_standin.faults(review_delay_s=0)
    return {
        "environ": {
            "HRSS_SOCIAL_INSURANCE_ENABLED": "true",
            "HRSS_SOCIAL_INSURANCE_URL": social_insurance_standin.url,
            "HRSS_SOCIAL_INSURANCE_TIMEOUT": "3",
            "HRSS_STEP_BACKOFF_BASE_S": "0.2",
            "HRSS_STEP_BACKOFF_CAP_S": "0.5",
        }
    }


def old_permanent_resident_id() -> str:
    """The card issued until 2017, still held: a nationality's three letters, 12 digits
    (fresh for each run: the stand-ins are shared by a worker's tests)."""
    nationality = "".join(random.choices(string.ascii_uppercase, k=3))
    return nationality + "".join(random.choices(string.digits, k=12))


async def steps_of(client: GraphQLClient, registration_id: str) -> dict[str, Any]:
    body = await client.post(STEPS, {"id": registration_id})
    assert "errors" not in body, body
    return dict(body["data"]["registration"])


async def test_an_old_foreign_permanent_resident_id_is_hired_and_let_go_in_every_system(
    client: GraphQLClient, worker: None
) -> None:
    number = old_permanent_resident_id()
    assert len(number) == 15
    assert (
        check_id_number(IdType.FOREIGN_PERMANENT_RESIDENT_ID, number, today=dt.date.today()) == []
    )
    employer = await client.login("demo-employer")
    start = dt.date.today() - dt.timedelta(days=5)
    hire = {
        **hire_input(start, idType="FOREIGN_PERMANENT_RESIDENT_ID", idNumber=number),
        "employmentPersonCategory": "FOREIGN_NATIONAL",
        "monthlyWage": "6500.00",
        "birthDate": "1985-01-01",  # the old card carries none the systems read
    }
    hire["contract"]["filingPersonCategory"] = "FOREIGN_NATIONAL"
    body = await employer.post(HIRE, {"w": [hire], "k": key()})
    assert body["data"]["hire"]["problems"] == [], body
    [hired] = body["data"]["hire"]["registrations"]
    await settled(employer, hired["id"])
    done = await steps_of(employer, hired["id"])
    assert done["state"] == "COMPLETED", done
    assert {(s["system"], s["operation"], s["state"]) for s in done["steps"]} == {
        ("EMPLOYMENT", "REGISTER_EMPLOYMENT", "DONE"),
        ("LABOUR", "FILE_CONTRACT", "DONE"),
        ("SOCIAL_INSURANCE", "DECLARE_ADDITION", "DONE"),
    }

    seen = await employer.post(WORKER, {"t": "FOREIGN_PERMANENT_RESIDENT_ID", "n": number})
    assert "errors" not in seen, seen
    shown = seen["data"]["employer"]["worker"]
    assert shown["status"] == "EMPLOYED_WITH_CONTRACT"
    assert [r["state"] for r in shown["employmentRecords"]] == ["EMPLOYED"]
    assert shown["insuranceStatus"] == "INSURED"

    ending = {
        "person": hire["person"],
        "reason": "AGREEMENT",
        "date": dt.date.today().isoformat(),
        "registerUnemployment": True,
    }
    body = await employer.post(END, {"w": [ending], "k": key()})
    assert body["data"]["endEmployment"]["problems"] == [], body
    [ended] = body["data"]["endEmployment"]["registrations"]
    await settled(employer, ended["id"])
    done = await steps_of(employer, ended["id"])
    assert done["state"] == "COMPLETED", done
    assert {(s["system"], s["state"]) for s in done["steps"]} == {
        ("EMPLOYMENT", "DONE"),
        ("LABOUR", "DONE"),
        ("UNEMPLOYMENT", "DONE"),
        ("SOCIAL_INSURANCE", "DONE"),
    }
    seen = await employer.post(WORKER, {"t": "FOREIGN_PERMANENT_RESIDENT_ID", "n": number})
    shown = seen["data"]["employer"]["worker"]
    assert [r["state"] for r in shown["employmentRecords"]] == ["DISMISSED"]
    assert [r["state"] for r in shown["unemploymentRegistrations"]] == ["REGISTERED"]
