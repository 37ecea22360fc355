"""Masking of ID numbers and mobile numbers."""

from __future__ import annotations

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
