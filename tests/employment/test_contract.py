"""The employment stand-in against ``legacy/employment.md``, spoken to with raw HTTP.

Every operation, every business error code, the key, the envelope, the limits,
persistence across restarts, each fault and the stats. The shared stand-in is
seeded and reused, so each test works on fresh units and people.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.employment import mapping
from adapters.standin import seed
from adapters.standin.process import RunningStandin
from tests import factories
from tests.employment.api import (
    KEY,
    call,
    dismiss,
    ok,
    open_unit,
    person_body,
    query,
    refused,
    register,
    unit_body,
)

RECORD_KEYS = [
    "ywlsh",
    "aab001",
    "aac001",
    "aac058",
    "aac147",
    "aac003",
    "aac004",
    "aac005",
    "aac011",
    "aac067",
    "aac010",
    "aae006",
    "aae030",
    "bcc03x",
    "acc032",
    "aac048",
    "aca111",
    "aab301",
    "bcc03y",
    "zt",
]

OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/unit/open", {"json": {}}),
    ("GET", "/unit", {"params": {"aab998": "91370102MA3C4TLQ2N"}}),
    ("POST", "/employment/register", {"json": {}}),
    ("POST", "/employment/dismiss", {"json": {}}),
    ("POST", "/employment/revoke", {"json": {"ywlsh": "DJ000000000001"}}),
    ("POST", "/employment/query", {"json": {"aac147_list": []}}),
    ("GET", "/employment/list", {"params": {"aab001": "JY370100000101"}}),
]


# ------------------------------------------------------------- transport


@pytest.mark.parametrize(("method", "path", "kwargs"), OPERATIONS)
@pytest.mark.parametrize("key", [None, "not-the-key"])
def test_every_operation_needs_the_key(
    employment_standin: RunningStandin,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    key: str | None,
) -> None:
    r = call(employment_standin, method, path, key=key, **kwargs)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"code": "E0401", "msg": r.json()["msg"], "data": None}
    assert r.json()["msg"]


def test_business_errors_are_http_200_and_infrastructure_errors_are_html_500(
    employment_standin: RunningStandin,
) -> None:
    refused(
        call(employment_standin, "GET", "/unit", params={"aab998": factories.credit_code()}),
        "E4004",
    )
    employment_standin.faults(error_rate=1.0)
    r = call(employment_standin, "GET", "/unit", params={"aab998": factories.credit_code()})
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("text/html")
    assert "<html>" in r.text
    assert "服务器内部错误" in r.text
    with pytest.raises(ValueError, match="Expecting value"):
        r.json()


def test_a_body_that_is_not_a_json_object_is_an_invalid_request(
    employment_standin: RunningStandin,
) -> None:
    r = httpx.post(
        employment_standin.url + "/jy/api/v1/unit/open",
        content=b"[1, 2",
        headers={"X-Api-Key": KEY},
    )
    refused(r, "E1001")


# ----------------------------------------------------------------- units


def test_open_then_get_a_unit(employment_standin: RunningStandin) -> None:
    body = unit_body(aab301="370202")
    aab001 = ok(call(employment_standin, "POST", "/unit/open", json=body))["aab001"]
    assert re.fullmatch(r"JY370200\d{6}", aab001)
    unit = ok(call(employment_standin, "GET", "/unit", params={"aab998": body["aab998"]}))
    assert unit == {"aab001": aab001, **body}


def test_unit_numbers_are_unique(employment_standin: RunningStandin) -> None:
    numbers = {open_unit(employment_standin) for _ in range(5)}
    assert len(numbers) == 5


def test_optional_unit_contacts_come_back_null(employment_standin: RunningStandin) -> None:
    body = unit_body()
    del body["aae004"], body["aae005"]
    ok(call(employment_standin, "POST", "/unit/open", json=body))
    unit = ok(call(employment_standin, "GET", "/unit", params={"aab998": body["aab998"]}))
    assert (unit["aae004"], unit["aae005"]) == (None, None)


def test_opening_an_open_unit_answers_e2001_with_its_number(
    employment_standin: RunningStandin,
) -> None:
    body = unit_body()
    aab001 = ok(call(employment_standin, "POST", "/unit/open", json=body))["aab001"]
    again = refused(
        call(employment_standin, "POST", "/unit/open", json={**body, "aab004": "改名公司"}),
        "E2001",
    )
    assert again["data"] == {"aab001": aab001}


def test_unknown_unit_is_e4004(employment_standin: RunningStandin) -> None:
    refused(
        call(employment_standin, "GET", "/unit", params={"aab998": factories.credit_code()}),
        "E4004",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("aab998", "91370102MA3C4TLQ2"),  # 17 characters
        ("aab998", "91370102MA3C4TLQ2O"),  # O is not in GB 32100's alphabet
        ("aab004", None),
        ("aab004", ""),
        ("aab301", "37010"),
        ("aab301", "37010A"),
        ("aae005", 531),
    ],
)
def test_open_unit_names_the_invalid_field(
    employment_standin: RunningStandin, field: str, value: Any
) -> None:
    body = unit_body()
    if value is None:
        del body[field]
    else:
        body[field] = value
    answer = refused(call(employment_standin, "POST", "/unit/open", json=body), "E1001")
    assert field in answer["msg"]


# ---------------------------------------------------------- registration


def test_register_then_query_gives_the_documented_record(
    employment_standin: RunningStandin,
) -> None:
    aab001 = open_unit(employment_standin)
    body = person_body(aab001)
    data = register(employment_standin, body)
    assert set(data) == {"ywlsh", "aac001"}
    [record] = query(employment_standin, [body["aac147"]])
    assert list(record) == RECORD_KEYS
    assert record == {
        **body,
        "ywlsh": data["ywlsh"],
        "aac001": data["aac001"],
        "bcc03x": None,
        "bcc03y": None,
        "zt": "1",
    }
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["aae030"])


def test_optional_person_fields_may_be_absent_and_come_back_null(
    employment_standin: RunningStandin,
) -> None:
    body = person_body(open_unit(employment_standin))
    for key in ("aac067", "aac010", "aae006"):
        del body[key]
    register(employment_standin, body)
    [record] = query(employment_standin, [body["aac147"]])
    assert (record["aac067"], record["aac010"], record["aae006"]) == (None, None, None)


def test_register_twice_with_the_same_unit_is_e3001(employment_standin: RunningStandin) -> None:
    body = person_body(open_unit(employment_standin))
    register(employment_standin, body)
    refused(call(employment_standin, "POST", "/employment/register", json=body), "E3001")


def test_register_with_another_unit_while_employed_is_e3002(
    employment_standin: RunningStandin,
) -> None:
    body = person_body(open_unit(employment_standin))
    register(employment_standin, body)
    other = {**body, "aab001": open_unit(employment_standin)}
    refused(call(employment_standin, "POST", "/employment/register", json=other), "E3002")


def test_register_with_an_unknown_unit_is_e4004(employment_standin: RunningStandin) -> None:
    body = person_body("JY379900999999")
    refused(call(employment_standin, "POST", "/employment/register", json=body), "E4004")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("aab001", None),
        ("aac058", "02"),
        ("aac058", None),
        ("aac147", None),
        ("aac147", "37010219850312002"),  # a resident ID is 18 characters
        ("aac003", ""),
        ("aac004", "9"),
        ("aac005", "57"),
        ("aac011", "11"),
        ("aac067", "1390531000"),  # 10 digits
        ("aac067", "139053100011"),  # 12 digits
        ("aae030", "2024/03/01"),
        ("aae030", "20240301"),
        ("aae030", "2024-02-30"),
        ("aae030", None),
        ("acc032", "10"),
        ("aac048", "4"),
        ("aca111", None),
        ("aab301", "3701020"),
    ],
)
def test_register_names_the_invalid_field(
    employment_standin: RunningStandin, field: str, value: Any
) -> None:
    body = person_body(open_unit(employment_standin))
    if value is None:
        del body[field]
    else:
        body[field] = value
    answer = refused(call(employment_standin, "POST", "/employment/register", json=body), "E1001")
    assert field in answer["msg"]
    assert query(employment_standin, [body.get("aac147") or "none"]) == []


@pytest.mark.parametrize(("code", "number"), [("04", "H12345678"), ("05", "M12345678")])
def test_hk_and_macao_permits_are_told_apart_by_their_first_letter(
    employment_standin: RunningStandin, code: str, number: str
) -> None:
    number = number[0] + factories.mobile()[3:]  # fresh digits
    body = person_body(open_unit(employment_standin), aac058=code, aac147=number)
    wrong = {**body, "aac058": "05" if code == "04" else "04"}
    answer = refused(call(employment_standin, "POST", "/employment/register", json=wrong), "E1001")
    assert "aac147" in answer["msg"]
    register(employment_standin, body)
    assert query(employment_standin, [number])[0]["aac058"] == code


def test_the_person_number_is_stable_and_each_serial_unique(
    employment_standin: RunningStandin,
) -> None:
    first = person_body(open_unit(employment_standin))
    one = register(employment_standin, first)
    dismissal = dismiss(employment_standin, first)
    second = {**first, "aab001": open_unit(employment_standin), "aae030": "2025-01-02"}
    two = register(employment_standin, second)
    assert one["aac001"] == two["aac001"]
    assert len({one["ywlsh"], two["ywlsh"], dismissal}) == 3
    other = register(employment_standin, person_body(first["aab001"]))
    assert other["aac001"] != one["aac001"]


# -------------------------------------------------------------- dismissal


def test_dismiss_files_its_own_serial_and_marks_the_record(
    employment_standin: RunningStandin,
) -> None:
    body = person_body(open_unit(employment_standin))
    registered = register(employment_standin, body)
    serial = dismiss(employment_standin, body, date="2024-11-30", reason="3")
    assert serial != registered["ywlsh"]
    [record] = query(employment_standin, [body["aac147"]])
    assert record["ywlsh"] == registered["ywlsh"]
    assert (record["zt"], record["bcc03x"], record["bcc03y"]) == ("2", "2024-11-30", "3")


def test_dismiss_needs_an_active_registration_with_that_unit(
    employment_standin: RunningStandin,
) -> None:
    body = person_body(open_unit(employment_standin))
    stranger = {**body, "aac147": factories.resident_id()}
    refused(_dismiss_raw(employment_standin, stranger), "E4001")
    register(employment_standin, body)
    refused(
        _dismiss_raw(employment_standin, {**body, "aab001": open_unit(employment_standin)}),
        "E4001",
    )
    dismiss(employment_standin, body)
    refused(_dismiss_raw(employment_standin, body), "E4001")


@pytest.mark.parametrize(
    ("field", "value"),
    [("bcc03x", "2024-13-01"), ("bcc03y", "6"), ("aac058", "99"), ("aab001", "")],
)
def test_dismiss_names_the_invalid_field(
    employment_standin: RunningStandin, field: str, value: str
) -> None:
    body = person_body(open_unit(employment_standin))
    register(employment_standin, body)
    answer = refused(_dismiss_raw(employment_standin, body, **{field: value}), "E1001")
    assert field in answer["msg"]


def _dismiss_raw(standin: RunningStandin, body: dict[str, Any], **overrides: str) -> httpx.Response:
    request = {
        "aab001": body["aab001"],
        "aac058": body["aac058"],
        "aac147": body["aac147"],
        "bcc03x": "2024-12-31",
        "bcc03y": "1",
        **overrides,
    }
    return call(standin, "POST", "/employment/dismiss", json=request)


# ----------------------------------------------------------------- revoke


def test_revoking_a_dismissal_restores_the_registration(
    employment_standin: RunningStandin,
) -> None:
    body = person_body(open_unit(employment_standin))
    register(employment_standin, body)
    serial = dismiss(employment_standin, body)
    assert ok(call(employment_standin, "POST", "/employment/revoke", json={"ywlsh": serial})) == {}
    [record] = query(employment_standin, [body["aac147"]])
    assert (record["zt"], record["bcc03x"], record["bcc03y"]) == ("1", None, None)
    refused(call(employment_standin, "POST", "/employment/revoke", json={"ywlsh": serial}), "E3003")
    # Restored, so the person is employed again: a new dismissal works.
    dismiss(employment_standin, body)


def test_revoking_a_registration_sets_it_revoked_and_frees_the_person(
    employment_standin: RunningStandin,
) -> None:
    body = person_body(open_unit(employment_standin))
    serial = register(employment_standin, body)["ywlsh"]
    ok(call(employment_standin, "POST", "/employment/revoke", json={"ywlsh": serial}))
    [record] = query(employment_standin, [body["aac147"]])
    assert record["zt"] == "9"
    refused(call(employment_standin, "POST", "/employment/revoke", json={"ywlsh": serial}), "E3003")
    refused(_dismiss_raw(employment_standin, body), "E4001")
    # A revoked registration is not an undismissed one.
    register(employment_standin, body)


def test_revoke_of_an_unknown_serial_is_e4002(employment_standin: RunningStandin) -> None:
    refused(
        call(employment_standin, "POST", "/employment/revoke", json={"ywlsh": "XX999999999999"}),
        "E4002",
    )
    answer = refused(call(employment_standin, "POST", "/employment/revoke", json={}), "E1001")
    assert "ywlsh" in answer["msg"]


def test_revoking_a_dismissal_never_leaves_two_undismissed_registrations(
    employment_standin: RunningStandin,
) -> None:
    body = person_body(open_unit(employment_standin))
    register(employment_standin, body)
    serial = dismiss(employment_standin, body)
    register(employment_standin, {**body, "aab001": open_unit(employment_standin)})
    refused(call(employment_standin, "POST", "/employment/revoke", json={"ywlsh": serial}), "E3002")


# ------------------------------------------------------------------ query


def test_query_gives_every_state_newest_first_and_filters_by_unit(
    employment_standin: RunningStandin,
) -> None:
    unit_a, unit_b = open_unit(employment_standin), open_unit(employment_standin)
    body = person_body(unit_a, aae030="2022-01-01")
    first = register(employment_standin, body)["ywlsh"]
    dismiss(employment_standin, body, date="2022-12-31")
    second = register(employment_standin, {**body, "aab001": unit_b, "aae030": "2023-02-01"})
    ok(call(employment_standin, "POST", "/employment/revoke", json={"ywlsh": second["ywlsh"]}))
    third = register(employment_standin, {**body, "aab001": unit_a, "aae030": "2024-01-01"})
    records = query(employment_standin, [body["aac147"]])
    assert [r["ywlsh"] for r in records] == [third["ywlsh"], second["ywlsh"], first]
    assert [r["zt"] for r in records] == ["1", "9", "2"]
    mine = query(employment_standin, [body["aac147"]], aab001=unit_a)
    assert [r["ywlsh"] for r in mine] == [third["ywlsh"], first]


def test_query_takes_at_most_fifty_numbers(employment_standin: RunningStandin) -> None:
    numbers = [factories.resident_id() for _ in range(51)]
    refused(
        call(employment_standin, "POST", "/employment/query", json={"aac147_list": numbers}),
        "E1002",
    )
    assert query(employment_standin, numbers[:50]) == []


def test_query_needs_a_list(employment_standin: RunningStandin) -> None:
    answer = refused(
        call(employment_standin, "POST", "/employment/query", json={"aac147_list": "x"}), "E1001"
    )
    assert "aac147_list" in answer["msg"]


# ------------------------------------------------------------------- list


def test_list_pages_and_filters_by_state(employment_standin: RunningStandin) -> None:
    aab001 = open_unit(employment_standin)
    bodies = [person_body(aab001) for _ in range(5)]
    serials = [register(employment_standin, b)["ywlsh"] for b in bodies]
    dismiss(employment_standin, bodies[0])

    def page(**params: Any) -> dict[str, Any]:
        data: dict[str, Any] = ok(
            call(employment_standin, "GET", "/employment/list", params={"aab001": aab001, **params})
        )
        return data

    first, second = page(page=1, size=3), page(page=2, size=3)
    assert (first["total"], second["total"]) == (5, 5)
    assert (len(first["rows"]), len(second["rows"])) == (3, 2)
    assert sorted(r["ywlsh"] for r in first["rows"] + second["rows"]) == sorted(serials)
    assert all(list(r) == RECORD_KEYS for r in first["rows"])
    assert page(page=3, size=3) == {"total": 5, "rows": []}
    dismissed = page(zt="2")
    assert dismissed["total"] == 1
    assert dismissed["rows"][0]["ywlsh"] == serials[0]
    assert page(zt="1", size=100)["total"] == 4
    assert page(zt="9")["total"] == 0


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"size": "101"}, "E1002", None),
        ({"size": "0"}, "E1001", "size"),
        ({"page": "0"}, "E1001", "page"),
        ({"page": "-1"}, "E1001", "page"),
        ({"page": "x"}, "E1001", "page"),
        ({"zt": "3"}, "E1001", "zt"),
        ({"aab001": ""}, "E1001", "aab001"),
    ],
)
def test_list_limits(
    employment_standin: RunningStandin, params: dict[str, str], code: str, field: str | None
) -> None:
    answer = refused(
        call(
            employment_standin,
            "GET",
            "/employment/list",
            params={"aab001": "JY370100000101", **params},
        ),
        code,
    )
    if field:
        assert field in answer["msg"]


# ------------------------------------------------------------------- seed


def test_seed_is_present_and_consistent(
    standin_factory: Callable[..., RunningStandin],
) -> None:
    # A stand-in of its own: the worker's shared one holds what other tests registered
    # with the seed employers (the proofs hire dozens into them).
    employment_standin = standin_factory("employment", seed=True)
    for index, employer in enumerate(seed.EMPLOYERS):
        unit = ok(
            call(
                employment_standin,
                "GET",
                "/unit",
                params={"aab998": employer.profile.credit_code},
            )
        )
        assert unit["aab001"] == employer.employment_id
        assert unit["aab004"] == employer.profile.name
        workers = [w for w in seed.WORKERS if w.employer == index and w.employment]
        listed = ok(
            call(
                employment_standin,
                "GET",
                "/employment/list",
                params={"aab001": employer.employment_id, "size": 100},
            )
        )
        assert listed["total"] == len(workers)
    person_numbers: set[str] = set()
    for worker in seed.WORKERS:
        records = query(employment_standin, [worker.person.id_number])
        job = worker.employment
        if job is None:
            assert records == []
            continue
        [record] = records
        assert record["aab001"] == seed.EMPLOYERS[worker.employer].employment_id
        assert record["aac003"] == worker.person.name
        assert record["aae030"] == job.start_date.isoformat()
        assert record["aac058"] == mapping.id_type_to_legacy(
            worker.person.id_type, worker.person.id_number
        )
        if job.dismissed_on:
            assert job.dismissal_reason is not None
            assert record["zt"] == "2"
            assert record["bcc03x"] == job.dismissed_on.isoformat()
            assert record["bcc03y"] == mapping.reason_to_legacy(job.dismissal_reason)
        else:
            assert (record["zt"], record["bcc03x"], record["bcc03y"]) == ("1", None, None)
        person_numbers.add(record["aac001"])
    assert len(person_numbers) == sum(1 for w in seed.WORKERS if w.employment)
    hk = next(w for w in seed.WORKERS if w.person.id_number.startswith("H"))
    assert query(employment_standin, [hk.person.id_number])[0]["aac058"] == "04"


def test_seed_goes_only_into_an_empty_store(
    standin_factory: Callable[..., RunningStandin], tmp_path: Path
) -> None:
    standin = standin_factory("employment", seed=True, data=str(tmp_path / "seeded.db"))
    employer = seed.EMPLOYERS[0]
    params = {"aab001": employer.employment_id, "size": 100}
    before = ok(call(standin, "GET", "/employment/list", params=params))
    register(standin, person_body(employer.employment_id))
    standin.restart()
    after = ok(call(standin, "GET", "/employment/list", params=params))
    assert after["total"] == before["total"] + 1


# ------------------------------------------------------------ persistence


def test_records_survive_a_restart_and_a_kill(
    standin_factory: Callable[..., RunningStandin], tmp_path: Path
) -> None:
    standin = standin_factory("employment", seed=False, data=str(tmp_path / "e.db"))
    refused(
        call(standin, "GET", "/unit", params={"aab998": seed.EMPLOYERS[0].profile.credit_code}),
        "E4004",
    )
    unit = unit_body()
    aab001 = ok(call(standin, "POST", "/unit/open", json=unit))["aab001"]
    body = person_body(aab001)
    registered = register(standin, body)
    standin.restart()
    assert ok(call(standin, "GET", "/unit", params={"aab998": unit["aab998"]}))["aab001"] == aab001
    dismissal = dismiss(standin, body)
    standin.restart(kill=True)
    [record] = query(standin, [body["aac147"]])
    assert (record["ywlsh"], record["zt"]) == (registered["ywlsh"], "2")
    # Numbering carries on from where it was: nothing is handed out twice.
    again = register(standin, {**body, "aae030": "2025-05-05"})
    assert again["aac001"] == registered["aac001"]
    assert again["ywlsh"] not in {registered["ywlsh"], dismissal}
    assert open_unit(standin) != aab001


# ------------------------------------------------------------------ faults


def test_latency_and_jitter_delay_answers(employment_standin: RunningStandin) -> None:
    params = {"aab998": factories.credit_code()}
    employment_standin.faults(latency_ms=300)
    started = time.monotonic()
    refused(call(employment_standin, "GET", "/unit", params=params), "E4004")
    assert time.monotonic() - started >= 0.3
    employment_standin.faults(latency_ms=0, jitter_ms=200)
    elapsed = []
    for _ in range(6):
        started = time.monotonic()
        refused(call(employment_standin, "GET", "/unit", params=params), "E4004")
        elapsed.append(time.monotonic() - started)
    assert max(elapsed) > 0.02
    assert max(elapsed) < 1.0


def test_error_rate_fails_that_share_of_requests(employment_standin: RunningStandin) -> None:
    employment_standin.faults(error_rate=0.5)
    statuses = [
        call(employment_standin, "GET", "/unit", params={"aab998": "0" * 18}).status_code
        for _ in range(40)
    ]
    assert set(statuses) == {200, 500}


def test_down_answers_503(employment_standin: RunningStandin) -> None:
    employment_standin.faults(down=True)
    r = call(employment_standin, "POST", "/unit/open", json=unit_body())
    assert r.status_code == 503
    assert "Retry-After" not in r.headers
    employment_standin.faults(down=False)
    refused(call(employment_standin, "GET", "/unit", params={"aab998": "0" * 18}), "E4004")


def test_maintenance_answers_503_with_retry_after(employment_standin: RunningStandin) -> None:
    employment_standin.faults(maintenance=True, retry_after_s=7)
    body = unit_body()
    r = call(employment_standin, "POST", "/unit/open", json=body)
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "7"
    assert r.headers["content-type"].startswith("text/html")
    assert "服务器内部错误" in r.text
    employment_standin.reset()
    refused(call(employment_standin, "GET", "/unit", params={"aab998": body["aab998"]}), "E4004")


def test_commit_then_drop_commits_and_loses_the_answer(
    employment_standin: RunningStandin,
) -> None:
    body = person_body(open_unit(employment_standin))
    employment_standin.faults(commit_then_drop=1.0, stall_s=1.5)
    with pytest.raises(httpx.ReadTimeout):
        call(employment_standin, "POST", "/employment/register", json=body, timeout=0.2)
    # A client that waits out the stall gets the infrastructure error, never the answer.
    other = person_body(body["aab001"])
    r = call(employment_standin, "POST", "/employment/register", json=other, timeout=5)
    assert r.status_code == 500
    assert "服务器内部错误" in r.text
    # A refused write commits nothing, so it is answered at once, not after the stall.
    started = time.monotonic()
    refused(call(employment_standin, "POST", "/employment/register", json=body), "E3001")
    assert time.monotonic() - started < 0.75
    employment_standin.reset()
    assert [r["zt"] for r in query(employment_standin, [body["aac147"], other["aac147"]])] == [
        "1",
        "1",
    ]


def test_error_after_commit_commits_and_answers_the_infrastructure_error(
    employment_standin: RunningStandin,
) -> None:
    body = person_body(open_unit(employment_standin))
    employment_standin.faults(error_after_commit=1.0)
    r = call(employment_standin, "POST", "/employment/register", json=body)
    assert r.status_code == 500
    assert "服务器内部错误" in r.text
    # Reads are not writes: they answer normally.
    [record] = query(employment_standin, [body["aac147"]])
    assert record["zt"] == "1"


def test_faults_can_be_read_back_and_refuse_bad_settings(
    employment_standin: RunningStandin,
) -> None:
    employment_standin.faults(latency_ms=5, maintenance=False)
    current = httpx.get(employment_standin.url + "/__sim/faults").json()
    assert current["latency_ms"] == 5
    bad = httpx.post(employment_standin.url + "/__sim/faults", json={"error_rate": 2})
    assert bad.status_code == 400


# ------------------------------------------------------------------- stats


def test_stats_count_each_operation_and_reset_clears_them(
    employment_standin: RunningStandin,
) -> None:
    assert employment_standin.stats() == {}
    credit = factories.credit_code()
    aab001 = open_unit(employment_standin, aab998=credit)
    call(employment_standin, "GET", "/unit", params={"aab998": credit})
    body = person_body(aab001)
    register(employment_standin, body)
    serial = dismiss(employment_standin, body)
    call(employment_standin, "POST", "/employment/revoke", json={"ywlsh": serial})
    query(employment_standin, [body["aac147"]])
    query(employment_standin, [body["aac147"]])
    call(employment_standin, "GET", "/employment/list", params={"aab001": aab001})
    call(employment_standin, "GET", "/employment/list", params={"aab001": aab001}, key="wrong")
    assert employment_standin.stats() == {
        "unit.open": 1,
        "unit.get": 1,
        "employment.register": 1,
        "employment.dismiss": 1,
        "employment.revoke": 1,
        "employment.query": 2,
        "employment.list": 2,
    }
    employment_standin.reset()
    assert employment_standin.stats() == {}
