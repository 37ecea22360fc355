"""Registrations out as the form: the export with states, the page to print."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest

from adapters.standin.seed import EMPLOYERS
from gateway.forms.http import _employer_template
from gateway.privacy import mask_id_number
from gateway.services import Gateway
from tests.forms.support import filled, hire_row
from tests.forms.test_import_api import upload
from tests.gateway.conftest import GraphQLClient, erased


def _auth(client: GraphQLClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.token}"}


async def test_export_lists_the_registrations_with_their_states_masked_and_neutralised(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    # A text the checks take but a spreadsheet would run: the export neutralises it.
    body = await upload(employer, filled([hire_row(), hire_row(post="@SUM(1)")]))
    result = body["data"]["importRegistrationForm"]
    assert result["accepted"] is True, result["problems"]
    r = await employer.http.get(
        "/forms/registrations.xlsx?state=ACCEPTED&business=HIRE", headers=_auth(employer)
    )
    assert r.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(r.content))["登记表"]
    data = [[c.value for c in row] for row in sheet.iter_rows(min_row=6)]
    assert len(data) == 2
    assert all("ACCEPTED" in str(row[-2]) for row in data)
    assert all("*" in str(row[5]) for row in data)  # ID numbers masked in a list
    posts = {row[16] for row in data}
    assert "'@SUM(1)" in posts  # written as text, never a formula
    assert all(cell.data_type != "f" for row in sheet.iter_rows(min_row=6) for cell in row)
    none = await employer.http.get(
        "/forms/registrations.xlsx?state=COMPLETED", headers=_auth(employer)
    )
    assert openpyxl.load_workbook(io.BytesIO(none.content))["登记表"].max_row == 5
    url = "/forms/registrations.xlsx?from=yesterday"
    bad = await employer.http.get(url, headers=_auth(employer))
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"


async def _uploaded(client: GraphQLClient) -> tuple[GraphQLClient, dict[str, Any], str, str]:
    """The demo employer, the row of a hire it uploaded, its registration's id and
    the page to print it."""
    employer = await client.login("demo-employer")
    row = hire_row()
    body = await upload(employer, filled([row]))
    [registration] = body["data"]["importRegistrationForm"]["registrations"]
    return (
        employer,
        row,
        registration["id"],
        f"/forms/registrations/{registration['id']}/print.xlsx",
    )


async def test_one_registration_prints_on_a4_for_signature_and_seal_and_is_audited(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer, row, registration_id, url = await _uploaded(client)
    r = await employer.http.get(url, headers=_auth(employer))
    assert r.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    assert int(sheet.page_setup.paperSize or 0) == int(sheet.PAPERSIZE_A4)
    labels = [c.value for c in sheet["A"]]
    assert any("盖章" in str(v) for v in labels)
    assert row["id_number"] in [c.value for c in sheet["B"]]  # in full, for its employer
    page = await gateway.store.audit.query(action="print_registration", first=10)
    assert [r.reference for r in page.items] == [registration_id]
    # Someone who may not reach it finds nothing, as for a registration that does not exist.
    admin = await client.login("demo-admin")
    other = await client.http.get(url.replace(registration_id, "0" * 32), headers=_auth(admin))
    assert other.status_code == 404
    assert (await client.http.get(url)).status_code == 401


async def test_a_registration_whose_personal_data_were_erased_prints_masked_and_is_audited(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer, row, registration_id, url = await _uploaded(client)
    await erased(gateway, registration_id)
    r = await employer.http.get(url, headers=_auth(employer))
    assert r.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    cells = [c.value for c in sheet["B"]]
    assert row["id_number"] not in cells
    assert mask_id_number(row["id_number"]) in cells
    # The print is recorded against the worker, found by the full number as ever.
    audit = gateway.store.audit
    page = await audit.query(
        worker_key=audit.worker_key("RESIDENT_ID", row["id_number"]),
        action="print_registration",
        first=10,
    )
    assert [r.reference for r in page.items] == [registration_id]


async def test_the_template_is_public_and_blank_for_anyone_not_an_employer(
    client: GraphQLClient,
) -> None:
    r = await client.http.get("/forms/registration-template.xlsx")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(r.content))["登记表"]
    assert (sheet["B2"].value, sheet["H2"].value) == (None, None)
    refused = await client.http.get(
        "/forms/registration-template.xlsx", headers={"Authorization": "Bearer forged"}
    )
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_employers_template_is_written_once_for_its_downloads(
    client: GraphQLClient,
) -> None:
    employer = await client.login("demo-employer")
    headers = {"Authorization": f"Bearer {employer.token}"}
    first = await employer.http.get("/forms/registration-template.xlsx", headers=headers)
    written = _employer_template.cache_info()
    again = await employer.http.get("/forms/registration-template.xlsx", headers=headers)
    assert again.status_code == first.status_code == 200
    assert again.content == first.content
    kept = _employer_template.cache_info()
    assert (kept.hits, kept.misses) == (written.hits + 1, written.misses)
    sheet = openpyxl.load_workbook(io.BytesIO(again.content))["登记表"]
    assert sheet["B2"].value  # its name, filled in


async def test_an_export_of_days_is_of_the_provinces_days_and_of_one_windows_work(
    client: GraphQLClient, gateway: Gateway
) -> None:
    """A window exports what it did on a day: the day is the province's (a registration at
    01:00 there is of that day, though it is the day before in UTC), and the store is
    asked for those days alone (the export read every registration of its scope and
    kept the days it wanted)."""
    import datetime as dt

    from tests.gateway.test_registrations_api import HIRE, hire_input, key

    employer = await client.login("demo-employer")
    clerk = await client.login("demo-clerk")
    code = "91370102MA3C4TLQ2N"
    late_on_the_2nd = dt.datetime(2026, 12, 2, 15, 30, tzinfo=dt.UTC)  # 23:30 in Jinan
    early_on_the_3rd = dt.datetime(2026, 12, 2, 17, 0, tzinfo=dt.UTC)  # 01:00 in Jinan
    made = {}
    for name, worker, at, caller, extra in (
        ("2nd", "周二晚", late_on_the_2nd, employer, {}),
        ("3rd-window", "周三窗", early_on_the_3rd, clerk, {"c": code}),
        ("3rd-online", "周三网", early_on_the_3rd + dt.timedelta(minutes=5), employer, {}),
    ):
        gateway.clock = lambda at=at: at
        hire = hire_input(start=dt.date(2026, 12, 1), name=worker)
        body = await caller.post(HIRE, {"w": [hire], "k": key(), **extra})
        assert body["data"]["hire"]["registrations"], body
        made[name] = worker

    async def names(query: str) -> list[str]:
        r = await clerk.http.get(f"/forms/registrations.xlsx?{query}", headers=_auth(clerk))
        assert r.status_code == 200, r.text
        sheet = openpyxl.load_workbook(io.BytesIO(r.content))["登记表"]
        return sorted(str(row[1].value) for row in sheet.iter_rows(min_row=6) if row[1].value)

    assert await names("from=2026-12-02&to=2026-12-02") == [made["2nd"]]
    assert await names("from=2026-12-03&to=2026-12-03") == sorted(
        [made["3rd-window"], made["3rd-online"]]
    )
    assert await names("from=2026-12-03&actor=Demo-Clerk") == [made["3rd-window"]]
    assert await names("to=2026-12-03&channel=government_portal") == sorted(
        [made["2nd"], made["3rd-online"]]
    )
    bad = await clerk.http.get("/forms/registrations.xlsx?channel=WINDOW", headers=_auth(clerk))
    assert bad.status_code == 400


async def test_one_export_of_an_account_at_a_time(client: GraphQLClient, gateway: Gateway) -> None:
    """An export of 10,000 rows takes about 5 s of CPU to write, and an account's
    rate limit let it ask for many at once."""
    employer = await client.login("demo-employer")
    account = await gateway.store.accounts.get("demo-employer")
    assert account is not None
    url = "/forms/registrations.xlsx"
    gateway.exporting.add(account.id)  # another export of the account is being written
    try:
        busy = await employer.http.get(url, headers=_auth(employer))
        clerk = await client.login("demo-clerk")
        other = await clerk.http.get(url, headers=_auth(clerk))  # another account's goes on
    finally:
        gateway.exporting.discard(account.id)
    assert busy.status_code == 429
    assert busy.headers["retry-after"] == "5"
    [error] = busy.json()["errors"]
    assert error["extensions"]["code"] == "FORM_EXPORT_BUSY"
    assert error["extensions"]["message_zh"]
    assert other.status_code == 200
    # Done, or refused before any work: the account's next export is written.
    bad = await employer.http.get(f"{url}?state=NO_SUCH", headers=_auth(employer))
    assert bad.status_code == 400
    again = await employer.http.get(url, headers=_auth(employer))
    assert again.status_code == 200
    assert gateway.exporting == set()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("to=9999-12-31", "to"),  # the day after it was an OverflowError: a 500
        ("from=0001-01-01", "from"),  # its midnight in the province lies before year 1 in UTC
        ("from=2026-13-01", "from"),
        ("from=yesterday", "from"),
        ("from=2026-12-01&to=2026-02-30", "to"),
    ],
)
async def test_an_export_of_a_day_beyond_the_calendar_or_no_day_is_refused_naming_it(
    client: GraphQLClient, query: str, field: str
) -> None:
    """For any signed-in account, as the graph's filters refuse such times."""
    for who in ("demo-employer", "demo-clerk"):
        caller = await client.login(who)
        r = await caller.http.get(f"/forms/registrations.xlsx?{query}", headers=_auth(caller))
        assert r.status_code == 400, (who, r.text)
        [error] = r.json()["errors"]
        assert error["extensions"]["code"] == "BAD_INPUT", who
        assert error["extensions"]["field"] == field, who
        assert field in error["message"]
        assert field in error["extensions"]["message_zh"]


