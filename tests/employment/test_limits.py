"""The employment stand-in's "Limits" (employment.md): each field at its limit, one
over (E1001 naming it), and control characters, in raw HTTP."""

from __future__ import annotations

import pytest

from adapters.employment import standin
from adapters.employment.limits import LIMITS
from adapters.standin.process import RunningStandin
from tests.employment.api import call, ok, open_unit, person_body, query, refused, unit_body

#: The contract's table, in characters.
UNIT_LIMITS = {"aab004": 100, "aae004": 30, "aae005": 20}
PERSON_LIMITS = {"aac003": 50, "aac010": 100, "aae006": 100, "aca111": 50}


def _e1001_naming(answer: dict[str, object], key: str, words: str) -> None:
    assert key in str(answer["msg"]), answer
    assert words in str(answer["msg"]), answer


@pytest.mark.parametrize(("key", "most"), UNIT_LIMITS.items())
def test_unit_text_at_its_limit_opens_and_one_over_is_refused(
    employment_standin: RunningStandin, key: str, most: int
) -> None:
    over = call(employment_standin, "POST", "/unit/open", json=unit_body(**{key: "8" * (most + 1)}))
    _e1001_naming(refused(over, "E1001"), key, f"长度超过{most}个字符")
    at = call(employment_standin, "POST", "/unit/open", json=unit_body(**{key: "8" * most}))
    assert ok(at)["aab001"]


@pytest.mark.parametrize(("key", "most"), PERSON_LIMITS.items())
def test_person_text_at_its_limit_registers_and_one_over_is_refused(
    employment_standin: RunningStandin, key: str, most: int
) -> None:
    unit = open_unit(employment_standin)
    over = person_body(unit, **{key: "张" * (most + 1)})
    answer = refused(call(employment_standin, "POST", "/employment/register", json=over), "E1001")
    _e1001_naming(answer, key, f"长度超过{most}个字符")
    assert query(employment_standin, [over["aac147"]]) == []
    at = person_body(unit, **{key: "张" * most})
    assert ok(call(employment_standin, "POST", "/employment/register", json=at))


@pytest.mark.parametrize(("key", "most"), [("aac147", 32), ("aac067", 20)])
def test_numbers_over_their_limit_are_refused_as_too_long(
    employment_standin: RunningStandin, key: str, most: int
) -> None:
    # Their formats are stricter than the limits: the length is what is named first.
    body = person_body(open_unit(employment_standin), **{key: "1" * (most + 1)})
    answer = refused(call(employment_standin, "POST", "/employment/register", json=body), "E1001")
    _e1001_naming(answer, key, f"长度超过{most}个字符")


@pytest.mark.parametrize("char", ["\x00", "\x07", "\t", "\n", "\r", "\x1f", "\x7f"])
@pytest.mark.parametrize("key", ["aac003", "aac010", "aca111"])
def test_control_characters_are_refused(
    employment_standin: RunningStandin, key: str, char: str
) -> None:
    body = person_body(open_unit(employment_standin), **{key: f"张{char}三"})
    answer = refused(call(employment_standin, "POST", "/employment/register", json=body), "E1001")
    _e1001_naming(answer, key, "控制字符")
    assert query(employment_standin, [body["aac147"]]) == []


def test_a_control_character_in_a_unit_name_is_refused(employment_standin: RunningStandin) -> None:
    body = unit_body(aab004="测试\x00公司")
    _e1001_naming(
        refused(call(employment_standin, "POST", "/unit/open", json=body), "E1001"),
        "aab004",
        "控制字符",
    )


def test_any_other_character_is_taken(employment_standin: RunningStandin) -> None:
    # 䶮 is outside GBK, 𠮷 outside the BMP: this system takes both.
    body = person_body(open_unit(employment_standin), aac003="刘䶮𠮷", aca111="A·B ü")
    assert ok(call(employment_standin, "POST", "/employment/register", json=body))


def test_the_gateway_holds_values_to_the_same_table() -> None:
    """What the gateway checks before sending (unified names) is this table."""
    unified = {
        "aab004": "unit_name",
        "aae004": "contact",
        "aae005": "phone",
        "aac067": "mobile",
        "aac003": "name",
        "aac010": "household_address",
        "aae006": "current_address",
        "aca111": "post",
        "aac147": "id_number",
    }
    assert {unified[k]: n for k, n in standin.LIMITS.items()} == dict(LIMITS.fields)
    assert {**UNIT_LIMITS, **PERSON_LIMITS}.items() <= standin.LIMITS.items()
