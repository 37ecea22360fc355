"""The form's files and the audit log: every export and every fetch of a marked copy
leaves a record (who, through which channel, for which unit or scope, with which
filters, how many rows), and none holds a worker's personal data in clear; the
export shows of each worker what a list in the graph shows the caller."""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import openpyxl
import pytest

from gateway.forms.layout import FIRST_DATA_ROW, ZH_ROW
from gateway.privacy import mask_id_number, mask_mobile
from gateway.registrations.ports import RegistrationFilter
from gateway.services import Gateway
from gateway.store.audit import EXPORT_ACTION, MARKED_FORM_ACTION
from gateway.store.model import AuditRecord, AuditResult
from tests.forms.support import filled, hire_row
from tests.forms.test_import_api import JINAN, upload
from tests.gateway.conftest import GraphQLClient


def _auth(client: GraphQLClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.token}"}


async def _records(gateway: Gateway, action: str) -> list[AuditRecord]:
    return list((await gateway.store.audit.query(action=action, first=50)).items)


def _personal(rows: list[dict[str, Any]]) -> list[str]:
    """What of ``rows`` must never be in an audit record in clear."""
    return [
        str(row[field])
        for row in rows
        for field in ("id_number", "mobile", "household_address", "current_address", "name")
    ]


def _in_clear(record: AuditRecord, personal: list[str]) -> list[str]:
    """Those of ``personal`` found anywhere in ``record``."""
    text = json.dumps(dataclasses.asdict(record), default=str, ensure_ascii=False)
    return [p for p in personal if p in text]


async def _two_hires(client: GraphQLClient) -> tuple[GraphQLClient, list[dict[str, Any]]]:
    employer = await client.login("demo-employer")
    rows = [
        hire_row(name="张三丰", household_address="户籍路7号", current_address="现住路8号"),
        hire_row(name="李四光", household_address="户籍路9号", current_address="现住路10号"),
    ]
    body = await upload(employer, filled(rows))
    assert body["data"]["importRegistrationForm"]["accepted"] is True, body
    return employer, rows


async def test_an_export_leaves_one_record_of_who_what_scope_filters_and_rows(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer, rows = await _two_hires(client)
    assert await _records(gateway, EXPORT_ACTION) == []
    url = "/forms/registrations.xlsx?state=ACCEPTED&business=HIRE&from=2000-01-01&to=2999-12-31"
    r = await employer.http.get(url, headers=_auth(employer))
    assert r.status_code == 200
    [record] = await _records(gateway, EXPORT_ACTION)
    assert record.actor_username == "demo-employer"
    assert record.actor_role is not None
    assert record.actor_role.value == "employer"
    assert record.channel is not None
    assert record.channel.value == "government_portal"
    assert record.credit_code == JINAN  # an employer's export is of its own unit
    assert record.result is AuditResult.ALLOWED
    # No worker: one record for the file, not one per row.
    assert (record.worker_key, record.worker_masked, record.worker_id_type) == (None, None, None)
    detail = record.detail or {}
    assert detail["rows"] == 2
    assert detail["filters"] == {
        "state": ["ACCEPTED"],
        "business": "HIRE",
        "from": "2000-01-01",
        "to": "2999-12-31",
    }
    assert detail["scope"] == {"credit_codes": [JINAN]}
    assert detail["units"] == 1
    assert _in_clear(record, _personal(rows)) == []
    # Each export is a record of its own, an empty one too.
    none = await employer.http.get(
        "/forms/registrations.xlsx?state=COMPLETED", headers=_auth(employer)
    )
    assert none.status_code == 200
    latest, first = await _records(gateway, EXPORT_ACTION)
    assert first.id == record.id
    assert (latest.detail or {})["rows"] == 0
    # The chain still holds with the new kind of record in it.
    assert (await gateway.store.audit.verify_chain()).ok


async def test_a_clerks_export_of_a_window_day_records_its_divisions_and_the_units(
    client: GraphQLClient, gateway: Gateway
) -> None:
    _, rows = await _two_hires(client)
    clerk = await client.login("demo-clerk")
    r = await clerk.http.get(
        f"/forms/registrations.xlsx?creditCode={JINAN.lower()}&channel=government_portal",
        headers=_auth(clerk),
    )
    assert r.status_code == 200
    [record] = await _records(gateway, EXPORT_ACTION)
    assert record.actor_username == "demo-clerk"
    assert record.channel is not None
    assert record.channel.value == "service_window"
    assert record.credit_code == JINAN  # the unit asked for, as the form's header names it
    detail = record.detail or {}
    assert detail["rows"] == 2
    assert detail["filters"] == {"creditCode": JINAN, "channel": "government_portal"}
    assert detail["scope"]["divisions"]  # the clerk's, as at the time
    assert detail["credit_codes"] == [JINAN]
    assert _in_clear(record, _personal(rows)) == []


async def test_a_refused_export_leaves_no_record(client: GraphQLClient, gateway: Gateway) -> None:
    employer = await client.login("demo-employer")
    bad = await employer.http.get(
        "/forms/registrations.xlsx?from=yesterday", headers=_auth(employer)
    )
    assert bad.status_code == 400
    assert await _records(gateway, EXPORT_ACTION) == []


def _column(sheet: Any, header: str) -> int:
    """The 0-based index of the column whose Chinese header is ``header``."""
    heads = [c.value for c in sheet[ZH_ROW]]
    return heads.index(header)


@pytest.mark.parametrize("role", ["demo-employer", "demo-clerk", "demo-admin"])
async def test_the_export_shows_what_a_list_in_the_graph_shows_each_role(
    client: GraphQLClient, gateway: Gateway, role: str
) -> None:
    """docs/graph.md: in lists, ID numbers and mobiles are masked and addresses are
    null, for every role; full values only in a single-worker read. The export is a
    list: its address columns (H and I) are blank, whoever asks."""
    _, rows = await _two_hires(client)
    caller = await client.login(role)
    r = await caller.http.get("/forms/registrations.xlsx", headers=_auth(caller))
    assert r.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(r.content))["登记表"]
    ids, mobiles = _column(sheet, "证件号码"), _column(sheet, "移动电话号码")
    household, current = _column(sheet, "户籍地址"), _column(sheet, "现居住址")
    assert (household, current) == (7, 8)  # columns H and I
    data = [[c.value for c in row] for row in sheet.iter_rows(min_row=FIRST_DATA_ROW)]
    assert len(data) == 2
    assert sorted(row[ids] for row in data) == sorted(mask_id_number(r["id_number"]) for r in rows)
    assert sorted(row[mobiles] for row in data) == sorted(mask_mobile(r["mobile"]) for r in rows)
    assert [(row[household], row[current]) for row in data] == [(None, None)] * 2
    everything = "".join(str(v) for row in data for v in row)
    for row in rows:
        for field in ("id_number", "mobile", "household_address", "current_address"):
            assert row[field] not in everything


