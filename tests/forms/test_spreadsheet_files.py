"""Forms saved by LibreOffice Calc (tests/forms/fixtures/README.md), imported."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.registrations.wiring import run_worker
from gateway.services import Gateway
from tests.forms.test_import_api import stored, upload
from tests.gateway.conftest import GraphQLClient
from tests.gateway.test_registrations_api import settled

FIXTURES = Path(__file__).parent / "fixtures"


async def test_a_workbook_saved_by_libreoffice_is_imported_and_completed(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    data = (FIXTURES / "filled-libreoffice.xlsx").read_bytes()
    result = (await upload(employer, data))["data"]["importRegistrationForm"]
    assert result["problems"] == []
    assert result["accepted"] is True
    # Filed long after the start date: accepted, with the law's warnings at the cell.
    assert {(w["cell"], w["code"]) for w in result["warnings"]} >= {
        ("L6", "LATE_EMPLOYMENT_REGISTRATION"),
        ("L7", "LATE_CONTRACT_FILING"),
    }
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(gateway, stop=stop))
    try:
        for registration in result["registrations"]:
            assert (await settled(employer, registration["id"]))["state"] == "COMPLETED"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_a_gbk_csv_saved_by_libreoffice_is_checked(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    data = (FIXTURES / "filled-libreoffice-gbk.csv").read_bytes()
    result = (await upload(employer, data, name="form.csv", d=True))["data"][
        "importRegistrationForm"
    ]
    assert (result["rows"], result["validRows"], result["problems"]) == (2, 2, [])
    assert await stored(gateway) == 0
