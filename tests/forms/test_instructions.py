"""The template's instructions sheet (填表说明) says what the checks require, with social
insurance off and on.

The audit's finding: it said "Hire: columns 1-17, 20 and 21", though column 13 (the
contract's end date) is for fixed-term contracts only, and with social insurance on it
left out the wage column and the date of birth the checks then require (the date of
birth for a document that carries none).
"""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest

from gateway.config import GatewayConfig
from gateway.forms.writing import template
from gateway.services import Gateway
from tests.gateway.conftest import GraphQLClient

SI = ("social_insurance",)


def instructions(data: bytes) -> list[tuple[str, str]]:
    sheet = openpyxl.load_workbook(io.BytesIO(data))["填表说明"]
    return [(str(r[0].value or ""), str(r[1].value or "")) for r in sheet.iter_rows()]


def line(lines: list[tuple[str, str]], start: str) -> tuple[str, str]:
    [found] = [(zh, en) for zh, en in lines if zh.startswith(start)]
    return found


def test_the_businesses_name_the_columns_the_checks_require() -> None:
    lines = instructions(template({}))
    zh, en = line(lines, "招用：")
    assert "第1-12、14-17、20、21列" in zh
    assert "第13列" in zh
    assert "固定期限" in zh
    assert "columns 1-12, 14-17, 20 and 21" in en
    assert "column 13" in en
    assert "fixed-term" in en
    zh, en = line(lines, "续签：")
    assert "第1-12、15-17、21列" in zh
    assert "columns 1-12, 15-17 and 21" in en
    zh, en = line(lines, "解除或终止：")
    assert "第1-10、18、19列" in zh
    assert "columns 1-10, 18 and 19" in en
    # Off, nothing of social insurance is asked.
    assert not [zh for zh, _ in lines if "社会保险缴费工资" in zh or "“出生日期”" in zh]


def test_with_social_insurance_on_the_wage_and_the_date_of_birth_are_said() -> None:
    config = GatewayConfig.load(environ={"HRSS_SOCIAL_INSURANCE_ENABLED": "true"})
    said = config.forms.instructions
    lines = instructions(template({}, systems=SI, instructions=said))
    zh, en = line(lines, "招用：须填写“社会保险缴费工资”列")
    assert "Monthly contribution wage" in en
    assert "required" in en
    [(zh, en)] = [(z, e) for z, e in lines if "“出生日期”" in z]
    for document in ("外国护照", "港澳居民来往内地通行证", "台湾居民来往大陆通行证", "15位"):
        assert document in zh, zh
    assert "居民身份证" not in zh
    assert "passport" in en.lower()
    # The checks are what say so: off, the same columns would ask for nothing.
    assert GatewayConfig.load(environ={}).forms.instructions == ()


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    return {
        "environ": {
            "HRSS_SOCIAL_INSURANCE_ENABLED": "true",
            "HRSS_SOCIAL_INSURANCE_URL": "http://127.0.0.1:9",  # never called here
        }
    }


async def test_the_template_a_gateway_gives_says_so(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    for token in (employer.token, None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await client.http.get("/forms/registration-template.xlsx", headers=headers)
        assert r.status_code == 200
        lines = instructions(r.content)
        assert line(lines, "招用：须填写“社会保险缴费工资”列")
        assert [z for z, _ in lines if "“出生日期”" in z]
