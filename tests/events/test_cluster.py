"""``hrss-gateway cluster``: what it refuses and the commands it runs (the proof in
tests/proof/test_events.py runs it for real)."""

from __future__ import annotations

import pytest

from gateway.cli import build_parser, main
from gateway.cluster import ClusterRefused, check, commands


def test_sqlite_is_refused_with_the_setting_to_change(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HRSS_STORE_URL", "sqlite+aiosqlite:///data/gateway.db")
    assert main(["cluster", "--gateways", "2", "--workers", "1"]) == 2
    error = capsys.readouterr().err
    assert "HRSS_STORE_URL" in error
    assert "PostgreSQL" in error


@pytest.mark.parametrize(("gateways", "workers"), [(0, 1), (1, -1)])
def test_counts_below_one_gateway_are_refused(gateways: int, workers: int) -> None:
    with pytest.raises(ClusterRefused, match="--gateways"):
        check("postgresql+asyncpg://u@h/db", gateways, workers)


def test_the_children_are_commands_the_cli_takes() -> None:
    children = commands("gateway.toml", 7, gateways=3, workers=2)
    assert len(children) == 5
    parser = build_parser()
    parsed = [parser.parse_args(child[3:]) for child in children]
    assert [p.command for p in parsed] == ["serve"] * 3 + ["worker"] * 2
    assert all(p.config == "gateway.toml" for p in parsed)
    assert [p.fd for p in parsed[:3]] == [7, 7, 7]
