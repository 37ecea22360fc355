"""The social insurance settings: environment, file table, defaults, refusals."""

from __future__ import annotations

import pytest

from adapters.social_insurance.settings import (
    DEFAULT_APP_SECRET,
    DEFAULT_PORT,
    SocialInsuranceSettings,
)


def test_defaults_match_the_standin() -> None:
    s = SocialInsuranceSettings.from_env({})
    assert s.url == f"http://127.0.0.1:{DEFAULT_PORT}"
    assert (s.timeout, s.connect_timeout, s.max_in_flight) == (10.0, 2.0, 8)
    assert len(s.key) == 16


def test_the_environment_wins_over_the_file() -> None:
    s = SocialInsuranceSettings.from_env(
        {
            "HRSS_SOCIAL_INSURANCE_URL": "https://si.example.gov.cn/",
            "HRSS_SOCIAL_INSURANCE_APP_SECRET": "s3cret",
            "HRSS_SOCIAL_INSURANCE_TIMEOUT": "4.5",
        },
        {"app_id": "from-file", "app_secret": "file-secret", "sm4_key": "ab" * 16},
    )
    assert (s.url, s.app_id, s.app_secret, s.timeout) == (
        "https://si.example.gov.cn", "from-file", "s3cret", 4.5,
    )  # fmt: skip
    assert s.key == bytes.fromhex("ab" * 16)


@pytest.mark.parametrize("key", ["zz" * 16, "ab" * 15, "ab" * 17])
def test_a_key_that_is_not_16_bytes_of_hex_refuses_to_start(key: str) -> None:
    with pytest.raises(ValueError, match="SM4_KEY"):
        SocialInsuranceSettings.from_env({"HRSS_SOCIAL_INSURANCE_SM4_KEY": key})


def test_the_secrets_stay_out_of_its_repr() -> None:
    text = repr(SocialInsuranceSettings())
    assert DEFAULT_APP_SECRET not in text
    assert SocialInsuranceSettings().sm4_key not in text
