"""The social insurance stand-in against its contract (shared/legacy/social-insurance.md),
spoken to with raw, signed httpx requests over loopback."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from adapters.social_insurance import crypto
from adapters.standin import seed
from adapters.standin.process import RunningStandin
from tests import factories
from tests.social_insurance.wire import (
    KEY,
    addition,
    answer,
    call,
    clear,
    declaration,
    declare,
    insure,
    insured,
    new_unit,
    wait_decided,
)

ADD = "/si/v2/declarations/additions"
REMOVE = "/si/v2/declarations/removals"
DECLARATION_KEYS = {
    "slh", "ywlx", "dwbh", "aac058", "aac002", "zt", "sbsj", "thyy", "thsm", "grbh", "sxrq",
}  # fmt: skip


def removal(dwbh: str, aac002: str, **changes: Any) -> dict[str, Any]:
    body = {"dwbh": dwbh, "aac058": "01", "aac002": aac002, "tbrq": "2099-01-01", "tbyy": "01"}
    return {**body, **changes}


def search(standin: RunningStandin, dwbh: str, aac002: str, aac058: str = "01") -> Any:
    return call(
        standin,
        "POST",
        "/si/v2/declarations/search",
        {"dwbh": dwbh, "aac058": aac058, "aac002": aac002},
    )


# ------------------------------------------------------------------ units


def test_units_are_registered_found_and_refused_twice(
    social_insurance_standin: RunningStandin,
) -> None:
    s = social_insurance_standin
    code = factories.credit_code(division="370202")
    unit = {"tyshxydm": code, "dwmc": "青岛测试有限公司", "xzqh": "370202"}
    r = call(s, "POST", "/si/v2/units", unit)
    assert r.status_code == 200
    dwbh = answer(r)["dwbh"]
    assert re.fullmatch(r"SB370202\d{8}", dwbh)

    assert answer(call(s, "GET", f"/si/v2/units/{code}")) == {**unit, "dwbh": dwbh}
    again = call(s, "POST", "/si/v2/units", {**unit, "dwmc": "另一个名字"})
    assert again.status_code == 200
    assert answer(again, "1001") == {"dwbh": dwbh}
    assert answer(call(s, "GET", f"/si/v2/units/{factories.credit_code()}"), "1004") is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tyshxydm": "91370102MA3C4TLQ2X"}, "tyshxydm"),
        ({"xzqh": "3701"}, "xzqh"),
        ({"dwmc": ""}, "dwmc"),
    ],
)
def test_an_invalid_unit_is_1400_naming_the_field(
    social_insurance_standin: RunningStandin, changes: dict[str, str], field: str
) -> None:
    unit = {"tyshxydm": factories.credit_code(), "dwmc": "某单位", "xzqh": "370102", **changes}
    r = call(social_insurance_standin, "POST", "/si/v2/units", unit)
    assert r.status_code == 200
    assert answer(r, "1400") is None
    assert field in r.json()["message"]


# ---------------------------------------------------------- declarations


def test_an_addition_is_under_review_then_approved(
    social_insurance_standin: RunningStandin,
) -> None:
    s = social_insurance_standin
    dwbh = new_unit(s)
    s.faults(review_delay_s=0.5)
    body = addition(dwbh)
    slh = declare(s, ADD, body)
    assert re.fullmatch(r"SL\d{14}", slh)

    pending = declaration(s, slh)
    assert set(pending) == DECLARATION_KEYS
    assert pending["aac002"] != body["aac002"]  # encrypted, as everywhere
    assert clear(pending["aac002"]) == body["aac002"]
    assert (pending["ywlx"], pending["zt"], pending["dwbh"], pending["aac058"]) == (
        "ZY", "01", dwbh, "01",
    )  # fmt: skip
    assert pending["grbh"] is pending["sxrq"] is pending["thyy"] is None
    assert insured(s, "01", body["aac002"]) == []
    # Still under review before the delay: a second addition is refused.
    assert answer(call(s, "POST", ADD, body), "1002") is None

    done = wait_decided(s, slh)
    assert (done["zt"], done["sxrq"]) == ("02", body["cbrq"])
    assert re.fullmatch(r"37\d{10}", done["grbh"])
    assert insured(s, "01", body["aac002"]) == [
        {"dwbh": dwbh, "grbh": done["grbh"], "cbrq": body["cbrq"], "tbrq": None, "zt": "1"}
    ]
    # Insured with this unit now: still 1002.
    assert answer(call(s, "POST", ADD, body), "1002") is None


def test_a_removal_stops_the_insurance_from_its_date(
    social_insurance_standin: RunningStandin,
) -> None:
    s = social_insurance_standin
    dwbh = new_unit(s)
    body = insure(s, dwbh)
    s.faults(review_delay_s=0.5)
    slh = declare(s, REMOVE, removal(dwbh, body["aac002"], tbrq="2099-03-01"))
    # One removal under review at a time.
    assert answer(call(s, "POST", REMOVE, removal(dwbh, body["aac002"])), "1003") is None
    done = wait_decided(s, slh)
    assert (done["ywlx"], done["zt"], done["sxrq"], done["grbh"]) == (
        "JY",
        "02",
        "2099-03-01",
        None,
    )
    [spell] = insured(s, "01", body["aac002"])
    assert (spell["tbrq"], spell["zt"]) == ("2099-03-01", "2")
    # Not insured with the unit any more.
    assert answer(call(s, "POST", REMOVE, removal(dwbh, body["aac002"])), "1003") is None


def test_a_removal_before_the_insurance_started_is_refused(
    social_insurance_standin: RunningStandin,
) -> None:
    s = social_insurance_standin
    dwbh = new_unit(s)
    body = insure(s, dwbh, cbrq="2025-01-01")
    r = call(s, "POST", REMOVE, removal(dwbh, body["aac002"], tbrq="2024-12-31"))
    assert answer(r, "1400") is None
    assert "tbrq" in r.json()["message"]


def test_declarations_for_an_unknown_unit_are_1004(
    social_insurance_standin: RunningStandin,
) -> None:
    s = social_insurance_standin
    ghost = "SB37999900000000"
    assert answer(call(s, "POST", ADD, addition(ghost)), "1004") is None
    assert answer(call(s, "POST", REMOVE, removal(ghost, factories.resident_id())), "1004") is None
    assert answer(search(s, ghost, factories.resident_id()), "1004") is None


@pytest.mark.parametrize(
    ("changes", "thyy"),
    [({"jfgz": "3799.99"}, "R02"), ({"jfgz": "20000.01"}, "R02")],
)
def test_a_wage_outside_the_range_is_returned(
    social_insurance_standin: RunningStandin, changes: dict[str, str], thyy: str
) -> None:
    s = social_insurance_standin
    s.faults(review_delay_s=0)
    slh = declare(s, ADD, addition(new_unit(s), **changes))
    done = wait_decided(s, slh)
    assert (done["zt"], done["thyy"], done["grbh"]) == ("03", thyy, None)
    assert done["thsm"]


def test_the_wage_range_is_inclusive(social_insurance_standin: RunningStandin) -> None:
    s = social_insurance_standin
    for wage in ("3800.00", "20000.00"):
        insure(s, new_unit(s), jfgz=wage)


def test_a_worker_insured_elsewhere_is_returned(social_insurance_standin: RunningStandin) -> None:
    s = social_insurance_standin
    first = insure(s, new_unit(s))
    slh = declare(s, ADD, addition(new_unit(s), aac002=first["aac002"]))
    done = wait_decided(s, slh)
    assert (done["zt"], done["thyy"]) == ("03", "R03")


def test_return_rate_returns_with_r01(social_insurance_standin: RunningStandin) -> None:
    s = social_insurance_standin
    s.faults(review_delay_s=0, return_rate=1.0)
    body = addition(new_unit(s))
    done = wait_decided(s, declare(s, ADD, body))
    assert (done["zt"], done["thyy"]) == ("03", "R01")
    assert insured(s, "01", body["aac002"]) == []


def test_withdrawing_only_under_review(social_insurance_standin: RunningStandin) -> None:
    s = social_insurance_standin
    dwbh = new_unit(s)
    s.faults(review_delay_s=30)
    body = addition(dwbh)
    slh = declare(s, ADD, body)
    assert answer(call(s, "POST", f"/si/v2/declarations/{slh}/withdraw")) == {"zt": "04"}
    assert declaration(s, slh)["zt"] == "04"
    assert answer(call(s, "POST", f"/si/v2/declarations/{slh}/withdraw"), "1409") is None
    assert answer(call(s, "POST", "/si/v2/declarations/SL0/withdraw"), "1005") is None
    assert answer(call(s, "GET", "/si/v2/declarations/SL0"), "1005") is None
    # A withdrawn addition no longer blocks another; an approved one cannot be withdrawn.
    approved = insure(s, dwbh, aac002=body["aac002"])
    [latest, *_] = answer(search(s, dwbh, approved["aac002"]))["rows"]
    r = call(s, "POST", f"/si/v2/declarations/{latest['slh']}/withdraw")
    assert answer(r, "1409") is None


def test_search_lists_a_workers_declarations_newest_first(
    social_insurance_standin: RunningStandin,
) -> None:
    s = social_insurance_standin
    dwbh = new_unit(s)
    body = insure(s, dwbh)
    removed = declare(s, REMOVE, removal(dwbh, body["aac002"]))
    rows = answer(search(s, dwbh, body["aac002"]))["rows"]
    assert rows[0]["slh"] == removed
    assert [r["ywlx"] for r in rows] == ["JY", "ZY"]
    assert all(set(r) == DECLARATION_KEYS and clear(r["aac002"]) == body["aac002"] for r in rows)
    # Another unit, or another worker: nothing.
    assert answer(search(s, new_unit(s), body["aac002"]))["rows"] == []
    assert answer(search(s, dwbh, factories.resident_id()))["rows"] == []


def test_hk_and_macao_permits_go_by_their_own_codes(
    social_insurance_standin: RunningStandin,
) -> None:
    s = social_insurance_standin
    dwbh = new_unit(s)
    number = f"M{factories.mobile()[-8:]}"
    insure(s, dwbh, aac058="05", aac002=number)
    assert [r["zt"] for r in insured(s, "05", number)] == ["1"]
    r = call(s, "POST", ADD, addition(dwbh, aac058="04", aac002=number))
    assert answer(r, "1400") is None
    assert "aac002" in r.json()["message"]


# ---------------------------------------------------------------- signing


def test_a_request_without_signature_is_4010(social_insurance_standin: RunningStandin) -> None:
    s = social_insurance_standin
    r = call(s, "GET", f"/si/v2/units/{seed.EMPLOYERS[0].profile.credit_code}", headers={})
    assert r.status_code == 401
    assert answer(r, "4010") is None


@pytest.mark.parametrize(
    "signing",
    [{"secret": "not-the-secret"}, {"app_id": "someone-else"}, {"nonce": "short"}],
    ids=["wrong-secret", "unknown-app", "short-nonce"],
)
def test_a_wrong_signature_is_4010(
    social_insurance_standin: RunningStandin, signing: dict[str, str]
) -> None:
    code = seed.EMPLOYERS[0].profile.credit_code
    r = call(social_insurance_standin, "GET", f"/si/v2/units/{code}", **signing)
    assert r.status_code == 401
    assert answer(r, "4010") is None


def test_the_signature_covers_method_path_and_body(
    social_insurance_standin: RunningStandin,
) -> None:
    from tests.social_insurance.wire import signed_headers

    s = social_insurance_standin
    unit = b'{"tyshxydm": "91370102MA3C4TLQ2N", "dwmc": "x", "xzqh": "370102"}'
    signed = signed_headers("POST", "/si/v2/units", unit)
    tampered = unit.replace(b'"x"', b'"y"')
    for method, path, body in (
        ("POST", "/si/v2/units", tampered),
        ("POST", "/si/v2/insured/search", unit),
    ):
        r = call(s, method, path, content=body, headers=signed)
        assert (r.status_code, r.json()["code"]) == (401, "4010")
    # Upper-case hex is the same signature.
    upper = {**signed_headers("POST", "/si/v2/units", unit)}
    upper["X-Signature"] = upper["X-Signature"].upper()
    assert answer(call(s, "POST", "/si/v2/units", content=unit, headers=upper), "1001")


@pytest.mark.parametrize("skew_s", [-301, 301])
def test_a_timestamp_outside_300_seconds_is_4011(
    social_insurance_standin: RunningStandin, skew_s: int
) -> None:
    code = seed.EMPLOYERS[0].profile.credit_code
    stale = str(int((time.time() + skew_s) * 1000))
    r = call(social_insurance_standin, "GET", f"/si/v2/units/{code}", timestamp=stale)
    assert r.status_code == 401
    assert answer(r, "4011") is None
    within = str(int((time.time() + skew_s * 0.9) * 1000))
    assert answer(call(social_insurance_standin, "GET", f"/si/v2/units/{code}", timestamp=within))


def test_a_nonce_seen_before_is_4012(social_insurance_standin: RunningStandin) -> None:
    s = social_insurance_standin
    path = f"/si/v2/units/{seed.EMPLOYERS[0].profile.credit_code}"
    nonce = crypto.sm3_hex(str(time.time()).encode())[:40]
    assert answer(call(s, "GET", path, nonce=nonce))
    r = call(s, "GET", path, nonce=nonce)
    assert r.status_code == 401
    assert answer(r, "4012") is None


# ------------------------------------------------------------- encryption


@pytest.mark.parametrize("field", ["aac002", "aac003"])
def test_a_value_that_does_not_decrypt_is_1400_naming_it(
    social_insurance_standin: RunningStandin, field: str
) -> None:
    s = social_insurance_standin
    body = addition(new_unit(s))
    other = "aac003" if field == "aac002" else "aac002"
    wrong_key = bytes(16)
    for sent in (crypto.encrypt(wrong_key, body[field]), body[field], "AAAA"):
        payload = {**body, other: crypto.encrypt(KEY, body[other]), field: sent}
        r = call(s, "POST", ADD, payload, encrypt=False)
        assert answer(r, "1400") is None
        assert field in r.json()["message"]
        assert body[field] not in r.text


def test_every_value_gets_a_fresh_iv(social_insurance_standin: RunningStandin) -> None:
    s = social_insurance_standin
    dwbh = new_unit(s)
    body = addition(dwbh)
    slh = declare(s, ADD, body)
    first, second = declaration(s, slh)["aac002"], declaration(s, slh)["aac002"]
    assert first != second
    assert clear(first) == clear(second) == body["aac002"]


# ------------------------------------------------------------------ faults


def test_the_quota_answers_429_with_retry_after(social_insurance_standin: RunningStandin) -> None:
    s = social_insurance_standin
    s.faults(quota_per_s=3)
    path = f"/si/v2/units/{seed.EMPLOYERS[0].profile.credit_code}"
    # A busy machine may spread the calls over more than a second: keep calling.
    answers = [call(s, "GET", path) for _ in range(3)]
    while answers[-1].status_code == 200 and len(answers) < 30:
        answers.append(call(s, "GET", path))
    over = answers[-1]
    assert [r.status_code for r in answers[:3]] == [200, 200, 200]
    assert over.status_code == 429
    assert answer(over, "4290") is None
    assert over.headers["Retry-After"] == "1"  # whole seconds; the window is one
    time.sleep(1)
    assert call(s, "GET", path).status_code == 200


def test_commit_then_drop_and_error_after_commit_keep_the_write(
    social_insurance_standin: RunningStandin,
) -> None:
    s = social_insurance_standin
    dwbh = new_unit(s)
    s.faults(commit_then_drop=1.0, stall_s=0.3)
    dropped = addition(dwbh)
    assert call(s, "POST", ADD, dropped).status_code == 502  # after the stall
    s.faults(commit_then_drop=0.0, error_after_commit=1.0)
    errored = addition(dwbh)
    r = call(s, "POST", ADD, errored)
    assert (r.status_code, r.content) == (502, b"")
    s.reset()
    s.faults(quota_per_s=0)
    for body in (dropped, errored):
        [row] = answer(search(s, dwbh, body["aac002"]))["rows"]
        assert (row["ywlx"], row["zt"]) == ("ZY", "01")


def test_maintenance_error_rate_and_down(social_insurance_standin: RunningStandin) -> None:
    s = social_insurance_standin
    path = f"/si/v2/units/{seed.EMPLOYERS[0].profile.credit_code}"
    s.faults(maintenance=True, retry_after_s=45)
    r = call(s, "GET", path)
    assert (r.status_code, r.headers["Retry-After"]) == (503, "45")
    assert answer(r, "5030") is None
    s.faults(maintenance=False, error_rate=1.0)
    r = call(s, "GET", path)
    assert (r.status_code, r.content) == (502, b"")
    s.faults(error_rate=0.0, down=True)
    r = call(s, "GET", path)
    assert r.status_code == 503
    assert "Retry-After" not in r.headers


def test_what_the_system_does_not_serve(social_insurance_standin: RunningStandin) -> None:
    s = social_insurance_standin
    r = call(s, "GET", "/si/v2/nothing")
    assert (r.status_code, r.json()["code"]) == (404, "4040")
    r = call(s, "POST", "/si/v2/units", content=b"not json")
    assert (r.status_code, r.json()["code"]) == (400, "4000")
    r = call(s, "POST", "/si/v2/units", content=b"[1]")
    assert (r.status_code, r.json()["code"]) == (400, "4000")
