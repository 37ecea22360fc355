"""Follow-ups through the graph: a refused unemployment registration leaves the
ending's core done, says so, and is retried with corrected data or cancelled
alone, by whoever may act for the employer (over the stand-ins)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import websockets

from adapters.standin.seed import EMPLOYERS
from gateway.auth import Role
from gateway.domain.model import (
    Education,
    EndReason,
    Gender,
    IdType,
    Person,
    System,
    UnemploymentRequest,
)
from gateway.registry import adapter_as
from gateway.services import Gateway
from gateway.systems import UnemploymentSystem
from tests.gateway.conftest import DEMO_PASSWORD, GraphQLClient, error_codes
from tests.gateway.test_registrations_api import HIRE, hire_input, key, settled

QINGDAO = EMPLOYERS[1]

END = """mutation($w: [EndInput!]!, $k: String!) {
  endEmployment(workers: $w, idempotencyKey: $k) { accepted registrations { id } } }"""

FOLLOWED = """query($id: ID!) { registration(id: $id) {
  id state coreComplete
  steps { operation kind state }
  followUpsLeft { operation kind state lastError { code systemCode messageZh messageEn } }
  notice { code messageZh messageEn } } }"""

RETRY = """mutation($id: ID!, $c: FollowUpCorrectionsInput) {
  retryFollowUp(id: $id, operation: REGISTER_UNEMPLOYMENT, corrections: $c) {
    accepted problems { field code messageZh messageEn }
    registration { id state coreComplete followUpsLeft { operation } } } }"""

CANCEL = """mutation($id: ID!) {
  cancelFollowUp(id: $id, operation: REGISTER_UNEMPLOYMENT) {
    accepted registration { state coreComplete followUpsLeft { operation }
      steps { operation kind state lastError { code } } notice { code messageZh messageEn } } } }"""


SUBSCRIBE = """subscription($id: ID!) { registrationUpdates(id: $id) {
  state coreComplete followUpsLeft { operation state } notice { code } } }"""


async def streamed(port: int, token: str, registration_id: str) -> list[dict[str, Any]]:
    """What the subscription sends, until it completes."""
    sent: list[dict[str, Any]] = []
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/graphql",
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        additional_headers={"Authorization": f"Bearer {token}"},
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        subscribe = {"query": SUBSCRIBE, "variables": {"id": registration_id}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        async with asyncio.timeout(30):
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "complete":
                    return sent
                sent.append(message["payload"]["data"]["registrationUpdates"])


def person_of(data: dict[str, Any]) -> Person:
    return Person(
        IdType(data["idType"]),
        data["idNumber"],
        data["name"],
        Gender[data["gender"]],
        data["ethnicity"],
        Education[data["education"]],
        data["mobile"],
        data["householdAddress"],
        data["currentAddress"],
    )


async def refused_follow_up(
    employer: GraphQLClient, gateway: Gateway
) -> tuple[dict[str, Any], str, str]:
    """A hired worker, registered unemployed after another job, whose ending asks
    for the unemployment registration: (the worker's person, the ending's id, the
    blocking registration's reference)."""
    start = dt.date.today() - dt.timedelta(days=10)
    hire = hire_input(start)
    [hired] = (await employer.post(HIRE, {"w": [hire], "k": key()}))["data"]["hire"][
        "registrations"
    ]
    assert (await settled(employer, hired["id"]))["state"] == "COMPLETED"
    unemployment = adapter_as(gateway.adapters[System.UNEMPLOYMENT], UnemploymentSystem)
    blocking = await unemployment.register(
        UnemploymentRequest(
            QINGDAO.unemployment_id,
            person_of(hire["person"]),
            start - dt.timedelta(days=30),
            EndReason.AGREEMENT,
        )
    )
    ending = {
        "person": hire["person"],
        "reason": "AGREEMENT",
        "date": dt.date.today().isoformat(),
        "registerUnemployment": True,
    }
    [registration] = (await employer.post(END, {"w": [ending], "k": key()}))["data"][
        "endEmployment"
    ]["registrations"]
    assert (await settled(employer, registration["id"]))["state"] == "NEEDS_ATTENTION"
    return hire["person"], registration["id"], blocking


async def test_a_refused_follow_up_shows_the_core_complete_and_is_retried_corrected(
    client: GraphQLClient, gateway: Gateway, worker: None
) -> None:
    employer = await client.login("demo-employer")
    person, registration_id, blocking = await refused_follow_up(employer, gateway)

    shown = (await employer.post(FOLLOWED, {"id": registration_id}))["data"]["registration"]
    assert shown["state"] == "NEEDS_ATTENTION"
    assert shown["coreComplete"] is True
    assert {(s["operation"], s["kind"], s["state"]) for s in shown["steps"]} == {
        ("DISMISS", "CORE", "DONE"),
        ("END_CONTRACT", "CORE", "DONE"),
        ("REGISTER_UNEMPLOYMENT", "FOLLOW_UP", "REFUSED"),
    }

    [left] = shown["followUpsLeft"]
    assert left["operation"] == "REGISTER_UNEMPLOYMENT"
    assert left["lastError"]["code"] == "SYSTEM_DUPLICATE"
    assert left["lastError"]["systemCode"] == "40902"
    notice = shown["notice"]
    assert notice["code"] == "FOLLOW_UP_NEEDS_ATTENTION"
    assert "核心事项已办结" in notice["messageZh"]
    assert "失业登记" in notice["messageZh"]
    assert notice["messageEn"].startswith("The core is complete")
    assert person["idNumber"] not in notice["messageZh"] + notice["messageEn"]

    # Another employer does not see it; an administrator may act, as may a clerk.
    await gateway.store.accounts.create(
        "qingdao-employer", DEMO_PASSWORD, Role.EMPLOYER, credit_code=QINGDAO.profile.credit_code
    )
    stranger = await client.login("qingdao-employer")
    assert error_codes(await stranger.post(RETRY, {"id": registration_id})) == ["NOT_FOUND"]

    # Corrections are checked as the form's row is: every problem, nothing changed.
    bad = await employer.post(
        RETRY, {"id": registration_id, "c": {"mobile": "12345", "householdAddress": " "}}
    )
    result = bad["data"]["retryFollowUp"]
    assert result["accepted"] is False
    assert {(p["field"], p["code"]) for p in result["problems"]} == {
        ("mobile", "MOBILE_FORMAT"),
        ("household_address", "REQUIRED"),
    }
    assert all(p["messageZh"] and p["messageEn"] for p in result["problems"])
    assert result["registration"]["state"] == "NEEDS_ATTENTION"

    # The blocking registration is cancelled at the unemployment system's counter;
    # the employer retries with the worker's new mobile.
    await adapter_as(gateway.adapters[System.UNEMPLOYMENT], UnemploymentSystem).cancel(blocking)
    good = await employer.post(RETRY, {"id": registration_id, "c": {"mobile": "13700001111"}})
    assert good["data"]["retryFollowUp"]["accepted"] is True
    assert good["data"]["retryFollowUp"]["problems"] == []

    done = await settled(employer, registration_id)
    assert done["state"] == "COMPLETED"
    final = (await employer.post(FOLLOWED, {"id": registration_id}))["data"]["registration"]
    assert final["followUpsLeft"] == []
    assert final["notice"] is None
    rows = await adapter_as(gateway.adapters[System.UNEMPLOYMENT], UnemploymentSystem).query_person(
        person["idNumber"]
    )
    [registered] = [r for r in rows if r.employer_id == EMPLOYERS[0].unemployment_id]
    assert registered.person.mobile == "13700001111"
    # Recorded in the audit log, by whom and for which registration.
    page = await gateway.store.audit.query(action="retry_follow_up", first=10)
    assert [(r.actor_username, r.reference) for r in page.items] == [
        ("demo-employer", registration_id)
    ]


async def test_a_clerk_cancels_the_follow_up_alone_and_the_core_stays(
    client: GraphQLClient, gateway: Gateway, worker: None, server: int
) -> None:
    employer = await client.login("demo-employer")
    _, registration_id, _ = await refused_follow_up(employer, gateway)
    # The subscription says the same, and ends: a person acts now.
    assert (await streamed(server, employer.token, registration_id))[-1] == {
        "state": "NEEDS_ATTENTION",
        "coreComplete": True,
        "followUpsLeft": [{"operation": "REGISTER_UNEMPLOYMENT", "state": "REFUSED"}],
        "notice": {"code": "FOLLOW_UP_NEEDS_ATTENTION"},
    }
    clerk = await client.login("demo-clerk")

    body = await clerk.post(CANCEL, {"id": registration_id})

    result = body["data"]["cancelFollowUp"]
    assert result["accepted"] is True
    registration = result["registration"]
    assert registration["state"] == "COMPLETED"
    assert registration["coreComplete"] is True
    assert registration["followUpsLeft"] == []
    assert {(s["operation"], s["state"]) for s in registration["steps"]} == {
        ("DISMISS", "DONE"),
        ("END_CONTRACT", "DONE"),
        ("REGISTER_UNEMPLOYMENT", "SKIPPED"),
    }
    assert registration["notice"]["code"] == "FOLLOW_UP_CANCELLED"
    assert registration["notice"]["messageZh"]
    assert registration["notice"]["messageEn"]
    # Nothing is left to cancel or retry.
    again = await clerk.post(CANCEL, {"id": registration_id})
    assert error_codes(again) == ["FOLLOW_UP_NOT_WAITING"]
    retried = await employer.post(RETRY, {"id": registration_id})
    assert error_codes(retried) == ["FOLLOW_UP_NOT_WAITING"]
    page = await gateway.store.audit.query(action="cancel_follow_up", first=10)
    assert [(r.actor_username, r.channel) for r in page.items] == [("demo-clerk", "service_window")]