async def test_fetching_a_marked_copy_is_recorded_and_so_is_a_fetch_without_the_rights(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    rows = [hire_row(mobile="12345", name="王五"), hire_row(name="赵六")]
    body = await upload(employer, filled(rows))
    result = body["data"]["importRegistrationForm"]
    url = result["markedWorkbook"]["url"]
    token = url.rsplit("/", 1)[1].removesuffix(".xlsx")
    assert await _records(gateway, MARKED_FORM_ACTION) == []
    r = await employer.http.get(url, headers=_auth(employer))
    assert r.status_code == 200
    [record] = await _records(gateway, MARKED_FORM_ACTION)
    assert record.result is AuditResult.ALLOWED
    assert record.actor_role is not None
    assert record.actor_role.value == "employer"
    assert record.channel is not None
    assert record.channel.value == "government_portal"
    assert record.credit_code == JINAN
    assert (record.worker_key, record.worker_masked) == (None, None)
    detail = record.detail or {}
    assert detail["bytes"] == len(r.content)
    assert detail["workbook"]
    assert token not in json.dumps(detail)
    assert _in_clear(record, _personal(rows)) == []
    # A clerk holding the link is refused as for a link that expired, and the attempt
    # on a workbook full of workers' data is recorded.
    clerk = await client.login("demo-clerk")
    refused = await clerk.http.get(url, headers=_auth(clerk))
    assert refused.status_code == 404
    latest, first = await _records(gateway, MARKED_FORM_ACTION)
    assert first.id == record.id
    assert latest.actor_username == "demo-clerk"
    assert latest.result is AuditResult.NOT_FOUND
    assert (latest.detail or {})["workbook"] == detail["workbook"]
    # A link that never was concerns no one's data: nothing recorded.
    nothing = await employer.http.get(
        "/forms/marked/" + "A" * 43 + ".xlsx", headers=_auth(employer)
    )
    assert nothing.status_code == 404
    assert len(await _records(gateway, MARKED_FORM_ACTION)) == 2


async def test_the_page_printed_for_a_role_that_sees_no_full_numbers_has_no_addresses(
    client: GraphQLClient, gateway: Gateway
) -> None:
    """A single-worker read in the graph gives the addresses only to the roles that
    see full numbers (``HRSS_REVEAL_ROLES``: employers and clerks): an administrator's
    printed page masks the numbers, and so leaves the addresses blank."""
    employer, rows = await _two_hires(client)
    registrations = await gateway.store.registrations.list(RegistrationFilter(), first=10)
    wanted = next(r for r in registrations.items if r.payload.get("name") == rows[0]["name"])
    url = f"/forms/registrations/{wanted.id}/print.xlsx"

    async def printed(caller: GraphQLClient) -> list[Any]:
        r = await caller.http.get(url, headers=_auth(caller))
        assert r.status_code == 200
        sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
        assert sheet is not None
        return [c.value for c in sheet["B"]]

    full = await printed(employer)
    assert {rows[0]["id_number"], rows[0]["household_address"], rows[0]["current_address"]} <= set(
        full
    )
    admin = await printed(await client.login("demo-admin"))
    assert mask_id_number(rows[0]["id_number"]) in admin
    for field in ("id_number", "mobile", "household_address", "current_address"):
        assert rows[0][field] not in admin
