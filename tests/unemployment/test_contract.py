"""The unemployment stand-in against its contract (shared/legacy/unemployment.md),
spoken to with raw httpx over loopback, as any client of the real system would."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.standin import seed
from adapters.standin.process import RunningStandin
from adapters.standin.today import province_today
from gateway.settings import DEFAULT_UNEMPLOYMENT_PASSWORD, DEFAULT_UNEMPLOYMENT_USERNAME
from tests import factories

AUTH = (DEFAULT_UNEMPLOYMENT_USERNAME, DEFAULT_UNEMPLOYMENT_PASSWORD)
GBK_JSON = "application/json; charset=GBK"
ROW_KEYS = {
    "djbh", "dwbh", "zjlx", "zjhm", "xm", "xb", "mz", "whcd", "sjhm", "hjdz", "jzdz",
    "jcldgxrq", "syyy", "djrq", "zt",
}  # fmt: skip


def gbk(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("gbk")


def decoded(response: httpx.Response) -> Any:
    assert response.headers["content-type"].lower() == GBK_JSON.lower()
    return json.loads(response.content.decode("gbk"))


def call(
    standin: RunningStandin,
    method: str,
    path: str,
    payload: Any = None,
    *,
    params: dict[str, Any] | None = None,
    auth: tuple[str, str] | None = AUTH,
    content: bytes | None = None,
    timeout: float = 5.0,
) -> httpx.Response:
    if payload is not None:
        content = gbk(payload)
    return httpx.request(
        method,
        standin.url + path,
        params=params,
        content=content,
        headers={"Content-Type": GBK_JSON} if content is not None else {},
        auth=auth,
        timeout=timeout,
    )


def assert_error(response: httpx.Response, status: int, errcode: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = decoded(response)
    assert body["errcode"] == errcode
    assert isinstance(body["errmsg"], str)
    assert body["errmsg"]
    return body


def new_unit(standin: RunningStandin, name: str = "济南测试科技有限公司") -> str:
    r = call(
        standin,
        "POST",
        "/sy/dw",
        {"tyshxydm": factories.credit_code(), "dwmc": name, "xzqh": "370102"},
    )
    assert r.status_code == 200, r.content
    dwbh: str = decoded(r)["dwbh"]
    return dwbh


def person(dwbh: str, /, **changes: Any) -> dict[str, Any]:
    body = {
        "dwbh": dwbh,
        "zjlx": "SFZ",
        "zjhm": factories.resident_id(),
        "xm": "欧阳晓燕",
        "xb": "M",
        "mz": "01",
        "whcd": "20",
        "sjhm": factories.mobile(),
        "hjdz": "山东省济南市历下区泉城路1号",
        "jzdz": "山东省济南市历下区经十路2号",
        "jcldgxrq": (dt.date.today() - dt.timedelta(days=10)).strftime("%Y%m%d"),
        "syyy": "01",
    }
    return {**body, **changes}


def register(standin: RunningStandin, body: dict[str, Any]) -> dict[str, Any]:
    r = call(standin, "POST", "/sy/djxx", body)
    assert r.status_code == 200, r.content
    answer: dict[str, Any] = decoded(r)
    return answer


def rows_of(standin: RunningStandin, zjhm: str) -> list[dict[str, Any]]:
    r = call(standin, "GET", "/sy/djxx", params={"zjhm": zjhm})
    assert r.status_code == 200
    rows: list[dict[str, Any]] = decoded(r)["rows"]
    return rows


def sim_stats(standin: RunningStandin) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(standin.url + "/__sim/stats", timeout=5).json()
    return result


# ------------------------------------------------------------------ units


def test_open_and_read_a_unit(unemployment_standin: RunningStandin) -> None:
    code = factories.credit_code(division="370202")
    r = call(
        unemployment_standin,
        "POST",
        "/sy/dw",
        {"tyshxydm": code, "dwmc": "青岛港湾物流有限公司", "xzqh": "370202"},
    )
    assert r.status_code == 200
    answer = decoded(r)
    assert set(answer) == {"dwbh"}
    assert re.fullmatch(r"SY370202\d{4}", answer["dwbh"])

    unit = decoded(call(unemployment_standin, "GET", f"/sy/dw/{code}"))
    assert unit == {
        "dwbh": answer["dwbh"],
        "tyshxydm": code,
        "dwmc": "青岛港湾物流有限公司",
        "xzqh": "370202",
    }


def test_a_unit_opened_twice_is_refused_with_its_number(
    unemployment_standin: RunningStandin,
) -> None:
    code = factories.credit_code()
    body = {"tyshxydm": code, "dwmc": "重复单位", "xzqh": "370102"}
    first = decoded(call(unemployment_standin, "POST", "/sy/dw", body))["dwbh"]
    again = assert_error(call(unemployment_standin, "POST", "/sy/dw", body), 409, 40901)
    assert again["dwbh"] == first


def test_unknown_unit_is_40401(unemployment_standin: RunningStandin) -> None:
    assert_error(call(unemployment_standin, "GET", f"/sy/dw/{factories.credit_code()}"), 404, 40401)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tyshxydm": None}, "tyshxydm"),
        ({"tyshxydm": "91370102MA3C4TLQ2"}, "tyshxydm"),  # 17 characters
        ({"tyshxydm": "91370102MA3C4TLQ2A"}, "tyshxydm"),  # wrong check character
        ({"tyshxydm": "91370102MA3C4TLQ2O"}, "tyshxydm"),  # O is not in the alphabet
        ({"dwmc": ""}, "dwmc"),
        ({"xzqh": "37010"}, "xzqh"),
        ({"xzqh": "37010A"}, "xzqh"),
    ],
)
def test_invalid_unit_fields_are_40001_naming_the_field(
    unemployment_standin: RunningStandin, change: dict[str, Any], field: str
) -> None:
    body = {"tyshxydm": factories.credit_code(), "dwmc": "某单位", "xzqh": "370102", **change}
    body = {k: v for k, v in body.items() if v is not None}
    error = assert_error(call(unemployment_standin, "POST", "/sy/dw", body), 400, 40001)
    assert field in error["errmsg"]


def test_credit_codes_beginning_with_a_letter_are_accepted(
    unemployment_standin: RunningStandin,
) -> None:
    code = factories.credit_code(prefix="N2")
    r = call(
        unemployment_standin,
        "POST",
        "/sy/dw",
        {"tyshxydm": code, "dwmc": "某协会", "xzqh": "370102"},
    )
    assert r.status_code == 200, r.content


# ----------------------------------------------------------- registrations


def test_register_and_read_back(unemployment_standin: RunningStandin) -> None:
    dwbh = new_unit(unemployment_standin)
    body = person(dwbh, xb="F", mz="03", whcd="97", syyy="05")
    answer = register(unemployment_standin, body)
    assert set(answer) == {"djbh", "djrq"}
    assert answer["djrq"] == province_today().strftime("%Y%m%d")

    [row] = rows_of(unemployment_standin, body["zjhm"])
    assert set(row) == ROW_KEYS
    assert row == {**body, "djbh": answer["djbh"], "djrq": answer["djrq"], "zt": "1"}


def test_optional_person_fields_may_be_left_out(unemployment_standin: RunningStandin) -> None:
    dwbh = new_unit(unemployment_standin)
    body = person(dwbh, zjlx="GATXZ", zjhm=f"H{factories.mobile()[-8:]}", jzdz="")
    del body["sjhm"], body["hjdz"]
    register(unemployment_standin, body)
    [row] = rows_of(unemployment_standin, body["zjhm"])
    assert (row["sjhm"], row["hjdz"], row["jzdz"]) == (None, None, None)


def test_registration_numbers_are_unique(unemployment_standin: RunningStandin) -> None:
    dwbh = new_unit(unemployment_standin)
    numbers = {register(unemployment_standin, person(dwbh))["djbh"] for _ in range(5)}
    assert len(numbers) == 5


def test_one_active_registration_per_person(unemployment_standin: RunningStandin) -> None:
    dwbh, other_unit = new_unit(unemployment_standin), new_unit(unemployment_standin)
    body = person(dwbh)
    first = register(unemployment_standin, body)["djbh"]
    assert_error(call(unemployment_standin, "POST", "/sy/djxx", body), 409, 40902)
    # with another unit too: it is the person who is registered
    assert_error(
        call(unemployment_standin, "POST", "/sy/djxx", {**body, "dwbh": other_unit}), 409, 40902
    )

    assert decoded(call(unemployment_standin, "POST", f"/sy/djxx/{first}/zx")) == {}
    second = register(unemployment_standin, {**body, "dwbh": other_unit})["djbh"]

    rows = rows_of(unemployment_standin, body["zjhm"])
    assert [(r["djbh"], r["zt"]) for r in rows] == [(second, "1"), (first, "2")]


def test_register_with_an_unknown_unit_is_40401(unemployment_standin: RunningStandin) -> None:
    r = call(unemployment_standin, "POST", "/sy/djxx", person("SY3799999999"))
    assert_error(r, 404, 40401)


TOMORROW = (province_today() + dt.timedelta(days=1)).strftime("%Y%m%d")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dwbh": None}, "dwbh"),
        ({"zjlx": "SFZH"}, "zjlx"),
        ({"zjhm": "370102198001010010"}, "zjhm"),  # wrong check digit
        ({"zjlx": "JZZ"}, "zjhm"),  # a resident ID is not a residence permit number
        ({"xm": None}, "xm"),
        ({"xm": 12}, "xm"),
        ({"xb": "1"}, "xb"),
        ({"mz": "57"}, "mz"),
        ({"mz": "1"}, "mz"),
        ({"whcd": "11"}, "whcd"),
        ({"sjhm": "12345678901"}, "sjhm"),
        ({"jcldgxrq": "20240230"}, "jcldgxrq"),
        ({"jcldgxrq": "2024-01-30"}, "jcldgxrq"),
        ({"jcldgxrq": TOMORROW}, "jcldgxrq"),
        ({"syyy": "06"}, "syyy"),
        ({"syyy": None}, "syyy"),
    ],
)
def test_invalid_registration_fields_are_40001_naming_the_field(
    unemployment_standin: RunningStandin, change: dict[str, Any], field: str
) -> None:
    dwbh = new_unit(unemployment_standin)
    body = {k: v for k, v in person(dwbh, **change).items() if v is not None}
    error = assert_error(call(unemployment_standin, "POST", "/sy/djxx", body), 400, 40001)
    assert field in error["errmsg"]
    # the message names the field, never the value that was refused
    assert body["zjhm"] not in error["errmsg"]
    assert rows_of(unemployment_standin, body["zjhm"]) == []


def test_a_value_outside_gbk_smuggled_in_escapes_is_40001(
    unemployment_standin: RunningStandin,
) -> None:
    dwbh = new_unit(unemployment_standin)
    body = person(dwbh, xm="张𠮷")
    content = json.dumps(body, ensure_ascii=True).encode("ascii")  # \ud842\udfb7
    r = call(unemployment_standin, "POST", "/sy/djxx", content=content)
    error = assert_error(r, 400, 40001)
    assert "xm" in error["errmsg"]


def test_cancel(unemployment_standin: RunningStandin) -> None:
    dwbh = new_unit(unemployment_standin)
    body = person(dwbh)
    djbh = register(unemployment_standin, body)["djbh"]
    r = call(unemployment_standin, "POST", f"/sy/djxx/{djbh}/zx")
    assert r.status_code == 200
    assert decoded(r) == {}
    assert rows_of(unemployment_standin, body["zjhm"])[0]["zt"] == "2"
    assert_error(call(unemployment_standin, "POST", f"/sy/djxx/{djbh}/zx", {}), 409, 40903)
    assert_error(call(unemployment_standin, "POST", "/sy/djxx/SYDJ0000/zx"), 404, 40402)


def test_person_query_of_nobody_is_empty(unemployment_standin: RunningStandin) -> None:
    assert rows_of(unemployment_standin, factories.resident_id()) == []


def test_unit_list_pages_of_at_most_20_newest_first(unemployment_standin: RunningStandin) -> None:
    dwbh = new_unit(unemployment_standin)
    made = [register(unemployment_standin, person(dwbh))["djbh"] for _ in range(23)]

    def page(no: int, size: int) -> dict[str, Any]:
        r = call(
            unemployment_standin,
            "GET",
            "/sy/djxx",
            params={"dwbh": dwbh, "pageNo": no, "pageSize": size},
        )
        assert r.status_code == 200
        answer: dict[str, Any] = decoded(r)
        assert set(answer) == {"total", "rows"}
        return answer

    first, second = page(1, 20), page(2, 20)
    assert (first["total"], len(first["rows"]), len(second["rows"])) == (23, 20, 3)
    listed = [row["djbh"] for row in first["rows"] + second["rows"]]
    assert listed == made[::-1]
    assert all(set(row) == ROW_KEYS for row in first["rows"])
    assert page(3, 20)["rows"] == []

    too_big = call(
        unemployment_standin, "GET", "/sy/djxx", params={"dwbh": dwbh, "pageNo": 1, "pageSize": 21}
    )
    assert_error(too_big, 400, 40003)
    for bad in ({"pageNo": 0}, {"pageSize": "x"}):
        r = call(unemployment_standin, "GET", "/sy/djxx", params={"dwbh": dwbh, **bad})
        assert next(iter(bad)) in assert_error(r, 400, 40001)["errmsg"]


# -------------------------------------------------------------- transport


@pytest.mark.parametrize(
    "auth",
    [None, (DEFAULT_UNEMPLOYMENT_USERNAME, "wrong"), ("someone", DEFAULT_UNEMPLOYMENT_PASSWORD)],
)
def test_missing_or_wrong_account_is_401(
    unemployment_standin: RunningStandin, auth: tuple[str, str] | None
) -> None:
    for method, path in [("GET", "/sy/dw/91370102MA3C4TLQ2N"), ("POST", "/sy/djxx/x/zx")]:
        r = call(unemployment_standin, method, path, auth=auth)
        assert_error(r, 401, 40100)
        assert r.headers["www-authenticate"].startswith("Basic")


def test_gbk_both_ways(unemployment_standin: RunningStandin) -> None:
    code = factories.credit_code()
    name = "淄博陶瓷琉璃艺术品有限公司"
    content = gbk({"tyshxydm": code, "dwmc": name, "xzqh": "370303"})
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    assert call(unemployment_standin, "POST", "/sy/dw", content=content).status_code == 200

    r = call(unemployment_standin, "GET", f"/sy/dw/{code}")
    assert r.headers["content-type"] == GBK_JSON
    assert name.encode("gbk") in r.content
    with pytest.raises(UnicodeDecodeError):
        r.content.decode("utf-8")
    assert decoded(r)["dwmc"] == name


def test_a_body_that_is_not_gbk_is_400(unemployment_standin: RunningStandin) -> None:
    content = json.dumps(
        {"tyshxydm": factories.credit_code(), "dwmc": "张", "xzqh": "370102"},
        ensure_ascii=False,
    ).encode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        content.decode("gbk")
    r = call(unemployment_standin, "POST", "/sy/dw", content=content)
    assert r.status_code == 400
    assert decoded(r)["errcode"] == 40000


def test_unknown_paths_answer_in_the_error_shape(unemployment_standin: RunningStandin) -> None:
    assert_error(call(unemployment_standin, "GET", "/sy/nothing"), 404, 40400)


# ------------------------------------------------------------------ seed


def test_seed_is_loaded_through_the_mapping(unemployment_standin: RunningStandin) -> None:
    for employer in seed.EMPLOYERS:
        unit = decoded(call(unemployment_standin, "GET", f"/sy/dw/{employer.profile.credit_code}"))
        assert unit == {
            "dwbh": employer.unemployment_id,
            "tyshxydm": employer.profile.credit_code,
            "dwmc": employer.profile.name,
            "xzqh": employer.profile.division,
        }
    registered = [w for w in seed.WORKERS if w.unemployment]
    assert registered
    for worker in registered:
        assert worker.unemployment is not None
        [row] = rows_of(unemployment_standin, worker.person.id_number)
        assert row["dwbh"] == seed.EMPLOYERS[worker.employer].unemployment_id
        assert row["djrq"] == worker.unemployment.registered_on.strftime("%Y%m%d")
        assert row["jcldgxrq"] == worker.unemployment.relation_ended_on.strftime("%Y%m%d")
        assert (row["xm"], row["zt"]) == (worker.person.name, "1")
    # 孙强: contract expired; 郑雪: economic layoff, which the system calls "rescinded by the unit"
    assert rows_of(unemployment_standin, "370103198909090031")[0]["syyy"] == "01"
    assert rows_of(unemployment_standin, "370212199703020042")[0]["syyy"] == "02"


def test_units_opened_after_the_seed_continue_its_serial(
    unemployment_standin: RunningStandin,
) -> None:
    seeded = {e.unemployment_id for e in seed.EMPLOYERS}
    dwbh = new_unit(unemployment_standin)
    assert dwbh not in seeded
    assert int(dwbh[-4:]) > max(int(s[-4:]) for s in seeded)


# ----------------------------------------------------------- persistence


def test_records_survive_restarts(
    standin_factory: Callable[..., RunningStandin], tmp_path: Path
) -> None:
    standin = standin_factory("unemployment", seed=False, data=str(tmp_path / "u.db"))
    assert call(standin, "GET", "/sy/dw/91370102MA3C4TLQ2N").status_code == 404  # no seed
    dwbh = new_unit(standin)
    body = person(dwbh)
    first = register(standin, body)["djbh"]

    standin.restart()
    assert [r["djbh"] for r in rows_of(standin, body["zjhm"])] == [first]
    call(standin, "POST", f"/sy/djxx/{first}/zx").raise_for_status()
    second = register(standin, body)["djbh"]

    standin.restart(kill=True)
    rows = rows_of(standin, body["zjhm"])
    assert [(r["djbh"], r["zt"]) for r in rows] == [(second, "1"), (first, "2")]
    # the serials carry on after a restart instead of starting again
    third = register(standin, person(dwbh))["djbh"]
    assert third not in {first, second}
    assert new_unit(standin) != dwbh


def test_the_seed_goes_only_into_an_empty_store(
    standin_factory: Callable[..., RunningStandin], tmp_path: Path
) -> None:
    standin = standin_factory("unemployment", seed=True, data=str(tmp_path / "s.db"))
    standin.restart()
    assert len(rows_of(standin, "370103198909090031")) == 1


# ---------------------------------------------------------------- faults


def test_latency_and_jitter(unemployment_standin: RunningStandin) -> None:
    unemployment_standin.faults(latency_ms=300)
    started = time.monotonic()
    call(unemployment_standin, "GET", "/sy/dw/91370102MA3C4TLQ2N").raise_for_status()
    assert time.monotonic() - started >= 0.3

    unemployment_standin.faults(latency_ms=0, jitter_ms=200)
    took = []
    for _ in range(6):
        started = time.monotonic()
        call(unemployment_standin, "GET", "/sy/dw/91370102MA3C4TLQ2N").raise_for_status()
        took.append(time.monotonic() - started)
    assert max(took) < 1.0
    assert max(took) - min(took) > 0.01  # random, not constant


def test_error_rate_answers_the_system_infrastructure_error(
    unemployment_standin: RunningStandin,
) -> None:
    unemployment_standin.faults(error_rate=1.0)
    assert_error(call(unemployment_standin, "GET", "/sy/dw/91370102MA3C4TLQ2N"), 500, 50000)
    unemployment_standin.faults(error_rate=0.5)
    statuses = {
        call(unemployment_standin, "GET", "/sy/dw/91370102MA3C4TLQ2N").status_code
        for _ in range(30)
    }
    assert statuses == {200, 500}


def test_down_is_503_without_retry_after(unemployment_standin: RunningStandin) -> None:
    unemployment_standin.faults(down=True)
    r = call(unemployment_standin, "GET", "/sy/dw/91370102MA3C4TLQ2N")
    assert r.status_code == 503
    assert "retry-after" not in r.headers


def test_maintenance_is_503_with_retry_after_and_50300(
    unemployment_standin: RunningStandin,
) -> None:
    unemployment_standin.faults(maintenance=True, retry_after_s=120)
    for method, path in [("GET", "/sy/dw/91370102MA3C4TLQ2N"), ("POST", "/sy/djxx/x/zx")]:
        r = call(unemployment_standin, method, path)
        assert_error(r, 503, 50300)
        assert r.headers["retry-after"] == "120"


def test_commit_then_drop_commits_though_the_client_timed_out(
    unemployment_standin: RunningStandin,
) -> None:
    dwbh = new_unit(unemployment_standin)
    unemployment_standin.faults(commit_then_drop=1.0, stall_s=0.5)
    body = person(dwbh)
    with pytest.raises(httpx.ReadTimeout):
        call(unemployment_standin, "POST", "/sy/djxx", body, timeout=0.2)
    # a client that waits past the stall gets the infrastructure error, not the answer
    other = person(dwbh)
    assert_error(call(unemployment_standin, "POST", "/sy/djxx", other), 500, 50000)
    unemployment_standin.reset()
    assert [r["zt"] for r in rows_of(unemployment_standin, body["zjhm"])] == ["1"]
    assert [r["zt"] for r in rows_of(unemployment_standin, other["zjhm"])] == ["1"]


def test_error_after_commit_commits_and_answers_500(unemployment_standin: RunningStandin) -> None:
    dwbh = new_unit(unemployment_standin)
    unemployment_standin.faults(error_after_commit=1.0)
    body = person(dwbh)
    assert_error(call(unemployment_standin, "POST", "/sy/djxx", body), 500, 50000)
    # reads are not writes: they answer normally
    [row] = rows_of(unemployment_standin, body["zjhm"])
    assert_error(call(unemployment_standin, "POST", f"/sy/djxx/{row['djbh']}/zx"), 500, 50000)
    assert rows_of(unemployment_standin, body["zjhm"])[0]["zt"] == "2"
    # a refused write committed nothing, so the fault leaves its answer alone
    assert_error(call(unemployment_standin, "POST", f"/sy/djxx/{row['djbh']}/zx"), 409, 40903)


def test_stats_count_each_operation_and_reset_clears_them(
    unemployment_standin: RunningStandin,
) -> None:
    assert sim_stats(unemployment_standin)["total"] == 0
    code = factories.credit_code()
    dwbh = decoded(
        call(
            unemployment_standin,
            "POST",
            "/sy/dw",
            {"tyshxydm": code, "dwmc": "甲", "xzqh": "370102"},
        )
    )["dwbh"]
    call(unemployment_standin, "GET", f"/sy/dw/{code}")
    body = person(dwbh)
    djbh = register(unemployment_standin, body)["djbh"]
    rows_of(unemployment_standin, body["zjhm"])
    rows_of(unemployment_standin, body["zjhm"])
    call(unemployment_standin, "GET", "/sy/djxx", params={"dwbh": dwbh})
    call(unemployment_standin, "POST", f"/sy/djxx/{djbh}/zx")
    call(unemployment_standin, "GET", "/sy/dw/x", auth=None)  # refused requests count too
    assert unemployment_standin.stats() == {
        "dw.create": 1,
        "dw.get": 2,
        "djxx.create": 1,
        "djxx.by_person": 2,
        "djxx.by_unit": 1,
        "djxx.cancel": 1,
    }
    unemployment_standin.reset()
    assert sim_stats(unemployment_standin) == {"total": 0, "operations": {}, "peak_in_flight": {}}
    # data stays
    assert rows_of(unemployment_standin, body["zjhm"])[0]["djbh"] == djbh
