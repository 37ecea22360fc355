"""Masking of ID numbers and mobile numbers."""

from __future__ import annotations

import re
import urllib.parse
import uuid
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.privacy import erase, mask_id_number, mask_mobile, redact
from tests.factories import resident_id


def test_masks_keep_what_issue_asks() -> None:
    assert mask_id_number("37010219850312002X") == "370102********002X"
    assert mask_mobile("13905310001") == "139****0001"


def test_redact_masks_every_number_in_free_text() -> None:
    text = "证件号码37010219850312002X已登记, 手机13905310001; passport H60123456."
    out = redact(text)
    assert "37010219850312002X" not in out
    assert "13905310001" not in out
    assert "H60123456" not in out
    assert "370102********002X" in out


def test_redact_leaves_other_numbers_alone() -> None:
    assert redact("serial YW20240101000123, code E3001, 50 rows") == (
        "serial YW20240101000123, code E3001, 50 rows"
    )


@given(st.text(max_size=20), st.text(max_size=20))
def test_no_resident_id_survives_redaction(before: str, after: str) -> None:
    number = resident_id()
    out = redact(f"{before} {number} {after}")
    assert number not in out


def test_erase_masks_numbers_and_blanks_addresses_at_any_depth_once() -> None:
    number = resident_id()
    person = {
        "name": "张三",
        "id_type": "RESIDENT_ID",
        "id_number": number,
        "mobile": "13812345678",
        "household_address": "山东省济南市历下区泉城路1号",
        "current_address": "山东省济南市市中区经七路2号",
        "education": "60",
    }
    payload = {"employer_id": "E-1", "person": person, "people": [person], "phone": None}
    erased = erase(payload)
    expected = {
        **person,
        "id_number": mask_id_number(number),
        "mobile": "138****5678",
        "household_address": "",
        "current_address": "",
    }
    assert erased == {"employer_id": "E-1", "person": expected, "people": [expected], "phone": None}
    assert number not in str(erased)
    assert erase(erased) == erased
    assert payload["person"] is person  # the argument is left as it was
    assert person["id_number"] == number


# ------------------------------------------------ what the audit found redact missed

ID = "370102199304059312"
MOBILE = "13733334444"


def _in_clear(text: str) -> list[str]:
    """The audit's numbers found in ``text``, as written or percent-decoded."""
    decoded = urllib.parse.unquote(urllib.parse.unquote(text))
    return [n for n in (ID, MOBILE) if n in text or n in decoded]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # uvicorn's line for a WebSocket handshake: the path as sent, `"` as %22.
        (
            f"/graphql?b=%22{ID}%22&c=%2B86{MOBILE}",
            "/graphql?b=%22370102********9312%22&c=%2B86137****4444",
        ),
        (f"?q=%7B%22id%22%3A%22{ID}%22%7D", "?q=%7B%22id%22%3A%22370102********9312%22%7D"),
        # Digits written as escapes (upper or lower case), and an escape escaped again.
        (
            "?id=%33%37%30%31%30%32199304059312",
            "?id=%33%37%30%31%30%32********9312",
        ),
        ("?m=%31%33%37%33%33%33%33%34%34%34%34", "?m=%31%33%37****%34%34%34%34"),
        (f"?a=%2522{ID}%2522", "?a=%2522370102********9312%2522"),
        (f"?t=tel%3A{MOBILE}", "?t=tel%3A137****4444"),
    ],
)
def test_redact_masks_numbers_in_percent_encoded_text(text: str, masked: str) -> None:
    assert redact(text) == masked
    assert _in_clear(redact(text)) == []


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"ID{ID}", "ID370102********9312"),
        (f"X-Request-Id: ID{ID}", "X-Request-Id: ID370102********9312"),
        (f"{ID}abc", "370102********9312abc"),
        (f"tel{MOBILE}", "tel137****4444"),
        (f"user_{MOBILE}x", "user_137****4444x"),
        (f"step7f{MOBILE}ab", "step7f137****4444ab"),
    ],
)
def test_redact_masks_numbers_glued_to_letters(text: str, masked: str) -> None:
    assert redact(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"+86{MOBILE}", "+86137****4444"),
        (f"86{MOBILE}", "86137****4444"),
        (f"0086{MOBILE}", "0086137****4444"),
        (f"+86 {MOBILE}", "+86 137****4444"),
        (f"+86-{MOBILE}", "+86-137****4444"),
        ("+86 137 3333 4444", "+86 137 **** 4444"),
        ("(+86) 137-3333-4444", "(+86) 137-****-4444"),
        ("0086 137 3333 4444", "0086 137 **** 4444"),
        ("手机：137 3333 4444。", "手机：137 **** 4444。"),
        ("tel:+86-137-3333-4444", "tel:+86-137-****-4444"),
    ],
)
def test_redact_masks_mobiles_with_the_country_code_and_separators(text: str, masked: str) -> None:
    assert redact(text) == masked


def _uuid_with(pattern: str, form: Callable[[uuid.UUID], str]) -> str:
    """A real uuid4, written as ``form`` writes it, holding a run ``pattern`` finds."""
    found = re.compile(pattern)
    while True:
        text = form(uuid.uuid4())
        if found.search(text):
            return text


#: Digit runs inside a hex id that read as personal numbers when nothing else is known.
_MOBILE_RUN = r"(?<!\d)1[3-9]\d{9}(?!\d)"
_ID_RUN = r"(?<!\d)(?:\d{15}|\d{18})(?!\d)"


@pytest.mark.parametrize(
    ("pattern", "form"),
    [
        (_MOBILE_RUN, lambda u: u.hex),
        (_MOBILE_RUN, lambda u: u.hex.upper()),
        (_MOBILE_RUN, str),
        (_ID_RUN, lambda u: u.hex),
    ],
    ids=["mobile-in-hex", "mobile-in-upper-hex", "mobile-in-dashed", "id-in-hex"],
)
def test_redact_leaves_uuids_whole_whatever_digits_they_hold(
    pattern: str, form: Callable[[uuid.UUID], str]
) -> None:
    """The finding: request, registration and step ids (uuid4) were masked where their
    digits happened to read as a mobile number (``step 7f7495a20fa142****3493fc01370be2``):
    a log line could no longer be followed by its id."""
    for _ in range(5):
        ident = _uuid_with(pattern, form)
        for text in (ident, f"step {ident} done", f"registration={ident};", f"/r/{ident}?x=1"):
            assert redact(text) == text
    # A number glued to a uuid makes no uuid: it is masked.
    ident = _uuid_with(_MOBILE_RUN, lambda u: u.hex)
    assert ID not in redact(f"{ident}ID{ID}")
    assert MOBILE not in redact(f"{ident}-tel{MOBILE}")


def test_redact_is_idempotent_on_what_it_masked() -> None:
    text = f"ID{ID} tel{MOBILE} +86 137 3333 4444 ?b=%22{ID}%22&c=%2B86{MOBILE}"
    once = redact(text)
    assert redact(once) == once
    assert _in_clear(once) == []
