"""OidcSettings: read like the other settings, and refusing what would weaken the checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.auth import ConfigurationError
from gateway.config import GatewayConfig
from gateway.demo import trust_identity_standin
from gateway.oidc import DEFAULT_ALGORITHMS, OidcSettings


def test_no_issuer_means_no_provider_is_trusted() -> None:
    assert OidcSettings.from_env({}) is None
    assert GatewayConfig.load(environ={}).oidc is None


def test_variables_then_file_then_defaults() -> None:
    env = {
        "HRSS_OIDC_ISSUER": "https://idp.shandong.example/realms/lp",
        "HRSS_OIDC_CREDIT_CODE_CLAIM": "uscc",
        "HRSS_OIDC_ALGORITHMS": "PS256, ES256",
        "HRSS_OIDC_LEEWAY_S": "5",
    }
    s = OidcSettings.from_env(env, {"audience": "gateway-prod", "leeway_s": 60})
    assert s is not None
    assert (s.issuer, s.audience, s.credit_code_claim) == (
        "https://idp.shandong.example/realms/lp",
        "gateway-prod",
        "uscc",
    )
    assert (s.algorithms, s.leeway_s) == (("PS256", "ES256"), 5.0)
    assert (
        s.discovery_url == "https://idp.shandong.example/realms/lp/.well-known/openid-configuration"
    )
    defaults = OidcSettings.from_env({"HRSS_OIDC_ISSUER": "https://idp.example"})
    assert defaults is not None
    assert defaults.algorithms == DEFAULT_ALGORITHMS
    assert defaults.audience == "hrss-gateway"


def test_the_configuration_file_has_an_oidc_table(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[oidc]\nissuer = "https://idp.example"\nalgorithms = ["ES256"]\n')
    config = GatewayConfig.load(path, environ={})
    assert config.oidc is not None
    assert (config.oidc.issuer, config.oidc.algorithms) == ("https://idp.example", ("ES256",))


@pytest.mark.parametrize("algorithms", ["HS256", "RS256,HS256", "none", "RS256,none", "HS512", ""])
def test_symmetric_and_none_algorithms_are_never_allowed(algorithms: str) -> None:
    env = {"HRSS_OIDC_ISSUER": "https://idp.example", "HRSS_OIDC_ALGORITHMS": algorithms}
    with pytest.raises(ConfigurationError):
        OidcSettings.from_env(env)


@pytest.mark.parametrize(
    "issuer",
    ["http://idp.example", "ftp://idp.example", "idp.example", "http://10.0.0.5:8104"],
)
def test_plain_http_only_on_loopback(issuer: str) -> None:
    with pytest.raises(ConfigurationError):
        OidcSettings(issuer=issuer)
    for loopback in ("http://127.0.0.1:8104", "http://localhost:8104", "http://[::1]:8104"):
        assert OidcSettings(issuer=loopback).issuer == loopback


def test_bad_numbers_name_the_settings() -> None:
    with pytest.raises(ConfigurationError, match="HRSS_OIDC"):
        OidcSettings.from_env(
            {"HRSS_OIDC_ISSUER": "https://idp.example", "HRSS_OIDC_LEEWAY_S": "x"}
        )
    with pytest.raises(ConfigurationError):
        OidcSettings(issuer="https://idp.example", leeway_s=3600)


def test_the_demo_trusts_the_identity_standin_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HRSS_OIDC_ISSUER", "HRSS_OIDC_AUDIENCE", "HRSS_OIDC_CREDIT_CODE_CLAIM"):
        # Set, then removed: either way the variable is put back as it was after the test.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    config = trust_identity_standin(GatewayConfig.load(environ={}, demo=True))
    assert config.oidc is not None
    assert config.oidc.issuer == "http://127.0.0.1:8104"
    assert os.environ["HRSS_OIDC_ISSUER"] == "http://127.0.0.1:8104"
    real = GatewayConfig.load(environ={"HRSS_OIDC_ISSUER": "https://idp.example"}, demo=True)
    assert trust_identity_standin(real).oidc == real.oidc
