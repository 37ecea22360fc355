"""Secrets: from the environment in production, from a private file in demo mode."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gateway.auth import ConfigurationError, load_or_create_secret, secret_from_env


def test_created_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "data" / "token.secret"
    first = load_or_create_secret(path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first
    assert load_or_create_secret(tmp_path / "other.secret") != first
    assert [p.name for p in path.parent.iterdir()] == ["token.secret"]  # no temporary left


def test_processes_starting_together_share_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "token.secret"
    with ThreadPoolExecutor(8) as pool:
        secrets_seen = set(pool.map(lambda _: load_or_create_secret(path), range(16)))
    assert len(secrets_seen) == 1
    assert sorted(os.listdir(tmp_path)) == ["token.secret"]


def test_a_truncated_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "token.secret"
    path.write_bytes(b"short")
    with pytest.raises(ConfigurationError, match="shorter"):
        load_or_create_secret(path)


def test_from_the_environment(tmp_path: Path) -> None:
    value = "x" * 40
    assert secret_from_env("HRSS_TOKEN_SECRET", {"HRSS_TOKEN_SECRET": value}) == value.encode()
    with pytest.raises(ConfigurationError, match="HRSS_TOKEN_SECRET is not set"):
        secret_from_env("HRSS_TOKEN_SECRET", {})
    with pytest.raises(ConfigurationError, match="at least 32") as caught:
        secret_from_env("HRSS_AUDIT_KEY", {"HRSS_AUDIT_KEY": "tooshort"})
    assert "tooshort" not in str(caught.value)
    demo = secret_from_env("HRSS_TOKEN_SECRET", {}, demo_file=tmp_path / "demo.secret")
    assert demo == (tmp_path / "demo.secret").read_bytes()
    # A configured secret wins over the demo file.
    assert (
        secret_from_env(
            "HRSS_TOKEN_SECRET", {"HRSS_TOKEN_SECRET": value}, demo_file=tmp_path / "demo.secret"
        )
        == value.encode()
    )