async def test_an_export_of_the_calendars_last_days_in_utc_is_written(
    client: GraphQLClient,
) -> None:
    """The first day whose midnight in the province is in year 1 in UTC, and the last
    whose next midnight is in 9999: days like any other."""
    employer = await client.login("demo-employer")
    body = await upload(employer, filled([hire_row()]))
    assert body["data"]["importRegistrationForm"]["accepted"] is True, body
    r = await employer.http.get(
        "/forms/registrations.xlsx?from=0001-01-02&to=9999-12-30", headers=_auth(employer)
    )
    assert r.status_code == 200, r.text
    sheet = openpyxl.load_workbook(io.BytesIO(r.content))["登记表"]
    assert sheet.max_row == 6  # the header's five rows and the registration


@pytest.mark.parametrize(
    ("who", "unit", "named"),
    [
        ("demo-employer", EMPLOYERS[0], True),
        ("demo-employer", EMPLOYERS[1], False),  # another unit's code
        ("demo-clerk", EMPLOYERS[0], True),  # a Jinan unit, at a Jinan window
        ("demo-clerk", EMPLOYERS[1], False),  # a Qingdao unit
    ],
)
async def test_the_exports_header_names_only_a_unit_the_caller_reaches(
    client: GraphQLClient, who: str, unit: Any, named: bool
) -> None:
    """The finding: an export for another unit's credit code came back with no rows
    but the unit's name on record in its header, where the graph answers NOT_FOUND:
    any signed-in caller could learn which units the gateway holds, and their names."""
    caller = await client.login(who)
    code = unit.profile.credit_code
    r = await caller.http.get(f"/forms/registrations.xlsx?creditCode={code}", headers=_auth(caller))
    assert r.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(r.content))["登记表"]
    cells = {c.value for row in sheet.iter_rows(max_row=5) for c in row}
    assert (unit.profile.name in cells) is named
    assert code in cells  # what was asked for, as it was asked
