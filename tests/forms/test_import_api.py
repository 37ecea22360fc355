"""The form as a user hands it in: template downloaded, filled, imported, registered."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import threading
import time
import uuid
import zipfile
from typing import Any

import httpx
import openpyxl
import pytest

from adapters.standin.seed import EMPLOYERS
from gateway.app import create_app
from gateway.domain.model import System
from gateway.forms.settings import FormSettings
from gateway.registrations.ports import RegistrationFilter
from gateway.registrations.wiring import run_worker
from gateway.services import Gateway
from tests.forms.support import filled, hire_row, type_in
from tests.gateway.conftest import GraphQLClient, error_codes, writes
from tests.gateway.test_registrations_api import settled

JINAN = EMPLOYERS[0].profile.credit_code

IMPORT = """mutation($f: Upload!, $k: String!, $d: Boolean! = false, $v: Boolean! = false) {
  importRegistrationForm(file: $f, idempotencyKey: $k, dryRun: $d, validOnly: $v) {
    accepted dryRun replayed rows validRows
    registrations { id state business channel }
    problems { sheet row column cell field code messageZh messageEn }
    warnings { cell code }
    markedWorkbook { url expiresAt }
  } }"""


async def upload(
    client: GraphQLClient, data: bytes, name: str = "form.xlsx", **variables: Any
) -> dict[str, Any]:
    """A multipart request (GraphQL multipart request specification)."""
    operations = {"query": IMPORT, "variables": {"f": None, "k": uuid.uuid4().hex, **variables}}
    r = await client.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
        files={"0": (name, data, "application/octet-stream")},
        headers={
            "Authorization": f"Bearer {client.token}",
            "Apollo-Require-Preflight": "true",
            "Accept": "application/graphql-response+json",
        },
    )
    body: dict[str, Any] = r.json()
    return body


async def stored(gateway: Gateway) -> int:
    return len((await gateway.store.registrations.list(RegistrationFilter(), first=100)).items)


async def test_template_filled_imported_and_registrations_completed(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    r = await employer.http.get(
        "/forms/registration-template.xlsx", headers={"Authorization": f"Bearer {employer.token}"}
    )
    assert r.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    sheet = book["登记表"]
    assert sheet["B2"].value  # the employer's name, filled in
    assert sheet["H2"].value == JINAN
    assert {"填表说明", "代码表"} <= set(book.sheetnames)
    assert sheet.data_validations.dataValidation  # the drop-down lists
    type_in(book, [hire_row(), hire_row()])
    out = io.BytesIO()
    book.save(out)
    checked = (await upload(employer, out.getvalue(), d=True))["data"]["importRegistrationForm"]
    assert (checked["dryRun"], checked["rows"], checked["validRows"]) == (True, 2, 2)
    assert checked["problems"] == []
    assert await stored(gateway) == 0  # a dry run stores nothing
    body = await upload(employer, out.getvalue())
    result = body["data"]["importRegistrationForm"]
    assert result["accepted"] is True, body
    assert [r["business"] for r in result["registrations"]] == ["HIRE", "HIRE"]
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(gateway, stop=stop))
    try:
        for registration in result["registrations"]:
            assert (await settled(employer, registration["id"]))["state"] == "COMPLETED"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_bad_cells_are_all_reported_marked_and_nothing_is_stored_or_sent(
    client: GraphQLClient, gateway: Gateway, standins: dict[System, Any]
) -> None:
    employer = await client.login("demo-employer")
    before = writes(standins)
    rows = [hire_row(mobile="12345"), hire_row(), hire_row(start_date="明天")]
    body = await upload(employer, filled(rows))
    result = body["data"]["importRegistrationForm"]
    assert result["accepted"] is False
    assert [(p["cell"], p["code"]) for p in result["problems"]] == [
        ("L8", "CELL_NOT_A_DATE"),
        ("G6", "MOBILE_FORMAT"),
    ]
    assert all(p["messageZh"] and p["messageEn"] and p["column"] for p in result["problems"])
    assert await stored(gateway) == 0
    assert writes(standins) == before
    url = result["markedWorkbook"]["url"]
    r = await employer.http.get(url, headers={"Authorization": f"Bearer {employer.token}"})
    assert r.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(r.content))["登记表"]
    assert "MOBILE_FORMAT" in sheet["G6"].comment.text
    assert sheet["L8"].comment is not None
    assert sheet["G7"].comment is None
    # Only the uploader's rights open it: anyone else, or no one, gets nothing.
    clerk = await client.login("demo-clerk")
    r = await clerk.http.get(url, headers={"Authorization": f"Bearer {clerk.token}"})
    assert r.status_code == 404
    assert (await clerk.http.get(url)).status_code == 401


async def test_valid_only_stores_the_good_rows(client: GraphQLClient, gateway: Gateway) -> None:
    employer = await client.login("demo-employer")
    body = await upload(employer, filled([hire_row(mobile="1"), hire_row()]), v=True)
    result = body["data"]["importRegistrationForm"]
    assert result["accepted"] is True
    assert len(result["registrations"]) == 1
    assert [p["cell"] for p in result["problems"]] == ["G6"]
    assert await stored(gateway) == 1


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "FORM_FILE_TYPE_UNSUPPORTED"),
        (b"PK\x03\x04broken", "FORM_FILE_CORRUPT"),
        (b"", "FORM_FILE_EMPTY"),
    ],
)
async def test_a_hostile_file_is_a_coded_error_and_nothing_is_kept(
    client: GraphQLClient,
    gateway: Gateway,
    standins: dict[System, Any],
    data: bytes,
    code: str,
) -> None:
    employer = await client.login("demo-employer")
    before = writes(standins)
    body = await upload(employer, data, name="form.xlsx")
    assert error_codes(body) == [code]
    assert await stored(gateway) == 0
    assert writes(standins) == before


async def test_a_file_whose_ranges_unfold_into_millions_of_cells_is_refused_before_marking(
    client: GraphQLClient, gateway: Gateway, standins: dict[System, Any]
) -> None:
    """The audit's file: the template, a row with a bad ID number, and one merged range
    after the code sheet's data. Its problem was marked by loading the workbook whole,
    which made a cell of every cell of the range (A1:XFD300: 89 s of CPU and 1.2 GB, on
    the form thread every account's imports and exports wait for), from a dry run of any
    account that may submit. It is refused as it is read, before anything is marked."""
    employer = await client.login("demo-employer")
    before = writes(standins)
    with zipfile.ZipFile(io.BytesIO(filled([hire_row(id_number="1")]))) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    codes = parts["xl/worksheets/sheet3.xml"]
    at = codes.index(b"</sheetData>") + len(b"</sheetData>")
    # 655,360 merged cells: 10 s of CPU and 220 MB to mark.
    merged = b'<mergeCells count="1"><mergeCell ref="A1:XFD40"/></mergeCells>'
    parts["xl/worksheets/sheet3.xml"] = codes[:at] + merged + codes[at:]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in parts.items():
            z.writestr(name, content)
    started = time.process_time()
    body = await upload(employer, out.getvalue(), d=True)
    assert error_codes(body) == ["FORM_FILE_TOO_COMPLEX"], body
    assert time.process_time() - started < 3
    assert await stored(gateway) == 0
    assert writes(standins) == before


async def test_form_work_runs_off_the_loop_on_the_form_threads_one_at_a_time(
    gateway: Gateway,
) -> None:
    """Reading, checking, marking and exporting went to asyncio's default threads, six
    on two cores: six workbooks at once left the event loop a seventh of the
    interpreter (``benchmarks/workbooks.py``). They queue for the form threads, one by
    default."""
    running: list[int] = []
    overlapped: list[bool] = []
    lock = threading.Lock()

    def work(i: int) -> str:
        with lock:
            running.append(i)
            overlapped.append(len(running) > 1)
        time.sleep(0.05)
        with lock:
            running.remove(i)
        return threading.current_thread().name

    names = await asyncio.gather(*(gateway.in_workbook_thread(work, i) for i in range(4)))
    assert overlapped == [False] * 4
    assert all(name.startswith("hrss-workbooks") for name in names)
    assert threading.current_thread().name not in names


async def test_one_form_of_an_account_at_a_time(client: GraphQLClient, gateway: Gateway) -> None:
    employer = await client.login("demo-employer")
    account = await gateway.store.accounts.get("demo-employer")
    assert account is not None
    form = filled([hire_row()])
    # Another form of the account is being imported in this process.
    gateway.importing.add(account.id)
    try:
        busy = await upload(employer, form, d=True)
        # Another account's goes on.
        clerk = await client.login("demo-clerk")
        other = await upload(clerk, form, d=True)
    finally:
        gateway.importing.discard(account.id)
    assert error_codes(busy) == ["FORM_IMPORT_BUSY"]
    assert "errors" not in other, other
    # Done: the account's next form is read, and a refused file ends its import too.
    refused = await upload(employer, b"", d=True)
    assert error_codes(refused) == ["FORM_FILE_EMPTY"]
    body = await upload(employer, form, d=True)
    assert "errors" not in body, body
    assert body["data"]["importRegistrationForm"]["validRows"] == 1
    assert gateway.importing == set()


#: One bad cell of each kind a row can have, each in a row of its own: (cell, code).
BAD_CELLS: list[tuple[dict[str, Any], str, str]] = [
    ({"start_date": "2024-02-30"}, "L", "CELL_NOT_A_DATE"),
    ({"post": "=1+1"}, "Q", "FORMULA_NOT_ALLOWED"),
    ({"id_number": 370102199001011234.0}, "F", "CELL_NUMBER_NOT_TEXT"),
    ({"register_unemployment": "也许"}, "V", "CELL_NOT_YES_NO"),
    ({"ethnicity": "火星族"}, "D", "CODE_UNKNOWN"),
    ({"mobile": "12345"}, "G", "MOBILE_FORMAT"),
    ({"education": None}, "J", "REQUIRED"),
    ({"labour_filing_locality": "999999"}, "U", "DIVISION_UNKNOWN"),
    ({"name": "张" * 60}, "B", "TOO_LONG"),  # the strictest system's limit, via the registrar
]


async def test_every_kind_of_bad_cell_is_reported_and_nothing_is_stored_or_sent(
    client: GraphQLClient, gateway: Gateway, standins: dict[System, Any]
) -> None:
    employer = await client.login("demo-employer")
    before = writes(standins)
    rows = [hire_row(**overrides) for overrides, _, _ in BAD_CELLS]
    result = (await upload(employer, filled(rows), v=True))["data"]["importRegistrationForm"]
    found = {(p["cell"], p["code"]) for p in result["problems"]}
    expected = {(f"{col}{6 + i}", code) for i, (_, col, code) in enumerate(BAD_CELLS)}
    assert expected <= found
    assert {p["row"] for p in result["problems"]} == {6 + i for i in range(len(BAD_CELLS))}
    assert (result["accepted"], result["validRows"]) == (False, 0)
    assert await stored(gateway) == 0
    assert writes(standins) == before


async def test_the_upload_limit_is_its_own(client: GraphQLClient, gateway: Gateway) -> None:
    employer = await client.login("demo-employer")
    big = filled([hire_row()]) + b"\0" * gateway.config.limits.max_body_bytes
    body = await upload(employer, big)  # over the GraphQL body limit, under the upload limit
    assert error_codes(body) == ["FORM_FILE_CORRUPT"]  # read, and judged by its content
    r = await employer.http.post(
        "/graphql",
        content=b"x" * (gateway.config.limits.max_body_bytes + 1),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    # And a multipart body over the upload limit is refused before it is parsed.
    small = dataclasses.replace(gateway.config, forms=FormSettings(max_upload_bytes=10_000))
    app = create_app(small, gateway=gateway)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        over = await upload(GraphQLClient(http, employer.token), filled([hire_row()]))
    assert error_codes(over) == ["BODY_TOO_LARGE"]


async def test_a_file_sent_inline_instead_of_uploaded_is_refused(client: GraphQLClient) -> None:
    employer = await client.login("demo-employer")
    body = await employer.post(
        'mutation { importRegistrationForm(file: "x", idempotencyKey: "k") { accepted } }'
    )
    assert error_codes(body) == ["BAD_INPUT"]


@pytest.mark.parametrize(
    "files_map",
    [
        [1],  # a list, not a map: HTTP 500 before
        {"0": [5]},  # a path that is a number: HTTP 500 before
        {"0": ["variables.k.0"]},  # a path through a string
        {"0": ["variables.nope.deep"]},
        {"1": ["variables.f"]},  # a part that was not sent
        {"0": "variables.f"},
    ],
    ids=["a-list", "a-number", "through-a-string", "no-such-variable", "no-such-part", "a-string"],
)
async def test_an_upload_map_that_reaches_no_variable_is_a_malformed_request(
    client: GraphQLClient, files_map: Any
) -> None:
    clerk = await client.login("demo-clerk")
    operations = {"query": IMPORT, "variables": {"f": None, "k": uuid.uuid4().hex}}
    r = await client.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps(files_map)},
        files={"0": ("form.xlsx", b"PK", "application/octet-stream")},
        headers={"Authorization": f"Bearer {clerk.token}", "Apollo-Require-Preflight": "true"},
    )
    assert r.status_code == 400, r.text
    assert [e["extensions"]["code"] for e in r.json()["errors"]] == ["MALFORMED_REQUEST"]


async def test_a_clerk_imports_for_an_employer_of_its_division_at_the_window(
    client: GraphQLClient,
) -> None:
    clerk = await client.login("demo-clerk")
    form = filled([hire_row()], {"unit_name": "济南", "credit_code": JINAN})
    result = (await upload(clerk, form))["data"]["importRegistrationForm"]
    assert result["accepted"] is True
    assert [(r["business"], r["channel"]) for r in result["registrations"]] == [
        ("HIRE", "SERVICE_WINDOW")
    ]
    # Without the employer's code the form cannot be anyone's: the header says so.
    blank = (await upload(clerk, filled([hire_row()])))["data"]["importRegistrationForm"]
    assert blank["accepted"] is False
    assert {(p["cell"], p["field"]) for p in blank["problems"]} == {
        ("B2", "unit_name"),
        ("H2", "credit_code"),
    }


@pytest.mark.parametrize(
    "typed", ["９１３７０１０２ＭＡ３Ｃ４ＴＬＱ２Ｎ", " 91370102ma3c4tlq2n ", "91370102ma3c4tlq2n"]
)
async def test_the_headers_credit_code_is_read_as_the_graph_reads_it(
    client: GraphQLClient, typed: str
) -> None:
    # As the clerk may type it into H2: the employer is the one the graph finds.
    assert JINAN == "91370102MA3C4TLQ2N"
    clerk = await client.login("demo-clerk")
    form = filled([hire_row()], {"unit_name": "济南", "credit_code": typed})
    body = await upload(clerk, form)
    result = body["data"]["importRegistrationForm"]
    assert result["problems"] == [], body
    assert result["accepted"] is True
    found = await clerk.post(
        "query($id: ID!) { registration(id: $id) { creditCode } }",
        {"id": result["registrations"][0]["id"]},
    )
    assert found["data"]["registration"]["creditCode"] == JINAN


async def test_a_headers_unit_name_that_is_not_the_credit_codes_unit_is_warned_at_its_cell(
    client: GraphQLClient, gateway: Gateway
) -> None:
    """The finding: a clerk who mixed up two units' papers (济南历下家政's header with
    泉城's credit code) got no hint. The credit code names the unit: the rows are filed
    there, with a warning at the header's name cell naming the name on record."""
    other, on_record = EMPLOYERS[2].profile.name, EMPLOYERS[0].profile.name
    clerk = await client.login("demo-clerk")
    form = filled([hire_row()], {"unit_name": other, "credit_code": JINAN})
    body = await upload(clerk, form)
    result = body["data"]["importRegistrationForm"]
    assert result["problems"] == [], body
    assert result["accepted"] is True
    assert {"cell": "B2", "code": "UNIT_NAME_DIFFERS"} in result["warnings"]
    [stored_one] = (await gateway.store.registrations.list(RegistrationFilter(), first=10)).items
    assert stored_one.credit_code == JINAN
    # A dry run says the same before anything is stored.
    dry = await upload(clerk, form, d=True)
    assert {"cell": "B2", "code": "UNIT_NAME_DIFFERS"} in dry["data"]["importRegistrationForm"][
        "warnings"
    ]
    # The name on record, typed with spaces and full-width brackets aside: no warning.
    same = filled(
        [hire_row()], {"unit_name": f" {on_record[:2]} {on_record[2:]}", "credit_code": JINAN}
    )
    again = (await upload(clerk, same))["data"]["importRegistrationForm"]
    assert again["accepted"] is True
    assert all(w["code"] != "UNIT_NAME_DIFFERS" for w in again["warnings"])


async def test_an_employer_cannot_import_for_another(client: GraphQLClient) -> None:
    employer = await client.login("demo-employer")
    other = EMPLOYERS[1].profile.credit_code
    body = await upload(employer, filled([hire_row()], {"unit_name": "x", "credit_code": other}))
    assert error_codes(body) == ["NOT_FOUND"]


async def test_the_same_key_and_file_replay_the_first_answer(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    data = filled([hire_row()])
    first = (await upload(employer, data, k="form-1"))["data"]["importRegistrationForm"]
    again = (await upload(employer, data, k="form-1"))["data"]["importRegistrationForm"]
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert [r["id"] for r in again["registrations"]] == [r["id"] for r in first["registrations"]]
    assert await stored(gateway) == 1
    other = await upload(employer, filled([hire_row()]), k="form-1")
    assert error_codes(other) == ["IDEMPOTENCY_KEY_REUSED"]


async def test_a_file_that_reads_but_cannot_be_marked_still_gets_its_problems(
    client: GraphQLClient, gateway: Gateway
) -> None:
    employer = await client.login("demo-employer")
    with zipfile.ZipFile(io.BytesIO(filled([hire_row(mobile="1")]))) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, content in parts.items():
            # Another sheet, damaged: the form's sheet streams; loading it whole fails.
            z.writestr(name, content[:-30] if name == "xl/worksheets/sheet2.xml" else content)
    result = (await upload(employer, out.getvalue()))["data"]["importRegistrationForm"]
    assert [p["cell"] for p in result["problems"]] == ["G6"]
    assert result["markedWorkbook"] is None
    assert await stored(gateway) == 0
