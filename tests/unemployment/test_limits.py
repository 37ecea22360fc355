"""The unemployment stand-in's "Limits" (unemployment.md): GBK bytes at each limit
and one over (400, errcode 40001 naming the field and the count), control
characters, characters outside GBK, and a body that is not GBK."""

from __future__ import annotations

import json

import httpx
import pytest

from adapters.standin.process import RunningStandin
from adapters.unemployment import standin
from adapters.unemployment.limits import LIMITS
from gateway.domain.limits import Unit
from tests import factories
from tests.unemployment.test_contract import (
    assert_error,
    call,
    decoded,
    new_unit,
    person,
    register,
    rows_of,
)

#: The contract's table, in GBK bytes.
PERSON_LIMITS = {"xm": 40, "hjdz": 200, "jzdz": 200}


def _refused_naming(r: httpx.Response, field: str, *words: str) -> None:
    body = assert_error(r, 400, 40001)
    assert field in body["errmsg"], body
    for word in words:
        assert word in body["errmsg"], body


@pytest.mark.parametrize(("field", "most"), PERSON_LIMITS.items())
def test_chinese_text_counts_two_bytes_a_character(
    unemployment_standin: RunningStandin, field: str, most: int
) -> None:
    dwbh = new_unit(unemployment_standin)
    # One character more than half the limit: within it as characters, over it as bytes.
    over = person(dwbh, **{field: "张" * (most // 2 + 1)})
    r = call(unemployment_standin, "POST", "/sy/djxx", over)
    _refused_naming(r, field, f"长度{most + 2}字节", f"超过{most}字节")
    assert rows_of(unemployment_standin, over["zjhm"]) == []
    at = person(dwbh, **{field: "张" * (most // 2)})
    assert register(unemployment_standin, at)["djbh"]


@pytest.mark.parametrize(("field", "most"), PERSON_LIMITS.items())
def test_ascii_counts_one_byte_a_character(
    unemployment_standin: RunningStandin, field: str, most: int
) -> None:
    dwbh = new_unit(unemployment_standin)
    over = person(dwbh, **{field: "a" * (most + 1)})
    _refused_naming(call(unemployment_standin, "POST", "/sy/djxx", over), field, f"超过{most}字节")
    assert register(unemployment_standin, person(dwbh, **{field: "a" * most}))["djbh"]


def test_a_unit_name_at_200_bytes_opens_and_201_is_refused(
    unemployment_standin: RunningStandin,
) -> None:
    def open_unit(name: str) -> httpx.Response:
        body = {"tyshxydm": factories.credit_code(), "dwmc": name, "xzqh": "370102"}
        return call(unemployment_standin, "POST", "/sy/dw", body)

    _refused_naming(open_unit("名" * 100 + "a"), "dwmc", "长度201字节")
    r = open_unit("名" * 100)
    assert r.status_code == 200


@pytest.mark.parametrize(("field", "most"), [("zjhm", 32), ("sjhm", 20)])
def test_numbers_over_their_limit_are_refused_as_too_long(
    unemployment_standin: RunningStandin, field: str, most: int
) -> None:
    body = person(new_unit(unemployment_standin), **{field: "1" * (most + 1)})
    _refused_naming(call(unemployment_standin, "POST", "/sy/djxx", body), field, f"超过{most}字节")


@pytest.mark.parametrize("char", ["\x00", "\x07", "\t", "\n", "\r", "\x1f", "\x7f"])
def test_control_characters_are_refused(unemployment_standin: RunningStandin, char: str) -> None:
    body = person(new_unit(unemployment_standin), xm=f"张{char}三")
    _refused_naming(call(unemployment_standin, "POST", "/sy/djxx", body), "xm", "控制字符")
    assert rows_of(unemployment_standin, body["zjhm"]) == []


def test_a_raw_control_character_is_a_named_field_not_a_bad_body(
    unemployment_standin: RunningStandin,
) -> None:
    body = person(new_unit(unemployment_standin), hjdz="山东省\t济南市")
    raw = json.dumps(body, ensure_ascii=False).replace("\\t", "\t").encode("gbk")
    assert b"\t" in raw
    r = call(unemployment_standin, "POST", "/sy/djxx", content=raw)
    _refused_naming(r, "hjdz", "控制字符")


def test_a_character_outside_gbk_is_refused(unemployment_standin: RunningStandin) -> None:
    # Escaped in the JSON, since GBK cannot carry it raw.
    body = person(new_unit(unemployment_standin), xm="刘䶮")
    raw = json.dumps(body, ensure_ascii=True).encode("gbk")
    r = call(unemployment_standin, "POST", "/sy/djxx", content=raw)
    _refused_naming(r, "xm", "GBK")
    assert rows_of(unemployment_standin, body["zjhm"]) == []


def test_a_body_that_is_not_gbk_is_refused_with_400(unemployment_standin: RunningStandin) -> None:
    body = person(new_unit(unemployment_standin))
    raw = json.dumps(body, ensure_ascii=False).encode("gbk") + b"\x81"
    r = call(unemployment_standin, "POST", "/sy/djxx", content=raw)
    assert r.status_code == 400
    assert decoded(r)["errcode"] == 40000


def test_the_gateway_holds_values_to_the_same_table() -> None:
    """What the gateway checks before sending (unified names) is this table."""
    unified = {
        "dwmc": "unit_name",
        "xm": "name",
        "hjdz": "household_address",
        "jzdz": "current_address",
        "sjhm": "mobile",
        "zjhm": "id_number",
    }
    assert {unified[k]: n for k, n in standin.LIMITS.items()} == dict(LIMITS.fields)
    assert PERSON_LIMITS.items() <= standin.LIMITS.items()
    assert LIMITS.unit is Unit.GBK_BYTES
