"""Masking of ID numbers and mobile numbers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.privacy import mask_id_number, mask_mobile, redact
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
