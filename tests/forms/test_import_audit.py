"""Every upload of the form leaves one audit record (who, through which channel, for
which unit, how many rows, dry run or not, what became of it), besides the record
of each registration it stores (``submit_hire``...), and none holds a worker's data."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from gateway.services import Gateway
from gateway.store.audit import IMPORT_ACTION, MARKED_FORM_ACTION
from gateway.store.model import AuditRecord, AuditResult
from tests.forms.support import filled, hire_row
from tests.forms.test_import_api import JINAN, upload
from tests.gateway.conftest import GraphQLClient


async def _records(gateway: Gateway, action: str) -> list[AuditRecord]:
    return list((await gateway.store.audit.query(action=action, first=50)).items)


def _clear(record: AuditRecord, rows: list[dict[str, Any]]) -> list[str]:
    text = json.dumps(dataclasses.asdict(record), default=str, ensure_ascii=False)
    fields = ("id_number", "mobile", "household_address", "current_address", "name")
    return [str(r[f]) for r in rows for f in fields if str(r[f]) in text]


async def test_each_upload_is_one_record_dry_run_or_stored_and_rows_are_not_recorded_twice(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    rows = [hire_row(name="孙八", household_address="户籍街12号"), hire_row(name="周九")]
    data = filled(rows)
    checked = (await upload(employer, data, d=True))["data"]["importRegistrationForm"]
    assert checked["dryRun"] is True
    assert checked["problems"] == []
    [dry] = await _records(gateway, IMPORT_ACTION)
    assert dry.actor_username == "demo-employer"
    assert dry.channel is not None
    assert dry.channel.value == "government_portal"
    assert dry.credit_code == JINAN
    assert dry.result is AuditResult.ALLOWED
    assert (dry.worker_key, dry.worker_masked) == (None, None)
    assert dry.detail == {
        "rows": 2,
        "valid_rows": 2,
        "problems": 0,
        "dry_run": True,
        "valid_only": False,
        "registrations": 0,
        "replayed": False,
    }
    assert await _records(gateway, "submit_hire") == []
    stored = (await upload(employer, data))["data"]["importRegistrationForm"]
    assert stored["accepted"] is True
    latest, first = await _records(gateway, IMPORT_ACTION)
    assert first.id == dry.id
    assert (latest.detail or {})["dry_run"] is False
    assert (latest.detail or {})["registrations"] == 2
    # Each registration stored keeps its own record, written with it; the upload's
    # record does not repeat them.
    hires = await _records(gateway, "submit_hire")
    assert sorted(r.reference or "" for r in hires) == sorted(
        r["id"] for r in stored["registrations"]
    )
    for record in (dry, latest):
        assert _clear(record, rows) == []


async def test_an_upload_with_problems_names_its_marked_copy_as_its_fetches_do(
    client: GraphQLClient, gateway: Gateway
) -> None:
    clerk = await client.login("demo-clerk")
    rows = [hire_row(mobile="12345", name="吴十"), hire_row(name="郑十一")]
    body = await upload(clerk, filled(rows, {"credit_code": JINAN, "unit_name": "x"}))
    result = body["data"]["importRegistrationForm"]
    assert result["accepted"] is False
    assert result["problems"]
    [record] = await _records(gateway, IMPORT_ACTION)
    assert record.actor_username == "demo-clerk"
    assert record.channel is not None
    assert record.channel.value == "service_window"
    assert record.credit_code == JINAN
    detail = record.detail or {}
    assert (detail["rows"], detail["problems"], detail["registrations"]) == (2, 1, 0)
    r = await clerk.http.get(
        result["markedWorkbook"]["url"], headers={"Authorization": f"Bearer {clerk.token}"}
    )
    assert r.status_code == 200
    [fetched] = await _records(gateway, MARKED_FORM_ACTION)
    assert fetched.credit_code == JINAN  # the unit of the form, for a clerk too
    assert (fetched.detail or {})["workbook"] == detail["workbook"]
    assert (fetched.detail or {})["rows"] == 2
    assert _clear(record, rows) == []
    assert _clear(fetched, rows) == []


async def test_an_upload_the_registrar_refuses_is_recorded_refused(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    first = await upload(employer, filled([hire_row()]), k="same-key")
    assert first["data"]["importRegistrationForm"]["accepted"] is True
    again = await upload(employer, filled([hire_row()]), k="same-key")
    code = again["errors"][0]["extensions"]["code"]
    refused, accepted = await _records(gateway, IMPORT_ACTION)
    assert accepted.result is AuditResult.ALLOWED
    assert refused.result is AuditResult.REFUSED
    assert (refused.detail or {})["refused"] == code
    assert (refused.detail or {})["registrations"] == 0
