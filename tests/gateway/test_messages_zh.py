"""Messages a person reads: Chinese in Chinese, naming what to do next."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from tests.gateway.conftest import GraphQLClient
from tests.gateway.test_registrations_api import HIRE, hire_input, key, settled

END = """mutation($w: [EndInput!]!, $k: String!) {
  endEmployment(workers: $w, idempotencyKey: $k) {
    accepted problems { code } registrations { id } } }"""
FAILED = """query($id: ID!) { registration(id: $id) { state
  failure { code systemCode field messageZh messageEn }
  steps { system state lastError { code messageZh messageEn } } } }"""


async def _failed(client: GraphQLClient, registration_id: str) -> dict[str, Any]:
    await settled(client, registration_id)
    body = await client.post(FAILED, {"id": registration_id})
    return dict(body["data"]["registration"])


async def test_a_labour_refusal_reads_in_chinese_without_an_english_fragment(
    client: GraphQLClient, worker: None
) -> None:
    """The audit's finding (its s2): an ending dated before the contract's start, refused
    by the labour system, read "...不应早于合同开始日期 (invalid value)" in Chinese."""
    employer = await client.login("demo-employer")
    start = dt.date.today() - dt.timedelta(days=5)
    hire = hire_input(start)
    [hired] = (await employer.post(HIRE, {"w": [hire], "k": key()}))["data"]["hire"][
        "registrations"
    ]
    assert (await settled(employer, hired["id"]))["state"] == "COMPLETED"
    ending = {
        "person": hire["person"],
        "reason": "AGREEMENT",
        "date": (start - dt.timedelta(days=10)).isoformat(),
        "registerUnemployment": False,
    }
    [ended] = (await employer.post(END, {"w": [ending], "k": key()}))["data"]["endEmployment"][
        "registrations"
    ]
    shown = await _failed(employer, ended["id"])
    assert shown["state"] == "COMPENSATED"
    failure = shown["failure"]
    assert failure["code"] == "SYSTEM_REJECTED"
    assert not re.search(r"[A-Za-z]{3,}", failure["messageZh"]), failure["messageZh"]
    for step in shown["steps"]:
        if step["lastError"]:
            assert not re.search(r"[A-Za-z]{3,}", step["lastError"]["messageZh"]), step
